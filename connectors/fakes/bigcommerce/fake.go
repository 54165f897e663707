package bigcommerce

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"sentryhub/connectors/fakes/fakekit"
)

// Config describes the fake store.
type Config struct {
	Seed             uint64
	Products, Orders int
	Now              func() time.Time
	StoreHash        string // "abc123"
	Token            string // "bc-token"
	// Quota requests are allowed per Window (150 per 30 s, a Standard
	// plan's figures, unless set).
	Quota  int
	Window time.Duration
}

// Product is a catalogue product (a simple product: its base variant
// carries the SKU and stock).
type Product struct {
	ID        int
	Name, SKU string
	Price     float64
	Inventory int64
	Visible   bool
	Created   time.Time
	Modified  time.Time
}

// VariantID is the id of the product's base variant.
func (p Product) VariantID() int { return p.ID + 100000 }

// Order is a v2 order.
type Order struct {
	ID       int
	Email    string
	Ship     fakekit.Address
	Lines    []OrderProduct
	Created  time.Time
	Modified time.Time
}

// OrderProduct is a line of an order.
type OrderProduct struct {
	ID, ProductID int
	SKU, Name     string
	Qty, Shipped  int64
	Price         float64
}

// Shipment is a v2 shipment.
type Shipment struct {
	ID, OrderID      int
	Tracking         string
	Provider, Method string
	Items            []ShipmentItem
	Created          time.Time
}

// ShipmentItem is a shipped quantity of an order product.
type ShipmentItem struct {
	OrderProductID, ProductID int
	Qty                       int64
}

// Fake is the fake store.
type Fake struct {
	fakekit.Switches
	cfg Config
	mux *http.ServeMux

	mu          sync.Mutex
	products    []*Product
	orders      []*Order
	shipments   []*Shipment
	left        int
	windowStart time.Time
	nextID      int
}

// New builds a store from cfg.Seed.
func New(cfg Config) *Fake {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StoreHash == "" {
		cfg.StoreHash = "abc123"
	}
	if cfg.Token == "" {
		cfg.Token = "bc-token"
	}
	if cfg.Quota <= 0 {
		cfg.Quota = 150
	}
	if cfg.Window <= 0 {
		cfg.Window = 30 * time.Second
	}
	f := &Fake{cfg: cfg, left: cfg.Quota, windowStart: cfg.Now(), nextID: 1000}
	shop := fakekit.Generate(cfg.Seed, cfg.Products, cfg.Orders, cfg.Now().Add(-time.Duration(cfg.Products+cfg.Orders+10)*time.Minute))
	byID := map[string]int{}
	for i, p := range shop.Products {
		f.products = append(f.products, &Product{ID: 100 + i + 1, Name: p.Name + " " + p.SKU, SKU: p.SKU, Price: fakekit.Major(p.Price),
			Inventory: p.OnHand, Visible: true, Created: p.Created, Modified: p.Updated})
		byID[p.SKU] = 100 + i + 1
	}
	for i, o := range shop.Orders {
		ord := &Order{ID: 100 + i + 1, Email: o.Email, Ship: o.Ship, Created: o.Created, Modified: o.Updated}
		for _, l := range o.Lines {
			f.nextID++
			ord.Lines = append(ord.Lines, OrderProduct{ID: f.nextID, ProductID: byID[l.SKU], SKU: l.SKU, Name: l.Name, Qty: l.Qty, Price: fakekit.Major(l.Price)})
		}
		f.orders = append(f.orders, ord)
	}
	m := http.NewServeMux()
	s := "/stores/{hash}"
	m.HandleFunc("GET "+s+"/v3/catalog/products", f.v3(f.listProducts))
	m.HandleFunc("GET "+s+"/v3/catalog/products/{id}", f.v3(f.getProduct))
	m.HandleFunc("PUT "+s+"/v3/catalog/products/{id}", f.v3(f.putProduct))
	m.HandleFunc("DELETE "+s+"/v3/catalog/products/{id}", f.v3(f.deleteProduct))
	m.HandleFunc("GET "+s+"/v3/inventory/items", f.v3(f.inventoryItems))
	m.HandleFunc("PUT "+s+"/v3/inventory/adjustments/absolute", f.v3(f.adjust(true)))
	m.HandleFunc("POST "+s+"/v3/inventory/adjustments/relative", f.v3(f.adjust(false)))
	m.HandleFunc("GET "+s+"/v2/orders", f.v2(f.listOrders))
	m.HandleFunc("GET "+s+"/v2/orders/{id}", f.v2(f.getOrder))
	m.HandleFunc("GET "+s+"/v2/orders/{id}/products", f.v2(f.orderProducts))
	m.HandleFunc("GET "+s+"/v2/orders/{id}/shipping_addresses", f.v2(f.orderAddresses))
	m.HandleFunc("GET "+s+"/v2/orders/{id}/shipments", f.v2(f.listShipments))
	m.HandleFunc("POST "+s+"/v2/orders/{id}/shipments", f.v2(f.createShipment))
	m.HandleFunc("GET "+s+"/v2/orders/{id}/shipments/{sid}", f.v2(f.getShipment))
	m.HandleFunc("DELETE "+s+"/v2/orders/{id}/shipments/{sid}", f.v2(f.deleteShipment))
	f.mux = m
	return f
}

// Config is the configuration the fake was built with, defaults filled in.
func (f *Fake) Config() Config { return f.cfg }

// ServeHTTP implements http.Handler.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

// Products returns a copy of the catalogue.
func (f *Fake) Products() []Product {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Product, len(f.products))
	for i, p := range f.products {
		out[i] = *p
	}
	return out
}

// Orders returns a copy of the orders.
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

// Shipments returns a copy of the shipments.
func (f *Fake) Shipments() []Shipment {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Shipment, len(f.shipments))
	for i, s := range f.shipments {
		out[i] = *s
	}
	return out
}

// Touch changes a product through fn and bumps its date_modified.
func (f *Fake) Touch(id int, fn func(*Product)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.product(id); p != nil {
		fn(p)
		p.Modified = f.cfg.Now()
	}
}

// --- plumbing ---

type apiError struct {
	status int
	msg    string
	fields map[string]string // v3 422 errors
}

type result struct {
	status int // 200 unless set
	body   any // nil with status 204
}

// gate authenticates, spends the rate-limit quota and sets its headers;
// false means it already answered.
func (f *Fake) gate(w http.ResponseWriter, r *http.Request, fail func(*apiError)) bool {
	if r.PathValue("hash") != f.cfg.StoreHash {
		fail(&apiError{status: 404, msg: "Store not found."})
		return false
	}
	if f.Rejecting() {
		fail(&apiError{status: 401, msg: "The token " + r.Header.Get("X-Auth-Token") + " has been revoked."})
		return false
	}
	if r.Header.Get("X-Auth-Token") != f.cfg.Token {
		fail(&apiError{status: 401, msg: "You are not authorised: the X-Auth-Token is missing or not valid for this store."})
		return false
	}
	now := f.cfg.Now()
	f.mu.Lock()
	if now.Sub(f.windowStart) >= f.cfg.Window {
		f.windowStart, f.left = now, f.cfg.Quota
	}
	forced := f.TakeThrottle()
	over := forced || f.left <= 0
	if !over {
		f.left--
	}
	left, reset := f.left, f.cfg.Window-now.Sub(f.windowStart)
	f.mu.Unlock()
	h := w.Header()
	h.Set("X-Rate-Limit-Requests-Left", strconv.Itoa(left))
	h.Set("X-Rate-Limit-Requests-Quota", strconv.Itoa(f.cfg.Quota))
	h.Set("X-Rate-Limit-Time-Window-Ms", strconv.FormatInt(f.cfg.Window.Milliseconds(), 10))
	h.Set("X-Rate-Limit-Time-Reset-Ms", strconv.FormatInt(reset.Milliseconds(), 10))
	if over {
		if forced {
			h.Set("X-Rate-Limit-Requests-Left", "0")
		}
		fail(&apiError{status: 429, msg: "Too many requests: the quota for this window is used up; wait X-Rate-Limit-Time-Reset-Ms."})
		return false
	}
	return true
}

func (f *Fake) v3(h func(*http.Request) (result, *apiError)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fail := func(e *apiError) {
			body := map[string]any{"status": e.status, "title": e.msg, "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"}
			if e.fields != nil {
				body["errors"] = e.fields
			}
			fakekit.WriteJSON(w, e.status, body)
		}
		if !f.gate(w, r, fail) {
			return
		}
		res, e := h(r)
		write(w, res, e, fail)
	}
}

func (f *Fake) v2(h func(*http.Request) (result, *apiError)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fail := func(e *apiError) {
			fakekit.WriteJSON(w, e.status, []map[string]any{{"status": e.status, "message": e.msg}})
		}
		if !f.gate(w, r, fail) {
			return
		}
		res, e := h(r)
		write(w, res, e, fail)
	}
}

func write(w http.ResponseWriter, res result, e *apiError, fail func(*apiError)) {
	switch {
	case e != nil:
		fail(e)
	case res.body == nil:
		w.WriteHeader(http.StatusNoContent)
	default:
		fakekit.WriteJSON(w, max(res.status, 200), res.body)
	}
}

func (f *Fake) product(id int) *Product {
	for _, p := range f.products {
		if p.ID == id {
			return p
		}
	}
	return nil
}

func (f *Fake) order(id int) *Order {
	for _, o := range f.orders {
		if o.ID == id {
			return o
		}
	}
	return nil
}

func pathInt(r *http.Request, name string) int {
	n, err := strconv.Atoi(r.PathValue(name))
	if err != nil {
		return -1
	}
	return n
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05-07:00") }

// rfc2822 is how v2 renders dates ("Tue, 20 Nov 2012 00:00:00 +0000").
func rfc2822(t time.Time) string { return t.UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700") }

func money4(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }

func parseWhen(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "Mon, 02 Jan 2006 15:04:05 -0700", time.RFC1123Z, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither ISO 8601 nor RFC 2822", s)
}

// --- catalog v3 ---

func renderProduct(p *Product) map[string]any {
	return map[string]any{"id": p.ID, "name": p.Name, "type": "physical", "sku": p.SKU, "price": p.Price,
		"inventory_level": p.Inventory, "inventory_tracking": "product", "is_visible": p.Visible, "weight": 1,
		"base_variant_id": p.VariantID(), "date_created": isoTime(p.Created), "date_modified": isoTime(p.Modified)}
}

func pageParams(r *http.Request) (page, limit int, e *apiError) {
	page, ok1 := fakekit.IntParam(r, "page", 1, 1, 1<<30)
	limit, ok2 := fakekit.IntParam(r, "limit", 50, 1, 250)
	if !ok1 || !ok2 {
		return 0, 0, &apiError{status: 422, msg: "page must be a positive number and limit 1 to 250"}
	}
	return page, limit, nil
}

func idSet(s string) (map[int]bool, error) {
	if s == "" {
		return nil, nil
	}
	out := map[int]bool{}
	for part := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("%q is not an id", part)
		}
		out[n] = true
	}
	return out, nil
}

func (f *Fake) listProducts(r *http.Request) (result, *apiError) {
	page, limit, e := pageParams(r)
	if e != nil {
		return result{}, e
	}
	q := r.URL.Query()
	var since time.Time
	if s := q.Get("date_modified:min"); s != "" {
		var err error
		if since, err = parseWhen(s); err != nil {
			return result{}, &apiError{status: 422, msg: "The filter date_modified:min is not a date", fields: map[string]string{"date_modified:min": err.Error()}}
		}
	}
	ids, err := idSet(q.Get("id:in"))
	if err != nil {
		return result{}, &apiError{status: 422, msg: "The filter id:in is not a list of ids", fields: map[string]string{"id:in": err.Error()}}
	}
	f.mu.Lock()
	var kept []*Product
	for _, p := range f.products {
		if (since.IsZero() || !p.Modified.Before(since)) && (q.Get("sku") == "" || p.SKU == q.Get("sku")) && (ids == nil || ids[p.ID]) {
			c := *p
			kept = append(kept, &c)
		}
	}
	f.mu.Unlock()
	switch q.Get("sort") {
	case "", "id":
	case "date_modified":
		slices.SortStableFunc(kept, func(a, b *Product) int { return a.Modified.Compare(b.Modified) })
	default:
		return result{}, &apiError{status: 422, msg: "sort must be id or date_modified", fields: map[string]string{"sort": "not supported"}}
	}
	if q.Get("direction") == "desc" {
		slices.Reverse(kept)
	}
	lo, hi := fakekit.Window(len(kept), (page-1)*limit, limit)
	data := []any{}
	for _, p := range kept[lo:hi] {
		data = append(data, renderProduct(p))
	}
	pages := (len(kept) + limit - 1) / limit
	links := map[string]string{"current": fmt.Sprintf("?page=%d&limit=%d", page, limit)}
	if page > 1 {
		links["previous"] = fmt.Sprintf("?page=%d&limit=%d", page-1, limit)
	}
	if page < pages {
		links["next"] = fmt.Sprintf("?page=%d&limit=%d", page+1, limit)
	}
	return result{body: map[string]any{"data": data, "meta": map[string]any{"pagination": map[string]any{
		"total": len(kept), "count": len(data), "per_page": limit, "current_page": page, "total_pages": pages, "links": links}}}}, nil
}

func productNotFound() *apiError {
	return &apiError{status: 404, msg: "The requested product was not found."}
}

func (f *Fake) getProduct(r *http.Request) (result, *apiError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.product(pathInt(r, "id"))
	if p == nil {
		return result{}, productNotFound()
	}
	return result{body: map[string]any{"data": renderProduct(p), "meta": map[string]any{}}}, nil
}

func (f *Fake) putProduct(r *http.Request) (result, *apiError) {
	var in struct {
		Name           *string  `json:"name"`
		SKU            *string  `json:"sku"`
		Price          *float64 `json:"price"`
		InventoryLevel *int64   `json:"inventory_level"`
		IsVisible      *bool    `json:"is_visible"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		return result{}, &apiError{status: 422, msg: "JSON data is missing or invalid", fields: map[string]string{"body": err.Error()}}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := f.product(pathInt(r, "id"))
	if cur == nil {
		return result{}, productNotFound()
	}
	next := *cur
	bad := map[string]string{}
	if in.Name != nil {
		if *in.Name == "" || len(*in.Name) > 250 {
			bad["name"] = "must be 1 to 250 characters"
		}
		next.Name = *in.Name
	}
	if in.SKU != nil {
		next.SKU = *in.SKU
	}
	if in.Price != nil {
		if *in.Price < 0 {
			bad["price"] = "must not be negative"
		}
		next.Price = *in.Price
	}
	if in.InventoryLevel != nil {
		if *in.InventoryLevel < 0 {
			bad["inventory_level"] = "must not be negative"
		}
		next.Inventory = *in.InventoryLevel
	}
	if in.IsVisible != nil {
		next.Visible = *in.IsVisible
	}
	if len(bad) > 0 {
		return result{}, &apiError{status: 422, msg: "JSON data is missing or invalid", fields: bad}
	}
	next.Modified = f.cfg.Now()
	if !f.Dropping() {
		*cur = next
	}
	return result{body: map[string]any{"data": renderProduct(&next), "meta": map[string]any{}}}, nil
}

func (f *Fake) deleteProduct(r *http.Request) (result, *apiError) {
	id := pathInt(r, "id")
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.Dropping() {
		f.products = slices.DeleteFunc(f.products, func(p *Product) bool { return p.ID == id })
	}
	return result{}, nil // BigCommerce answers 204 whether or not it existed
}

// --- inventory v3 ---

func (f *Fake) inventoryItems(r *http.Request) (result, *apiError) {
	page, limit, e := pageParams(r)
	if e != nil {
		return result{}, e
	}
	q := r.URL.Query()
	var skus map[string]bool
	if s := q.Get("sku:in"); s != "" {
		skus = map[string]bool{}
		for part := range strings.SplitSeq(s, ",") {
			skus[strings.TrimSpace(part)] = true
		}
	}
	ids, err := idSet(q.Get("product_id:in"))
	if err != nil {
		return result{}, &apiError{status: 422, msg: "The filter product_id:in is not a list of ids", fields: map[string]string{"product_id:in": err.Error()}}
	}
	f.mu.Lock()
	var data []any
	for _, p := range f.products {
		if (skus == nil || skus[p.SKU]) && (ids == nil || ids[p.ID]) {
			data = append(data, map[string]any{
				"identity": map[string]any{"sku": p.SKU, "variant_id": p.VariantID(), "product_id": p.ID, "sku_id": nil},
				"locations": []any{map[string]any{"location_id": 1, "location_code": "BC-LOCATION-1", "location_name": "Default location",
					"available_to_sell": p.Inventory, "total_inventory_onhand": p.Inventory, "location_enabled": true,
					"settings": map[string]any{"safety_stock": 0, "is_in_stock": p.Inventory > 0, "warning_level": 0, "bin_picking_number": ""}}},
			})
		}
	}
	f.mu.Unlock()
	lo, hi := fakekit.Window(len(data), (page-1)*limit, limit)
	pages := (len(data) + limit - 1) / limit
	links := map[string]string{"current": fmt.Sprintf("?page=%d&limit=%d", page, limit)}
	if page < pages {
		links["next"] = fmt.Sprintf("?page=%d&limit=%d", page+1, limit)
	}
	if page > 1 {
		links["previous"] = fmt.Sprintf("?page=%d&limit=%d", page-1, limit)
	}
	pageData := append([]any{}, data[lo:hi]...)
	return result{body: map[string]any{"data": pageData, "meta": map[string]any{"pagination": map[string]any{
		"total": len(data), "count": hi - lo, "per_page": limit, "current_page": page, "total_pages": pages, "links": links}}}}, nil
}

func (f *Fake) adjust(absolute bool) func(*http.Request) (result, *apiError) {
	return func(r *http.Request) (result, *apiError) {
		var in struct {
			Reason string `json:"reason"`
			Items  []struct {
				LocationID int    `json:"location_id"`
				ProductID  int    `json:"product_id"`
				VariantID  int    `json:"variant_id"`
				SKU        string `json:"sku"`
				Quantity   *int64 `json:"quantity"`
			} `json:"items"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			return result{}, &apiError{status: 422, msg: "JSON data is missing or invalid", fields: map[string]string{"body": err.Error()}}
		}
		if len(in.Items) == 0 {
			return result{}, &apiError{status: 422, msg: "JSON data is missing or invalid", fields: map[string]string{"items": "at least one item is required"}}
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		next := map[*Product]int64{}
		for i, it := range in.Items {
			at := fmt.Sprintf("items.%d", i)
			if it.LocationID != 1 {
				return result{}, &apiError{status: 422, msg: "Unknown location", fields: map[string]string{at + ".location_id": "no such location"}}
			}
			if it.Quantity == nil {
				return result{}, &apiError{status: 422, msg: "JSON data is missing or invalid", fields: map[string]string{at + ".quantity": "required"}}
			}
			var p *Product
			for _, c := range f.products {
				if it.ProductID != 0 && c.ID == it.ProductID || it.VariantID != 0 && c.VariantID() == it.VariantID || it.SKU != "" && c.SKU == it.SKU {
					p = c
				}
			}
			if p == nil {
				return result{}, &apiError{status: 422, msg: "Unknown item", fields: map[string]string{at: "no product, variant or sku matches"}}
			}
			q, ok := next[p]
			if !ok {
				q = p.Inventory
			}
			if absolute {
				q = *it.Quantity
			} else {
				q += *it.Quantity
			}
			if q < 0 {
				return result{}, &apiError{status: 422, msg: "Stock would go negative", fields: map[string]string{at + ".quantity": "stock would be " + strconv.FormatInt(q, 10)}}
			}
			next[p] = q
		}
		if !f.Dropping() {
			for p, q := range next {
				p.Inventory = q
				p.Modified = f.cfg.Now()
			}
		}
		return result{body: map[string]any{"transaction_id": fakekit.Random(16)}}, nil
	}
}

// --- orders v2 ---

func (o *Order) status() (int, string) {
	var qty, shipped int64
	for _, l := range o.Lines {
		qty += l.Qty
		shipped += l.Shipped
	}
	switch {
	case shipped == 0:
		return 11, "Awaiting Fulfillment"
	case shipped < qty:
		return 3, "Partially Shipped"
	}
	return 2, "Shipped"
}

func (f *Fake) renderOrder(r *http.Request, o *Order) map[string]any {
	var total float64
	var qty, shipped int64
	for _, l := range o.Lines {
		total += float64(l.Qty) * l.Price
		qty += l.Qty
		shipped += l.Shipped
	}
	id, name := o.status()
	base := "https://api.bigcommerce.com/stores/" + f.cfg.StoreHash + "/v2/orders/" + strconv.Itoa(o.ID)
	m := map[string]any{
		"id": o.ID, "customer_id": 0, "date_created": rfc2822(o.Created), "date_modified": rfc2822(o.Modified), "date_shipped": "",
		"status_id": id, "status": name, "subtotal_ex_tax": money4(total), "subtotal_inc_tax": money4(total), "total_ex_tax": money4(total),
		"total_inc_tax": money4(total), "items_total": qty, "items_shipped": shipped, "currency_code": "USD",
		"billing_address":    map[string]any{"first_name": o.Ship.Name, "email": o.Email, "city": o.Ship.City, "country_iso2": o.Ship.Country},
		"products":           map[string]string{"url": base + "/products", "resource": "/orders/" + strconv.Itoa(o.ID) + "/products"},
		"shipping_addresses": map[string]string{"url": base + "/shipping_addresses", "resource": "/orders/" + strconv.Itoa(o.ID) + "/shipping_addresses"},
	}
	// include=consignments puts the shipping addresses inline, and
	// consignments.line_items each one's order products too.
	if inc := strings.Split(r.URL.Query().Get("include"), ","); slices.Contains(inc, "consignments") || slices.Contains(inc, "consignments.line_items") {
		ship := renderAddress(o)
		if slices.Contains(inc, "consignments.line_items") {
			ship["line_items"] = renderProducts(o)
		}
		m["consignments"] = []any{map[string]any{"pickups": []any{}, "shipping": []any{ship}, "downloads": []any{}, "email": map[string]any{}}}
	}
	return m
}

func (f *Fake) listOrders(r *http.Request) (result, *apiError) {
	page, limit, e := pageParams(r)
	if e != nil {
		return result{}, &apiError{status: 400, msg: e.msg}
	}
	q := r.URL.Query()
	var since time.Time
	if s := q.Get("min_date_modified"); s != "" {
		var err error
		if since, err = parseWhen(s); err != nil {
			return result{}, &apiError{status: 400, msg: "The field 'min_date_modified' is invalid: " + err.Error()}
		}
	}
	f.mu.Lock()
	var kept []*Order
	for _, o := range f.orders {
		if since.IsZero() || !o.Modified.Before(since) {
			kept = append(kept, o)
		}
	}
	switch q.Get("sort") {
	case "", "id:asc":
	case "date_modified:asc", "date_modified:desc":
		slices.SortStableFunc(kept, func(a, b *Order) int { return a.Modified.Compare(b.Modified) })
		if strings.HasSuffix(q.Get("sort"), "desc") {
			slices.Reverse(kept)
		}
	default:
		f.mu.Unlock()
		return result{}, &apiError{status: 400, msg: "The field 'sort' is invalid."}
	}
	lo, hi := fakekit.Window(len(kept), (page-1)*limit, limit)
	var out []any
	for _, o := range kept[lo:hi] {
		out = append(out, f.renderOrder(r, o))
	}
	f.mu.Unlock()
	if len(out) == 0 {
		return result{}, nil // v2 answers 204 past the last page
	}
	return result{body: out}, nil
}

func orderNotFound() *apiError {
	return &apiError{status: 404, msg: "The requested resource was not found."}
}

func (f *Fake) getOrder(r *http.Request) (result, *apiError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.order(pathInt(r, "id"))
	if o == nil {
		return result{}, orderNotFound()
	}
	return result{body: f.renderOrder(r, o)}, nil
}

func (f *Fake) orderProducts(r *http.Request) (result, *apiError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.order(pathInt(r, "id"))
	if o == nil {
		return result{}, orderNotFound()
	}
	return result{body: renderProducts(o)}, nil
}

func renderProducts(o *Order) []any {
	var out []any
	for _, l := range o.Lines {
		out = append(out, map[string]any{"id": l.ID, "order_id": o.ID, "product_id": l.ProductID, "variant_id": l.ProductID + 100000,
			"order_address_id": addressID(o), "name": l.Name, "sku": l.SKU, "type": "physical", "quantity": l.Qty,
			"quantity_shipped": l.Shipped, "base_price": money4(l.Price), "price_inc_tax": money4(l.Price), "total_inc_tax": money4(float64(l.Qty) * l.Price)})
	}
	return out
}

// renderAddress is a shipping address; with lines it is a shipping
// consignment, which carries the order products shipped to it.
func renderAddress(o *Order) map[string]any {
	first, last, _ := strings.Cut(o.Ship.Name, " ")
	return map[string]any{"id": addressID(o), "order_id": o.ID, "first_name": first, "last_name": last,
		"street_1": o.Ship.Line1, "street_2": "", "city": o.Ship.City, "state": o.Ship.Region, "zip": o.Ship.PostalCode,
		"country_iso2": o.Ship.Country, "email": o.Email, "shipping_method": "Flat Rate"}
}

func addressID(o *Order) int { return o.ID + 500000 }

func (f *Fake) orderAddresses(r *http.Request) (result, *apiError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.order(pathInt(r, "id"))
	if o == nil {
		return result{}, orderNotFound()
	}
	return result{body: []any{renderAddress(o)}}, nil
}

func renderShipment(s *Shipment) map[string]any {
	var items []any
	for _, it := range s.Items {
		items = append(items, map[string]any{"order_product_id": it.OrderProductID, "product_id": it.ProductID, "quantity": it.Qty})
	}
	return map[string]any{"id": s.ID, "order_id": s.OrderID, "customer_id": 0, "order_address_id": s.OrderID + 500000,
		"date_created": rfc2822(s.Created), "tracking_number": s.Tracking, "shipping_method": s.Method, "shipping_provider": s.Provider,
		"tracking_carrier": s.Provider, "tracking_link": "", "comments": "", "items": items}
}

func (f *Fake) listShipments(r *http.Request) (result, *apiError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := pathInt(r, "id")
	if f.order(id) == nil {
		return result{}, orderNotFound()
	}
	var out []any
	for _, s := range f.shipments {
		if s.OrderID == id {
			out = append(out, renderShipment(s))
		}
	}
	if len(out) == 0 {
		return result{}, nil
	}
	return result{body: out}, nil
}

var providers = []string{"", "auspost", "canadapost", "endicia", "usps", "fedex", "royalmail", "ups", "upsready", "upsonline", "shipperhq"}

func (f *Fake) createShipment(r *http.Request) (result, *apiError) {
	var in struct {
		OrderAddressID   int    `json:"order_address_id"`
		TrackingNumber   string `json:"tracking_number"`
		ShippingMethod   string `json:"shipping_method"`
		ShippingProvider string `json:"shipping_provider"`
		Items            []struct {
			OrderProductID int   `json:"order_product_id"`
			Quantity       int64 `json:"quantity"`
		} `json:"items"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		return result{}, &apiError{status: 400, msg: "The request body is not valid JSON: " + err.Error()}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.order(pathInt(r, "id"))
	if o == nil {
		return result{}, orderNotFound()
	}
	if in.OrderAddressID != addressID(o) {
		return result{}, &apiError{status: 400, msg: "The field 'order_address_id' is invalid."}
	}
	if !slices.Contains(providers, in.ShippingProvider) {
		return result{}, &apiError{status: 400, msg: "The field 'shipping_provider' is invalid."}
	}
	if len(in.Items) == 0 {
		return result{}, &apiError{status: 400, msg: "The required field 'items' was not supplied."}
	}
	lines := slices.Clone(o.Lines)
	s := &Shipment{OrderID: o.ID, Tracking: in.TrackingNumber, Provider: in.ShippingProvider, Method: in.ShippingMethod, Created: f.cfg.Now()}
	for _, it := range in.Items {
		i := slices.IndexFunc(lines, func(l OrderProduct) bool { return l.ID == it.OrderProductID })
		if i < 0 || it.Quantity <= 0 || lines[i].Shipped+it.Quantity > lines[i].Qty {
			return result{}, &apiError{status: 400, msg: fmt.Sprintf("The field 'items' is invalid: order product %d cannot ship %d.", it.OrderProductID, it.Quantity)}
		}
		lines[i].Shipped += it.Quantity
		s.Items = append(s.Items, ShipmentItem{OrderProductID: it.OrderProductID, ProductID: lines[i].ProductID, Qty: it.Quantity})
	}
	f.nextID++
	s.ID = f.nextID
	if !f.Dropping() {
		o.Lines = lines
		o.Modified = f.cfg.Now()
		f.shipments = append(f.shipments, s)
	}
	return result{status: http.StatusCreated, body: renderShipment(s)}, nil
}

func (f *Fake) shipment(r *http.Request) *Shipment {
	oid, sid := pathInt(r, "id"), pathInt(r, "sid")
	for _, s := range f.shipments {
		if s.ID == sid && s.OrderID == oid {
			return s
		}
	}
	return nil
}

func (f *Fake) getShipment(r *http.Request) (result, *apiError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.shipment(r)
	if s == nil {
		return result{}, orderNotFound()
	}
	return result{body: renderShipment(s)}, nil
}

func (f *Fake) deleteShipment(r *http.Request) (result, *apiError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.shipment(r)
	if s == nil {
		return result{}, orderNotFound()
	}
	if f.Dropping() {
		return result{}, nil
	}
	if o := f.order(s.OrderID); o != nil {
		for _, it := range s.Items {
			if i := slices.IndexFunc(o.Lines, func(l OrderProduct) bool { return l.ID == it.OrderProductID }); i >= 0 {
				o.Lines[i].Shipped -= it.Qty
			}
		}
		o.Modified = f.cfg.Now()
	}
	f.shipments = slices.DeleteFunc(f.shipments, func(x *Shipment) bool { return x == s })
	return result{}, nil
}
