package connectors_test

import (
	"net/http"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
)

// TestOpenCircuits lists the breakers that are not closed, and only those:
// open after five failures, still listed while half-open, gone once a probe
// succeeds.
func TestOpenCircuits(t *testing.T) {
	t.Parallel()
	kit, c := client(t, connectors.HTTPConfig{MaxRetries: -1})
	other := kit.Pool.Client("test", 2)
	up := connectortest.NewUpstream(t)
	up.Handle("GET", "/down", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	up.Reply("GET", "/ok", 200, "{}", nil)
	up.Reply("GET", "/ok", 200, "{}", nil)
	if got := kit.Pool.OpenCircuits(); len(got) != 0 {
		t.Fatalf("before any call: %+v", got)
	}
	for range 5 {
		c.Do(bg, get(up.URL+"/down"))
	}
	other.Do(bg, get(up.URL+"/ok"))
	got := kit.Pool.OpenCircuits()
	if len(got) != 1 || got[0].Connector != "test" || got[0].WarehouseID != 1 || got[0].State != connectors.BreakerOpen ||
		got[0].ConsecutiveFailures != 5 || got[0].RetryAt == nil {
		t.Fatalf("open circuits %+v", got)
	}
	kit.Clock.After(5 * time.Minute)
	if got := kit.Pool.OpenCircuits(); len(got) != 1 || got[0].State != connectors.BreakerHalfOpen {
		t.Fatalf("after the cooldown %+v", got)
	}
	if _, err := c.Do(bg, get(up.URL+"/ok")); err != nil {
		t.Fatal(err)
	}
	if got := kit.Pool.OpenCircuits(); len(got) != 0 {
		t.Fatalf("after a successful probe %+v", got)
	}
}
