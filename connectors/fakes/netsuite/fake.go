package netsuite

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"sentryhub/connectors/fakes/fakekit"
)

// Config describes the fake account.
type Config struct {
	Seed          uint64
	Items, Orders int
	Now           func() time.Time
	// Account is the account id, which is also the OAuth realm.
	Account                     string // "1234567_SB1"
	ConsumerKey, ConsumerSecret string // "ns-ck", "ns-cs"
	TokenID, TokenSecret        string // "ns-tk", "ns-ts"
}

// Item is an inventory item as the fake keeps it.
type Item struct {
	ID          int
	ItemID      string // the SKU ("Item Name/Number")
	DisplayName string
	BasePrice   float64
	OnHand      int64 // at location 1
	Inactive    bool
	Created     time.Time
	Modified    time.Time
}

// Order is a sales order.
type Order struct {
	ID       int
	TranID   string
	Date     time.Time
	Modified time.Time
	Email    string
	Ship     fakekit.Address
	Lines    []OrderLine
}

// OrderLine is a line of the item sublist.
type OrderLine struct {
	Line      int
	ItemID    int
	Qty       int64
	Rate      float64
	Fulfilled int64
}

// Fulfillment is an item fulfillment transformed from a sales order.
type Fulfillment struct {
	ID       int
	TranID   string
	OrderID  int
	Lines    []FulfilledLine
	Tracking []string
	Memo     string
	Modified time.Time
}

// Adjustment is an inventory adjustment: quantity changes per item at
// location 1. Deleting it takes its changes back, as deleting the
// transaction does in NetSuite.
type Adjustment struct {
	ID      int
	Account string
	Memo    string
	Lines   []AdjustedLine
	Created time.Time
}

// AdjustedLine is one line of an inventory adjustment.
type AdjustedLine struct {
	ItemID      int
	AdjustQtyBy int64
}

// FulfilledLine is a fulfilled order line.
type FulfilledLine struct {
	OrderLine int
	ItemID    int
	Qty       int64
}

// Fake is the fake NetSuite account.
type Fake struct {
	fakekit.Switches
	cfg Config
	mux *http.ServeMux

	mu           sync.Mutex
	items        []*Item
	orders       []*Order
	fulfillments []*Fulfillment
	adjustments  []*Adjustment
	nonces       map[string]bool
	idempotency  map[string]string // X-NetSuite-Idempotency-Key -> Location of the first result
	revoked      bool
	nextID       int
	refusals     []string
}

// New builds an account from cfg.Seed.
func New(cfg Config) *Fake {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&cfg.Account, "1234567_SB1")
	def(&cfg.ConsumerKey, "ns-ck")
	def(&cfg.ConsumerSecret, "ns-cs")
	def(&cfg.TokenID, "ns-tk")
	def(&cfg.TokenSecret, "ns-ts")
	f := &Fake{cfg: cfg, nonces: map[string]bool{}, idempotency: map[string]string{}, nextID: 100}
	shop := fakekit.Generate(cfg.Seed, cfg.Items, cfg.Orders, cfg.Now().Add(-time.Duration(cfg.Items+cfg.Orders+10)*time.Minute))
	bySKU := map[string]int{}
	for _, p := range shop.Products {
		f.nextID++
		f.items = append(f.items, &Item{ID: f.nextID, ItemID: p.SKU, DisplayName: p.Name, BasePrice: fakekit.Major(p.Price),
			OnHand: p.OnHand, Created: p.Created, Modified: p.Updated})
		bySKU[p.SKU] = f.nextID
	}
	for _, o := range shop.Orders {
		f.nextID++
		so := &Order{ID: f.nextID, TranID: "SO" + o.Number, Date: o.Created, Modified: o.Updated, Email: o.Email, Ship: o.Ship}
		for i, l := range o.Lines {
			so.Lines = append(so.Lines, OrderLine{Line: i + 1, ItemID: bySKU[l.SKU], Qty: l.Qty, Rate: fakekit.Major(l.Price)})
		}
		f.orders = append(f.orders, so)
	}
	m := http.NewServeMux()
	m.HandleFunc("POST /services/rest/query/v1/suiteql", f.api(f.suiteql))
	const rec = "/services/rest/record/v1/"
	m.HandleFunc("GET "+rec+"inventoryItem", f.api(f.list("inventoryItem")))
	m.HandleFunc("GET "+rec+"inventoryItem/{id}", f.api(f.getItem))
	m.HandleFunc("PATCH "+rec+"inventoryItem/{id}", f.api(f.patchItem))
	m.HandleFunc("DELETE "+rec+"inventoryItem/{id}", f.api(f.deleteItem))
	m.HandleFunc("POST "+rec+"inventoryAdjustment", f.api(f.adjust))
	m.HandleFunc("GET "+rec+"inventoryAdjustment/{id}", f.api(f.getAdjustment))
	m.HandleFunc("DELETE "+rec+"inventoryAdjustment/{id}", f.api(f.deleteAdjustment))
	m.HandleFunc("GET "+rec+"salesOrder", f.api(f.list("salesOrder")))
	m.HandleFunc("GET "+rec+"salesOrder/{id}", f.api(f.getOrder))
	m.HandleFunc("POST "+rec+"salesOrder/{id}/!transform/itemFulfillment", f.api(f.fulfil))
	m.HandleFunc("GET "+rec+"itemFulfillment/{id}", f.api(f.getFulfillment))
	m.HandleFunc("DELETE "+rec+"itemFulfillment/{id}", f.api(f.deleteFulfillment))
	f.mux = m
	return f
}

// Config is the configuration the fake was built with, defaults filled in.
func (f *Fake) Config() Config { return f.cfg }

// ServeHTTP implements http.Handler.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

// RevokeToken makes the configured token fail from now on.
func (f *Fake) RevokeToken() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = true
}

// Refusals lists why requests were refused authentication, in order.
func (f *Fake) Refusals() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.refusals)
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

// Orders returns a copy of the sales orders.
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

// Fulfillments returns a copy of the item fulfillments.
func (f *Fake) Fulfillments() []Fulfillment {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Fulfillment, len(f.fulfillments))
	for i, x := range f.fulfillments {
		out[i] = *x
	}
	return out
}

// Touch changes an item through fn and bumps its lastModifiedDate.
func (f *Fake) Touch(id int, fn func(*Item)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if it := f.item(id); it != nil {
		fn(it)
		it.Modified = f.cfg.Now()
	}
}

// --- plumbing ---

type problem struct {
	status int
	code   string
	detail string
}

var titles = map[int]string{400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed", 429: "Too Many Requests"}

func writeProblem(w http.ResponseWriter, p *problem) {
	w.Header().Set("Content-Type", "application/vnd.oracle.resource+json; type=error")
	w.WriteHeader(p.status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type":           fmt.Sprintf("https://www.rfc-editor.org/rfc/rfc9110.html#section-15.%d.%d", p.status/100, p.status%100+1),
		"title":          titles[p.status],
		"status":         p.status,
		"o:errorDetails": []map[string]string{{"detail": p.detail, "o:errorCode": p.code}},
	})
}

// reply is a handler's answer: a JSON body, or a 204 with a Location.
type reply struct {
	body     any
	location string
}

func (f *Fake) api(h func(*http.Request) (reply, *problem)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := f.verify(r); err != nil {
			f.mu.Lock()
			f.refusals = append(f.refusals, err.Error())
			f.mu.Unlock()
			w.Header().Set("WWW-Authenticate", `OAuth realm="`+f.cfg.Account+`", error="token_rejected"`)
			detail := "Invalid login attempt: the token-based authentication header was refused. See the Login Audit Trail."
			if f.Rejecting() {
				detail += " Header was: " + r.Header.Get("Authorization")
			}
			writeProblem(w, &problem{401, "INVALID_LOGIN", detail})
			return
		}
		if f.TakeThrottle() {
			writeProblem(w, &problem{429, "CONCURRENCY_LIMIT_EXCEEDED", "Request blocked: the account's concurrency limit was reached. Retry later."})
			return
		}
		key := r.Header.Get("X-NetSuite-Idempotency-Key")
		if key != "" && r.Method == http.MethodPost {
			f.mu.Lock()
			first, seen := f.idempotency[key]
			f.mu.Unlock()
			if seen { // NetSuite refuses a repeated key and points at the first result
				w.Header().Set("Location", first)
				writeProblem(w, &problem{400, "IDEMPOTENCY_ERROR", "A request with the same idempotency key was already submitted; its result is at the Location header."})
				return
			}
		}
		rep, p := h(r)
		if key != "" && r.Method == http.MethodPost && p == nil {
			f.mu.Lock()
			f.idempotency[key] = rep.location
			f.mu.Unlock()
		}
		switch {
		case p != nil:
			writeProblem(w, p)
		case rep.location != "":
			w.Header().Set("Location", rep.location)
			w.WriteHeader(http.StatusNoContent)
		case rep.body == nil:
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Content-Type", "application/vnd.oracle.resource+json; type=singular-resource")
			_ = json.NewEncoder(w).Encode(rep.body)
		}
	}
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func link(rel, href string) map[string]string { return map[string]string{"rel": rel, "href": href} }

func notFound(kind string, id string) *problem {
	return &problem{404, "NONEXISTENT_ID", "The record instance does not exist: no " + kind + " with internal id " + id + "."}
}

// byID finds the record with id in xs, or nil: the fake's tables are
// small slices kept in creation order, as its listings need.
func byID[T any](xs []*T, id int, idOf func(*T) int) *T {
	if i := slices.IndexFunc(xs, func(x *T) bool { return idOf(x) == id }); i >= 0 {
		return xs[i]
	}
	return nil
}

func (f *Fake) item(id int) *Item { return byID(f.items, id, func(x *Item) int { return x.ID }) }

func (f *Fake) order(id int) *Order { return byID(f.orders, id, func(x *Order) int { return x.ID }) }

func pathID(r *http.Request) (int, string) {
	s := r.PathValue("id")
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1, s
	}
	return n, s
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// --- REST records ---

func (f *Fake) list(kind string) func(*http.Request) (reply, *problem) {
	return func(r *http.Request) (reply, *problem) {
		limit, ok1 := fakekit.IntParam(r, "limit", 1000, 1, 1000)
		offset, ok2 := fakekit.IntParam(r, "offset", 0, 0, 1<<30)
		if !ok1 || !ok2 {
			return reply{}, &problem{400, "INVALID_PARAMETER", "limit must be 1 to 1000 and offset a non-negative number."}
		}
		f.mu.Lock()
		var ids []int
		if kind == "inventoryItem" {
			for _, it := range f.items {
				ids = append(ids, it.ID)
			}
		} else {
			for _, o := range f.orders {
				ids = append(ids, o.ID)
			}
		}
		f.mu.Unlock()
		self := baseURL(r) + "/services/rest/record/v1/" + kind
		lo, hi := fakekit.Window(len(ids), offset, limit)
		var items []any
		for _, id := range ids[lo:hi] {
			items = append(items, map[string]any{"links": []any{link("self", self+"/"+strconv.Itoa(id))}, "id": strconv.Itoa(id)})
		}
		return reply{body: collection(self, items, offset, limit, len(ids))}, nil
	}
}

// collection is NetSuite's paged envelope.
func collection(self string, items []any, offset, limit, total int) map[string]any {
	page := func(o int) string { return fmt.Sprintf("%s?limit=%d&offset=%d", self, limit, o) }
	links := []any{}
	if offset > 0 {
		links = append(links, link("previous", page(max(offset-limit, 0))), link("first", page(0)))
	}
	hasMore := offset+len(items) < total
	if hasMore {
		links = append(links, link("next", page(offset+limit)))
	}
	if total > 0 {
		links = append(links, link("last", page((total-1)/limit*limit)))
	}
	links = append(links, link("self", page(offset)))
	if items == nil {
		items = []any{}
	}
	return map[string]any{"links": links, "count": len(items), "hasMore": hasMore, "items": items, "offset": offset, "totalResults": total}
}

func (f *Fake) renderItem(r *http.Request, it *Item) map[string]any {
	self := baseURL(r) + "/services/rest/record/v1/inventoryItem/" + strconv.Itoa(it.ID)
	m := map[string]any{
		"links": []any{link("self", self)}, "id": strconv.Itoa(it.ID), "itemId": it.ItemID, "displayName": it.DisplayName,
		"itemType": map[string]string{"id": "InvtPart", "refName": "InvtPart"}, "basePrice": it.BasePrice, "isInactive": it.Inactive,
		"createdDate": isoTime(it.Created), "lastModifiedDate": isoTime(it.Modified), "totalQuantityOnHand": it.OnHand,
	}
	locs := map[string]any{"links": []any{link("self", self+"/locations")}}
	if r.URL.Query().Get("expandSubResources") == "true" {
		locs["items"] = []any{map[string]any{"location": map[string]string{"id": "1", "refName": "Main Warehouse"},
			"quantityOnHand": it.OnHand, "quantityAvailable": it.OnHand}}
		locs["totalResults"] = 1
	}
	m["locations"] = locs
	return m
}

func (f *Fake) getItem(r *http.Request) (reply, *problem) {
	id, raw := pathID(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	it := f.item(id)
	if it == nil {
		return reply{}, notFound("inventoryItem", raw)
	}
	return reply{body: f.renderItem(r, it)}, nil
}

func decodeBody(r *http.Request, v any) *problem {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &problem{400, "INVALID_CONTENT", "The request body could not be read: " + err.Error()}
	}
	return nil
}

func (f *Fake) patchItem(r *http.Request) (reply, *problem) {
	var in struct {
		ItemID      *string  `json:"itemId"`
		DisplayName *string  `json:"displayName"`
		BasePrice   *float64 `json:"basePrice"`
		IsInactive  *bool    `json:"isInactive"`
	}
	if p := decodeBody(r, &in); p != nil {
		return reply{}, p
	}
	id, raw := pathID(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := f.item(id)
	if cur == nil {
		return reply{}, notFound("inventoryItem", raw)
	}
	next := *cur
	if in.ItemID != nil {
		if *in.ItemID == "" {
			return reply{}, &problem{400, "USER_ERROR", "Please enter value(s) for: Item Name/Number."}
		}
		next.ItemID = *in.ItemID
	}
	if in.DisplayName != nil {
		next.DisplayName = *in.DisplayName
	}
	if in.BasePrice != nil {
		next.BasePrice = *in.BasePrice
	}
	if in.IsInactive != nil {
		next.Inactive = *in.IsInactive
	}
	next.Modified = f.cfg.Now()
	if !f.Dropping() {
		*cur = next
	}
	return reply{}, nil
}

func (f *Fake) deleteItem(r *http.Request) (reply, *problem) {
	id, raw := pathID(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.item(id) == nil {
		return reply{}, notFound("inventoryItem", raw)
	}
	if !f.Dropping() {
		f.items = slices.DeleteFunc(f.items, func(it *Item) bool { return it.ID == id })
	}
	return reply{}, nil
}

type ref struct {
	ID string `json:"id"`
}

func (f *Fake) adjust(r *http.Request) (reply, *problem) {
	var in struct {
		Account     ref    `json:"account"`
		AdjLocation ref    `json:"adjLocation"`
		Memo        string `json:"memo"`
		Inventory   struct {
			Items []struct {
				Item        ref   `json:"item"`
				Location    ref   `json:"location"`
				AdjustQtyBy int64 `json:"adjustQtyBy"`
			} `json:"items"`
		} `json:"inventory"`
	}
	if p := decodeBody(r, &in); p != nil {
		return reply{}, p
	}
	if in.Account.ID == "" || len(in.Inventory.Items) == 0 {
		return reply{}, &problem{400, "USER_ERROR", "Please enter value(s) for: Adjustment Account, Inventory lines."}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	deltas := map[*Item]int64{}
	adj := &Adjustment{Account: in.Account.ID, Memo: in.Memo, Created: f.cfg.Now()}
	for i, l := range in.Inventory.Items {
		id, _ := strconv.Atoi(l.Item.ID)
		it := f.item(id)
		if it == nil {
			return reply{}, &problem{400, "INVALID_KEY_OR_REF", fmt.Sprintf("Invalid item reference key %q on inventory line %d.", l.Item.ID, i+1)}
		}
		if cmpLoc := cmpOr(l.Location.ID, in.AdjLocation.ID); cmpLoc != "1" {
			return reply{}, &problem{400, "INVALID_KEY_OR_REF", fmt.Sprintf("Invalid location reference key %q on inventory line %d.", cmpLoc, i+1)}
		}
		if l.AdjustQtyBy == 0 {
			return reply{}, &problem{400, "USER_ERROR", fmt.Sprintf("Inventory line %d adjusts the quantity by 0.", i+1)}
		}
		deltas[it] += l.AdjustQtyBy
		adj.Lines = append(adj.Lines, AdjustedLine{ItemID: id, AdjustQtyBy: l.AdjustQtyBy})
	}
	f.nextID++
	id := f.nextID
	adj.ID = id
	if !f.Dropping() {
		for it, d := range deltas {
			it.OnHand += d
			it.Modified = f.cfg.Now()
		}
		f.adjustments = append(f.adjustments, adj)
	}
	return reply{location: baseURL(r) + "/services/rest/record/v1/inventoryAdjustment/" + strconv.Itoa(id)}, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

var orderStatus = map[string]map[string]string{
	"B": {"id": "B", "refName": "Pending Fulfillment"},
	"D": {"id": "D", "refName": "Partially Fulfilled"},
	"F": {"id": "F", "refName": "Pending Billing"},
}

func (o *Order) status() string {
	var ordered, done int64
	for _, l := range o.Lines {
		ordered += l.Qty
		done += l.Fulfilled
	}
	switch {
	case done == 0:
		return "B"
	case done < ordered:
		return "D"
	}
	return "F"
}

func (f *Fake) getOrder(r *http.Request) (reply, *problem) {
	id, raw := pathID(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.order(id)
	if o == nil {
		return reply{}, notFound("salesOrder", raw)
	}
	self := baseURL(r) + "/services/rest/record/v1/salesOrder/" + raw
	var lines []any
	var total float64
	for _, l := range o.Lines {
		it := f.item(l.ItemID)
		name := ""
		if it != nil {
			name = it.ItemID
		}
		total += float64(l.Qty) * l.Rate
		lines = append(lines, map[string]any{"line": l.Line, "item": map[string]string{"id": strconv.Itoa(l.ItemID), "refName": name},
			"quantity": l.Qty, "rate": l.Rate, "amount": float64(l.Qty) * l.Rate, "quantityFulfilled": l.Fulfilled})
	}
	sublist := map[string]any{"links": []any{link("self", self+"/item")}}
	if r.URL.Query().Get("expandSubResources") == "true" {
		sublist["items"] = lines
		sublist["totalResults"] = len(lines)
	}
	return reply{body: map[string]any{
		"links": []any{link("self", self)}, "id": raw, "tranId": o.TranID, "tranDate": o.Date.UTC().Format(time.DateOnly),
		"lastModifiedDate": isoTime(o.Modified), "status": orderStatus[o.status()], "email": o.Email, "total": total,
		"currency": map[string]string{"id": "1", "refName": "USA"},
		"shippingAddress": map[string]string{"addressee": o.Ship.Name, "addr1": o.Ship.Line1, "city": o.Ship.City,
			"state": o.Ship.Region, "zip": o.Ship.PostalCode, "country": o.Ship.Country},
		"item": sublist,
	}}, nil
}

func (f *Fake) fulfil(r *http.Request) (reply, *problem) {
	var in struct {
		Memo       string `json:"memo"`
		ShipStatus *ref   `json:"shipStatus"`
		Item       struct {
			Items []struct {
				OrderLine   int   `json:"orderLine"`
				Quantity    int64 `json:"quantity"`
				ItemReceive bool  `json:"itemReceive"`
			} `json:"items"`
		} `json:"item"`
		Package struct {
			Items []struct {
				PackageTrackingNumber string  `json:"packageTrackingNumber"`
				PackageWeight         float64 `json:"packageWeight"`
			} `json:"items"`
		} `json:"package"`
	}
	if p := decodeBody(r, &in); p != nil {
		return reply{}, p
	}
	id, raw := pathID(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.order(id)
	if o == nil {
		return reply{}, notFound("salesOrder", raw)
	}
	ful := &Fulfillment{OrderID: id, Memo: in.Memo, Modified: f.cfg.Now()}
	next := slices.Clone(o.Lines)
	if len(in.Item.Items) == 0 { // no item sublist: every open line is fulfilled in full
		for _, l := range next {
			if rest := l.Qty - l.Fulfilled; rest > 0 {
				in.Item.Items = append(in.Item.Items, struct {
					OrderLine   int   `json:"orderLine"`
					Quantity    int64 `json:"quantity"`
					ItemReceive bool  `json:"itemReceive"`
				}{l.Line, rest, true})
			}
		}
	}
	for _, l := range in.Item.Items {
		if !l.ItemReceive {
			continue
		}
		i := slices.IndexFunc(next, func(x OrderLine) bool { return x.Line == l.OrderLine })
		if i < 0 {
			return reply{}, &problem{400, "INVALID_KEY_OR_REF", fmt.Sprintf("Order line %d is not on sales order %s.", l.OrderLine, raw)}
		}
		if l.Quantity <= 0 || next[i].Fulfilled+l.Quantity > next[i].Qty {
			return reply{}, &problem{400, "USER_ERROR", fmt.Sprintf("You cannot fulfill %d of line %d: %d remain.", l.Quantity, l.OrderLine, next[i].Qty-next[i].Fulfilled)}
		}
		next[i].Fulfilled += l.Quantity
		ful.Lines = append(ful.Lines, FulfilledLine{OrderLine: l.OrderLine, ItemID: next[i].ItemID, Qty: l.Quantity})
	}
	if len(ful.Lines) == 0 {
		return reply{}, &problem{400, "USER_ERROR", "You must enter at least one line item for this transaction."}
	}
	for _, p := range in.Package.Items {
		ful.Tracking = append(ful.Tracking, p.PackageTrackingNumber)
	}
	f.nextID++
	ful.ID = f.nextID
	ful.TranID = "IF" + strconv.Itoa(ful.ID)
	if !f.Dropping() {
		o.Lines = next
		o.Modified = f.cfg.Now()
		f.fulfillments = append(f.fulfillments, ful)
	}
	return reply{location: baseURL(r) + "/services/rest/record/v1/itemFulfillment/" + strconv.Itoa(ful.ID)}, nil
}

func (f *Fake) fulfillment(id int) *Fulfillment {
	return byID(f.fulfillments, id, func(x *Fulfillment) int { return x.ID })
}

func (f *Fake) getFulfillment(r *http.Request) (reply, *problem) {
	id, raw := pathID(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	x := f.fulfillment(id)
	if x == nil {
		return reply{}, notFound("itemFulfillment", raw)
	}
	var lines, pkgs []any
	for _, l := range x.Lines {
		lines = append(lines, map[string]any{"orderLine": l.OrderLine, "item": map[string]string{"id": strconv.Itoa(l.ItemID)}, "quantity": l.Qty, "itemReceive": true})
	}
	for _, t := range x.Tracking {
		pkgs = append(pkgs, map[string]any{"packageTrackingNumber": t})
	}
	return reply{body: map[string]any{
		"links": []any{link("self", baseURL(r)+"/services/rest/record/v1/itemFulfillment/"+raw)}, "id": raw, "tranId": x.TranID,
		"createdFrom": map[string]string{"id": strconv.Itoa(x.OrderID)}, "shipStatus": map[string]string{"id": "C", "refName": "Shipped"},
		"lastModifiedDate": isoTime(x.Modified), "memo": x.Memo, "item": map[string]any{"items": lines}, "package": map[string]any{"items": pkgs},
	}}, nil
}

func (f *Fake) deleteFulfillment(r *http.Request) (reply, *problem) {
	id, raw := pathID(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	x := f.fulfillment(id)
	if x == nil {
		return reply{}, notFound("itemFulfillment", raw)
	}
	if f.Dropping() {
		return reply{}, nil
	}
	if o := f.order(x.OrderID); o != nil { // deleting a fulfillment reopens its lines
		for _, l := range x.Lines {
			if i := slices.IndexFunc(o.Lines, func(ol OrderLine) bool { return ol.Line == l.OrderLine }); i >= 0 {
				o.Lines[i].Fulfilled -= l.Qty
			}
		}
		o.Modified = f.cfg.Now()
	}
	f.fulfillments = slices.DeleteFunc(f.fulfillments, func(y *Fulfillment) bool { return y.ID == id })
	return reply{}, nil
}

// Adjustments returns a copy of every inventory adjustment.
func (f *Fake) Adjustments() []Adjustment {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Adjustment, len(f.adjustments))
	for i, a := range f.adjustments {
		out[i] = *a
		out[i].Lines = slices.Clone(a.Lines)
	}
	return out
}

func (f *Fake) adjustment(id int) *Adjustment {
	return byID(f.adjustments, id, func(x *Adjustment) int { return x.ID })
}

func (f *Fake) getAdjustment(r *http.Request) (reply, *problem) {
	id, raw := pathID(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.adjustment(id)
	if a == nil {
		return reply{}, notFound("inventoryAdjustment", raw)
	}
	var lines []any
	for i, l := range a.Lines {
		lines = append(lines, map[string]any{"line": i + 1, "item": map[string]string{"id": strconv.Itoa(l.ItemID)},
			"location": map[string]string{"id": "1"}, "adjustQtyBy": l.AdjustQtyBy})
	}
	return reply{body: map[string]any{
		"links": []any{link("self", baseURL(r)+"/services/rest/record/v1/inventoryAdjustment/"+raw)}, "id": raw,
		"account": map[string]string{"id": a.Account}, "adjLocation": map[string]string{"id": "1"}, "memo": a.Memo,
		"tranDate": a.Created.UTC().Format(time.DateOnly), "inventory": map[string]any{"items": lines},
	}}, nil
}

// deleteAdjustment deletes an adjustment and takes its quantities back.
func (f *Fake) deleteAdjustment(r *http.Request) (reply, *problem) {
	id, raw := pathID(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.adjustment(id)
	if a == nil {
		return reply{}, notFound("inventoryAdjustment", raw)
	}
	if f.Dropping() {
		return reply{}, nil
	}
	for _, l := range a.Lines {
		if it := f.item(l.ItemID); it != nil {
			it.OnHand -= l.AdjustQtyBy
			it.Modified = f.cfg.Now()
		}
	}
	f.adjustments = slices.DeleteFunc(f.adjustments, func(x *Adjustment) bool { return x.ID == id })
	return reply{}, nil
}
