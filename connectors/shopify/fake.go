package shopify

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fake is an in-memory Shopify for tests: an http.Handler (serve it with
// httptest.NewServer and point Options.BaseURL at it) implementing the
// client-credentials token endpoint and the Admin GraphQL operations this
// connector sends, with Shopify's documented request and response shapes:
// data/errors/extensions envelopes, connections with pageInfo {hasNextPage
// endCursor}, keyset cursors, the search syntax for updated_at, the
// pagination limit, cost-based throttling from a leaky bucket (THROTTLED
// errors, extensions.cost.throttleStatus), fulfillment orders per location
// and fulfillmentCreate with userErrors. Faults (HTTP statuses, Retry-After)
// can be injected per operation.
type Fake struct {
	mu  sync.Mutex
	now func() time.Time

	// AccessToken is the static Admin API token it accepts.
	accessToken            string
	clientID, clientSecret string
	tokenTTL               time.Duration
	issued                 map[string]time.Time // token -> expiry
	grants                 int

	// The cost bucket: Standard plan values unless changed.
	bucketMax, restore, available float64
	bucketAt                      time.Time
	throttle                      bool
	maxObjects                    int

	orders      []*FakeOrder
	variants    []*FakeVariant
	levels      []*FakeLevel
	locations   map[string]string // gid -> name
	fulfillment int               // created so far
	calls       map[string]int
	faults      map[string][]fault
	rejected    bool
	nextID      int64
}

type fault struct {
	status     int
	retryAfter string
}

// FakeOrder is an order in the fake shop.
type FakeOrder struct {
	ID          string // gid, assigned by AddOrder when empty
	Name        string
	UpdatedAt   time.Time
	CancelledAt *time.Time
	Address     map[string]string // shippingAddress fields (name, city, countryCodeV2, ...)
	Lines       []FakeLine
	// LocationID is the location its fulfillment order is assigned to.
	LocationID string

	foID, foStatus string
	fulfillments   []fakeFulfillment
}

// FakeLine is a line item.
type FakeLine struct {
	SKU              string // "" is a null sku
	Qty              int64  // currentQuantity
	RequiresShipping bool
}

type fakeFulfillment struct {
	ID, Status, Number, Company string
}

// FakeVariant is a product variant.
type FakeVariant struct {
	ID           string
	SKU, Barcode string
	Title        string
	ProductTitle string
	UpdatedAt    time.Time
}

// FakeLevel is an inventory level at a location.
type FakeLevel struct {
	ID         string
	LocationID string
	SKU        string
	Tracked    bool
	OnHand     int64
	UpdatedAt  time.Time
}

// FakeConfig configures a Fake.
type FakeConfig struct {
	// Now is the fake's clock (token expiry, bucket refill); use the
	// connector's clock so waits refill the bucket.
	Now         func() time.Time
	AccessToken string
	// ClientID and ClientSecret enable the client-credentials grant.
	ClientID, ClientSecret string
	TokenTTL               time.Duration // 24h
	// Throttle enables the cost bucket (1,000 points, 50/s restore unless
	// BucketMax/RestoreRate say otherwise).
	Throttle               bool
	BucketMax, RestoreRate float64
	// MaxObjects is where a search stops paginating (25,000).
	MaxObjects int
}

// NewFake returns an empty shop.
func NewFake(cfg FakeConfig) *Fake {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 24 * time.Hour
	}
	if cfg.BucketMax <= 0 {
		cfg.BucketMax = 1000
	}
	if cfg.RestoreRate <= 0 {
		cfg.RestoreRate = 50
	}
	if cfg.MaxObjects <= 0 {
		cfg.MaxObjects = 25_000
	}
	return &Fake{now: cfg.Now, accessToken: cfg.AccessToken, clientID: cfg.ClientID, clientSecret: cfg.ClientSecret,
		tokenTTL: cfg.TokenTTL, issued: map[string]time.Time{}, bucketMax: cfg.BucketMax, restore: cfg.RestoreRate,
		available: cfg.BucketMax, bucketAt: cfg.Now(), throttle: cfg.Throttle, maxObjects: cfg.MaxObjects,
		locations: map[string]string{}, calls: map[string]int{}, faults: map[string][]fault{}, nextID: 1000}
}

func (f *Fake) id(kind string) string {
	f.nextID++
	return "gid://shopify/" + kind + "/" + strconv.FormatInt(f.nextID, 10)
}

// AddLocation adds a location.
func (f *Fake) AddLocation(gid, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.locations[gid] = name
}

// AddOrder adds an order with an open fulfillment order at o.LocationID and
// returns its gid.
func (f *Fake) AddOrder(o FakeOrder) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o.ID == "" {
		o.ID = f.id("Order")
	}
	o.foID, o.foStatus = f.id("FulfillmentOrder"), "OPEN"
	f.orders = append(f.orders, &o)
	return o.ID
}

// UpdateOrder changes an order through fn and bumps its updatedAt to now.
func (f *Fake) UpdateOrder(id string, fn func(*FakeOrder)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.orders {
		if o.ID == id {
			fn(o)
			o.UpdatedAt = f.now()
		}
	}
}

// AddVariant adds a product variant and returns its gid.
func (f *Fake) AddVariant(v FakeVariant) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v.ID == "" {
		v.ID = f.id("ProductVariant")
	}
	f.variants = append(f.variants, &v)
	return v.ID
}

// SetLevel adds an inventory level and returns its gid.
func (f *Fake) SetLevel(l FakeLevel) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l.ID == "" {
		l.ID = f.id("InventoryLevel")
	}
	f.levels = append(f.levels, &l)
	return l.ID
}

// FailNext makes the next n requests of operation op (a GraphQL operation
// name, or "token") fail with status, with a Retry-After header when
// retryAfter is not empty.
func (f *Fake) FailNext(op string, status, n int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.faults[op] = append(f.faults[op], fault{status: status, retryAfter: retryAfter})
	}
}

// Drain empties the cost bucket, so the next query is throttled.
func (f *Fake) Drain() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refill()
	f.available = 0
}

// Reject makes every later request fail with 401, its body echoing the
// token it was sent (as a careless upstream might).
func (f *Fake) Reject() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rejected = true
}

// Calls counts the requests of operation op ("token" for grants).
func (f *Fake) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Fulfillments counts the fulfillments created.
func (f *Fake) Fulfillments() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fulfillment
}

// OrderFulfillment returns the status of an order's fulfillment order and
// its fulfillments' tracking numbers.
func (f *Fake) OrderFulfillment(id string) (string, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.orders {
		if o.ID == id {
			var nums []string
			for _, fl := range o.fulfillments {
				nums = append(nums, fl.Number)
			}
			return o.foStatus, nums
		}
	}
	return "", nil
}

var (
	opRE      = regexp.MustCompile(`^\s*(?:query|mutation)\s+([A-Za-z_][A-Za-z0-9_]*)`)
	graphqlRE = regexp.MustCompile(`^/admin/api/(\d{4}-\d{2})/graphql\.json$`)
	filterRE  = regexp.MustCompile(`updated_at:(>=|<=)'([^']+)'`)
)

// ServeHTTP answers the token endpoint and the GraphQL endpoint of each
// supported API version.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == http.MethodPost && r.URL.Path == "/admin/oauth/access_token" {
		f.token(w, r, body)
		return
	}
	m := graphqlRE.FindStringSubmatch(r.URL.Path)
	if r.Method != http.MethodPost || m == nil || !slices.Contains(SupportedAPIVersions(), m[1]) {
		writeFakeJSON(w, http.StatusNotFound, map[string]string{"errors": "Not Found"})
		return
	}
	tok := r.Header.Get("X-Shopify-Access-Token")
	if f.rejected || !f.validToken(tok) {
		writeFakeJSON(w, http.StatusUnauthorized, map[string]string{
			"errors": "[API] Invalid API key or access token (unrecognized login or wrong password): " + tok})
		return
	}
	var req struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeFakeJSON(w, http.StatusBadRequest, map[string]any{"errors": []map[string]string{{"message": "Bad Request: body is not JSON"}}})
		return
	}
	om := opRE.FindStringSubmatch(req.Query)
	if om == nil {
		writeFakeJSON(w, http.StatusOK, map[string]any{"errors": []map[string]any{{"message": "operation name required"}}})
		return
	}
	op := om[1]
	f.calls[op]++
	if f.fault(w, op) {
		return
	}
	requested := f.cost(op, req.Variables)
	if f.throttle {
		f.refill()
		if f.available < requested {
			writeFakeJSON(w, http.StatusOK, map[string]any{
				"errors": []map[string]any{{"message": "Throttled", "extensions": map[string]any{"code": "THROTTLED",
					"documentation": "https://shopify.dev/api/usage/limits#rate-limits"}}},
				"extensions": map[string]any{"cost": f.costExt(requested, nil)}})
			return
		}
	}
	data, actual, errs := f.resolve(op, req.Variables)
	if f.throttle {
		f.available -= actual
	}
	resp := map[string]any{"data": data, "extensions": map[string]any{"cost": f.costExt(requested, &actual)}}
	if len(errs) > 0 {
		resp["errors"] = errs
	}
	writeFakeJSON(w, http.StatusOK, resp)
}

func (f *Fake) fault(w http.ResponseWriter, op string) bool {
	q := f.faults[op]
	if len(q) == 0 {
		return false
	}
	ft := q[0]
	f.faults[op] = q[1:]
	if ft.retryAfter != "" {
		w.Header().Set("Retry-After", ft.retryAfter)
	}
	writeFakeJSON(w, ft.status, map[string]string{"errors": http.StatusText(ft.status)})
	return true
}

func (f *Fake) validToken(tok string) bool {
	if tok == "" {
		return false
	}
	if f.accessToken != "" && tok == f.accessToken {
		return true
	}
	exp, ok := f.issued[tok]
	return ok && f.now().Before(exp)
}

// token implements POST /admin/oauth/access_token (form or JSON body).
func (f *Fake) token(w http.ResponseWriter, r *http.Request, body []byte) {
	f.calls["token"]++
	if f.fault(w, "token") {
		return
	}
	var in struct {
		GrantType    string `json:"grant_type"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(body, &in)
	} else {
		v, _ := url.ParseQuery(string(body))
		in.GrantType, in.ClientID, in.ClientSecret = v.Get("grant_type"), v.Get("client_id"), v.Get("client_secret")
	}
	if f.rejected || in.GrantType != "client_credentials" || f.clientID == "" || in.ClientID != f.clientID || in.ClientSecret != f.clientSecret {
		writeFakeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client",
			"error_description": "Client credentials are invalid: " + in.ClientSecret})
		return
	}
	f.grants++
	tok := fmt.Sprintf("shpat_cc_%d_%d", f.grants, f.now().UnixNano())
	f.issued[tok] = f.now().Add(f.tokenTTL)
	writeFakeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "scope": "read_orders,write_fulfillments,read_products,read_inventory",
		"expires_in": int64(f.tokenTTL / time.Second)})
}

func (f *Fake) refill() {
	now := f.now()
	if d := now.Sub(f.bucketAt); d > 0 {
		f.available = min(f.bucketMax, f.available+d.Seconds()*f.restore)
	}
	f.bucketAt = now
}

func (f *Fake) costExt(requested float64, actual *float64) map[string]any {
	var a any
	if actual != nil {
		a = *actual
	}
	return map[string]any{"requestedQueryCost": requested, "actualQueryCost": a, "throttleStatus": map[string]any{
		"maximumAvailable": f.bucketMax, "currentlyAvailable": f.available, "restoreRate": f.restore}}
}

func intVar(vars map[string]any, name string, def int) int {
	if v, ok := vars[name].(float64); ok && v > 0 {
		return int(v)
	}
	return def
}

func strVar(vars map[string]any, name string) string {
	s, _ := vars[name].(string)
	return s
}

// cost estimates a query like Shopify does, roughly: a connection costs
// two plus what it may return.
func (f *Fake) cost(op string, vars map[string]any) float64 {
	switch op {
	case "SentryOrders":
		first := intVar(vars, "first", 10)
		return float64(2 + first*(3+intVar(vars, "lines", 10)))
	case "SentryVariants", "SentryInventory":
		return float64(2 + 2*intVar(vars, "first", 10))
	case "SentryOrderLines":
		return 252
	case "SentryFulfill":
		return 10
	}
	return 2
}

func cursorOf(t time.Time, id string) string {
	return base64.StdEncoding.EncodeToString([]byte(t.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func parseCursor(c string) (time.Time, string, bool) {
	b, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", false
	}
	ts, id, ok := strings.Cut(string(b), "|")
	t, err := time.Parse(time.RFC3339Nano, ts)
	return t, id, ok && err == nil
}

// window parses an updated_at search filter into a predicate.
func window(query string) func(time.Time) bool {
	var lo, hi time.Time
	for _, m := range filterRE.FindAllStringSubmatch(query, -1) {
		bound, err := time.Parse(time.RFC3339, m[2])
		if err != nil {
			continue
		}
		if m[1] == ">=" {
			lo = bound
		} else {
			hi = bound.Add(999 * time.Millisecond) // the search compares to the second
		}
	}
	return func(t time.Time) bool {
		return (lo.IsZero() || !t.Before(lo)) && (hi.IsZero() || !t.After(hi))
	}
}

// page sorts by (updatedAt, id), applies the keyset cursor, the page size
// and the pagination limit (counted from the start of the search).
func page[T any](all []T, key func(T) (time.Time, string), after string, first, limit int) ([]T, map[string]any) {
	sorted := slices.Clone(all)
	slices.SortStableFunc(sorted, func(a, b T) int {
		ta, ia := key(a)
		tb, ib := key(b)
		if c := ta.Compare(tb); c != 0 {
			return c
		}
		return strings.Compare(ia, ib)
	})
	start := 0
	if t, id, ok := parseCursor(after); ok {
		start = len(sorted)
		for i, x := range sorted {
			tx, ix := key(x)
			if tx.After(t) || tx.Equal(t) && ix > id {
				start = i
				break
			}
		}
	}
	end := min(start+first, len(sorted), limit)
	if end < start {
		end = start
	}
	out := sorted[start:end]
	info := map[string]any{"hasNextPage": end < len(sorted) && end < limit, "endCursor": nil}
	if len(out) > 0 {
		t, id := key(out[len(out)-1])
		info["endCursor"] = cursorOf(t, id)
	}
	return out, info
}

func (f *Fake) resolve(op string, vars map[string]any) (any, float64, []map[string]any) {
	switch op {
	case "SentryShop":
		return map[string]any{"shop": map[string]any{"name": "Acme Test Shop", "myshopifyDomain": "acme.myshopify.com"}}, 1, nil
	case "SentryLocation":
		id := strVar(vars, "id")
		name, ok := f.locations[id]
		if !ok {
			return map[string]any{"location": nil}, 1, nil
		}
		return map[string]any{"location": map[string]any{"id": id, "name": name}}, 1, nil
	case "SentryOrders":
		in := window(strVar(vars, "query"))
		var match []*FakeOrder
		for _, o := range f.orders {
			if in(o.UpdatedAt) {
				match = append(match, o)
			}
		}
		lines := intVar(vars, "lines", 10)
		pageOrders, info := page(match, func(o *FakeOrder) (time.Time, string) { return o.UpdatedAt, o.ID },
			strVar(vars, "after"), min(intVar(vars, "first", 10), 250), f.maxObjects)
		nodes := make([]map[string]any, 0, len(pageOrders))
		for _, o := range pageOrders {
			nodes = append(nodes, f.orderNode(o, lines))
		}
		return map[string]any{"orders": map[string]any{"pageInfo": info, "nodes": nodes}}, float64(1 + len(nodes)), nil
	case "SentryOrderLines":
		o := f.order(strVar(vars, "id"))
		if o == nil {
			return map[string]any{"order": nil}, 1, nil
		}
		start, _ := strconv.Atoi(strings.TrimPrefix(strVar(vars, "after"), "line:"))
		return map[string]any{"order": map[string]any{"lineItems": lineConn(o.Lines, start, 250)}}, 2, nil
	case "SentryVariants":
		in := window(strVar(vars, "query"))
		var match []*FakeVariant
		for _, v := range f.variants {
			if in(v.UpdatedAt) {
				match = append(match, v)
			}
		}
		pv, info := page(match, func(v *FakeVariant) (time.Time, string) { return v.UpdatedAt, v.ID },
			strVar(vars, "after"), min(intVar(vars, "first", 10), 250), f.maxObjects)
		nodes := make([]map[string]any, 0, len(pv))
		for _, v := range pv {
			nodes = append(nodes, map[string]any{"id": v.ID, "sku": nullable(v.SKU), "barcode": nullable(v.Barcode),
				"title": v.Title, "updatedAt": v.UpdatedAt.UTC().Format(time.RFC3339), "product": map[string]any{"title": v.ProductTitle}})
		}
		return map[string]any{"productVariants": map[string]any{"pageInfo": info, "nodes": nodes}}, float64(1 + len(nodes)), nil
	case "SentryInventory":
		loc := strVar(vars, "location")
		if _, ok := f.locations[loc]; !ok {
			return map[string]any{"location": nil}, 1, nil
		}
		in := window(strVar(vars, "query"))
		var match []*FakeLevel
		for _, l := range f.levels {
			if l.LocationID == loc && in(l.UpdatedAt) {
				match = append(match, l)
			}
		}
		pl, info := page(match, func(l *FakeLevel) (time.Time, string) { return l.UpdatedAt, l.ID },
			strVar(vars, "after"), min(intVar(vars, "first", 10), 250), f.maxObjects)
		nodes := make([]map[string]any, 0, len(pl))
		for _, l := range pl {
			nodes = append(nodes, map[string]any{"id": l.ID, "updatedAt": l.UpdatedAt.UTC().Format(time.RFC3339),
				"quantities": []map[string]any{{"name": "on_hand", "quantity": l.OnHand}},
				"item":       map[string]any{"id": "gid://shopify/InventoryItem/" + l.SKU, "sku": nullable(l.SKU), "tracked": l.Tracked}})
		}
		return map[string]any{"location": map[string]any{"id": loc, "inventoryLevels": map[string]any{"pageInfo": info, "nodes": nodes}}},
			float64(1 + len(nodes)), nil
	case "SentryFulfillmentOrders":
		o := f.order(strVar(vars, "id"))
		if o == nil {
			return map[string]any{"order": nil}, 1, nil
		}
		var fl []map[string]any
		for _, x := range o.fulfillments {
			fl = append(fl, map[string]any{"id": x.ID, "status": x.Status,
				"trackingInfo": []map[string]any{{"number": nullable(x.Number), "company": nullable(x.Company)}}})
		}
		return map[string]any{"order": map[string]any{"id": o.ID, "name": o.Name, "fulfillments": fl,
			"fulfillmentOrders": map[string]any{"nodes": []map[string]any{{"id": o.foID, "status": o.foStatus,
				"assignedLocation": map[string]any{"location": map[string]any{"id": o.LocationID}}}}}}}, 3, nil
	case "SentryFulfill":
		return f.fulfill(vars)
	}
	return nil, 1, []map[string]any{{"message": "Field '" + op + "' doesn't exist on type 'QueryRoot'",
		"extensions": map[string]any{"code": "undefinedField"}}}
}

func (f *Fake) order(id string) *FakeOrder {
	for _, o := range f.orders {
		if o.ID == id {
			return o
		}
	}
	return nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func lineConn(lines []FakeLine, start, first int) map[string]any {
	start = min(max(start, 0), len(lines))
	end := min(start+first, len(lines))
	nodes := make([]map[string]any, 0, end-start)
	for _, l := range lines[start:end] {
		nodes = append(nodes, map[string]any{"sku": nullable(l.SKU), "currentQuantity": l.Qty, "requiresShipping": l.RequiresShipping})
	}
	var cursor any
	if end > start {
		cursor = "line:" + strconv.Itoa(end)
	}
	return map[string]any{"pageInfo": map[string]any{"hasNextPage": end < len(lines), "endCursor": cursor}, "nodes": nodes}
}

func (f *Fake) orderNode(o *FakeOrder, lines int) map[string]any {
	n := map[string]any{"id": o.ID, "name": o.Name, "updatedAt": o.UpdatedAt.UTC().Format(time.RFC3339),
		"cancelledAt": nil, "shippingAddress": nil, "lineItems": lineConn(o.Lines, 0, lines)}
	if o.CancelledAt != nil {
		n["cancelledAt"] = o.CancelledAt.UTC().Format(time.RFC3339)
	}
	if o.Address != nil {
		a := map[string]any{}
		for _, k := range []string{"name", "company", "address1", "address2", "city", "province", "zip", "country", "countryCodeV2", "phone"} {
			a[k] = nullable(o.Address[k])
		}
		n["shippingAddress"] = a
	}
	return n
}

// fulfill implements fulfillmentCreate.
func (f *Fake) fulfill(vars map[string]any) (any, float64, []map[string]any) {
	userErr := func(field []string, msg string) (any, float64, []map[string]any) {
		return map[string]any{"fulfillmentCreate": map[string]any{"fulfillment": nil,
			"userErrors": []map[string]any{{"field": field, "message": msg}}}}, 10, nil
	}
	in, _ := vars["fulfillment"].(map[string]any)
	groups, _ := in["lineItemsByFulfillmentOrder"].([]any)
	if len(groups) == 0 {
		return userErr([]string{"fulfillment", "lineItemsByFulfillmentOrder"}, "must have at least one fulfillment order")
	}
	var targets []*FakeOrder
	for _, g := range groups {
		m, _ := g.(map[string]any)
		id, _ := m["fulfillmentOrderId"].(string)
		var hit *FakeOrder
		for _, o := range f.orders {
			if o.foID == id {
				hit = o
			}
		}
		if hit == nil {
			return userErr([]string{"fulfillment", "lineItemsByFulfillmentOrder", "fulfillmentOrderId"}, "Fulfillment order does not exist.")
		}
		if hit.foStatus != "OPEN" && hit.foStatus != "IN_PROGRESS" {
			return userErr([]string{"fulfillment"}, "Fulfillment order "+id+" has an unfulfillable status= closed.")
		}
		targets = append(targets, hit)
	}
	ti, _ := in["trackingInfo"].(map[string]any)
	number, _ := ti["number"].(string)
	company, _ := ti["company"].(string)
	id := f.id("Fulfillment")
	for _, o := range targets {
		o.foStatus = "CLOSED"
		o.fulfillments = append(o.fulfillments, fakeFulfillment{ID: id, Status: "SUCCESS", Number: number, Company: company})
		o.UpdatedAt = f.now()
	}
	f.fulfillment++
	return map[string]any{"fulfillmentCreate": map[string]any{"fulfillment": map[string]any{"id": id, "status": "SUCCESS"},
		"userErrors": []any{}}}, 10, nil
}

func writeFakeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
