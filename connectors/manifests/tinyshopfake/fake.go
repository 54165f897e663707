// Package tinyshopfake is a small made-up shop API that the example
// manifest connector (catalog/tinyshop) and the docs are written against.
// It has one endpoint per pagination style the manifest format knows
// (offset/limit, body cursor, Link header), an API key header, a request
// budget header, throttling on demand, idempotent shipment writes, and a
// switch that makes it keep a write differently from what was sent, so a
// verification read fails.
package tinyshopfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Product is an item of the shop.
type Product struct {
	ID        string `json:"id"`
	SKU       string `json:"sku"`
	Title     string `json:"title"`
	Barcode   string `json:"barcode,omitempty"`
	UpdatedAt string `json:"updated_at"`
}

// Order is a paid order.
type Order struct {
	ID        string         `json:"id"`
	Number    string         `json:"number"`
	Shipping  map[string]any `json:"shipping"`
	Items     []Item         `json:"items"`
	UpdatedAt string         `json:"updated_at"`
}

// Item is an order line.
type Item struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// Stock is the quantity available of a sku.
type Stock struct {
	ID        string `json:"id"`
	SKU       string `json:"sku"`
	Available int64  `json:"available"`
	Modified  int64  `json:"modified"` // Unix seconds
}

// Shipment is a fulfillment posted back.
type Shipment struct {
	ID       string `json:"id"`
	OrderID  string `json:"order_id"`
	Carrier  string `json:"carrier"`
	Tracking string `json:"tracking"`
	Lines    []Item `json:"lines"`
}

// Fake is the shop. Its zero value is not usable; call New.
type Fake struct {
	Key string // the API key it accepts

	mu        sync.Mutex
	srv       *httptest.Server
	products  []Product
	orders    []Order
	stock     []Stock
	shipments map[string]Shipment // id -> shipment
	idem      map[string]string   // idempotency key -> shipment id
	throttle  int
	rejecting bool
	corrupt   bool
	requests  int
	seq       int
}

// New starts a shop with n products, n orders and n stock rows, updated
// one minute apart from 2026-03-01.
func New(t testing.TB, n int) *Fake {
	f := &Fake{Key: "tiny_live_0123456789", shipments: map[string]Shipment{}, idem: map[string]string{}}
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		at := base.Add(time.Duration(i) * time.Minute)
		sku := fmt.Sprintf("SKU-%05d", i)
		f.products = append(f.products, Product{ID: "p" + strconv.Itoa(i), SKU: sku, Title: "Widget " + strconv.Itoa(i),
			UpdatedAt: at.Format(time.RFC3339)})
		f.orders = append(f.orders, Order{ID: "o" + strconv.Itoa(i), Number: "T" + strconv.Itoa(1000+i),
			Shipping: map[string]any{"name": "Ada Lovelace", "street": "1 Engine Way", "city": "London", "zip": "N1", "country": "GB"},
			Items:    []Item{{SKU: sku, Quantity: 1 + i%3}}, UpdatedAt: at.Format(time.RFC3339)})
		f.stock = append(f.stock, Stock{ID: "s" + strconv.Itoa(i), SKU: sku, Available: int64(10 + i), Modified: at.Unix()})
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the fake's base URL.
func (f *Fake) URL() string { return f.srv.URL }

// Throttle makes the next n requests answer 429.
func (f *Fake) Throttle(n int) { f.mu.Lock(); f.throttle = n; f.mu.Unlock() }

// Reject makes the fake refuse the key from now on, echoing it back.
func (f *Fake) Reject() { f.mu.Lock(); f.rejecting = true; f.mu.Unlock() }

// Corrupt makes the fake keep shipments with a different tracking number
// than was sent (a verification read then fails).
func (f *Fake) Corrupt(on bool) { f.mu.Lock(); f.corrupt = on; f.mu.Unlock() }

// Shipments counts the shipments kept.
func (f *Fake) Shipments() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.shipments) }

// Requests counts the requests served.
func (f *Fake) Requests() int { f.mu.Lock(); defer f.mu.Unlock(); return f.requests }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	w.Header().Set("X-Tiny-Budget-Left", strconv.Itoa(max(0, 1000-f.requests)))
	if f.throttle > 0 {
		f.throttle--
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "slow down"})
		return
	}
	if key := r.Header.Get("X-Tiny-Key"); key != f.Key || f.rejecting {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unknown key " + key})
		return
	}
	q := r.URL.Query()
	limit := atoi(q.Get("limit"), 50)
	since := q.Get("updated_since")
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/shop":
		writeJSON(w, 200, map[string]string{"name": "Tiny Shop"})
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/products":
		var sel []Product
		for _, p := range f.products {
			if since == "" || p.UpdatedAt >= since {
				sel = append(sel, p)
			}
		}
		off := atoi(q.Get("offset"), 0)
		writeJSON(w, 200, map[string]any{"products": page(sel, off, limit)})
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/orders":
		var sel []Order
		for _, o := range f.orders {
			if since == "" || o.UpdatedAt >= since {
				sel = append(sel, o)
			}
		}
		off := atoi(q.Get("cursor"), 0)
		next := ""
		if off+limit < len(sel) {
			next = strconv.Itoa(off + limit)
		}
		writeJSON(w, 200, map[string]any{"orders": page(sel, off, limit), "next_cursor": next})
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/stock":
		pg := atoi(q.Get("page"), 1)
		sel := page(f.stock, (pg-1)*limit, limit)
		if pg*limit < len(f.stock) {
			w.Header().Set("Link", fmt.Sprintf(`</api/v1/stock?page=%d&limit=%d>; rel="next"`, pg+1, limit))
		}
		writeJSON(w, 200, sel)
	case len(parts) >= 5 && parts[2] == "orders" && parts[4] == "shipments":
		f.shipment(w, r, parts)
	default:
		writeJSON(w, 404, map[string]string{"error": "no such endpoint"})
	}
}

func (f *Fake) shipment(w http.ResponseWriter, r *http.Request, parts []string) {
	orderID := parts[3]
	if !slices.ContainsFunc(f.orders, func(o Order) bool { return o.ID == orderID }) {
		writeJSON(w, 404, map[string]string{"error": "no such order"})
		return
	}
	switch {
	case r.Method == http.MethodPost && len(parts) == 5:
		if id, ok := f.idem[r.Header.Get("Idempotency-Key")]; ok {
			writeJSON(w, 200, f.shipments[id])
			return
		}
		var s Shipment
		if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
			writeJSON(w, 400, map[string]any{"errors": []map[string]string{{"field": "body", "message": "is not JSON"}}})
			return
		}
		if s.Tracking == "" {
			writeJSON(w, 422, map[string]any{"errors": []map[string]string{{"field": "tracking", "message": "can't be blank"}}})
			return
		}
		f.seq++
		s.ID, s.OrderID = "shp_"+strconv.Itoa(f.seq), orderID
		if f.corrupt {
			s.Tracking = "X" + s.Tracking
		}
		f.shipments[s.ID] = s
		if k := r.Header.Get("Idempotency-Key"); k != "" {
			f.idem[k] = s.ID
		}
		writeJSON(w, 201, s)
	case len(parts) == 6:
		s, ok := f.shipments[parts[5]]
		if !ok || s.OrderID != orderID {
			writeJSON(w, 404, map[string]string{"error": "no such shipment"})
			return
		}
		if r.Method == http.MethodDelete {
			delete(f.shipments, s.ID)
			for k, id := range f.idem {
				if id == s.ID {
					delete(f.idem, k)
				}
			}
			w.WriteHeader(204)
			return
		}
		writeJSON(w, 200, s)
	default:
		writeJSON(w, 405, map[string]string{"error": "method not allowed"})
	}
}

func page[T any](all []T, off, limit int) []T {
	if off >= len(all) {
		return []T{}
	}
	return all[off:min(len(all), off+limit)]
}

func atoi(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return def
	}
	return n
}

// SignWebhook returns the X-Tiny-Signature of body under secret: the hex
// HMAC-SHA256 of the raw body.
func SignWebhook(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// OrderEvent is the JSON of an order webhook event for order i.
func (f *Fake) OrderEvent(eventID, typ string, i int) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"id": eventID, "type": typ, "data": map[string]any{"order": f.orders[i]}})
	return b
}

// Touch changes every product (a new title and modification time), so the
// next sync writes them all again (benchmarks).
func (f *Fake) Touch(round int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	at := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).Add(time.Duration(round) * time.Hour).Format(time.RFC3339)
	for i := range f.products {
		f.products[i].Title = "Widget " + strconv.Itoa(i) + " r" + strconv.Itoa(round)
		f.products[i].UpdatedAt = at
	}
}
