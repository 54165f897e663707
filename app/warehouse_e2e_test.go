package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"sentryhub/canonjson"
)

func call(t *testing.T, method, url, token string, body string, want int) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("X-WMS-Token", token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, out, want)
	}
	return out
}

// TestOrderToPollingEndToEnd: an order is created, picked, packed and
// shipped over HTTP against the real server, and the polling endpoint then
// returns exactly those three events, in order, as canonical bytes.
func TestOrderToPollingEndToEnd(t *testing.T) {
	t.Parallel()
	getenv := env("SENTRY_ENCRYPTION_KEY", testKey(t), "SENTRY_DATA_DIR", t.TempDir(), "SENTRY_LOG_LEVEL", "warn")
	base := startServe(t, getenv)
	wtok := strings.TrimSpace(run(t, getenv, "", "token", "create", "--name", "wms", "--scope", "warehouse:write").stdout)
	rtok := strings.TrimSpace(run(t, getenv, "", "token", "create", "--name", "erp", "--scope", "events:read").stdout)

	call(t, "POST", base+"/api/v1/warehouses", wtok, `{"code":"MAIN","name":"Main"}`, 201)
	call(t, "PUT", base+"/api/v1/items/WIDGET-1", wtok, `{"name":"Widget"}`, 201)
	call(t, "POST", base+"/api/v1/inventory/adjustments", wtok, `{"warehouse_id":1,"sku":"WIDGET-1","delta":5,"reason":"initial"}`, 200)
	var last struct {
		NextAfter int64 `json:"next_after"`
	}
	json.Unmarshal(call(t, "GET", base+"/api/v1/events", rtok, "", 200), &last)

	var so struct {
		ID string `json:"id"`
	}
	json.Unmarshal(call(t, "POST", base+"/api/v1/sales-orders", wtok,
		`{"order_number":"SO-1","warehouse_id":1,"lines":[{"sku":"WIDGET-1","qty":2}],"ship_to":{"name":"Zoë"}}`, 201), &so)
	call(t, "POST", base+"/api/v1/sales-orders/"+so.ID+"/pick", wtok, "", 200)
	call(t, "POST", base+"/api/v1/sales-orders/"+so.ID+"/pack", wtok, "", 200)
	call(t, "POST", base+"/api/v1/sales-orders/"+so.ID+"/ship", wtok, `{"carrier":"UPS","tracking":"1Z999"}`, 200)

	var page struct {
		Events  []json.RawMessage `json:"events"`
		HasMore bool              `json:"has_more"`
	}
	body := call(t, "GET", base+"/api/v1/events?after="+strconv.FormatInt(last.NextAfter, 10), rtok, "", 200)
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 3 || page.HasMore {
		t.Fatalf("want exactly 3 events, got %s", body)
	}
	for i, want := range []string{"pick.confirmed", "pack.confirmed", "ship.confirmed"} {
		raw := page.Events[i]
		canon, err := canonjson.Canonicalize(raw)
		if err != nil || !bytes.Equal(canon, raw) {
			t.Fatalf("event %d is not in canonical form: %s", i, raw)
		}
		// The bytes inside the page are the element verbatim, not re-encoded.
		if !bytes.Contains(body, raw) {
			t.Fatal("element bytes differ from the response bytes")
		}
		var env map[string]any
		json.Unmarshal(raw, &env)
		if env["event_type"] != want || env["aggregate_id"] != so.ID || env["aggregate_type"] != "sales_order" || env["warehouse_id"] != 1.0 {
			t.Fatalf("event %d: %s", i, raw)
		}
	}
	if !bytes.Contains(page.Events[2], []byte(`"carrier":"UPS"`)) || !bytes.Contains(page.Events[2], []byte(`"lines":[{"qty":2,"sku":"WIDGET-1"}]`)) {
		t.Fatalf("ship.confirmed data: %s", page.Events[2])
	}
}
