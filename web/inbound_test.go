package web

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"sentryhub/store"
)

// shopOrders is a mapping for orders in a web shop's own shape (the shape
// of testdata/inbound_orders.json): the source's fields are named and
// nested its way, the order number needs a prefix and the location a
// lookup.
const shopOrders = `version: 1
resource: sales_orders
source_id: $.id
idempotency_key: $.event_id
fields:
  order_number: {concat: [{const: "WEB-"}, {path: $.number}]}
  warehouse_id: {path: $.location, transforms: [upper], lookup: {MAIN: 1}}
  ship_to:
    fields:
      name: {concat: [{path: $.customer.first}, {path: $.customer.last}], separator: " "}
      city: {path: $.customer.city, required: true}
lines:
  path: $.items
  fields:
    sku: {path: $.code, transforms: [trim, upper]}
    qty: {path: $.count, number: {decimal_separator: ","}}
`

// shopOrder is one order in the shop's shape.
func shopOrder(id, number, sku, qty string) map[string]any {
	return map[string]any{"id": id, "number": number, "location": "main",
		"customer": map[string]any{"first": "Ada", "last": "Lovelace", "city": "London"},
		"items":    []any{map[string]any{"code": " " + strings.ToLower(sku) + " ", "count": qty}}}
}

// sourceToken creates source (if new) and a push token bound to it.
func (e *testEnv) sourceToken(source string) string {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.db.GetInboundSource(ctx, source); err != nil {
		if _, err := e.db.CreateInboundSource(ctx, "test", source); err != nil {
			e.t.Fatal(err)
		}
	}
	tok, _, err := e.db.CreateSourceToken(ctx, "test", source, "push")
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// inboundEnv is a server with warehouse 1, the items WIDGET-1 and
// GADGET-9, source "shop" with the shopOrders mapping, an admin token and
// a push token of the shop.
type inboundEnv struct {
	*testEnv
	admin, push string
}

func newInboundEnv(t testing.TB) *inboundEnv {
	t.Helper()
	e := &inboundEnv{testEnv: newTestEnv(t)}
	e.admin = e.token(store.ScopeAdmin)
	ctx := context.Background()
	if _, err := e.db.CreateWarehouse(ctx, store.OpMeta{}, store.WarehouseInput{Code: "MAIN", Name: "Main"}); err != nil {
		t.Fatal(err)
	}
	for _, sku := range []string{"WIDGET-1", "GADGET-9"} {
		if _, err := e.db.UpsertItem(ctx, store.OpMeta{}, store.ItemInput{SKU: sku, Name: sku}); err != nil {
			t.Fatal(err)
		}
	}
	e.push = e.sourceToken("shop")
	e.mustAPI(e.admin, "PUT", "/api/admin/inbound/mappings/shop/sales_orders", map[string]string{"mapping": shopOrders}, 201)
	return e
}

func (e *inboundEnv) pushResult(code int, out []byte, want int) store.PushResult {
	e.t.Helper()
	if code != want {
		e.t.Fatalf("push: %d %s, want %d", code, out, want)
	}
	var res store.PushResult
	if err := json.Unmarshal(out, &res); err != nil {
		e.t.Fatal(err)
	}
	return res
}

func docOutcomes(res store.PushResult) string {
	var b []string
	for _, r := range res.Results {
		b = append(b, string(r.Outcome))
	}
	return strings.Join(b, ",")
}

// TestInboundPushBatch pushes a batch in which some documents do not map
// and one is refused by the store: the others are written with their
// events, each document has its result, and pushing the batch again
// changes nothing and emits nothing.
func TestInboundPushBatch(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t)
	batch := []any{
		shopOrder("1", "1001", "widget-1", "2"),
		shopOrder("2", "1002", "gadget-9", "1,5"), // not a whole number
		shopOrder("3", "1003", "nope", "1"),       // unknown sku: refused by the store
		map[string]any{"id": "4", "number": "1004", "location": "main", "items": []any{}, "customer": map[string]any{}},
		shopOrder("5", "1005", "gadget-9", "3"),
	}
	before, _ := e.db.LatestEventID(context.Background())
	code, _, out := e.api(e.push, "POST", "/api/v1/inbound/sales_orders", batch)
	res := e.pushResult(code, out, 200)
	if got := docOutcomes(res); got != "created,refused,refused,refused,created" {
		t.Fatalf("outcomes %s: %s", got, out)
	}
	if res.Results[1].Fields["lines[0].qty"] == "" || res.Results[2].Fields["lines[0].sku"] == "" ||
		res.Results[3].Fields["ship_to.city"] == "" || res.MappingVersion != 1 || res.Created != 2 || res.Refused != 3 {
		t.Errorf("result does not name the problems: %s", out)
	}
	after, _ := e.db.LatestEventID(context.Background())
	if after != before+2 {
		t.Errorf("%d events, want 2", after-before)
	}
	so, err := e.db.GetSalesOrder(context.Background(), res.Results[0].ID)
	if err != nil || so.OrderNumber != "WEB-1001" || so.Source.Name != "inbound:shop" || so.Source.ID != "1" ||
		so.Lines[0].SKU != "WIDGET-1" || so.Lines[0].Qty != 2 || string(so.ShipTo) != `{"city":"London","name":"Ada Lovelace"}` {
		t.Fatalf("order %+v %v", so, err)
	}

	// The same batch again: unchanged, no event, and the log has both pushes.
	code, _, out = e.api(e.push, "POST", "/api/v1/inbound/sales_orders", batch)
	res = e.pushResult(code, out, 200)
	if got := docOutcomes(res); got != "unchanged,refused,refused,refused,unchanged" {
		t.Fatalf("repeat outcomes %s", got)
	}
	if again, _ := e.db.LatestEventID(context.Background()); again != after {
		t.Errorf("an unchanged push appended %d events", again-after)
	}
	pushes, err := e.db.ListPushes(context.Background(), "shop", 10)
	if err != nil || len(pushes) != 2 || pushes[0].Unchanged != 2 || pushes[1].Created != 2 || len(pushes[1].Failures) != 3 {
		t.Fatalf("push log %+v %v", pushes, err)
	}

	// One changed document: updated, with a sales_order.updated event.
	code, _, out = e.api(e.push, "POST", "/api/v1/inbound/sales_orders", shopOrder("1", "1001", "widget-1", "4"))
	res = e.pushResult(code, out, 200)
	if res.Results[0].Outcome != store.OutcomeUpdated || len(res.Results[0].EventIDs) != 1 {
		t.Fatalf("update %s", out)
	}
	ev, _ := e.db.LatestEvent(context.Background())
	if ev.EventType != store.EventSalesOrderUpdated {
		t.Errorf("event %s", ev.EventType)
	}
	// A single new document is 201, a single refused one 422 with its result.
	code, _, out = e.api(e.push, "POST", "/api/v1/inbound/sales_orders", shopOrder("9", "1009", "widget-1", "1"))
	e.pushResult(code, out, 201)
	code, _, out = e.api(e.push, "POST", "/api/v1/inbound/sales_orders", shopOrder("8", "1008", "widget-1", "x"))
	if res := e.pushResult(code, out, 422); res.Results[0].Fields["lines[0].qty"] == "" {
		t.Errorf("refused document: %s", out)
	}
}

// TestInboundPushIdempotent repeats pushes with an Idempotency-Key, an
// X-Request-ID and a mapping-declared key: each repeat returns the first
// answer and writes nothing, even after the record changed.
func TestInboundPushIdempotent(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t)
	body := []any{shopOrder("1", "1001", "widget-1", "2")}
	for _, hdr := range [][]string{{"Idempotency-Key", "push-1"}, {"X-Request-ID", uuid.NewString()}} {
		t.Run(hdr[0], func(t *testing.T) {
			body[0].(map[string]any)["id"] = hdr[0] // a new order per case
			body[0].(map[string]any)["number"] = hdr[0]
			code, h, first := e.api(e.push, "POST", "/api/v1/inbound/sales_orders", body, hdr...)
			if code != 200 || h.Get("Idempotent-Replayed") != "" || !strings.Contains(string(first), `"created":1`) {
				t.Fatalf("first: %d %s", code, first)
			}
			events, _ := e.db.LatestEventID(context.Background())
			code, h, again := e.api(e.push, "POST", "/api/v1/inbound/sales_orders", body, hdr...)
			if code != 200 || h.Get("Idempotent-Replayed") != "true" ||
				strings.Replace(string(again), `"replayed":true`, `"replayed":false`, 1) != string(first) {
				t.Fatalf("replay: %d %s\nfirst %s", code, again, first)
			}
			if now, _ := e.db.LatestEventID(context.Background()); now != events {
				t.Error("a replay appended events")
			}
			if ev, _ := e.db.LatestEvent(context.Background()); hdr[0] == "X-Request-ID" && ev.SourceTxnID != hdr[1] {
				t.Errorf("event source_txn_id %s, want the X-Request-ID %s", ev.SourceTxnID, hdr[1])
			}
			// The same key with another body is refused.
			other := []any{shopOrder("other", "2001", "widget-1", "1")}
			if code, _, out := e.api(e.push, "POST", "/api/v1/inbound/sales_orders", other, hdr...); code != 422 ||
				!strings.Contains(string(out), "idempotency_key_reused") {
				t.Fatalf("reused key: %d %s", code, out)
			}
		})
	}

	// The mapping declares event_id as the documents' idempotency key.
	doc := shopOrder("E1", "3001", "widget-1", "2")
	doc["event_id"] = "evt-77"
	code, _, out := e.api(e.push, "POST", "/api/v1/inbound/sales_orders", doc)
	first := e.pushResult(code, out, 201)
	code, _, out = e.api(e.push, "POST", "/api/v1/inbound/sales_orders", doc) // the source delivers the event again
	res := e.pushResult(code, out, 201)
	if !res.Results[0].Replayed || res.Results[0].ID != first.Results[0].ID || len(res.Results[0].EventIDs) != 1 ||
		res.Results[0].EventIDs[0] != first.Results[0].EventIDs[0] {
		t.Fatalf("declared key: %s\nfirst %+v", out, first)
	}
	// The same event id on a different document is refused, not applied.
	doc["items"] = []any{map[string]any{"code": "widget-1", "count": "5"}}
	code, _, out = e.api(e.push, "POST", "/api/v1/inbound/sales_orders", doc)
	if res := e.pushResult(code, out, 422); res.Results[0].Fields["idempotency_key"] == "" {
		t.Fatalf("reused declared key: %s", out)
	}
	so, _ := e.db.GetSalesOrder(context.Background(), first.Results[0].ID)
	if so.Lines[0].Qty != 2 {
		t.Errorf("a refused document was applied: %+v", so.Lines)
	}
}

// TestInboundPushRefusals covers auth, scope and request problems: each is
// a 4xx naming the problem, with nothing written.
func TestInboundPushRefusals(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t)
	other := e.sourceToken("erp") // a source without a sales order mapping
	big := make([]any, maxPushDocs+1)
	for i := range big {
		big[i] = map[string]any{}
	}
	tests := []struct {
		name, token, path string
		body              any
		hdr               []string
		code              int
		want              string
	}{
		{"no token", "", "/api/v1/inbound/sales_orders", "{}", nil, 401, "unauthorized"},
		{"wrong scope", e.token(store.ScopeEventsRead), "/api/v1/inbound/sales_orders", "{}", nil, 403, "inbound:write"},
		{"not bound to a source", e.token(store.ScopeInboundWrite), "/api/v1/inbound/sales_orders", "{}", nil, 403, "bound to an inbound source"},
		{"admin token", e.admin, "/api/v1/inbound/sales_orders", "{}", nil, 403, "bound to an inbound source"},
		{"unknown resource", e.push, "/api/v1/inbound/customers", "{}", nil, 404, "unknown resource"},
		{"no mapping", other, "/api/v1/inbound/sales_orders", "{}", nil, 422, "has no mapping for sales_orders"},
		{"malformed JSON", e.push, "/api/v1/inbound/sales_orders", `{"id": `, nil, 400, "before its JSON value is complete"},
		{"duplicate key", e.push, "/api/v1/inbound/sales_orders", `{"id": 1, "id": 2}`, nil, 400, "duplicate key"},
		{"bad element", e.push, "/api/v1/inbound/sales_orders", `[{}, 3]`, nil, 400, "document 1 of the batch is not a JSON object"},
		{"trailing data", e.push, "/api/v1/inbound/sales_orders", `{} {}`, nil, 400, "data after the JSON value"},
		{"empty batch", e.push, "/api/v1/inbound/sales_orders", `[]`, nil, 400, "batch is empty"},
		{"scalar", e.push, "/api/v1/inbound/sales_orders", `"x"`, nil, 400, "one JSON document"},
		{"too many documents", e.push, "/api/v1/inbound/sales_orders", big, nil, 400, "more than 1000 documents"},
		{"too large", e.push, "/api/v1/inbound/sales_orders", `[` + strings.Repeat(`{"pad":"`+strings.Repeat("x", 1000)+`"},`, 6000) + `{}]`, nil, 413, "size limit"},
		{"bad idempotency key", e.push, "/api/v1/inbound/sales_orders", "{}", []string{"Idempotency-Key", "a\tb"}, 400, "printable ASCII"},
		{"not JSON", e.push, "/api/v1/inbound/sales_orders", "{}", []string{"Content-Type", "text/plain"}, 415, "Content-Type"},
	}
	events, _ := e.db.LatestEventID(context.Background())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, out := e.api(tt.token, "POST", tt.path, tt.body, tt.hdr...)
			if code != tt.code || !strings.Contains(string(out), tt.want) {
				t.Fatalf("%d %s, want %d with %q", code, out, tt.code, tt.want)
			}
		})
	}
	if now, _ := e.db.LatestEventID(context.Background()); now != events {
		t.Error("a refused push appended events")
	}
	if pushes, _ := e.db.ListPushes(context.Background(), "", 10); len(pushes) != 0 {
		t.Errorf("refused requests were logged as pushes: %+v", pushes)
	}
}

// TestInboundMappingAdmin saves, versions, reads and dry-runs mappings
// through the admin API, and checks the refusals.
func TestInboundMappingAdmin(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t)
	url := "/api/admin/inbound/mappings/shop/sales_orders"

	// A mapping with mistakes: every one with its line and column.
	bad := strings.Replace(shopOrders, "transforms: [upper]", "transforms: [uper]", 1)
	bad = strings.Replace(bad, "order_number:", "order_numbr:", 1)
	code, _, out := e.api(e.admin, "PUT", url, map[string]string{"mapping": bad})
	if code != 422 || !strings.Contains(string(out), `"line 7, column`) || !strings.Contains(string(out), `unknown transform \"uper\"`) ||
		!strings.Contains(string(out), "order_numbr") {
		t.Fatalf("bad mapping: %d %s", code, out)
	}
	// YAML body; a new version each save.
	code, _, out = e.api(e.admin, "PUT", url, strings.Replace(shopOrders, "WEB-", "SHOP-", 1), "Content-Type", "application/yaml")
	if code != 200 || !strings.Contains(string(out), `"version":2`) {
		t.Fatalf("YAML save: %d %s", code, out)
	}
	code, _, out = e.api(e.admin, "GET", url+"/versions", nil)
	var vs struct{ Versions []store.MappingVersion }
	json.Unmarshal(out, &vs)
	if code != 200 || len(vs.Versions) != 2 || !strings.Contains(vs.Versions[0].YAML, "SHOP-") || !strings.Contains(vs.Versions[1].YAML, "WEB-") {
		t.Fatalf("versions: %d %s", code, out)
	}
	if v1 := e.mustAPI(e.admin, "GET", url+"?version=1", nil, 200); !strings.Contains(v1["yaml"].(string), "WEB-") {
		t.Errorf("version 1: %v", v1)
	}
	// A push now uses version 2 and records it.
	code, _, out = e.api(e.push, "POST", "/api/v1/inbound/sales_orders", shopOrder("1", "1", "widget-1", "1"))
	if res := e.pushResult(code, out, 201); res.MappingVersion != 2 {
		t.Errorf("push used version %d", res.MappingVersion)
	}

	// Dry runs: the saved mapping, a sent one, a document that does not
	// map; nothing is written.
	dump := countAll(t, e.db)
	dry := e.mustAPI(e.admin, "POST", url+"/test", map[string]any{"document": shopOrder("7", "77", "gadget-9", "3")}, 200)
	if c := dry["canonical"].(map[string]any); c["order_number"] != "SHOP-77" || dry["version"].(float64) != 2 {
		t.Errorf("dry run: %v", dry)
	}
	dry = e.mustAPI(e.admin, "POST", url+"/test", map[string]any{"mapping": shopOrders, "document": shopOrder("7", "77", "gadget-9", "x")}, 200)
	if errs := fmt.Sprint(dry["errors"]); !strings.Contains(errs, "lines[0].qty") {
		t.Errorf("dry run errors: %v", dry)
	}
	if got := countAll(t, e.db); got != dump {
		t.Errorf("a dry run wrote: %v, was %v", got, dump)
	}

	for _, tt := range []struct {
		name, method, path string
		body               any
		code               int
		want               string
	}{
		{"unknown source", "PUT", "/api/admin/inbound/mappings/nope/sales_orders", map[string]string{"mapping": shopOrders}, 404, "unknown source"},
		{"unknown resource", "PUT", "/api/admin/inbound/mappings/shop/customers", map[string]string{"mapping": shopOrders}, 404, "unknown resource"},
		{"resource mismatch", "PUT", "/api/admin/inbound/mappings/shop/items", map[string]string{"mapping": shopOrders}, 422, "is for sales_orders"},
		{"malformed JSON", "PUT", url, `{"mapping": `, 400, "request body"},
		{"unknown field", "PUT", url, `{"mapping": "x", "yaml": "y"}`, 400, "yaml"},
		{"oversized", "PUT", url, map[string]string{"mapping": strings.Repeat("#", 2<<20)}, 413, "size limit"},
		{"dry run without document", "POST", url + "/test", `{}`, 400, "document is required"},
		{"no versions", "GET", "/api/admin/inbound/mappings/shop/items/versions", nil, 404, "no mapping"},
		{"taken source", "POST", "/api/admin/inbound/sources", `{"name":"shop"}`, 409, "exists"},
		{"bad source name", "POST", "/api/admin/inbound/sources", `{"name":"Shop Two"}`, 422, "lowercase"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, out := e.api(e.admin, tt.method, tt.path, tt.body)
			if code != tt.code || !strings.Contains(string(out), tt.want) {
				t.Fatalf("%d %s, want %d with %q", code, out, tt.code, tt.want)
			}
		})
	}
	// Saves are audited.
	audit, _ := e.db.ListAudit(context.Background(), 0, 50)
	saves := 0
	for _, a := range audit {
		if a.Action == "inbound.mapping.save" && a.Target == "inbound_mapping:shop/sales_orders" {
			saves++
		}
	}
	if saves != 2 {
		t.Errorf("%d audited saves, want 2", saves)
	}
	// A viewer-less path: a push token cannot use the admin API.
	if code, _, _ := e.api(e.push, "GET", "/api/admin/inbound/mappings", nil); code != 403 {
		t.Errorf("push token on the admin API: %d", code)
	}
}

// countAll counts the rows of the tables a push writes.
func countAll(t *testing.T, db *store.DB) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"sales_orders", "integration_events", "inbound_pushes", "idempotency_keys", "inbound_mappings"} {
		var n int
		if err := db.Reader().QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s=%d ", table, n)
	}
	return b.String()
}

// inboundOpenAPIFlow exercises every inbound route for
// TestOpenAPIResponses, checking each answer against the document; the
// pushes make the record events of the catalog.
func inboundOpenAPIFlow(t *testing.T, e *connectorEnv, s *openAPISpec, wh string) {
	a := oaClient{t, e, s, e.admin}
	a.call("POST", "/api/admin/inbound/sources", "/api/admin/inbound/sources", `{"name":"erp"}`, 201)
	a.call("POST", "/api/admin/inbound/sources", "/api/admin/inbound/sources", `{"name":"erp"}`, 409)
	_, b := a.call("POST", "/api/admin/inbound/sources/{source}/tokens", "/api/admin/inbound/sources/erp/tokens", `{"name":"erp push"}`, 201)
	p := oaClient{t, e, s, a.id(b, "token")}
	so := "version: 1\nresource: sales_orders\nsource_id: $.ref\nfields:\n  order_number: $.ref\n  warehouse_id: {const: " + wh +
		"}\n  ship_to: $.to\nlines:\n  path: $.rows\n  fields:\n    sku: $.sku\n    qty: $.n\n"
	po := strings.NewReplacer("sales_orders", "purchase_orders", "order_number", "po_number", "  ship_to: $.to\n", "").Replace(so)
	enc := func(v any) string { j, _ := json.Marshal(v); return string(j) }
	for res, m := range map[string]string{"sales_orders": so, "purchase_orders": po} {
		path := "/api/admin/inbound/mappings/erp/" + res
		a.call("PUT", "/api/admin/inbound/mappings/{source}/{resource}", path, enc(map[string]string{"mapping": m}), 201)
		a.call("PUT", "/api/admin/inbound/mappings/{source}/{resource}", path, enc(map[string]string{"mapping": "version: 1"}), 422)
		a.call("GET", "/api/admin/inbound/mappings/{source}/{resource}", path, "", 200)
		a.call("GET", "/api/admin/inbound/mappings/{source}/{resource}/versions", path+"/versions", "", 200)
		a.call("POST", "/api/admin/inbound/mappings/{source}/{resource}/test", path+"/test", `{"document":{"ref":"X"}}`, 200)
		doc := func(qty int) string {
			return enc(map[string]any{"ref": "E-" + res, "to": map[string]any{"city": "Oslo"}, "rows": []any{map[string]any{"sku": "WIDGET-1", "n": qty}}})
		}
		p.call("POST", "/api/v1/inbound/{resource}", "/api/v1/inbound/"+res, doc(1), 201)
		p.call("POST", "/api/v1/inbound/{resource}", "/api/v1/inbound/"+res, "["+doc(2)+",{}]", 200)
		p.call("POST", "/api/v1/inbound/{resource}", "/api/v1/inbound/"+res, `{"ref":""}`, 422)
	}
	p.call("POST", "/api/v1/inbound/{resource}", "/api/v1/inbound/items", `{}`, 422)
	p.call("POST", "/api/v1/inbound/{resource}", "/api/v1/inbound/items", `[`, 400)
	a.call("GET", "/api/admin/inbound/mappings/{source}/{resource}", "/api/admin/inbound/mappings/nope/items", "", 404)
	a.call("GET", "/api/admin/inbound/mappings", "/api/admin/inbound/mappings", "", 200)
	a.call("GET", "/api/admin/inbound/sources", "/api/admin/inbound/sources", "", 200)
	a.call("GET", "/api/admin/inbound/sources/{source}/pushes", "/api/admin/inbound/sources/erp/pushes", "", 200)
}
