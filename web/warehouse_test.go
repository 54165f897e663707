package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"sentryhub/canonjson"
	"sentryhub/store"
)

// api sends a JSON request with a token and returns status, headers and body.
func (e *testEnv) api(token, method, path string, body any, hdr ...string) (int, http.Header, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	h := map[string]string{"X-WMS-Token": token, "Content-Type": "application/json"}
	for i := 0; i+1 < len(hdr); i += 2 {
		h[hdr[i]] = hdr[i+1]
	}
	resp := e.do(nil, method, path, h, rd)
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out
}

func (e *testEnv) mustAPI(token, method, path string, body any, want int) map[string]any {
	e.t.Helper()
	code, _, out := e.api(token, method, path, body)
	if code != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, code, out, want)
	}
	var v map[string]any
	json.Unmarshal(out, &v)
	return v
}

func (e *testEnv) eventCount() int {
	n, err := e.db.LatestEventID(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return int(n)
}

// seedWarehouse makes warehouse 1 with two stocked items.
func (e *testEnv) seedWarehouse(tok string) {
	e.mustAPI(tok, "POST", "/api/v1/warehouses", map[string]any{"code": "MAIN", "name": "Main"}, 201)
	e.mustAPI(tok, "PUT", "/api/v1/items/WIDGET-1", map[string]any{"name": "Widget", "barcode": "0001"}, 201)
	e.mustAPI(tok, "PUT", "/api/v1/items/GADGET-9", map[string]any{"name": "Gadget"}, 201)
	e.mustAPI(tok, "POST", "/api/v1/inventory/adjustments", map[string]any{"warehouse_id": 1, "sku": "WIDGET-1", "delta": 10, "reason": "initial"}, 200)
	e.mustAPI(tok, "POST", "/api/v1/inventory/adjustments", map[string]any{"warehouse_id": 1, "sku": "GADGET-9", "delta": 5, "reason": "initial"}, 200)
}

func TestWarehouseScopes(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	reader := e.token(store.ScopeEventsRead)
	writer := e.token(store.ScopeWarehouseWrite)
	admin := e.token(store.ScopeAdmin)
	for _, tc := range []struct {
		tok  string
		want int
	}{{"", 401}, {reader, 403}, {writer, 200}, {admin, 200}} {
		if code, _, _ := e.api(tc.tok, "GET", "/api/v1/warehouses", nil); code != tc.want {
			t.Errorf("token %q: %d, want %d", tc.tok, code, tc.want)
		}
	}
	if code, _, _ := e.api(reader, "POST", "/api/v1/warehouses", map[string]any{"code": "X", "name": "X"}); code != 403 {
		t.Fatalf("events:read token wrote: %d", code)
	}
	if e.eventCount() != 0 {
		t.Fatal("events appended by a refused request")
	}
}

func TestSalesOrderFlowOverHTTP(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	tok := e.token(store.ScopeWarehouseWrite)
	e.seedWarehouse(tok)
	base := e.eventCount()

	so := e.mustAPI(tok, "POST", "/api/v1/sales-orders", map[string]any{
		"order_number": "SO-1001", "warehouse_id": 1,
		"lines":   []map[string]any{{"sku": "WIDGET-1", "qty": 2}, {"sku": "GADGET-9", "qty": 1}},
		"ship_to": map[string]any{"name": "Café Müller", "city": "Zürich"},
	}, 201)
	id, _ := so["id"].(string)
	if len(id) != 36 || so["status"] != "open" {
		t.Fatalf("created order %v", so)
	}
	// Shipping before packing is refused and changes nothing.
	code, _, body := e.api(tok, "POST", "/api/v1/sales-orders/"+id+"/ship", map[string]any{"carrier": "UPS", "tracking": "1Z"})
	if code != 409 || !strings.Contains(string(body), "conflict") {
		t.Fatalf("ship before pack: %d %s", code, body)
	}
	if e.eventCount() != base {
		t.Fatal("refused ship appended an event")
	}

	for _, step := range []struct {
		path, status, event string
		body                any
	}{
		{"/pick", "picked", "pick.confirmed", nil},
		{"/pack", "packed", "pack.confirmed", ""},
		{"/ship", "shipped", "ship.confirmed", map[string]any{"carrier": "UPS", "tracking": "1Z999AA10123456784"}},
	} {
		code, hdr, out := e.api(tok, "POST", "/api/v1/sales-orders/"+id+step.path, step.body)
		if code != 200 {
			t.Fatalf("%s: %d %s", step.path, code, out)
		}
		var got store.SalesOrder
		json.Unmarshal(out, &got)
		if string(got.Status) != step.status || hdr.Get("X-Sentry-Event-Ids") == "" {
			t.Fatalf("%s: status %s, events %q", step.path, got.Status, hdr.Get("X-Sentry-Event-Ids"))
		}
	}
	inv := e.mustAPI(tok, "GET", "/api/v1/inventory?warehouse_id=1&sku=WIDGET-1", nil, 200)
	if lv := inv["inventory"].([]any)[0].(map[string]any); lv["on_hand"] != 8.0 {
		t.Fatalf("stock after ship: %v", lv)
	}
	if got := e.mustAPI(tok, "GET", "/api/v1/sales-orders/"+id, nil, 200); got["tracking"] != "1Z999AA10123456784" {
		t.Fatalf("order after ship: %v", got)
	}
	if code, _, _ := e.api(tok, "GET", "/api/v1/sales-orders/00000000-0000-0000-0000-000000000000", nil); code != 404 {
		t.Fatalf("unknown order: %d", code)
	}
}

func TestRefusedOperations(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	tok := e.token(store.ScopeWarehouseWrite)
	e.seedWarehouse(tok)
	po := e.mustAPI(tok, "POST", "/api/v1/purchase-orders", map[string]any{"po_number": "PO-1", "warehouse_id": 1, "supplier": "ACME",
		"lines": []map[string]any{{"sku": "WIDGET-1", "qty": 3}}}, 201)
	poID := po["id"].(string)
	for _, tc := range []struct {
		name, method, path string
		body               any
		want               int
		field              string
	}{
		{"stock below zero", "POST", "/api/v1/inventory/adjustments", map[string]any{"warehouse_id": 1, "sku": "WIDGET-1", "delta": -11, "reason": "x"}, 409, ""},
		{"unknown sku", "POST", "/api/v1/inventory/adjustments", map[string]any{"warehouse_id": 1, "sku": "NOPE", "delta": 1, "reason": "x"}, 422, "sku"},
		{"unknown warehouse", "POST", "/api/v1/inventory/adjustments", map[string]any{"warehouse_id": 99, "sku": "WIDGET-1", "delta": 1, "reason": "x"}, 422, "warehouse_id"},
		{"over-receipt", "POST", "/api/v1/purchase-orders/" + poID + "/receive", map[string]any{"lines": []map[string]any{{"sku": "WIDGET-1", "qty": 4}}}, 409, ""},
		{"order with unknown sku", "POST", "/api/v1/sales-orders", map[string]any{"order_number": "SO-9", "warehouse_id": 1, "lines": []map[string]any{{"sku": "NOPE", "qty": 1}}, "ship_to": map[string]any{}}, 422, "lines[0].sku"},
		{"wrong field type", "POST", "/api/v1/inventory/adjustments", `{"warehouse_id":"one","sku":"WIDGET-1","delta":1}`, 400, ""},
		{"unknown field", "POST", "/api/v1/cycle-counts", `{"warehouse_id":1,"sku":"WIDGET-1","counted_qty":3,"extra":1}`, 400, ""},
		{"missing count", "POST", "/api/v1/cycle-counts", `{"warehouse_id":1,"sku":"WIDGET-1"}`, 422, "counted_qty"},
		{"pick with junk body", "POST", "/api/v1/sales-orders/x/pick", `{"a":1}`, 400, ""},
		{"bad transfer", "POST", "/api/v1/transfers", map[string]any{"from_warehouse_id": 1, "to_warehouse_id": 1, "lines": []map[string]any{{"sku": "WIDGET-1", "qty": 1}}}, 422, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.eventCount()
			inv := e.mustAPI(tok, "GET", "/api/v1/inventory?warehouse_id=1", nil, 200)
			code, _, out := e.api(tok, tc.method, tc.path, tc.body)
			if code != tc.want {
				t.Fatalf("%d %s, want %d", code, out, tc.want)
			}
			var eb errorBody
			if err := json.Unmarshal(out, &eb); err != nil || eb.Error.Message == "" {
				t.Fatalf("not an error envelope: %s", out)
			}
			if tc.field != "" && eb.Error.Fields[tc.field] == "" {
				t.Fatalf("error does not name %s: %s", tc.field, out)
			}
			if e.eventCount() != before {
				t.Fatal("event appended")
			}
			after := e.mustAPI(tok, "GET", "/api/v1/inventory?warehouse_id=1", nil, 200)
			if fmt.Sprint(after) != fmt.Sprint(inv) {
				t.Fatal("stock changed")
			}
		})
	}
}

func TestIdempotentReplay(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	tok := e.token(store.ScopeWarehouseWrite)
	e.seedWarehouse(tok)
	const rid = "6f9e7c6a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
	body := map[string]any{"warehouse_id": 1, "sku": "WIDGET-1", "delta": -1, "reason": "damaged"}
	c1, h1, b1 := e.api(tok, "POST", "/api/v1/inventory/adjustments", body, "X-Request-ID", rid)
	n := e.eventCount()
	c2, h2, b2 := e.api(tok, "POST", "/api/v1/inventory/adjustments", body, "X-Request-ID", rid)
	if c1 != 200 || c2 != 200 || !bytes.Equal(b1, b2) || h2.Get("Idempotent-Replayed") != "true" || h1.Get("Idempotent-Replayed") != "" {
		t.Fatalf("replay: %d %s / %d %s", c1, b1, c2, b2)
	}
	if e.eventCount() != n {
		t.Fatal("replay appended a second event")
	}
	events, _, _ := e.db.ListEvents(context.Background(), store.EventQuery{After: int64(n - 1)})
	if events[0].SourceTxnID != rid {
		t.Fatalf("source_txn_id %s, want the X-Request-ID", events[0].SourceTxnID)
	}
	inv := e.mustAPI(tok, "GET", "/api/v1/inventory?warehouse_id=1&sku=WIDGET-1", nil, 200)
	if inv["inventory"].([]any)[0].(map[string]any)["on_hand"] != 9.0 {
		t.Fatal("replay applied the adjustment twice")
	}
	if code, _, _ := e.api(tok, "POST", "/api/v1/inventory/adjustments", map[string]any{"warehouse_id": 1, "sku": "WIDGET-1", "delta": -2, "reason": "x"}, "X-Request-ID", rid); code != 422 {
		t.Fatalf("same id, different body: %d", code)
	}
	code, _, out := e.api(tok, "POST", "/api/v1/inventory/adjustments", body, "X-Request-ID", "not-a-uuid")
	if code != 400 || !strings.Contains(string(out), "X-Request-ID") {
		t.Fatalf("malformed X-Request-ID: %d %s", code, out)
	}
}

type pollPage struct {
	Events    []json.RawMessage `json:"events"`
	NextAfter int64             `json:"next_after"`
	HasMore   bool              `json:"has_more"`
}

func TestPolling(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	wtok := e.token(store.ScopeWarehouseWrite)
	rtok := e.token(store.ScopeEventsRead)
	e.seedWarehouse(wtok)
	e.mustAPI(wtok, "POST", "/api/v1/warehouses", map[string]any{"code": "B", "name": "Second"}, 201)
	for i := range 5 {
		e.mustAPI(wtok, "POST", "/api/v1/inventory/adjustments", map[string]any{"warehouse_id": 1 + i%2, "sku": "WIDGET-1", "delta": 1, "reason": "r"}, 200)
	}
	total := e.eventCount() // 2 seed adjustments + 5

	// Paging walks every event exactly once, in order.
	var ids []int64
	after := int64(0)
	for {
		code, _, out := e.api(rtok, "GET", fmt.Sprintf("/api/v1/events?after=%d&limit=3", after), nil)
		if code != 200 {
			t.Fatalf("poll: %d %s", code, out)
		}
		var p pollPage
		if err := json.Unmarshal(out, &p); err != nil {
			t.Fatal(err)
		}
		for _, raw := range p.Events {
			canon, err := canonjson.Canonicalize(raw)
			if err != nil || !bytes.Equal(canon, raw) {
				t.Fatalf("element is not canonical bytes: %s", raw)
			}
			var env struct {
				EventID int64 `json:"event_id"`
			}
			json.Unmarshal(raw, &env)
			ids = append(ids, env.EventID)
		}
		after = p.NextAfter
		if !p.HasMore {
			break
		}
	}
	if len(ids) != total {
		t.Fatalf("paged %d events, want %d", len(ids), total)
	}
	for i := range ids {
		if ids[i] != int64(i+1) {
			t.Fatalf("ids %v not in order", ids)
		}
	}

	// Filters.
	var p pollPage
	_, _, out := e.api(rtok, "GET", "/api/v1/events?warehouse_id=2&event_type=adjustment.applied&limit=1000", nil)
	json.Unmarshal(out, &p)
	if len(p.Events) != 2 || p.HasMore {
		t.Fatalf("warehouse 2 filter: %s", out)
	}
	_, _, out = e.api(rtok, "GET", "/api/v1/events?after=999", nil)
	json.Unmarshal(out, &p)
	if len(p.Events) != 0 || p.NextAfter != 999 {
		t.Fatalf("past the end: %s", out)
	}

	for _, q := range []string{"after=-1", "after=x", "limit=0", "limit=1001", "warehouse_id=0", "event_type=DROP%20TABLE", "cursor=3"} {
		code, _, out := e.api(rtok, "GET", "/api/v1/events?"+q, nil)
		name := strings.SplitN(q, "=", 2)[0]
		if code != 400 || !strings.Contains(string(out), `"`+name+`"`) {
			t.Errorf("%s: %d %s (want 400 naming %s)", q, code, out, name)
		}
	}
	if code, _, _ := e.api(wtok, "GET", "/api/v1/events", nil); code != 403 {
		t.Fatalf("warehouse:write token polling: %d", code)
	}
	if code, _, _ := e.api("", "GET", "/api/v1/events", nil); code != 401 {
		t.Fatalf("anonymous polling: %d", code)
	}
}

func TestEventCatalogAndSchemas(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	tok := "" // the catalog and schemas are public documentation
	_, _, out := e.api(tok, "GET", "/api/v1/events/types", nil)
	var cat struct {
		Types []catalogEntry `json:"types"`
	}
	json.Unmarshal(out, &cat)
	want := map[string]string{"ship.confirmed": "sales_order", "pick.confirmed": "sales_order", "pack.confirmed": "sales_order",
		"receipt.completed": "purchase_order", "adjustment.applied": "inventory", "cycle_count.adjusted": "cycle_count", "transfer.completed": "transfer",
		"sales_order.created": "sales_order", "sales_order.updated": "sales_order",
		"purchase_order.created": "purchase_order", "purchase_order.updated": "purchase_order"}
	if len(cat.Types) != len(want) {
		t.Fatalf("catalog: %s", out)
	}
	for _, c := range cat.Types {
		if want[c.Type] != c.AggregateType || len(c.Versions) != 1 || c.Versions[0] != 1 {
			t.Errorf("catalog entry %+v", c)
		}
		code, hdr, schema := e.api(tok, "GET", "/api/v1/events/schema/"+c.Type+"/1", nil)
		var sv map[string]any
		if code != 200 || json.Unmarshal(schema, &sv) != nil || sv["$schema"] != "https://json-schema.org/draft/2020-12/schema" || !strings.Contains(hdr.Get("Content-Type"), "json") {
			t.Errorf("schema %s: %d %.200s", c.Type, code, schema)
		}
	}
	for _, p := range []string{"ship.confirmed/2", "ship.confirmed/01", "nope.nope/1", "..%2F..%2Fcatalog/1", "ship.confirmed/x"} {
		code, _, out := e.api(tok, "GET", "/api/v1/events/schema/"+p, nil)
		if code != 404 || !strings.Contains(string(out), "not_found") {
			t.Errorf("%s: %d %s", p, code, out)
		}
	}
}

// BenchmarkShipHTTP measures the ship operation end to end through the real
// router, middleware, token auth and one write transaction per request.
func BenchmarkShipHTTP(b *testing.B) {
	e := newTestEnv(b)
	tok := e.token(store.ScopeWarehouseWrite)
	e.seedWarehouse(tok)
	e.mustAPI(tok, "POST", "/api/v1/inventory/adjustments", map[string]any{"warehouse_id": 1, "sku": "WIDGET-1", "delta": 1_000_000, "reason": "bench"}, 200)
	ids := make([]string, b.N)
	for i := range b.N {
		so := e.mustAPI(tok, "POST", "/api/v1/sales-orders", map[string]any{"order_number": fmt.Sprintf("B-%d", i), "warehouse_id": 1,
			"lines": []map[string]any{{"sku": "WIDGET-1", "qty": 1}}, "ship_to": map[string]any{"name": "x"}}, 201)
		ids[i] = so["id"].(string)
		e.mustAPI(tok, "POST", "/api/v1/sales-orders/"+ids[i]+"/pick", nil, 200)
		e.mustAPI(tok, "POST", "/api/v1/sales-orders/"+ids[i]+"/pack", nil, 200)
	}
	body := []byte(`{"carrier":"UPS","tracking":"1Z"}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ResetTimer()
	var next atomic.Int64
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/sales-orders/"+ids[i]+"/ship", bytes.NewReader(body))
			req.Header.Set("X-WMS-Token", tok)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("ship: %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
