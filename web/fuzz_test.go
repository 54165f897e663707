package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"sentryhub/store"
)

// FuzzWarehouseAPI sends arbitrary bodies, paths and X-Request-IDs to the
// warehouse write endpoints through the real router. Whatever arrives, the
// answer is a 2xx or a 4xx in the JSON error shape (never a 5xx or a
// panic), and a refused write appends no event.
func FuzzWarehouseAPI(f *testing.F) {
	for _, seed := range []struct {
		route, id, body, reqID string
	}{
		{"sales-orders", "", `{"order_number":"A-1","warehouse_id":1,"lines":[{"sku":"WIDGET-1","qty":2}],"ship_to":{"name":"x"}}`, ""},
		{"sales-orders", "", `{"order_number":"A-1","warehouse_id":1,"lines":[{"sku":"WIDGET-1","qty":1e400}]}`, "not-a-uuid"},
		{"adjustments", "", `{"warehouse_id":1,"sku":"WIDGET-1","delta":-11,"reason":"x"}`, "0b9c2f1e-8a41-4f2b-9d7e-1c6c0f3a2e55"},
		{"adjustments", "", `{"warehouse_id":1,"sku":"WIDGET-1","delta":1,"reason":"x","extra":true}`, ""},
		{"cycle-counts", "", `{"warehouse_id":1,"sku":"GADGET-9","counted_qty":-1}`, ""},
		{"ship", "00000000-0000-0000-0000-000000000000", `{"carrier":"UPS","tracking":"1Z"}`, ""},
		{"receive", "zz", `{"lines":[{"sku":"WIDGET-1","qty":1}]}`, ""},
		{"transfers", "", `{"from_warehouse_id":1,"to_warehouse_id":1,"lines":[]}`, ""},
		{"items", "WIDGET-1", `{"name":"\u0000","barcode":"` + strings.Repeat("9", 300) + `"}`, ""},
		{"warehouses", "", `{"code":"","name":null}`, ""},
		{"sales-orders", "", `[`, ""},
	} {
		f.Add(seed.route, seed.id, seed.body, seed.reqID)
	}
	e := newTestEnv(f)
	tok := e.token(store.ScopeWarehouseWrite)
	e.seedWarehouse(tok)
	h := e.s.Handler()
	routes := map[string]func(id string) (string, string){
		"sales-orders": func(string) (string, string) { return "POST", "/api/v1/sales-orders" },
		"adjustments":  func(string) (string, string) { return "POST", "/api/v1/inventory/adjustments" },
		"cycle-counts": func(string) (string, string) { return "POST", "/api/v1/cycle-counts" },
		"ship":         func(id string) (string, string) { return "POST", "/api/v1/sales-orders/" + id + "/ship" },
		"pick":         func(id string) (string, string) { return "POST", "/api/v1/sales-orders/" + id + "/pick" },
		"receive":      func(id string) (string, string) { return "POST", "/api/v1/purchase-orders/" + id + "/receive" },
		"transfers":    func(string) (string, string) { return "POST", "/api/v1/transfers" },
		"items":        func(id string) (string, string) { return "PUT", "/api/v1/items/" + id },
		"warehouses":   func(string) (string, string) { return "POST", "/api/v1/warehouses" },
	}
	f.Fuzz(func(t *testing.T, route, id, body, reqID string) {
		mk, ok := routes[route]
		if !ok {
			return
		}
		method, path := mk(id)
		req := httptest.NewRequest(method, "http://hub.test/", bytes.NewReader([]byte(body)))
		req.URL.Path = path // any bytes, as a client could send them
		req.Header.Set("X-WMS-Token", tok)
		req.Header.Set("Content-Type", "application/json")
		if reqID != "" {
			req.Header.Set("X-Request-ID", reqID)
		}
		before := e.eventCount()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch {
		case rec.Code >= 500:
			t.Fatalf("%s %q %q: %d %s", method, path, body, rec.Code, rec.Body)
		case rec.Code >= 400:
			var e struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%d without the error shape: %s", rec.Code, rec.Body)
			}
		}
		if rec.Code >= 300 && e.eventCount() != before {
			t.Fatalf("refused %s %s (%d) appended events", method, path, rec.Code)
		}
		if rec.Code == http.StatusOK || rec.Code == http.StatusCreated {
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%d with invalid JSON: %s", rec.Code, rec.Body)
			}
		}
	})
}

// FuzzPollEvents: any query string on the polling endpoint gives 200 with
// the documented shape or a 400 naming a parameter.
func FuzzPollEvents(f *testing.F) {
	for _, q := range []string{"", "after=0&limit=10", "after=-1", "limit=1001", "limit=0", "after=9223372036854775808",
		"event_type=ship.confirmed&warehouse_id=1", "warehouse_id=x", "after=1&after=2", "limit=%00", "event_type=" + strings.Repeat("a", 500)} {
		f.Add(q)
	}
	e := newTestEnv(f)
	w := e.token(store.ScopeWarehouseWrite)
	e.seedWarehouse(w)
	tok := e.token(store.ScopeEventsRead)
	h := e.s.Handler()
	f.Fuzz(func(t *testing.T, q string) {
		req := httptest.NewRequest("GET", "http://hub.test/api/v1/events", nil)
		req.URL.RawQuery = q
		req.Header.Set("X-WMS-Token", tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			var page struct {
				Events    []json.RawMessage `json:"events"`
				NextAfter *int64            `json:"next_after"`
				HasMore   *bool             `json:"has_more"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || page.NextAfter == nil || page.HasMore == nil {
				t.Fatalf("200 without the page shape: %s", rec.Body)
			}
		case http.StatusBadRequest:
			var e struct {
				Error struct {
					Fields map[string]string `json:"fields"`
				} `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || len(e.Error.Fields) == 0 {
				t.Fatalf("400 not naming a parameter: %s", rec.Body)
			}
		default:
			t.Fatalf("%q: %d %s", q, rec.Code, rec.Body)
		}
	})
}

// FuzzDecodeJSON holds the strict decoder against encoding/json: whatever it
// accepts is one valid UTF-8 JSON object that encoding/json decodes to the
// same value, and whatever it refuses is a 400 with a short message.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"order_number":"A-1","warehouse_id":1,"lines":[{"sku":"W","qty":2}],"ship_to":{"name":"x"}}`,
		`{"order_number":"A-1"} {}`, `{"order_number":"a","order_number":"b"}`, `{"Order_Number":"a"}`,
		"{\"order_number\":\"\xff\"}", `{"order_number":"\ud800"}`, `{"ship_to":{"a":1,"a":2}}`, `{"lines":[{"qty":1.5}]}`,
		`{"warehouse_id":1e400}`, `null`, `[]`, ``, `{"source":{"name":"s","id":"1"},"ship_to":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var strict store.SalesOrderInput
		err := decodeJSONBytes(body, &strict)
		if err != nil {
			ae := toAPIError(err)
			if ae.Status != http.StatusBadRequest || ae.Message == "" || len(ae.Message) > 400 || !utf8.ValidString(ae.Message) {
				t.Fatalf("%q: refusal %d %q", body, ae.Status, ae.Message)
			}
			return
		}
		if !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("accepted invalid JSON or UTF-8: %q", body)
		}
		var lenient store.SalesOrderInput
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&lenient); err != nil {
			t.Fatalf("accepted what encoding/json refuses: %q: %v", body, err)
		}
		if !reflect.DeepEqual(strict, lenient) {
			t.Fatalf("%q decodes differently:\nstrict  %+v\nlenient %+v", body, strict, lenient)
		}
	})
}
