package bigcommerce

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"sentryhub/clock"
)

type harness struct {
	t     *testing.T
	f     *Fake
	srv   *httptest.Server
	clk   *clock.Fake
	token string
}

func newHarness(t *testing.T, cfg Config) *harness {
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	cfg.Now = clk.Now
	f := New(cfg)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &harness{t: t, f: f, srv: srv, clk: clk, token: "bc-token"}
}

func (h *harness) do(method, path string, body any) (*http.Response, any) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, h.srv.URL+"/stores/abc123"+path, rd)
	req.Header.Set("X-Auth-Token", h.token)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var v any
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &v); err != nil {
			h.t.Fatalf("not JSON: %s", b)
		}
	}
	return resp, v
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

func TestProductsPaginate(t *testing.T) {
	h := newHarness(t, Config{Seed: 1, Products: 120, Quota: 1000})
	seen := map[string]bool{}
	next := "?page=1&limit=50"
	var counts []int
	for next != "" {
		resp, v := h.do("GET", "/v3/catalog/products"+next, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", next, resp.StatusCode, v)
		}
		pg := obj(obj(obj(v)["meta"])["pagination"])
		counts = append(counts, int(pg["count"].(float64)))
		for _, p := range obj(v)["data"].([]any) {
			seen[obj(p)["sku"].(string)] = true
		}
		next, _ = obj(pg["links"])["next"].(string)
		if pg["total"] != 120.0 || pg["total_pages"] != 3.0 {
			t.Fatalf("pagination %v", pg)
		}
	}
	if fmt.Sprint(counts) != "[50 50 20]" || len(seen) != 120 {
		t.Fatalf("pages %v, %d distinct", counts, len(seen))
	}
	cut := h.f.Products()[99].Modified.Format(time.RFC3339)
	_, v := h.do("GET", "/v3/catalog/products?sort=date_modified&date_modified:min="+url.QueryEscape(cut), nil)
	if n := len(obj(v)["data"].([]any)); n != 21 {
		t.Fatalf("date_modified:min kept %d, want 21", n)
	}
	if resp, v := h.do("GET", "/v3/catalog/products?limit=251", nil); resp.StatusCode != 422 || obj(v)["status"] != 422.0 {
		t.Fatalf("limit 251: %d %v", resp.StatusCode, v)
	}
}

func TestOrdersPaginateTo204(t *testing.T) {
	h := newHarness(t, Config{Seed: 2, Products: 10, Orders: 25, Quota: 1000})
	var total int
	for page := 1; ; page++ {
		resp, v := h.do("GET", fmt.Sprintf("/v2/orders?page=%d&limit=10&sort=date_modified:asc", page), nil)
		if resp.StatusCode == 204 {
			if page != 4 {
				t.Fatalf("204 on page %d, want 4", page)
			}
			break
		}
		list := v.([]any)
		total += len(list)
		o := obj(list[0])
		if _, err := time.Parse("Mon, 02 Jan 2006 15:04:05 -0700", o["date_modified"].(string)); err != nil || !strings.Contains(o["total_inc_tax"].(string), ".") {
			t.Fatalf("order shape %v", o)
		}
	}
	_, v := h.do("GET", "/v2/orders?limit=1&include=consignments.line_items", nil)
	ship := obj(obj(v.([]any)[0])["consignments"].([]any)[0])["shipping"].([]any)[0]
	if lines := obj(ship)["line_items"].([]any); len(lines) == 0 || !strings.HasPrefix(obj(lines[0])["sku"].(string), "SKU-") {
		t.Fatalf("consignment line items %v", ship)
	}
	if total != 25 {
		t.Fatalf("%d orders, want 25", total)
	}
	since := h.f.Orders()[19].Modified.Format("Mon, 02 Jan 2006 15:04:05 -0700")
	if _, v = h.do("GET", "/v2/orders?min_date_modified="+url.QueryEscape(since), nil); len(v.([]any)) != 6 {
		t.Fatalf("min_date_modified kept %d, want 6", len(v.([]any)))
	}
	if resp, v := h.do("GET", "/v2/orders?min_date_modified=yesterday", nil); resp.StatusCode != 400 || obj(v.([]any)[0])["status"] != 400.0 {
		t.Fatalf("bad date: %d %v", resp.StatusCode, v)
	}
}

func TestAuthAndRateLimit(t *testing.T) {
	h := newHarness(t, Config{Seed: 3, Products: 2, Quota: 3, Window: 10 * time.Second})
	h.token = "wrong"
	if resp, v := h.do("GET", "/v3/catalog/products", nil); resp.StatusCode != 401 || obj(v)["status"] != 401.0 {
		t.Fatalf("bad token v3: %d %v", resp.StatusCode, v)
	}
	if resp, v := h.do("GET", "/v2/orders", nil); resp.StatusCode != 401 || obj(v.([]any)[0])["status"] != 401.0 {
		t.Fatalf("bad token v2: %d %v", resp.StatusCode, v)
	}
	h.token = "bc-token"
	tests := []struct {
		advance  time.Duration
		want     int
		left     string
		resetMax int
	}{
		{0, 200, "2", 10000}, {0, 200, "1", 10000}, {4 * time.Second, 200, "0", 6000}, {0, 429, "0", 6000}, {6 * time.Second, 200, "2", 10000},
	}
	for i, tt := range tests {
		h.clk.Advance(tt.advance)
		resp, _ := h.do("GET", "/v3/catalog/products", nil)
		reset, _ := strconv.Atoi(resp.Header.Get("X-Rate-Limit-Time-Reset-Ms"))
		if resp.StatusCode != tt.want || resp.Header.Get("X-Rate-Limit-Requests-Left") != tt.left || reset > tt.resetMax ||
			resp.Header.Get("X-Rate-Limit-Requests-Quota") != "3" || resp.Header.Get("X-Rate-Limit-Time-Window-Ms") != "10000" {
			t.Fatalf("request %d: %d left %s reset %d", i, resp.StatusCode, resp.Header.Get("X-Rate-Limit-Requests-Left"), reset)
		}
	}
	h.f.ThrottleNext(1)
	if resp, _ := h.do("GET", "/v2/orders", nil); resp.StatusCode != 429 {
		t.Fatalf("forced throttle: %d", resp.StatusCode)
	}
}

func TestProductWrites(t *testing.T) {
	h := newHarness(t, Config{Seed: 4, Products: 3, Quota: 1000})
	p := h.f.Products()[0]
	path := "/v3/catalog/products/" + strconv.Itoa(p.ID)
	tests := []struct {
		name  string
		drop  bool
		body  any
		code  int
		check func(map[string]any) bool
	}{
		{"update", false, map[string]any{"price": 9.5, "inventory_level": 4}, 200, func(d map[string]any) bool { return d["price"] == 9.5 && d["inventory_level"] == 4.0 }},
		{"dropped", true, map[string]any{"price": 1.0}, 200, func(d map[string]any) bool { return d["price"] == 9.5 }},
		{"invalid", false, map[string]any{"price": -1, "name": ""}, 422, func(d map[string]any) bool { return d["price"] == 9.5 && d["name"] == p.Name }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.f.DropWrites(tt.drop)
			defer h.f.DropWrites(false)
			resp, v := h.do("PUT", path, tt.body)
			if resp.StatusCode != tt.code {
				t.Fatalf("%d %v", resp.StatusCode, v)
			}
			if tt.code == 422 && len(obj(obj(v)["errors"])) != 2 {
				t.Fatalf("errors %v", v)
			}
			_, back := h.do("GET", path, nil)
			if !tt.check(obj(obj(back)["data"])) {
				t.Fatalf("read back %v", back)
			}
		})
	}
	if resp, _ := h.do("DELETE", path, nil); resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if resp, v := h.do("GET", path, nil); resp.StatusCode != 404 || obj(v)["status"] != 404.0 {
		t.Fatalf("after delete: %d %v", resp.StatusCode, v)
	}
}

func TestInventoryAdjustments(t *testing.T) {
	h := newHarness(t, Config{Seed: 5, Products: 3, Quota: 1000})
	p := h.f.Products()[1]
	level := func() float64 {
		_, v := h.do("GET", "/v3/inventory/items?sku:in="+p.SKU, nil)
		data := obj(v)["data"].([]any)
		return obj(obj(data[0])["locations"].([]any)[0])["available_to_sell"].(float64)
	}
	resp, v := h.do("PUT", "/v3/inventory/adjustments/absolute", map[string]any{"reason": "count", "items": []any{map[string]any{"location_id": 1, "sku": p.SKU, "quantity": 30}}})
	if resp.StatusCode != 200 || obj(v)["transaction_id"] == "" || level() != 30 {
		t.Fatalf("absolute: %d %v level %v", resp.StatusCode, v, level())
	}
	h.do("POST", "/v3/inventory/adjustments/relative", map[string]any{"items": []any{map[string]any{"location_id": 1, "variant_id": p.VariantID(), "quantity": -5}}})
	if level() != 25 {
		t.Fatalf("relative: level %v, want 25", level())
	}
	h.f.DropWrites(true)
	h.do("PUT", "/v3/inventory/adjustments/absolute", map[string]any{"items": []any{map[string]any{"location_id": 1, "product_id": p.ID, "quantity": 1}}})
	h.f.DropWrites(false)
	if level() != 25 {
		t.Fatal("dropped adjustment was kept")
	}
	for _, bad := range []any{
		map[string]any{"items": []any{}},
		map[string]any{"items": []any{map[string]any{"location_id": 2, "sku": p.SKU, "quantity": 1}}},
		map[string]any{"items": []any{map[string]any{"location_id": 1, "sku": "nope", "quantity": 1}}},
		map[string]any{"items": []any{map[string]any{"location_id": 1, "sku": p.SKU, "quantity": -100}}},
	} {
		if resp, _ := h.do("POST", "/v3/inventory/adjustments/relative", bad); resp.StatusCode != 422 {
			t.Errorf("%v: %d", bad, resp.StatusCode)
		}
	}
}

func TestShipments(t *testing.T) {
	h := newHarness(t, Config{Seed: 6, Products: 5, Orders: 2, Quota: 1000})
	o := h.f.Orders()[0]
	base := fmt.Sprintf("/v2/orders/%d", o.ID)
	if resp, _ := h.do("GET", base+"/shipments", nil); resp.StatusCode != 204 {
		t.Fatalf("no shipments yet: %d", resp.StatusCode)
	}
	_, addrs := h.do("GET", base+"/shipping_addresses", nil)
	addr := obj(addrs.([]any)[0])["id"]
	_, prods := h.do("GET", base+"/products", nil)
	var items []any
	for _, p := range prods.([]any) {
		items = append(items, map[string]any{"order_product_id": obj(p)["id"], "quantity": obj(p)["quantity"]})
	}
	ship := map[string]any{"order_address_id": addr, "tracking_number": "1Z1", "shipping_provider": "ups", "items": items}
	for name, bad := range map[string]map[string]any{
		"wrong address":  {"order_address_id": 1, "items": items},
		"bad provider":   {"order_address_id": addr, "shipping_provider": "pigeon", "items": items},
		"too many":       {"order_address_id": addr, "items": []any{map[string]any{"order_product_id": o.Lines[0].ID, "quantity": o.Lines[0].Qty + 1}}},
		"no items given": {"order_address_id": addr},
	} {
		if resp, _ := h.do("POST", base+"/shipments", bad); resp.StatusCode != 400 {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	resp, v := h.do("POST", base+"/shipments", ship)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %v", resp.StatusCode, v)
	}
	sid := int(obj(v)["id"].(float64))
	_, back := h.do("GET", fmt.Sprintf("%s/shipments/%d", base, sid), nil)
	if obj(back)["tracking_number"] != "1Z1" {
		t.Fatalf("read back %v", back)
	}
	if _, ov := h.do("GET", base, nil); obj(ov)["status_id"] != 2.0 {
		t.Fatalf("order status %v, want 2 Shipped", obj(ov)["status"])
	}
	if resp, _ := h.do("DELETE", fmt.Sprintf("%s/shipments/%d", base, sid), nil); resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if resp, _ := h.do("GET", fmt.Sprintf("%s/shipments/%d", base, sid), nil); resp.StatusCode != 404 {
		t.Fatalf("deleted shipment read: %d", resp.StatusCode)
	}
	h.f.DropWrites(true)
	resp, v = h.do("POST", base+"/shipments", ship)
	h.f.DropWrites(false)
	if r2, _ := h.do("GET", fmt.Sprintf("%s/shipments/%d", base, int(obj(v)["id"].(float64))), nil); resp.StatusCode != 201 || r2.StatusCode != 404 {
		t.Fatalf("dropped shipment: %d then %d", resp.StatusCode, r2.StatusCode)
	}
}

func TestRejectEchoesTheToken(t *testing.T) {
	h := newHarness(t, Config{Seed: 1, Products: 1})
	h.f.Reject()
	resp, v := h.do("GET", "/v3/catalog/products", nil)
	b, _ := json.Marshal(v)
	if resp.StatusCode != 401 || !strings.Contains(string(b), "bc-token") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}
