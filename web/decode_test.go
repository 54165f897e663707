package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"sentryhub/store"
)

// TestStrictJSONBodies sends the four shapes encoding/json v1 accepted
// (trailing data, a duplicate key, a key matching a field only when case is
// ignored, invalid UTF-8) to several endpoints: each is a 400 whose message
// names the problem, and nothing is written.
func TestStrictJSONBodies(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	admin := e.token(store.ScopeAdmin)
	e.seedWarehouse(admin)
	endpoints := []struct {
		name, method, path, body string // body: a valid object starting with {"field"
		field                    string // a string field of the endpoint
	}{
		{"warehouse", "POST", "/api/v1/warehouses", `{"name":"Second","code":"W2"}`, "name"},
		{"item", "PUT", "/api/v1/items/NEW-1", `{"name":"New","barcode":"1"}`, "name"},
		{"adjustment", "POST", "/api/v1/inventory/adjustments", `{"reason":"found","warehouse_id":1,"sku":"WIDGET-1","delta":1}`, "reason"},
		{"token", "POST", "/api/admin/tokens", `{"name":"n","scopes":["events:read"]}`, "name"},
		{"sales order", "POST", "/api/v1/sales-orders", `{"order_number":"SO-1","warehouse_id":1,"ship_to":{"name":"A"},"lines":[{"sku":"WIDGET-1","qty":1}]}`, "order_number"},
	}
	shapes := []struct {
		name string
		mod  func(body, field string) string
		want string // in the message
	}{
		{"trailing object", func(b, _ string) string { return b + `{}` }, "data after the JSON object"},
		{"trailing garbage", func(b, _ string) string { return b + " x" }, "data after the JSON object"},
		{"duplicate key", func(b, f string) string { return strings.Replace(b, `{"`, `{"`+f+`":"dup","`, 1) }, "duplicate key"},
		{"case-folded key", func(b, f string) string { return strings.Replace(b, `"`+f+`"`, `"`+strings.ToUpper(f)+`"`, 1) }, "unknown field"},
		{"invalid UTF-8", func(b, f string) string { return strings.Replace(b, `"`+f+`":"`, `"`+f+"\":\"\xff", 1) }, "not valid UTF-8"},
		{"lone surrogate", func(b, f string) string { return strings.Replace(b, `"`+f+`":"`, `"`+f+`":"\ud800`, 1) }, "surrogate"},
	}
	for _, ep := range endpoints {
		for _, sh := range shapes {
			t.Run(ep.name+"/"+sh.name, func(t *testing.T) {
				before := e.eventCount()
				toks, _ := e.db.ListTokens(t.Context())
				body := sh.mod(ep.body, ep.field)
				if body == ep.body {
					t.Fatal("shape did not change the body")
				}
				code, _, out := e.api(admin, ep.method, ep.path, body)
				if code != http.StatusBadRequest {
					t.Fatalf("%s: %d %s, want 400", body, code, out)
				}
				var eb errorBody
				if err := json.Unmarshal(out, &eb); err != nil || eb.Error.Code != "bad_request" || !strings.Contains(eb.Error.Message, sh.want) {
					t.Fatalf("message does not name the problem (%q): %s", sh.want, out)
				}
				after, _ := e.db.ListTokens(t.Context())
				if e.eventCount() != before || len(after) != len(toks) {
					t.Fatal("a refused body was written")
				}
			})
		}
		// The valid body still works, so the refusals above are the shapes'.
		if code, _, out := e.api(admin, ep.method, ep.path, ep.body); code >= 300 {
			t.Fatalf("%s: valid body refused: %d %s", ep.name, code, out)
		}
	}
}

// Duplicates and bad text nested inside a value (ship_to is kept as raw
// JSON) are refused too, naming where.
func TestStrictJSONNested(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, msg, field string
	}{
		{"duplicate in ship_to", `{"ship_to":{"a":1,"a":2}}`, `duplicate key "a" in ship_to`, "ship_to.a"},
		{"bad UTF-8 in lines", "{\"lines\":[{\"sku\":\"\xc3\"}]}", "not valid UTF-8 in lines[0].sku", "lines[0].sku"},
		{"wrong type", `{"warehouse_id":"one"}`, "field warehouse_id must be a whole number in range, got JSON string", "warehouse_id"},
		{"fraction", `{"lines":[{"qty":1.5}]}`, "field lines[0].qty must be a whole number in range, got JSON number 1.5", "lines[0].qty"},
		{"not an object", `[1]`, "must be one JSON object", ""},
		{"null", ` null`, "must be one JSON object", ""},
		{"empty", "  ", "request body is empty", ""},
		{"unknown nested", `{"lines":[{"sku":"A","Qty":1}]}`, `unknown field "Qty" in lines[0]`, "lines[0].Qty"},
		{"unknown top-level", `{"Order_Number":"A"}`, `unknown field "Order_Number": field names are exact`, "Order_Number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in store.SalesOrderInput
			err := decodeJSONBytes([]byte(tc.body), &in)
			ae := toAPIError(err)
			if err == nil || ae.Status != 400 || !strings.Contains(ae.Message, tc.msg) {
				t.Fatalf("got %v, want 400 containing %q", err, tc.msg)
			}
			if tc.field != "" && ae.Fields[tc.field] == "" {
				t.Fatalf("fields %v lack %s", ae.Fields, tc.field)
			}
		})
	}
	// ParseSubscriptionPatch (the PATCH body) goes through the same decoder.
	for _, body := range []string{`{"name":"a"}{}`, `{"name":"a","name":"b"}`, `{"Name":"a"}`, "{\"name\":\"\xff\"}"} {
		if _, err := ParseSubscriptionPatch([]byte(body)); toAPIError(err).Status != 400 {
			t.Errorf("patch %q: %v, want 400", body, err)
		}
	}
}

// TestJSONContentType: a body on an API endpoint must be declared JSON (415
// otherwise); a bodiless POST needs no Content-Type.
func TestJSONContentType(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	tok := e.token(store.ScopeWarehouseWrite)
	e.seedWarehouse(tok)
	so := e.mustAPI(tok, "POST", "/api/v1/sales-orders", map[string]any{"order_number": "SO-1", "warehouse_id": 1,
		"ship_to": map[string]any{}, "lines": []map[string]any{{"sku": "WIDGET-1", "qty": 1}}}, 201)
	pick := "/api/v1/sales-orders/" + so["id"].(string) + "/pick"
	body := `{"warehouse_id":1,"sku":"WIDGET-1","delta":1,"reason":"found"}`
	for _, tc := range []struct {
		name, method, path, ct, body string
		want                         int
	}{
		{"json", "POST", "/api/v1/inventory/adjustments", "application/json", body, 200},
		{"json with charset", "POST", "/api/v1/inventory/adjustments", "application/json; charset=UTF-8", body, 200},
		{"text/plain", "POST", "/api/v1/inventory/adjustments", "text/plain", body, 415},
		{"form", "POST", "/api/v1/inventory/adjustments", "application/x-www-form-urlencoded", body, 415},
		{"no content type", "POST", "/api/v1/inventory/adjustments", "", body, 415},
		{"other charset", "POST", "/api/v1/inventory/adjustments", "application/json; charset=latin1", body, 415},
		{"malformed", "POST", "/api/v1/inventory/adjustments", "application/json;;", body, 415},
		{"json-ish", "POST", "/api/v1/inventory/adjustments", "application/jsonx", body, 415},
		{"body on a bodiless action", "POST", pick, "text/plain", `{}`, 415},
		{"bodiless action, no type", "POST", pick, "", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.eventCount()
			hdr := map[string]string{"X-WMS-Token": tok}
			if tc.ct != "" {
				hdr["Content-Type"] = tc.ct
			}
			var rd *strings.Reader
			if tc.body != "" {
				rd = strings.NewReader(tc.body)
			}
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if rd != nil {
				req = httptest.NewRequest(tc.method, tc.path, rd)
			}
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			e.s.Handler().ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.want)
			}
			if tc.want == 415 {
				var eb errorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error.Code != "unsupported_media_type" ||
					!strings.Contains(eb.Error.Message, "application/json") {
					t.Fatalf("415 without a clear message: %s", rec.Body)
				}
				if e.eventCount() != before {
					t.Fatal("a refused request was written")
				}
			}
		})
	}
}
