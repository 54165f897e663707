package web

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"sentryhub/store"
)

// TestIdempotencyKeyPerCaller: an X-Request-ID reused by another token is a
// new request for that token (it never replays the first caller's response
// or data); the same caller reusing it for another request is a 422 naming
// the conflict.
func TestIdempotencyKeyPerCaller(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	alice := e.token(store.ScopeWarehouseWrite)
	bob := e.token(store.ScopeWarehouseWrite)
	e.seedWarehouse(alice)
	key := uuid.NewString()
	order := func(number, name string) map[string]any {
		return map[string]any{"order_number": number, "warehouse_id": 1, "ship_to": map[string]any{"name": name},
			"lines": []map[string]any{{"sku": "WIDGET-1", "qty": 1}}}
	}
	code, _, a := e.api(alice, "POST", "/api/v1/sales-orders", order("SO-A", "Alice's customer"), "X-Request-ID", key)
	if code != 201 {
		t.Fatalf("alice: %d %s", code, a)
	}
	// Bob, same key, his own order: created, his data, not a replay.
	code, h, b := e.api(bob, "POST", "/api/v1/sales-orders", order("SO-B", "Bob's customer"), "X-Request-ID", key)
	if code != 201 || h.Get("Idempotent-Replayed") != "" || strings.Contains(string(b), "Alice") || !strings.Contains(string(b), "SO-B") {
		t.Fatalf("bob with alice's key: %d %s %s", code, h.Get("Idempotent-Replayed"), b)
	}
	// Bob, same key, Alice's exact body: a new request of his (the order
	// number is taken, so 409), not her stored 201.
	if code, h, b := e.api(bob, "POST", "/api/v1/sales-orders", order("SO-A", "Alice's customer"), "X-Request-ID", uuid.NewString()); code != 409 || h.Get("Idempotent-Replayed") != "" {
		t.Fatalf("bob resending alice's body: %d %s", code, b)
	}
	// Alice's retry still replays hers.
	if code, h, again := e.api(alice, "POST", "/api/v1/sales-orders", order("SO-A", "Alice's customer"), "X-Request-ID", key); code != 201 ||
		h.Get("Idempotent-Replayed") != "true" || string(again) != string(a) {
		t.Fatalf("alice's retry: %d %s", code, again)
	}
	var so struct {
		ID string `json:"id"`
	}
	json.Unmarshal(a, &so)
	// Alice reusing the key for anything else: 422 naming the conflict.
	for _, tc := range []struct {
		name, method, path string
		body               any
	}{
		{"other body", "POST", "/api/v1/sales-orders", order("SO-C", "x")},
		{"other operation", "POST", "/api/v1/inventory/adjustments", map[string]any{"warehouse_id": 1, "sku": "WIDGET-1", "delta": 1, "reason": "x"}},
		{"other path", "POST", "/api/v1/sales-orders/" + so.ID + "/pick", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.eventCount()
			code, _, out := e.api(alice, tc.method, tc.path, tc.body, "X-Request-ID", key)
			var eb errorBody
			if err := json.Unmarshal(out, &eb); err != nil || code != 422 || eb.Error.Code != "idempotency_key_reused" ||
				!strings.Contains(eb.Error.Message, "already used with a different request") || eb.Error.Fields["X-Request-ID"] == "" {
				t.Fatalf("%d %s, want 422 idempotency_key_reused", code, out)
			}
			if e.eventCount() != before {
				t.Fatal("a refused request was written")
			}
		})
	}
}
