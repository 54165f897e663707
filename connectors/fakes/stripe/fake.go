package stripe

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"sentryhub/connectors/fakes/fakekit"
)

// Config describes the fake account.
type Config struct {
	Seed               uint64
	Products, Sessions int
	Now                func() time.Time
	APIKey             string // "sk_test_fake"
	WebhookSecret      string // "whsec_fake"
}

// Product is a product; its SKU and stock live in Metadata.
type Product struct {
	ID       string
	Name     string
	Active   bool
	Metadata map[string]string
	Price    string // default price id, "" when none
	Created  int64
	Updated  int64
}

// Price is a one-time price of a product.
type Price struct {
	ID, Product string
	Amount      int64
	Created     int64
	// Metadata carries the SKU too: a checkout line names its price, and
	// Stripe expands at most four levels, so the price is where a line's
	// SKU is within reach.
	Metadata map[string]string
}

// Session is a completed checkout session.
type Session struct {
	ID       string
	Created  int64
	Email    string
	Ship     fakekit.Address
	Lines    []SessionLine
	Metadata map[string]string
}

// SessionLine is a line item of a session.
type SessionLine struct {
	ID, Price string
	Qty       int64
}

// Fake is the fake Stripe account.
type Fake struct {
	fakekit.Switches
	cfg Config
	mux *http.ServeMux

	mu          sync.Mutex
	rnd         *rand.Rand
	products    []*Product
	prices      []*Price
	sessions    []*Session
	idempotency map[string]stored
}

type stored struct {
	params string
	status int
	body   any
}

// New builds an account from cfg.Seed.
func New(cfg Config) *Fake {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.APIKey == "" {
		cfg.APIKey = "sk_test_fake"
	}
	if cfg.WebhookSecret == "" {
		cfg.WebhookSecret = "whsec_fake"
	}
	f := &Fake{cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.Seed, 77)), idempotency: map[string]stored{}}
	shop := fakekit.Generate(cfg.Seed, cfg.Products, cfg.Sessions, cfg.Now().Add(-time.Duration(cfg.Products+cfg.Sessions+10)*time.Minute))
	priceOf := map[string]string{}
	for _, p := range shop.Products {
		prod := &Product{ID: f.id("prod_"), Name: p.Name, Active: true, Created: p.Updated.Unix(), Updated: p.Updated.Unix(),
			Metadata: map[string]string{"sku": p.SKU, "on_hand": strconv.FormatInt(p.OnHand, 10)}}
		price := &Price{ID: f.id("price_"), Product: prod.ID, Amount: p.Price, Created: prod.Created, Metadata: map[string]string{"sku": p.SKU}}
		prod.Price = price.ID
		f.products = append(f.products, prod)
		f.prices = append(f.prices, price)
		priceOf[p.SKU] = price.ID
	}
	for _, o := range shop.Orders {
		s := &Session{ID: f.id("cs_test_"), Created: o.Updated.Unix(), Email: o.Email, Ship: o.Ship, Metadata: map[string]string{"order_number": o.Number}}
		for _, l := range o.Lines {
			s.Lines = append(s.Lines, SessionLine{ID: f.id("li_"), Price: priceOf[l.SKU], Qty: l.Qty})
		}
		f.sessions = append(f.sessions, s)
	}
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/products", f.api(f.listProducts))
	m.HandleFunc("POST /v1/products", f.api(f.createProduct))
	m.HandleFunc("GET /v1/products/{id}", f.api(f.getProduct))
	m.HandleFunc("POST /v1/products/{id}", f.api(f.updateProduct))
	m.HandleFunc("DELETE /v1/products/{id}", f.api(f.deleteProduct))
	m.HandleFunc("GET /v1/prices", f.api(f.listPrices))
	m.HandleFunc("GET /v1/prices/{id}", f.api(f.getPrice))
	m.HandleFunc("GET /v1/checkout/sessions", f.api(f.listSessions))
	m.HandleFunc("GET /v1/checkout/sessions/{id}", f.api(f.getSession))
	m.HandleFunc("POST /v1/checkout/sessions/{id}", f.api(f.updateSession))
	m.HandleFunc("GET /v1/checkout/sessions/{id}/line_items", f.api(f.sessionLines))
	f.mux = m
	return f
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// id makes a Stripe-looking id; callers hold mu or are in New.
func (f *Fake) id(prefix string) string {
	b := make([]byte, 14)
	for i := range b {
		b[i] = alnum[f.rnd.IntN(len(alnum))]
	}
	return prefix + string(b)
}

// Config is the configuration the fake was built with, defaults filled in.
func (f *Fake) Config() Config { return f.cfg }

// ServeHTTP implements http.Handler.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

// Products returns a copy of the products.
func (f *Fake) Products() []Product {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Product, len(f.products))
	for i, p := range f.products {
		out[i] = *p
		out[i].Metadata = clone(p.Metadata)
	}
	return out
}

// Sessions returns a copy of the checkout sessions.
func (f *Fake) Sessions() []Session {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Session, len(f.sessions))
	for i, s := range f.sessions {
		out[i] = *s
		out[i].Lines = slices.Clone(s.Lines)
		out[i].Metadata = clone(s.Metadata)
	}
	return out
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// --- plumbing ---

type stripeError struct {
	status             int
	typ, code, message string
	param              string
}

func (e *stripeError) body() any {
	m := map[string]any{"type": e.typ, "message": e.message}
	if e.code != "" {
		m["code"] = e.code
	}
	if e.param != "" {
		m["param"] = e.param
	}
	return map[string]any{"error": m}
}

func invalid(param, msg string) *stripeError {
	return &stripeError{status: 400, typ: "invalid_request_error", code: "parameter_invalid", message: msg, param: param}
}

func missing(kind, id string) *stripeError {
	return &stripeError{status: 404, typ: "invalid_request_error", code: "resource_missing", message: fmt.Sprintf("No such %s: '%s'", kind, id), param: "id"}
}

func redact(key string) string {
	if len(key) <= 8 {
		return "****"
	}
	return key[:8] + "****" + key[len(key)-4:]
}

func (f *Fake) api(h func(*http.Request, url.Values) (any, *stripeError)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Request-Id", "req_"+fakekit.Random(7))
		w.Header().Set("Stripe-Version", "2024-06-20")
		key := fakekit.Bearer(r)
		if u, _, ok := r.BasicAuth(); ok {
			key = u
		}
		switch {
		case f.Rejecting():
			fakekit.WriteJSON(w, 401, (&stripeError{typ: "invalid_request_error", message: "The API key " + key + " has been rolled."}).body())
			return
		case key == "":
			fakekit.WriteJSON(w, 401, (&stripeError{typ: "invalid_request_error", message: "You did not provide an API key. Send it as a Bearer token or as the Basic auth user name."}).body())
			return
		case key != f.cfg.APIKey:
			fakekit.WriteJSON(w, 401, (&stripeError{typ: "invalid_request_error", message: "Invalid API Key provided: " + redact(key)}).body())
			return
		}
		if f.TakeThrottle() {
			w.Header().Set("Stripe-Should-Retry", "true")
			fakekit.WriteJSON(w, 429, (&stripeError{typ: "invalid_request_error", code: "rate_limit", message: "Too many requests hit the API too quickly; back off and retry."}).body())
			return
		}
		if err := r.ParseForm(); err != nil {
			fakekit.WriteJSON(w, 400, invalid("", "The request body is not form-encoded: "+err.Error()).body())
			return
		}
		params := r.Form
		idem := r.Header.Get("Idempotency-Key")
		if r.Method == http.MethodPost && idem != "" {
			if len(idem) > 255 {
				fakekit.WriteJSON(w, 400, invalid("Idempotency-Key", "Idempotency keys are at most 255 characters.").body())
				return
			}
			fp := r.URL.Path + "?" + r.PostForm.Encode()
			f.mu.Lock()
			prev, seen := f.idempotency[idem]
			f.mu.Unlock()
			if seen {
				if prev.params != fp {
					fakekit.WriteJSON(w, 400, (&stripeError{typ: "idempotency_error", message: "Keys for idempotent requests can only be used with the same parameters they were first used with."}).body())
					return
				}
				w.Header().Set("Idempotent-Replayed", "true")
				fakekit.WriteJSON(w, prev.status, prev.body)
				return
			}
			body, e := h(r, params)
			status, out := 200, body
			if e != nil {
				status, out = e.status, e.body()
			}
			if status < 500 {
				f.mu.Lock()
				f.idempotency[idem] = stored{params: fp, status: status, body: out}
				f.mu.Unlock()
			}
			fakekit.WriteJSON(w, status, out)
			return
		}
		body, e := h(r, params)
		if e != nil {
			fakekit.WriteJSON(w, e.status, e.body())
			return
		}
		fakekit.WriteJSON(w, 200, body)
	}
}

// listParams are the cursor and filter parameters every list takes.
type listParams struct {
	limit                 int
	startingAfter, before string
	created               map[string]int64 // gt gte lt lte eq
}

func parseList(q url.Values) (listParams, *stripeError) {
	lp := listParams{limit: 10, startingAfter: q.Get("starting_after"), before: q.Get("ending_before"), created: map[string]int64{}}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return lp, invalid("limit", "This value must be between 1 and 100 (it currently is '"+s+"').")
		}
		lp.limit = n
	}
	if lp.startingAfter != "" && lp.before != "" {
		return lp, invalid("ending_before", "You may only specify one of these parameters: ending_before, starting_after.")
	}
	for _, op := range []string{"gt", "gte", "lt", "lte"} {
		if s := q.Get("created[" + op + "]"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return lp, invalid("created["+op+"]", "Invalid integer: "+s)
			}
			lp.created[op] = n
		}
	}
	if s := q.Get("created"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return lp, invalid("created", "Invalid integer: "+s)
		}
		lp.created["eq"] = n
	}
	return lp, nil
}

func (lp listParams) keep(created int64) bool {
	for op, v := range lp.created {
		ok := map[string]bool{"gt": created > v, "gte": created >= v, "lt": created < v, "lte": created <= v, "eq": created == v}[op]
		if !ok {
			return false
		}
	}
	return true
}

type listed struct {
	id      string
	created int64
	render  func() map[string]any
}

// page orders newest first (ties by id, as a stable order), then applies
// the cursor and the limit.
func page(path string, all []listed, lp listParams, kind string) (any, *stripeError) {
	var kept []listed
	for _, x := range all {
		if lp.keep(x.created) {
			kept = append(kept, x)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool {
		return cmp.Or(cmp.Compare(kept[j].created, kept[i].created), strings.Compare(kept[j].id, kept[i].id)) < 0
	})
	lo, hi := 0, len(kept)
	switch {
	case lp.startingAfter != "":
		i := slices.IndexFunc(kept, func(x listed) bool { return x.id == lp.startingAfter })
		if i < 0 {
			return nil, missing(kind, lp.startingAfter)
		}
		lo = i + 1
		hi = min(lo+lp.limit, len(kept))
	case lp.before != "":
		i := slices.IndexFunc(kept, func(x listed) bool { return x.id == lp.before })
		if i < 0 {
			return nil, missing(kind, lp.before)
		}
		hi = i
		lo = max(0, hi-lp.limit)
	default:
		hi = min(lp.limit, len(kept))
	}
	data := []any{}
	for _, x := range kept[lo:hi] {
		data = append(data, x.render())
	}
	hasMore := hi < len(kept)
	if lp.before != "" {
		hasMore = lo > 0
	}
	return map[string]any{"object": "list", "url": path, "has_more": hasMore, "data": data}, nil
}

// expansions reads expand[] (and expand[0], expand[1], ...) into a set.
func expansions(q url.Values) map[string]bool {
	out := map[string]bool{}
	for k, vs := range q {
		if k == "expand[]" || strings.HasPrefix(k, "expand[") {
			for _, v := range vs {
				out[v] = true
			}
		}
	}
	return out
}

// metadataUpdate applies metadata[k]=v form fields; an empty value unsets.
func metadataUpdate(dst map[string]string, form url.Values) *stripeError {
	for k, vs := range form {
		if !strings.HasPrefix(k, "metadata[") {
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(k, "metadata["), "]")
		if name == "" || !strings.HasSuffix(k, "]") || len(name) > 40 {
			return invalid(k, "Metadata keys are 1 to 40 characters in metadata[key].")
		}
		v := vs[len(vs)-1]
		if len(v) > 500 {
			return invalid(k, "Metadata values are at most 500 characters.")
		}
		if v == "" {
			delete(dst, name)
		} else {
			dst[name] = v
		}
	}
	return nil
}

// --- products and prices ---

func (f *Fake) renderPrice(p *Price) map[string]any {
	return map[string]any{"id": p.ID, "object": "price", "active": true, "currency": "usd", "product": p.Product,
		"unit_amount": p.Amount, "unit_amount_decimal": strconv.FormatInt(p.Amount, 10), "type": "one_time",
		"billing_scheme": "per_unit", "created": p.Created, "livemode": false, "metadata": clone(p.Metadata)}
}

func (f *Fake) renderProduct(p *Product, expandPrice bool) map[string]any {
	m := map[string]any{"id": p.ID, "object": "product", "active": p.Active, "name": p.Name, "description": nil,
		"metadata": clone(p.Metadata), "created": p.Created, "updated": p.Updated, "livemode": false, "type": "service"}
	m["default_price"] = nil
	if p.Price != "" {
		m["default_price"] = p.Price
		if expandPrice {
			if pr := f.price(p.Price); pr != nil {
				m["default_price"] = f.renderPrice(pr)
			}
		}
	}
	return m
}

func (f *Fake) product(id string) *Product {
	for _, p := range f.products {
		if p.ID == id {
			return p
		}
	}
	return nil
}

func (f *Fake) price(id string) *Price {
	for _, p := range f.prices {
		if p.ID == id {
			return p
		}
	}
	return nil
}

func (f *Fake) listProducts(r *http.Request, q url.Values) (any, *stripeError) {
	lp, e := parseList(q)
	if e != nil {
		return nil, e
	}
	ex := expansions(q)
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []listed
	for _, p := range f.products {
		if a := q.Get("active"); a != "" && a != strconv.FormatBool(p.Active) {
			continue
		}
		all = append(all, listed{p.ID, p.Created, func() map[string]any { return f.renderProduct(p, ex["data.default_price"]) }})
	}
	return page("/v1/products", all, lp, "product")
}

func (f *Fake) getProduct(r *http.Request, q url.Values) (any, *stripeError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.product(r.PathValue("id"))
	if p == nil {
		return nil, missing("product", r.PathValue("id"))
	}
	return f.renderProduct(p, expansions(q)["default_price"]), nil
}

func (f *Fake) createProduct(r *http.Request, q url.Values) (any, *stripeError) {
	name := r.PostForm.Get("name")
	if name == "" {
		return nil, &stripeError{status: 400, typ: "invalid_request_error", code: "parameter_missing", message: "Missing required param: name.", param: "name"}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.cfg.Now().Unix()
	p := &Product{ID: f.id("prod_"), Name: name, Active: r.PostForm.Get("active") != "false", Metadata: map[string]string{}, Created: now, Updated: now}
	if e := metadataUpdate(p.Metadata, r.PostForm); e != nil {
		return nil, e
	}
	if !f.Dropping() {
		f.products = append(f.products, p)
	}
	return f.renderProduct(p, false), nil
}

func (f *Fake) updateProduct(r *http.Request, q url.Values) (any, *stripeError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := f.product(r.PathValue("id"))
	if cur == nil {
		return nil, missing("product", r.PathValue("id"))
	}
	next := *cur
	next.Metadata = clone(cur.Metadata)
	if v, ok := r.PostForm["name"]; ok {
		if v[0] == "" {
			return nil, invalid("name", "You passed an empty string for 'name'. We assume empty values are an attempt to unset a parameter; however 'name' cannot be unset.")
		}
		next.Name = v[0]
	}
	if v, ok := r.PostForm["active"]; ok {
		b, err := strconv.ParseBool(v[0])
		if err != nil {
			return nil, invalid("active", "Invalid boolean: "+v[0])
		}
		next.Active = b
	}
	if e := metadataUpdate(next.Metadata, r.PostForm); e != nil {
		return nil, e
	}
	next.Updated = f.cfg.Now().Unix()
	if !f.Dropping() {
		*cur = next
	}
	return f.renderProduct(&next, false), nil
}

func (f *Fake) deleteProduct(r *http.Request, q url.Values) (any, *stripeError) {
	id := r.PathValue("id")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.product(id) == nil {
		return nil, missing("product", id)
	}
	if slices.ContainsFunc(f.prices, func(p *Price) bool { return p.Product == id }) {
		return nil, &stripeError{status: 400, typ: "invalid_request_error", message: "This product cannot be deleted because it has one or more user-created prices. Archive it with active=false instead."}
	}
	if !f.Dropping() {
		f.products = slices.DeleteFunc(f.products, func(p *Product) bool { return p.ID == id })
	}
	return map[string]any{"id": id, "object": "product", "deleted": true}, nil
}

func (f *Fake) listPrices(r *http.Request, q url.Values) (any, *stripeError) {
	lp, e := parseList(q)
	if e != nil {
		return nil, e
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []listed
	for _, p := range f.prices {
		if prod := q.Get("product"); prod != "" && p.Product != prod {
			continue
		}
		all = append(all, listed{p.ID, p.Created, func() map[string]any { return f.renderPrice(p) }})
	}
	return page("/v1/prices", all, lp, "price")
}

func (f *Fake) getPrice(r *http.Request, q url.Values) (any, *stripeError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.price(r.PathValue("id"))
	if p == nil {
		return nil, missing("price", r.PathValue("id"))
	}
	return f.renderPrice(p), nil
}

// --- checkout sessions ---

func (f *Fake) lineItems(s *Session, expandProduct bool) map[string]any {
	data := []any{}
	for _, l := range s.Lines {
		pr := f.price(l.Price)
		if pr == nil {
			continue
		}
		price := f.renderPrice(pr)
		desc := ""
		if prod := f.product(pr.Product); prod != nil {
			desc = prod.Name
			if expandProduct {
				price["product"] = f.renderProduct(prod, false)
			}
		}
		amount := pr.Amount * l.Qty
		data = append(data, map[string]any{"id": l.ID, "object": "item", "amount_discount": 0, "amount_subtotal": amount,
			"amount_tax": 0, "amount_total": amount, "currency": "usd", "description": desc, "price": price, "quantity": l.Qty})
	}
	return map[string]any{"object": "list", "data": data, "has_more": false, "url": "/v1/checkout/sessions/" + s.ID + "/line_items"}
}

func (f *Fake) renderSession(s *Session, lines, product bool) map[string]any {
	var total int64
	for _, l := range s.Lines {
		if pr := f.price(l.Price); pr != nil {
			total += pr.Amount * l.Qty
		}
	}
	addr := map[string]any{"city": s.Ship.City, "country": s.Ship.Country, "line1": s.Ship.Line1, "line2": nil,
		"postal_code": s.Ship.PostalCode, "state": s.Ship.Region}
	m := map[string]any{"id": s.ID, "object": "checkout.session", "mode": "payment", "status": "complete", "payment_status": "paid",
		"amount_subtotal": total, "amount_total": total, "currency": "usd", "created": s.Created, "livemode": false,
		"customer_details": map[string]any{"email": s.Email, "name": s.Ship.Name, "address": addr, "phone": nil},
		"shipping_details": map[string]any{"name": s.Ship.Name, "address": addr},
		"metadata":         clone(s.Metadata), "payment_intent": "pi_" + strings.TrimPrefix(s.ID, "cs_test_")}
	if lines {
		m["line_items"] = f.lineItems(s, product)
	}
	return m
}

func (f *Fake) session(id string) *Session {
	for _, s := range f.sessions {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func (f *Fake) listSessions(r *http.Request, q url.Values) (any, *stripeError) {
	lp, e := parseList(q)
	if e != nil {
		return nil, e
	}
	ex := expansions(q)
	for k := range ex {
		if !slices.Contains([]string{"data.line_items", "data.line_items.data.price.product"}, k) {
			return nil, invalid("expand", "This property cannot be expanded ("+k+").")
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []listed
	for _, s := range f.sessions {
		if st := q.Get("status"); st != "" && st != "complete" {
			continue
		}
		all = append(all, listed{s.ID, s.Created, func() map[string]any {
			return f.renderSession(s, ex["data.line_items"] || ex["data.line_items.data.price.product"], ex["data.line_items.data.price.product"])
		}})
	}
	return page("/v1/checkout/sessions", all, lp, "checkout.session")
}

func (f *Fake) getSession(r *http.Request, q url.Values) (any, *stripeError) {
	ex := expansions(q)
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.session(r.PathValue("id"))
	if s == nil {
		return nil, missing("checkout.session", r.PathValue("id"))
	}
	return f.renderSession(s, ex["line_items"] || ex["line_items.data.price.product"], ex["line_items.data.price.product"]), nil
}

func (f *Fake) sessionLines(r *http.Request, q url.Values) (any, *stripeError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.session(r.PathValue("id"))
	if s == nil {
		return nil, missing("checkout.session", r.PathValue("id"))
	}
	return f.lineItems(s, expansions(q)["data.price.product"]), nil
}

func (f *Fake) updateSession(r *http.Request, q url.Values) (any, *stripeError) {
	for k := range r.PostForm {
		if !strings.HasPrefix(k, "metadata[") {
			return nil, &stripeError{status: 400, typ: "invalid_request_error", code: "parameter_unknown", message: "Received unknown parameter: " + k, param: k}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.session(r.PathValue("id"))
	if s == nil {
		return nil, missing("checkout.session", r.PathValue("id"))
	}
	md := clone(s.Metadata)
	if e := metadataUpdate(md, r.PostForm); e != nil {
		return nil, e
	}
	if !f.Dropping() {
		s.Metadata = md
	}
	next := *s
	next.Metadata = md
	return f.renderSession(&next, false, false), nil
}
