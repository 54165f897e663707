package app

import (
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/shopify"
)

// conformanceFixtures builds, for each first-party connector, a registry
// registered the way serve registers it but pointed at the connector's fake
// upstream, with data for the conformance suite.
func conformanceFixtures() map[string]func(t *testing.T) connectortest.Fixture {
	return map[string]func(t *testing.T) connectortest.Fixture{
		shopify.Name: func(t *testing.T) connectortest.Fixture {
			const token, loc = "shpat_conformance_0123456789", "gid://shopify/Location/1"
			fake := shopify.NewFake(shopify.FakeConfig{Now: connectortest.Start, AccessToken: token})
			fake.AddLocation(loc, "Main")
			t0 := connectortest.Start().Add(-time.Hour)
			order := fake.AddOrder(shopify.FakeOrder{Name: "#1", UpdatedAt: t0, LocationID: loc,
				Lines: []shopify.FakeLine{{SKU: "A-1", Qty: 1, RequiresShipping: true}}})
			fake.AddVariant(shopify.FakeVariant{SKU: "A-1", ProductTitle: "A", UpdatedAt: t0})
			fake.SetLevel(shopify.FakeLevel{LocationID: loc, SKU: "A-1", Tracked: true, OnHand: 3, UpdatedAt: t0})
			srv := httptest.NewServer(fake)
			t.Cleanup(srv.Close)
			reg := connectors.NewRegistry()
			if err := registerConnectors(reg, connectorOptions{shopify: shopify.Options{BaseURL: func(string) string { return srv.URL }}}); err != nil {
				t.Fatal(err)
			}
			return connectortest.Fixture{Registry: reg, Name: shopify.Name,
				Settings:     map[string]string{"shop_domain": "acme.myshopify.com", "location_id": loc},
				Secrets:      map[string]string{"access_token": token},
				Push:         connectors.FulfillmentRequest{SourceID: order, Carrier: "UPS", Tracking: "1Z", IdempotencyKey: "k"},
				Fulfillments: fake.Fulfillments, Reject: fake.Reject}
		},
	}
}

// TestEveryRegisteredConnectorConforms runs the conformance suite against
// every connector serve registers; a connector without a fixture fails, so
// a new one is not done until it passes.
func TestEveryRegisteredConnectorConforms(t *testing.T) {
	t.Parallel()
	reg := connectors.NewRegistry()
	if err := registerConnectors(reg, connectorOptions{}); err != nil {
		t.Fatal(err)
	}
	fixtures := conformanceFixtures()
	maps.Copy(fixtures, providerFixtures())
	for _, name := range reg.Names() {
		t.Run(name, func(t *testing.T) {
			fx, ok := fixtures[name]
			if !ok {
				t.Fatalf("connector %s has no conformance fixture in app/connectors_test.go", name)
			}
			connectortest.RunConformance(t, fx(t))
		})
	}
}

func TestConnectorRegistrationFailureStopsStartup(t *testing.T) {
	t.Parallel()
	reg := connectors.NewRegistry()
	if err := registerConnectors(reg, connectorOptions{}); err != nil {
		t.Fatal(err)
	}
	err := registerConnectors(reg, connectorOptions{})
	if err == nil || !strings.Contains(err.Error(), "register connector shopify") || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("second registration: %v", err)
	}
}

// TestServeWiresConnectors checks serve exposes the connector admin API.
func TestServeWiresConnectors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	getenv := env("SENTRY_ENCRYPTION_KEY", testKey(t), "SENTRY_DATA_DIR", dir, "SENTRY_LOG_LEVEL", "warn")
	base := startServe(t, getenv)
	tok := strings.TrimSpace(run(t, getenv, "", "token", "create", "--name", "ops", "--scope", "admin").stdout)
	code, body := getJSON(t, "GET", base+"/api/admin/connectors", tok, nil)
	list, _ := body["connectors"].([]any)
	reg := connectors.NewRegistry()
	if err := registerConnectors(reg, connectorOptions{}); err != nil {
		t.Fatal(err)
	}
	if code != 200 || len(list) != len(reg.Names()) || !slices.ContainsFunc(list, func(c any) bool { return c.(map[string]any)["name"] == "shopify" }) {
		t.Fatalf("%d %v", code, body)
	}
	code, body = getJSON(t, "GET", base+"/api/admin/connectors/shopify/sync-status?warehouse_id=1", tok, nil)
	if code != 422 { // no warehouse 1 in an empty hub
		t.Fatalf("sync-status: %d %v", code, body)
	}
}
