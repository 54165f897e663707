package web

import (
	"context"
	"strings"
	"testing"
)

// TestDashboardOpenCircuits: a connector whose breaker opened is listed
// under "Needs attention", linking to its connector page; it is not
// listed before.
func TestDashboardOpenCircuits(t *testing.T) {
	t.Parallel()
	e := newConnectorUIEnv(t)
	e.saveValid()
	doc, _ := e.page(e.adminC, "/", 200)
	if connByID(doc, "open-circuits") != nil {
		t.Fatal("open circuits listed before any failure")
	}
	// Five failed calls in a row open the breaker (a Retry-After longer
	// than the client waits makes each a single failed call).
	e.fake.FailNext("SentryShop", 503, 5, "3600")
	for range 5 {
		if res, err := e.svc.Test(context.Background(), "shopify", e.wh); err != nil || res.OK {
			t.Fatalf("test against a failing shop: %+v %v", res, err)
		}
	}
	for _, c := range []struct{ name, who string }{{"admin", "admin"}, {"viewer", "viewer"}} {
		client := e.adminC
		if c.who == "viewer" {
			client = e.viewerC
		}
		doc, _ = e.page(client, "/", 200)
		list := connByID(doc, "open-circuits")
		if list == nil {
			t.Fatalf("%s: no open circuits in %q", c.name, text(connByID(doc, "attention")))
		}
		a := find(list, "a", "href", "/connectors/shopify?warehouse_id=1#sync")
		if a == nil || text(a) != "Shopify" || !strings.Contains(text(list), "circuit open") ||
			!strings.Contains(text(list), "5 failures in a row") || !strings.Contains(text(list), "W1") {
			t.Fatalf("%s: open circuit entry %q", c.name, text(list))
		}
	}
}
