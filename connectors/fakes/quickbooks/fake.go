package quickbooks

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"sentryhub/connectors/fakes/fakekit"
)

// Zone is the company's time zone: QuickBooks renders times with the
// company's offset, so clients must not assume UTC.
var Zone = time.FixedZone("PST", -8*3600)

// Config describes the fake company.
type Config struct {
	Seed uint64
	// Items is how many inventory items to generate; Orders how many sales
	// (odd ones become SalesReceipts, even ones Invoices).
	Items, Orders int
	// Now is the fake's clock: token expiry, LastUpdatedTime of writes.
	Now          func() time.Time
	ClientID     string // "qb-client"
	ClientSecret string // "qb-secret"
	RealmID      string // "9130350000000000"
	TokenTTL     time.Duration
}

// Item is an item as the fake keeps it.
type Item struct {
	ID, Name, SKU, Type string
	Description         string
	SyncToken           int
	UnitPrice           float64
	QtyOnHand           float64
	Active              bool
	Created, Updated    time.Time
}

// Sale is a SalesReceipt or an Invoice.
type Sale struct {
	Kind        string // "SalesReceipt" or "Invoice"
	ID          string
	SyncToken   int
	DocNumber   string
	TxnDate     time.Time
	Customer    string
	Email       string
	Ship        fakekit.Address
	Lines       []SaleLine
	ShipDate    string
	TrackingNum string
	Updated     time.Time
	Created     time.Time
}

// SaleLine is a SalesItemLineDetail line.
type SaleLine struct {
	ItemID, ItemName string
	Description      string
	Qty              float64
	UnitPrice        float64
}

// Fake is the fake QuickBooks Online. Its Switches throttle requests and
// drop writes; Tokens expires access tokens or revokes refresh tokens.
type Fake struct {
	fakekit.Switches
	Tokens *fakekit.Tokens
	cfg    Config
	mux    *http.ServeMux

	mu     sync.Mutex
	items  []*Item
	sales  []*Sale
	codes  map[string]string // authorization code -> redirect_uri
	nextID int
	calls  map[string]int
}

// New builds a company from cfg.Seed.
func New(cfg Config) *Fake {
	cfg.Now = cmpOr(cfg.Now, time.Now)
	cfg.ClientID = cmpStr(cfg.ClientID, "qb-client")
	cfg.ClientSecret = cmpStr(cfg.ClientSecret, "qb-secret")
	cfg.RealmID = cmpStr(cfg.RealmID, "9130350000000000")
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Hour
	}
	f := &Fake{cfg: cfg, Tokens: fakekit.NewTokens(cfg.Now, cfg.TokenTTL), codes: map[string]string{}, calls: map[string]int{}}
	shop := fakekit.Generate(cfg.Seed, cfg.Items, cfg.Orders, cfg.Now().Add(-time.Duration(cfg.Items+cfg.Orders+10)*time.Minute))
	bySKU := map[string]*Item{}
	for _, p := range shop.Products {
		f.nextID++
		// Items are named by SKU, as warehouses using QuickBooks commonly do:
		// sales lines name their item only by Id and Name.
		it := &Item{ID: strconv.Itoa(f.nextID), Name: p.SKU, Description: p.Name, SKU: p.SKU, Type: "Inventory",
			UnitPrice: fakekit.Major(p.Price), QtyOnHand: float64(p.OnHand), Active: true, Created: p.Created, Updated: p.Updated}
		f.items = append(f.items, it)
		bySKU[p.SKU] = it
	}
	for i, o := range shop.Orders {
		f.nextID++
		s := &Sale{Kind: "SalesReceipt", ID: strconv.Itoa(f.nextID), DocNumber: o.Number, TxnDate: o.Created,
			Customer: o.Ship.Name, Email: o.Email, Ship: o.Ship, Created: o.Created, Updated: o.Updated}
		if i%2 == 1 {
			s.Kind = "Invoice"
		}
		for _, l := range o.Lines {
			it := bySKU[l.SKU]
			s.Lines = append(s.Lines, SaleLine{ItemID: it.ID, ItemName: it.Name, Description: it.Description, Qty: float64(l.Qty), UnitPrice: fakekit.Major(l.Price)})
		}
		f.sales = append(f.sales, s)
	}
	m := http.NewServeMux()
	m.HandleFunc("GET /connect/oauth2", f.authorize)
	m.HandleFunc("POST /oauth2/v1/tokens/bearer", f.token)
	api := "/v3/company/{realm}/"
	m.HandleFunc("GET "+api+"query", f.api(f.query))
	m.HandleFunc("POST "+api+"query", f.api(f.query))
	m.HandleFunc("GET "+api+"item/{id}", f.api(f.readItem))
	m.HandleFunc("POST "+api+"item", f.api(f.writeItem))
	m.HandleFunc("GET "+api+"salesreceipt/{id}", f.api(f.readSale("SalesReceipt")))
	m.HandleFunc("GET "+api+"invoice/{id}", f.api(f.readSale("Invoice")))
	m.HandleFunc("POST "+api+"salesreceipt", f.api(f.writeSale("SalesReceipt")))
	m.HandleFunc("POST "+api+"invoice", f.api(f.writeSale("Invoice")))
	m.HandleFunc("GET "+api+"cdc", f.api(f.cdc))
	f.mux = m
	return f
}

func cmpOr[T any](v, d func() T) func() T {
	if v == nil {
		return d
	}
	return v
}

func cmpStr(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// Config is the configuration the fake was built with, defaults filled in.
func (f *Fake) Config() Config { return f.cfg }

// ServeHTTP implements http.Handler.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls[r.Method+" "+r.URL.Path]++
	f.mu.Unlock()
	f.mux.ServeHTTP(w, r)
}

// Calls is how many requests reached method+path.
func (f *Fake) Calls(method, path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method+" "+path]
}

// Grant issues an access and refresh token as if consent had been given,
// for tests that do not exercise the consent flow.
func (f *Fake) Grant() (access, refresh string) { return f.Tokens.Issue(true) }

// Items returns a copy of every item, active or not, in Id order.
func (f *Fake) Items() []Item {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Item, len(f.items))
	for i, it := range f.items {
		out[i] = *it
	}
	return out
}

// ItemBySKU returns the item with sku.
func (f *Fake) ItemBySKU(sku string) (Item, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, it := range f.items {
		if it.SKU == sku {
			return *it, true
		}
	}
	return Item{}, false
}

// Sales returns a copy of every sale.
func (f *Fake) Sales() []Sale {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Sale, len(f.sales))
	for i, s := range f.sales {
		out[i] = *s
		out[i].Lines = slices.Clone(s.Lines)
	}
	return out
}

// AddSale adds a sale as it is, Id included: the API promises an Id unique
// only within its entity, so a test can give a SalesReceipt and an Invoice
// the same one.
func (f *Fake) AddSale(s Sale) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s.Lines = slices.Clone(s.Lines)
	f.sales = append(f.sales, &s)
}

// Touch bumps an item's LastUpdatedTime (and SyncToken) to now, as an edit
// in the QuickBooks UI would.
func (f *Fake) Touch(id string, fn func(*Item)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if it := f.item(id); it != nil {
		fn(it)
		it.SyncToken++
		it.Updated = f.cfg.Now()
	}
}

// --- OAuth ---

func (f *Fake) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	if q.Get("client_id") != f.cfg.ClientID || redirect == "" {
		http.Error(w, "unknown client_id or missing redirect_uri", http.StatusBadRequest)
		return
	}
	to, err := url.Parse(redirect)
	if err != nil || !to.IsAbs() {
		http.Error(w, "redirect_uri is not an absolute URL", http.StatusBadRequest)
		return
	}
	back := to.Query()
	switch {
	case q.Get("response_type") != "code":
		back.Set("error", "unsupported_response_type")
	case !slices.Contains(strings.Fields(q.Get("scope")), "com.intuit.quickbooks.accounting"):
		back.Set("error", "invalid_scope")
	default:
		code := "AB" + fakekit.Random(12)
		f.mu.Lock()
		f.codes[code] = redirect
		f.mu.Unlock()
		back.Set("code", code)
		back.Set("realmId", f.cfg.RealmID)
	}
	back.Set("state", q.Get("state"))
	to.RawQuery = back.Encode()
	http.Redirect(w, r, to.String(), http.StatusFound)
}

func (f *Fake) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if f.Rejecting() {
		fakekit.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "client " + id + ":" + secret + " is disabled"})
		return
	}
	if !ok || id != f.cfg.ClientID || secret != f.cfg.ClientSecret {
		fakekit.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	if err := r.ParseForm(); err != nil {
		fakekit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	var access, refresh string
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		code := r.PostForm.Get("code")
		f.mu.Lock()
		redirect, known := f.codes[code]
		delete(f.codes, code) // a code is good once
		f.mu.Unlock()
		if !known || redirect != r.PostForm.Get("redirect_uri") {
			fakekit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return
		}
		access, refresh = f.Tokens.Issue(true)
	case "refresh_token":
		var ok bool
		if access, refresh, ok = f.Tokens.Refresh(r.PostForm.Get("refresh_token")); !ok {
			fakekit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return
		}
	default:
		fakekit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{
		"token_type": "bearer", "access_token": access, "refresh_token": refresh,
		"expires_in": int(f.Tokens.TTL().Seconds()), "x_refresh_token_expires_in": 8726400,
	})
}

// --- API plumbing ---

type fault struct {
	status int
	typ    string
	code   string
	msg    string
	detail string
}

func (e *fault) Error() string { return e.msg }

func (f *Fake) api(h func(r *http.Request) (any, *fault)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := f.cfg.Now().In(Zone).Format(time.RFC3339Nano)
		if f.Rejecting() {
			writeFault(w, &fault{http.StatusUnauthorized, "AUTHENTICATION", "3200", "message=AuthenticationFailed; errorCode=003200; statusCode=401", "Token " + fakekit.Bearer(r) + " was revoked"}, now)
			return
		}
		if !f.Tokens.Valid(fakekit.Bearer(r)) {
			// The gateway's 401 uses lower-case keys, unlike the API's faults.
			w.Header().Set("WWW-Authenticate", `Bearer realm="Intuit", error="invalid_token"`)
			fakekit.WriteJSON(w, http.StatusUnauthorized, map[string]any{"fault": map[string]any{
				"error": []map[string]string{{"message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
					"detail": "Token expired or invalid", "code": "3200"}}, "type": "AUTHENTICATION"}, "time": now})
			return
		}
		if r.PathValue("realm") != f.cfg.RealmID {
			writeFault(w, &fault{http.StatusForbidden, "AuthorizationFault", "403", "Forbidden", "The token is not for company " + r.PathValue("realm")}, now)
			return
		}
		if f.TakeThrottle() {
			writeFault(w, &fault{http.StatusTooManyRequests, "SERVICE", "003001", "message=ThrottleExceeded; errorCode=003001; statusCode=429", "The request limit was reached."}, now)
			return
		}
		out, e := h(r)
		if e != nil {
			writeFault(w, e, now)
			return
		}
		body, _ := json.Marshal(out)
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		m["time"] = now
		fakekit.WriteJSON(w, http.StatusOK, m)
	}
}

func writeFault(w http.ResponseWriter, e *fault, now string) {
	fakekit.WriteJSON(w, e.status, map[string]any{"Fault": map[string]any{
		"Error": []map[string]string{{"Message": e.msg, "Detail": e.detail, "code": e.code}}, "type": e.typ}, "time": now})
}

func badRequest(code, msg, detail string) *fault {
	return &fault{http.StatusBadRequest, "ValidationFault", code, msg, detail}
}

func (f *Fake) item(id string) *Item {
	for _, it := range f.items {
		if it.ID == id {
			return it
		}
	}
	return nil
}

func (f *Fake) sale(kind, id string) *Sale {
	for _, s := range f.sales {
		if s.ID == id && s.Kind == kind {
			return s
		}
	}
	return nil
}

func qbTime(t time.Time) string { return t.In(Zone).Format("2006-01-02T15:04:05-07:00") }

func renderItem(it *Item) map[string]any {
	return map[string]any{
		"Id": it.ID, "SyncToken": strconv.Itoa(it.SyncToken), "domain": "QBO", "sparse": false,
		"Name": it.Name, "FullyQualifiedName": it.Name, "Description": it.Description, "Sku": it.SKU, "Type": it.Type, "Active": it.Active,
		"UnitPrice": it.UnitPrice, "TrackQtyOnHand": it.Type == "Inventory", "QtyOnHand": it.QtyOnHand,
		"InvStartDate":      it.Created.In(Zone).Format(time.DateOnly),
		"IncomeAccountRef":  map[string]string{"value": "79", "name": "Sales of Product Income"},
		"AssetAccountRef":   map[string]string{"value": "81", "name": "Inventory Asset"},
		"ExpenseAccountRef": map[string]string{"value": "80", "name": "Cost of Goods Sold"},
		"MetaData":          map[string]any{"CreateTime": qbTime(it.Created), "LastUpdatedTime": qbTime(it.Updated)},
	}
}

func renderSale(s *Sale) map[string]any {
	var lines []map[string]any
	var total float64
	for i, l := range s.Lines {
		amt := l.Qty * l.UnitPrice
		total += amt
		lines = append(lines, map[string]any{"Id": strconv.Itoa(i + 1), "LineNum": i + 1, "Description": l.Description,
			"Amount": amt, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": map[string]any{
				"ItemRef": map[string]string{"value": l.ItemID, "name": l.ItemName}, "Qty": l.Qty, "UnitPrice": l.UnitPrice}})
	}
	lines = append(lines, map[string]any{"Amount": total, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": map[string]any{}})
	m := map[string]any{
		"Id": s.ID, "SyncToken": strconv.Itoa(s.SyncToken), "domain": "QBO", "sparse": false,
		"DocNumber": s.DocNumber, "TxnDate": s.TxnDate.In(Zone).Format(time.DateOnly), "TotalAmt": total,
		"CurrencyRef": map[string]string{"value": "USD", "name": "United States Dollar"},
		"CustomerRef": map[string]string{"value": "1", "name": s.Customer},
		"BillEmail":   map[string]string{"Address": s.Email},
		"ShipAddr": map[string]string{"Id": "1" + s.ID, "Line1": s.Ship.Name, "Line2": s.Ship.Line1, "City": s.Ship.City,
			"CountrySubDivisionCode": s.Ship.Region, "PostalCode": s.Ship.PostalCode, "Country": s.Ship.Country},
		"Line":     lines,
		"MetaData": map[string]any{"CreateTime": qbTime(s.Created), "LastUpdatedTime": qbTime(s.Updated)},
	}
	if s.ShipDate != "" {
		m["ShipDate"] = s.ShipDate
	}
	if s.TrackingNum != "" {
		m["TrackingNum"] = s.TrackingNum
	}
	if s.Kind == "Invoice" {
		m["DueDate"] = s.TxnDate.AddDate(0, 0, 30).In(Zone).Format(time.DateOnly)
		m["Balance"] = total
	}
	return m
}

// --- reads ---

func (f *Fake) readItem(r *http.Request) (any, *fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	it := f.item(r.PathValue("id"))
	if it == nil {
		return nil, badRequest("610", "Object Not Found", "Object Not Found : Something you're trying to use has been made inactive. Check the fields with accounts, customers, items, vendors or employees.")
	}
	return map[string]any{"Item": renderItem(it)}, nil
}

func (f *Fake) readSale(kind string) func(r *http.Request) (any, *fault) {
	return func(r *http.Request) (any, *fault) {
		f.mu.Lock()
		defer f.mu.Unlock()
		s := f.sale(kind, r.PathValue("id"))
		if s == nil {
			return nil, badRequest("610", "Object Not Found", "Object Not Found : no "+kind+" with that Id")
		}
		return map[string]any{kind: renderSale(s)}, nil
	}
}

func (f *Fake) cdc(r *http.Request) (any, *fault) {
	q := r.URL.Query()
	since, err := parseQBTime(q.Get("changedSince"))
	if err != nil {
		return nil, badRequest("2010", "Request has invalid or unsupported property", "changedSince: "+err.Error())
	}
	if f.cfg.Now().Sub(since) > 30*24*time.Hour {
		return nil, badRequest("2010", "Request has invalid or unsupported property", "changedSince must be within the last 30 days")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var responses []map[string]any
	for _, e := range strings.Split(q.Get("entities"), ",") {
		var list []map[string]any
		switch strings.ToLower(strings.TrimSpace(e)) {
		case "item":
			e = "Item"
			for _, it := range f.items {
				if !it.Updated.Before(since) {
					list = append(list, renderItem(it))
				}
			}
		case "salesreceipt", "invoice":
			e = map[string]string{"salesreceipt": "SalesReceipt", "invoice": "Invoice"}[strings.ToLower(strings.TrimSpace(e))]
			for _, s := range f.sales {
				if s.Kind == e && !s.Updated.Before(since) {
					list = append(list, renderSale(s))
				}
			}
		default:
			return nil, badRequest("2010", "Request has invalid or unsupported property", "entities: unsupported entity "+strconv.Quote(e))
		}
		if len(list) > 1000 { // CDC returns at most 1,000 objects per entity
			list = list[:1000]
		}
		responses = append(responses, map[string]any{e: list, "startPosition": 1, "maxResults": len(list)})
	}
	return map[string]any{"CDCResponse": []map[string]any{{"QueryResponse": responses}}}, nil
}

func parseQBTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05-07:00", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, Zone); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date or date-time", s)
}

// --- writes ---

func (f *Fake) writeItem(r *http.Request) (any, *fault) {
	var in map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		return nil, badRequest("2500", "Invalid Reference Id", "Request body is not a JSON object: "+err.Error())
	}
	var id, sync string
	_ = json.Unmarshal(in["Id"], &id)
	_ = json.Unmarshal(in["SyncToken"], &sync)
	var sparse bool
	_ = json.Unmarshal(in["sparse"], &sparse)
	f.mu.Lock()
	defer f.mu.Unlock()
	var it Item
	if id == "" { // create
		it = Item{Active: true, Type: "Inventory", Created: f.cfg.Now()}
		sparse = false
	} else {
		cur := f.item(id)
		if cur == nil {
			return nil, badRequest("610", "Object Not Found", "Object Not Found : no Item with Id "+id)
		}
		if sync != strconv.Itoa(cur.SyncToken) {
			return nil, badRequest("5010", "Stale Object Error", "Stale Object Error : You and another user were working on the same thing. SyncToken "+sync+" is not the current one")
		}
		it = *cur
		it.SyncToken++
		if !sparse { // a full update clears what the body leaves out
			it.SKU, it.Description, it.UnitPrice = "", "", 0
		}
	}
	fields := []struct {
		name string
		dst  any
	}{{"Name", &it.Name}, {"Description", &it.Description}, {"Sku", &it.SKU}, {"Type", &it.Type}, {"UnitPrice", &it.UnitPrice}, {"QtyOnHand", &it.QtyOnHand}, {"Active", &it.Active}}
	for _, fl := range fields {
		if raw, ok := in[fl.name]; ok {
			if err := json.Unmarshal(raw, fl.dst); err != nil {
				return nil, badRequest("2010", "Request has invalid or unsupported property", "Property Name:"+fl.name+" has an invalid value")
			}
		}
	}
	if !sparse && (it.Name == "" || in["Name"] == nil) {
		return nil, badRequest("2020", "Required param missing, need to supply the required value for the API", "Required parameter Name is missing in the request")
	}
	if !slices.Contains([]string{"Inventory", "NonInventory", "Service"}, it.Type) {
		return nil, badRequest("2010", "Request has invalid or unsupported property", "Property Name:Type has an invalid value")
	}
	for _, o := range f.items {
		if o.ID != it.ID && strings.EqualFold(o.Name, it.Name) {
			return nil, badRequest("6240", "Duplicate Name Exists Error", "The name supplied already exists. : "+it.Name)
		}
	}
	it.Updated = f.cfg.Now()
	if id == "" {
		f.nextID++
		it.ID = strconv.Itoa(f.nextID)
	}
	if !f.Dropping() {
		if id == "" {
			f.items = append(f.items, &it)
		} else {
			*f.item(id) = it
		}
	}
	return map[string]any{"Item": renderItem(&it)}, nil
}

// writeSale is a sparse update of a SalesReceipt or Invoice (both take
// ShipDate and TrackingNum).
func (f *Fake) writeSale(kind string) func(r *http.Request) (any, *fault) {
	return func(r *http.Request) (any, *fault) {
		var in struct {
			ID          string  `json:"Id"`
			SyncToken   string  `json:"SyncToken"`
			Sparse      bool    `json:"sparse"`
			ShipDate    *string `json:"ShipDate"`
			TrackingNum *string `json:"TrackingNum"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			return nil, badRequest("2500", "Invalid Reference Id", "Request body is not a JSON object: "+err.Error())
		}
		if !in.Sparse || in.ID == "" {
			return nil, badRequest("2020", "Required param missing, need to supply the required value for the API", "this fake takes only sparse updates of an existing "+kind+" (Id, SyncToken, sparse=true)")
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		cur := f.sale(kind, in.ID)
		if cur == nil {
			return nil, badRequest("610", "Object Not Found", "Object Not Found : no "+kind+" with Id "+in.ID)
		}
		if in.SyncToken != strconv.Itoa(cur.SyncToken) {
			return nil, badRequest("5010", "Stale Object Error", "Stale Object Error : SyncToken "+in.SyncToken+" is not the current one")
		}
		s := *cur
		s.SyncToken++
		s.Updated = f.cfg.Now()
		if in.ShipDate != nil {
			if _, err := time.Parse(time.DateOnly, *in.ShipDate); err != nil && *in.ShipDate != "" {
				return nil, badRequest("2010", "Request has invalid or unsupported property", "Property Name:ShipDate has an invalid value")
			}
			s.ShipDate = *in.ShipDate
		}
		if in.TrackingNum != nil {
			s.TrackingNum = *in.TrackingNum
		}
		if !f.Dropping() {
			*cur = s
		}
		return map[string]any{kind: renderSale(&s)}, nil
	}
}
