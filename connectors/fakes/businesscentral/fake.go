package businesscentral

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"sentryhub/connectors/fakes/fakekit"
)

// Scope is the only scope the token endpoint grants for the API.
const Scope = "https://api.businesscentral.dynamics.com/.default"

// Config describes the fake tenant.
type Config struct {
	Seed          uint64
	Items, Orders int
	Now           func() time.Time
	Tenant        string // "contoso.onmicrosoft.com"
	Environment   string // "production"
	ClientID      string // "bc-client"
	ClientSecret  string // "bc-secret"
	TokenTTL      time.Duration
	// PageSize is the server's page size (Business Central's is 20,000);
	// a client's odata.maxpagesize below it wins.
	PageSize int
	// RetryAfter is the Retry-After of a throttled answer (1 s).
	RetryAfter time.Duration
}

// Item is an item as the fake keeps it.
type Item struct {
	ID, Number, DisplayName string
	UnitPrice               float64
	Inventory               float64
	Blocked                 bool
	Version                 int
	Modified                time.Time
}

// Order is a sales order.
type Order struct {
	ID, Number string
	Date       time.Time
	Customer   string
	Email      string
	Ship       fakekit.Address
	Lines      []Line
	Version    int
	Modified   time.Time
}

// Line is a sales order line.
type Line struct {
	ID, ItemID, ItemNumber, Description string
	Sequence                            int
	Qty, ShipQty, Shipped               float64
	UnitPrice                           float64
}

// Shipment is a posted sales shipment.
type Shipment struct {
	ID, Number, OrderNumber, Customer string
	Posted                            time.Time
	Lines                             []ShipmentLine
}

// ShipmentLine is a shipped item quantity.
type ShipmentLine struct {
	ID, ItemNumber, Description string
	Sequence                    int
	Qty                         float64
}

// Fake is the fake tenant.
type Fake struct {
	fakekit.Switches
	Tokens  *fakekit.Tokens
	cfg     Config
	company string

	mu        sync.Mutex
	rnd       *rand.Rand
	items     []*Item
	orders    []*Order
	shipments []*Shipment
	shipSeq   int
	entries   []Entry
}

// Entry is an item ledger entry the fake posted for a change of an item's
// inventory through the API (the item journal line the items page posts).
type Entry struct {
	ItemNumber string
	EntryType  string // "Positive Adjmt." or "Negative Adjmt."
	Quantity   float64
}

// New builds a tenant with one company from cfg.Seed.
func New(cfg Config) *Fake {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&cfg.Tenant, "contoso.onmicrosoft.com")
	def(&cfg.Environment, "production")
	def(&cfg.ClientID, "bc-client")
	def(&cfg.ClientSecret, "bc-secret")
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 3599 * time.Second
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 20000
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = time.Second
	}
	f := &Fake{cfg: cfg, Tokens: fakekit.NewTokens(cfg.Now, cfg.TokenTTL), rnd: rand.New(rand.NewPCG(cfg.Seed, 0xbc)), shipSeq: 102000}
	f.company = f.guid()
	shop := fakekit.Generate(cfg.Seed, cfg.Items, cfg.Orders, cfg.Now().Add(-time.Duration(cfg.Items+cfg.Orders+10)*time.Minute))
	bySKU := map[string]*Item{}
	for _, p := range shop.Products {
		it := &Item{ID: f.guid(), Number: p.SKU, DisplayName: p.Name, UnitPrice: fakekit.Major(p.Price), Inventory: float64(p.OnHand), Modified: p.Updated}
		f.items = append(f.items, it)
		bySKU[p.SKU] = it
	}
	for _, o := range shop.Orders {
		so := &Order{ID: f.guid(), Number: "S-ORD10" + o.Number, Date: o.Created, Customer: o.Ship.Name, Email: o.Email, Ship: o.Ship, Modified: o.Updated}
		for i, l := range o.Lines {
			it := bySKU[l.SKU]
			so.Lines = append(so.Lines, Line{ID: f.guid(), ItemID: it.ID, ItemNumber: it.Number, Description: it.DisplayName,
				Sequence: (i + 1) * 10000, Qty: float64(l.Qty), ShipQty: float64(l.Qty), UnitPrice: fakekit.Major(l.Price)})
		}
		f.orders = append(f.orders, so)
	}
	return f
}

func (f *Fake) guid() string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(f.rnd.UintN(256))
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Config is the configuration the fake was built with, defaults filled in.
func (f *Fake) Config() Config { return f.cfg }

// CompanyID is the id of the one company.
func (f *Fake) CompanyID() string { return f.company }

// APIPath is the path of the company's API root, under which items,
// salesOrders and salesShipments live.
func (f *Fake) APIPath() string {
	return "/v2.0/" + f.cfg.Tenant + "/" + f.cfg.Environment + "/api/v2.0/companies(" + f.company + ")"
}

// Items returns a copy of the items.
func (f *Fake) Items() []Item {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Item, len(f.items))
	for i, it := range f.items {
		out[i] = *it
	}
	return out
}

// Orders returns a copy of the open sales orders.
func (f *Fake) Orders() []Order {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Order, len(f.orders))
	for i, o := range f.orders {
		out[i] = *o
		out[i].Lines = slices.Clone(o.Lines)
	}
	return out
}

// Shipments returns a copy of the posted shipments.
func (f *Fake) Shipments() []Shipment {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Shipment, len(f.shipments))
	for i, s := range f.shipments {
		out[i] = *s
		out[i].Lines = slices.Clone(s.Lines)
	}
	return out
}

// Entries returns the adjustments posted through the items API, oldest
// first.
func (f *Fake) Entries() []Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.entries)
}

// Touch changes an item through fn and bumps its version and
// lastModifiedDateTime, as an edit in the client would; stock received
// through a posted purchase or journal is modelled the same way.
func (f *Fake) Touch(id string, fn func(*Item)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if it := f.item(id); it != nil {
		fn(it)
		it.Version++
		it.Modified = f.cfg.Now()
	}
}

// --- token endpoint ---

func (f *Fake) tokenError(w http.ResponseWriter, status int, code string, aadsts int, desc string) {
	now := f.cfg.Now().UTC()
	fakekit.WriteJSON(w, status, map[string]any{
		"error": code, "error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Timestamp: %s", aadsts, desc, fakekit.Random(8), now.Format("2006-01-02 15:04:05Z")),
		"error_codes": []int{aadsts}, "timestamp": now.Format("2006-01-02 15:04:05Z"), "trace_id": fakekit.Random(8), "correlation_id": fakekit.Random(8),
	})
}

func (f *Fake) token(w http.ResponseWriter, r *http.Request, tenant string) {
	if tenant != f.cfg.Tenant {
		f.tokenError(w, 400, "invalid_request", 90002, "Tenant '"+tenant+"' not found.")
		return
	}
	if err := r.ParseForm(); err != nil {
		f.tokenError(w, 400, "invalid_request", 900144, "The request body must be form-encoded.")
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(u)
		secret, _ = url.QueryUnescape(p)
	}
	switch {
	case f.Rejecting():
		f.tokenError(w, 401, "invalid_client", 7000222, "The client secret "+secret+" of app "+id+" has expired.")
	case r.PostForm.Get("grant_type") != "client_credentials":
		f.tokenError(w, 400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
	case id != f.cfg.ClientID:
		f.tokenError(w, 400, "unauthorized_client", 700016, "Application with identifier '"+id+"' was not found in the directory.")
	case secret != f.cfg.ClientSecret:
		f.tokenError(w, 401, "invalid_client", 7000215, "Invalid client secret provided.")
	case r.PostForm.Get("scope") != Scope:
		f.tokenError(w, 400, "invalid_scope", 1002012, "The provided value for scope is not valid; client credentials need "+Scope+".")
	default:
		access, _ := f.Tokens.Issue(false)
		ttl := int(f.Tokens.TTL().Seconds())
		fakekit.WriteJSON(w, 200, map[string]any{"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl, "access_token": access})
	}
}

// --- routing ---

// ServeHTTP implements http.Handler. OData keys sit inside path segments
// ("items(…)"), which ServeMux patterns cannot match, so it routes itself.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) == 4 && parts[1] == "oauth2" && parts[2] == "v2.0" && parts[3] == "token" && r.Method == http.MethodPost {
		f.token(w, r, parts[0])
		return
	}
	if len(parts) < 5 || parts[0] != "v2.0" || parts[3] != "api" || parts[4] != "v2.0" {
		writeError(w, 404, "BadRequest_NotFound", "No such path: "+r.URL.Path)
		return
	}
	if f.Rejecting() {
		writeError(w, 401, "Authentication_InvalidCredentials", "The token "+fakekit.Bearer(r)+" was rejected: the app's consent was revoked.")
		return
	}
	if !f.Tokens.Valid(fakekit.Bearer(r)) {
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="https://login.microsoftonline.com/`+f.cfg.Tenant+`/oauth2/authorize", error="invalid_token", error_description="The access token is missing, invalid or expired"`)
		writeError(w, 401, "Authentication_InvalidCredentials", "The server has rejected the client credentials.")
		return
	}
	if parts[1] != f.cfg.Tenant || parts[2] != f.cfg.Environment {
		writeError(w, 404, "NoEnvironment", "Environment '"+parts[2]+"' of tenant '"+parts[1]+"' does not exist.")
		return
	}
	if f.TakeThrottle() {
		w.Header().Set("Retry-After", strconv.Itoa(int(f.cfg.RetryAfter.Seconds())))
		writeError(w, 429, "Application_TooManyRequests", "Too many requests reached. Actual (600). Maximum (600).")
		return
	}
	var segs []seg
	for _, p := range parts[5:] {
		s, err := parseSeg(p)
		if err != nil {
			writeError(w, 400, "BadRequest", err.Error())
			return
		}
		segs = append(segs, s)
	}
	if len(segs) == 0 || segs[0].name != "companies" {
		writeError(w, 404, "BadRequest_NotFound", "The API root has only companies.")
		return
	}
	if len(segs) == 1 {
		if segs[0].key != "" {
			writeError(w, 404, "BadRequest_NotFound", "Only listing companies is supported here.")
			return
		}
		f.list(w, r, "companies", []map[string]any{{"id": f.company, "systemVersion": "24.0", "name": "CRONUS USA, Inc.", "displayName": "CRONUS USA, Inc.", "businessProfileId": ""}})
		return
	}
	if segs[0].key != f.company {
		writeError(w, 404, "BadRequest_NotFound", "The Company does not exist. Identification fields and values: Id='"+segs[0].key+"'")
		return
	}
	f.entity(w, r, segs[1:])
}

type seg struct{ name, key string }

var segRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_.]*)(?:\(([^()]*)\))?$`)

func parseSeg(s string) (seg, error) {
	m := segRE.FindStringSubmatch(s)
	if m == nil {
		return seg{}, fmt.Errorf("the path segment %q is not an entity set or key", s)
	}
	key := strings.Trim(m[2], "'")
	return seg{m[1], key}, nil
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	fakekit.WriteJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg + "  CorrelationId:  " + fakekit.Random(8) + "."}})
}

func (f *Fake) entity(w http.ResponseWriter, r *http.Request, segs []seg) {
	route := make([]string, len(segs))
	for i, s := range segs {
		route[i] = s.name
		if s.key != "" {
			route[i] += "()"
		}
	}
	switch k := r.Method + " " + strings.Join(route, "/"); k {
	case "GET items":
		f.mu.Lock()
		var rows []map[string]any
		for _, it := range f.items {
			rows = append(rows, renderItem(it))
		}
		f.mu.Unlock()
		f.list(w, r, "companies("+f.company+")/items", rows)
	case "POST items":
		f.createItem(w, r)
	case "GET items()", "PATCH items()", "DELETE items()":
		f.itemByID(w, r, segs[0].key)
	case "GET salesOrders":
		expand := strings.Contains(r.URL.Query().Get("$expand"), "salesOrderLines")
		f.mu.Lock()
		var rows []map[string]any
		for _, o := range f.orders {
			rows = append(rows, renderOrder(o, expand))
		}
		f.mu.Unlock()
		f.list(w, r, "companies("+f.company+")/salesOrders", rows)
	case "GET salesOrders()":
		f.mu.Lock()
		o := f.order(segs[0].key)
		var row map[string]any
		if o != nil {
			row = renderOrder(o, strings.Contains(r.URL.Query().Get("$expand"), "salesOrderLines"))
		}
		f.mu.Unlock()
		if o == nil {
			notFound(w, "Sales Order", segs[0].key)
			return
		}
		fakekit.WriteJSON(w, 200, row)
	case "GET salesOrders()/salesOrderLines":
		f.mu.Lock()
		o := f.order(segs[0].key)
		var rows []map[string]any
		if o != nil {
			for _, l := range o.Lines {
				rows = append(rows, renderLine(o, l))
			}
		}
		f.mu.Unlock()
		if o == nil {
			notFound(w, "Sales Order", segs[0].key)
			return
		}
		f.list(w, r, "companies("+f.company+")/salesOrders("+o.ID+")/salesOrderLines", rows)
	case "PATCH salesOrders()/salesOrderLines()":
		f.patchLine(w, r, segs[0].key, segs[1].key)
	case "POST salesOrders()/Microsoft.NAV.shipAndInvoice":
		f.shipAndInvoice(w, segs[0].key)
	case "GET salesShipments":
		expand := strings.Contains(r.URL.Query().Get("$expand"), "salesShipmentLines")
		f.mu.Lock()
		var rows []map[string]any
		for _, s := range f.shipments {
			rows = append(rows, renderShipment(s, expand))
		}
		f.mu.Unlock()
		f.list(w, r, "companies("+f.company+")/salesShipments", rows)
	case "GET salesShipments()":
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, s := range f.shipments {
			if s.ID == segs[0].key {
				fakekit.WriteJSON(w, 200, renderShipment(s, strings.Contains(r.URL.Query().Get("$expand"), "salesShipmentLines")))
				return
			}
		}
		notFound(w, "Sales Shipment Header", segs[0].key)
	default:
		writeError(w, 404, "BadRequest_MethodNotFound", "No route for "+k+".")
	}
}

func notFound(w http.ResponseWriter, table, id string) {
	writeError(w, 404, "BadRequest_NotFound", "The "+table+" does not exist. Identification fields and values: Id='"+id+"'")
}

// --- rendering ---

func bcTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func etag(id string, version int) string {
	return `W/"` + base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%s;%d;", id, version))) + `"`
}

func renderItem(it *Item) map[string]any {
	return map[string]any{"@odata.etag": etag(it.ID, it.Version), "id": it.ID, "number": it.Number, "displayName": it.DisplayName,
		"displayName2": "", "type": "Inventory", "itemCategoryCode": "", "blocked": it.Blocked, "gtin": "", "inventory": it.Inventory,
		"unitPrice": it.UnitPrice, "priceIncludesTax": false, "unitCost": 0, "baseUnitOfMeasureCode": "PCS",
		"lastModifiedDateTime": bcTime(it.Modified)}
}

func renderLine(o *Order, l Line) map[string]any {
	return map[string]any{"@odata.etag": etag(l.ID, o.Version), "id": l.ID, "documentId": o.ID, "sequence": l.Sequence,
		"itemId": l.ItemID, "lineType": "Item", "lineObjectNumber": l.ItemNumber, "description": l.Description,
		"unitOfMeasureCode": "PCS", "quantity": l.Qty, "unitPrice": l.UnitPrice, "shipQuantity": l.ShipQty,
		"shippedQuantity": l.Shipped, "invoiceQuantity": l.ShipQty, "invoicedQuantity": l.Shipped, "netAmount": l.Qty * l.UnitPrice}
}

func renderOrder(o *Order, lines bool) map[string]any {
	var total float64
	full := true
	for _, l := range o.Lines {
		total += l.Qty * l.UnitPrice
		full = full && l.Shipped >= l.Qty
	}
	m := map[string]any{"@odata.etag": etag(o.ID, o.Version), "id": o.ID, "number": o.Number, "externalDocumentNumber": "",
		"orderDate": o.Date.UTC().Format(time.DateOnly), "postingDate": o.Date.UTC().Format(time.DateOnly),
		"customerNumber": "C" + o.Number[len(o.Number)-4:], "customerName": o.Customer, "email": o.Email,
		"shipToName": o.Ship.Name, "shipToAddressLine1": o.Ship.Line1, "shipToAddressLine2": "", "shipToCity": o.Ship.City,
		"shipToState": o.Ship.Region, "shipToCountry": o.Ship.Country, "shipToPostCode": o.Ship.PostalCode,
		"currencyCode": "USD", "pricesIncludeTax": false, "status": "Open", "fullyShipped": full,
		"totalAmountExcludingTax": total, "totalAmountIncludingTax": total, "lastModifiedDateTime": bcTime(o.Modified)}
	if lines {
		var ls []map[string]any
		for _, l := range o.Lines {
			ls = append(ls, renderLine(o, l))
		}
		m["salesOrderLines"] = ls
	}
	return m
}

func renderShipment(s *Shipment, lines bool) map[string]any {
	m := map[string]any{"@odata.etag": etag(s.ID, 0), "id": s.ID, "number": s.Number, "orderNumber": s.OrderNumber,
		"customerName": s.Customer, "postingDate": s.Posted.UTC().Format(time.DateOnly), "shipmentDate": s.Posted.UTC().Format(time.DateOnly),
		"lastModifiedDateTime": bcTime(s.Posted)}
	if lines {
		var ls []map[string]any
		for _, l := range s.Lines {
			ls = append(ls, map[string]any{"id": l.ID, "documentId": s.ID, "documentNo": s.Number, "sequence": l.Sequence, "lineType": "Item",
				"lineObjectNumber": l.ItemNumber, "description": l.Description, "quantity": l.Qty, "unitOfMeasureCode": "PCS"})
		}
		m["salesShipmentLines"] = ls
	}
	return m
}

// --- writes ---

func (f *Fake) item(id string) *Item {
	for _, it := range f.items {
		if it.ID == id {
			return it
		}
	}
	return nil
}

func (f *Fake) order(id string) *Order {
	for _, o := range f.orders {
		if o.ID == id {
			return o
		}
	}
	return nil
}

type itemPatch struct {
	Number      *string  `json:"number"`
	DisplayName *string  `json:"displayName"`
	UnitPrice   *float64 `json:"unitPrice"`
	Blocked     *bool    `json:"blocked"`
	GTIN        *string  `json:"gtin"`
	Inventory   *float64 `json:"inventory"`
}

var readOnly = []string{"id", "lastModifiedDateTime", "type", "@odata.etag"}

// decodePatch refuses read-only and unknown properties by name, as Business
// Central does.
func decodePatch(r *http.Request, v any) (bool, string) {
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		return false, "The request body is not a JSON object: " + err.Error()
	}
	for k := range raw {
		if slices.Contains(readOnly, k) {
			return false, "The property '" + k + "' is read-only."
		}
	}
	b, _ := json.Marshal(raw)
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return false, "Invalid request body: " + err.Error()
	}
	return true, ""
}

func (f *Fake) createItem(w http.ResponseWriter, r *http.Request) {
	var in itemPatch
	if ok, msg := decodePatch(r, &in); !ok {
		writeError(w, 400, "BadRequest", msg)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	it := &Item{ID: f.guid(), Modified: f.cfg.Now()}
	if in.Inventory != nil {
		writeError(w, 400, "BadRequest", "Inventory cannot be set when an item is created; change it with a PATCH.")
		return
	}
	if in.Number == nil || *in.Number == "" {
		writeError(w, 400, "BadRequest", "The property 'number' must have a value.")
		return
	}
	it.Number = *in.Number
	for _, o := range f.items {
		if o.Number == it.Number {
			writeError(w, 400, "Internal_EntityWithSameKeyExists", "The record already exists: Item No. '"+it.Number+"'.")
			return
		}
	}
	applyItem(it, in)
	if !f.Dropping() {
		f.items = append(f.items, it)
	}
	w.Header().Set("Location", "items("+it.ID+")")
	fakekit.WriteJSON(w, 201, renderItem(it))
}

func applyItem(it *Item, in itemPatch) {
	if in.DisplayName != nil {
		it.DisplayName = *in.DisplayName
	}
	if in.UnitPrice != nil {
		it.UnitPrice = *in.UnitPrice
	}
	if in.Blocked != nil {
		it.Blocked = *in.Blocked
	}
}

func (f *Fake) checkMatch(w http.ResponseWriter, r *http.Request, current string) bool {
	m := r.Header.Get("If-Match")
	switch {
	case m == "":
		writeError(w, 400, "BadRequest", "Could not save the changes because the If-Match header is missing; send the entity's @odata.etag or *.")
		return false
	case m != "*" && m != current:
		writeError(w, 412, "Request_EntityChanged", "Could not save the changes because the record was changed by another user or process after it was read.")
		return false
	}
	return true
}

func (f *Fake) itemByID(w http.ResponseWriter, r *http.Request, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	it := f.item(id)
	if it == nil {
		notFound(w, "Item", id)
		return
	}
	switch r.Method {
	case http.MethodGet:
		fakekit.WriteJSON(w, 200, renderItem(it))
	case http.MethodDelete:
		if !f.checkMatch(w, r, etag(it.ID, it.Version)) {
			return
		}
		if !f.Dropping() {
			f.items = slices.DeleteFunc(f.items, func(x *Item) bool { return x.ID == id })
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch:
		if !f.checkMatch(w, r, etag(it.ID, it.Version)) {
			return
		}
		var in itemPatch
		if ok, msg := decodePatch(r, &in); !ok {
			writeError(w, 400, "BadRequest", msg)
			return
		}
		next := *it
		if in.Number != nil {
			next.Number = *in.Number
		}
		applyItem(&next, in)
		// A new inventory posts an adjustment of the difference, positive
		// or negative, at once (there is no journal left to post).
		var entry *Entry
		if in.Inventory != nil && *in.Inventory != it.Inventory {
			e := Entry{ItemNumber: next.Number, EntryType: "Positive Adjmt.", Quantity: *in.Inventory - it.Inventory}
			if e.Quantity < 0 {
				e.EntryType, e.Quantity = "Negative Adjmt.", -e.Quantity
			}
			next.Inventory = *in.Inventory
			entry = &e
		}
		next.Version++
		next.Modified = f.cfg.Now()
		if !f.Dropping() {
			*it = next
			if entry != nil {
				f.entries = append(f.entries, *entry)
			}
		}
		fakekit.WriteJSON(w, 200, renderItem(&next))
	}
}

func (f *Fake) patchLine(w http.ResponseWriter, r *http.Request, orderID, lineID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.order(orderID)
	if o == nil {
		notFound(w, "Sales Order", orderID)
		return
	}
	i := slices.IndexFunc(o.Lines, func(l Line) bool { return l.ID == lineID })
	if i < 0 {
		notFound(w, "Sales Line", lineID)
		return
	}
	if !f.checkMatch(w, r, etag(lineID, o.Version)) {
		return
	}
	var in struct {
		ShipQuantity *float64 `json:"shipQuantity"`
	}
	if ok, msg := decodePatch(r, &in); !ok {
		writeError(w, 400, "BadRequest", msg)
		return
	}
	l := o.Lines[i]
	if in.ShipQuantity != nil {
		if *in.ShipQuantity < 0 || l.Shipped+*in.ShipQuantity > l.Qty {
			writeError(w, 400, "Application_FieldValidationException", fmt.Sprintf("You cannot ship more than %v units.", l.Qty-l.Shipped))
			return
		}
		l.ShipQty = *in.ShipQuantity
	}
	if !f.Dropping() {
		o.Lines[i] = l
		o.Version++
		o.Modified = f.cfg.Now()
	}
	fakekit.WriteJSON(w, 200, renderLine(o, l))
}

func (f *Fake) shipAndInvoice(w http.ResponseWriter, orderID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.order(orderID)
	if o == nil {
		notFound(w, "Sales Order", orderID)
		return
	}
	f.shipSeq++
	s := &Shipment{ID: f.guid(), Number: "S-SHPT" + strconv.Itoa(f.shipSeq), OrderNumber: o.Number, Customer: o.Customer, Posted: f.cfg.Now()}
	lines := slices.Clone(o.Lines)
	full := true
	for i, l := range lines {
		if l.ShipQty > 0 {
			s.Lines = append(s.Lines, ShipmentLine{ID: f.guid(), ItemNumber: l.ItemNumber, Description: l.Description, Sequence: l.Sequence, Qty: l.ShipQty})
			lines[i].Shipped += l.ShipQty
		}
		lines[i].ShipQty = lines[i].Qty - lines[i].Shipped
		full = full && lines[i].Shipped >= lines[i].Qty
	}
	if len(s.Lines) == 0 {
		writeError(w, 400, "Application_DialogException", "There is nothing to post because the document does not contain a quantity to ship or invoice.")
		return
	}
	if !f.Dropping() {
		o.Lines = lines
		o.Version++
		o.Modified = f.cfg.Now()
		for _, sl := range s.Lines { // shipped stock leaves the item's inventory
			for _, it := range f.items {
				if it.Number == sl.ItemNumber {
					it.Inventory -= sl.Qty
					it.Modified = f.cfg.Now()
				}
			}
		}
		f.shipments = append(f.shipments, s)
		if full { // a fully shipped and invoiced order is posted away
			f.orders = slices.DeleteFunc(f.orders, func(x *Order) bool { return x.ID == orderID })
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
