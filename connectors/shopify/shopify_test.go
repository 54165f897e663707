package shopify_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/shopify"
)

const (
	token = "shpat_static_0123456789abcdef"
	loc   = "gid://shopify/Location/77"
	shop  = "acme.myshopify.com"
)

// shopEnv is a fake shop behind an httptest server, a registry with the
// connector pointed at it, and a kit whose clock drives the fake too.
type shopEnv struct {
	t    *testing.T
	kit  *connectortest.Kit
	fake *shopify.Fake
	reg  *connectors.Registry
	opts shopify.Options
}

func newShop(t *testing.T, fc shopify.FakeConfig, opts shopify.Options) *shopEnv {
	t.Helper()
	kit := connectortest.New(t)
	fc.Now = kit.Clock.Now
	if fc.AccessToken == "" {
		fc.AccessToken = token
	}
	fake := shopify.NewFake(fc)
	fake.AddLocation(loc, "Main warehouse")
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	opts.BaseURL = func(string) string { return srv.URL }
	reg := connectors.NewRegistry()
	if err := shopify.Register(reg, opts); err != nil {
		t.Fatal(err)
	}
	return &shopEnv{t: t, kit: kit, fake: fake, reg: reg, opts: opts}
}

// restart registers the connector afresh (a new driver: no token state in
// memory), as a restarted hub would.
func (e *shopEnv) restart() {
	e.t.Helper()
	e.reg = connectors.NewRegistry()
	if err := shopify.Register(e.reg, e.opts); err != nil {
		e.t.Fatal(err)
	}
}

func (e *shopEnv) connector(settings, secrets map[string]string) connectors.Connector {
	base := map[string]string{"shop_domain": shop, "location_id": loc}
	for k, v := range settings {
		base[k] = v
	}
	if secrets == nil {
		secrets = map[string]string{"access_token": token}
	}
	return e.kit.Connector(e.reg, shopify.Name, base, secrets)
}

func (e *shopEnv) order(name string, updated time.Time, lines ...shopify.FakeLine) string {
	return e.fake.AddOrder(shopify.FakeOrder{Name: name, UpdatedAt: updated, LocationID: loc,
		Address: map[string]string{"name": "Ada Lovelace", "city": "London", "countryCodeV2": "GB"}, Lines: lines})
}

func line(sku string, qty int64) shopify.FakeLine {
	return shopify.FakeLine{SKU: sku, Qty: qty, RequiresShipping: true}
}

var ctx = context.Background()

func TestConformance(t *testing.T) {
	t.Parallel()
	e := newShop(t, shopify.FakeConfig{}, shopify.Options{OrdersPerPage: 2})
	t0 := connectortest.Start().Add(-time.Hour)
	e.order("#1001", t0, line("WIDGET-1", 2))
	e.order("#1002", t0.Add(time.Minute), line("GADGET-9", 1))
	orderID := e.order("#1003", t0.Add(2*time.Minute), line("WIDGET-1", 1))
	e.fake.AddVariant(shopify.FakeVariant{SKU: "WIDGET-1", ProductTitle: "Widget", Title: "Default Title", UpdatedAt: t0})
	e.fake.SetLevel(shopify.FakeLevel{LocationID: loc, SKU: "WIDGET-1", Tracked: true, OnHand: 12, UpdatedAt: t0})
	connectortest.RunConformance(t, connectortest.Fixture{
		Registry: e.reg, Name: shopify.Name,
		Settings:     map[string]string{"shop_domain": shop, "location_id": loc},
		Secrets:      map[string]string{"access_token": token},
		Push:         connectors.FulfillmentRequest{SourceID: orderID, OrderNumber: "#1003", Carrier: "UPS", Tracking: "1Z999", IdempotencyKey: "k1"},
		Fulfillments: e.fake.Fulfillments,
		Reject:       e.fake.Reject,
	})
}

func TestOrdersPaginateAcrossWindows(t *testing.T) {
	t.Parallel()
	// The fake stops paginating a search after 10 objects, like Shopify at
	// 25,000: the connector must open new date windows to read all 23.
	e := newShop(t, shopify.FakeConfig{MaxObjects: 10}, shopify.Options{OrdersPerPage: 4, MaxWindowObjects: 10})
	t0 := connectortest.Start().Add(-24 * time.Hour)
	for i := range 23 {
		e.order(fmt.Sprintf("#%d", 2000+i), t0.Add(time.Duration(i/2)*time.Minute), line("WIDGET-1", int64(i+1)))
	}
	res, err := e.connector(nil, nil).SyncOrders(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	orders := e.kit.Sink.Orders()
	if len(orders) != 23 || res.RecordsFailed != 0 {
		t.Fatalf("synced %d distinct orders (result %+v), want 23", len(orders), res)
	}
	if n := e.fake.Calls("SentryOrders"); n < 7 {
		t.Fatalf("%d pages: no pagination happened", n)
	}
	if want := t0.Add(11 * time.Minute); !res.MaxSeen.Equal(want) {
		t.Fatalf("max seen %s, want %s", res.MaxSeen, want)
	}
}

func TestOrderMapping(t *testing.T) {
	t.Parallel()
	e := newShop(t, shopify.FakeConfig{}, shopify.Options{LinesPerOrder: 3})
	t0 := connectortest.Start().Add(-time.Hour)
	many := []shopify.FakeLine{}
	for i := range 8 {
		many = append(many, line(fmt.Sprintf("SKU-%d", i%5), 1)) // repeats merge downstream
	}
	bigID := e.order("#1", t0, many...)
	okID := e.order("#2", t0, line("WIDGET-1", 2), shopify.FakeLine{SKU: "GIFT-CARD", Qty: 1, RequiresShipping: false},
		shopify.FakeLine{SKU: "REFUNDED", Qty: 0, RequiresShipping: true})
	cancelled := t0
	e.fake.AddOrder(shopify.FakeOrder{Name: "#3", UpdatedAt: t0, CancelledAt: &cancelled, LocationID: loc, Lines: []shopify.FakeLine{line("WIDGET-1", 1)}})
	e.order("#4", t0, shopify.FakeLine{SKU: "DIGITAL", Qty: 1})                  // nothing to ship
	noSKU := e.order("#5", t0, shopify.FakeLine{Qty: 1, RequiresShipping: true}) // cannot pick
	unknown := e.order("#6", t0, line("NOPE", 1))                                // the hub refuses
	e.kit.Sink.Reject = connectortest.RefuseSKU("NOPE")

	res, err := e.connector(nil, nil).SyncOrders(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if res.RecordsSynced != 2 || res.RecordsSkipped != 2 || res.RecordsFailed != 2 {
		t.Fatalf("result %+v", res)
	}
	failed := map[string]bool{}
	for _, f := range res.Failures {
		failed[f.SourceID] = true
	}
	if !failed[noSKU] || !failed[unknown] {
		t.Fatalf("failures %+v", res.Failures)
	}
	orders := e.kit.Sink.Orders()
	if got := orders[okID]; got.OrderNumber != "#2" || len(got.Lines) != 1 || got.Lines[0] != (connectors.Line{SKU: "WIDGET-1", Qty: 2}) ||
		got.ShipTo.Name != "Ada Lovelace" || got.ShipTo.CountryCode != "GB" {
		t.Fatalf("order #2: %+v", got)
	}
	if got := orders[bigID]; len(got.Lines) != 8 {
		t.Fatalf("order with more lines than a page: %d lines", len(got.Lines))
	}
	if e.fake.Calls("SentryOrderLines") != 1 {
		t.Fatalf("extra line pages fetched %d times", e.fake.Calls("SentryOrderLines"))
	}
}

func TestThrottling(t *testing.T) {
	t.Parallel()
	// A 300-point bucket refilling at 50/s; each orders page costs 2+5*(3+5) = 42.
	e := newShop(t, shopify.FakeConfig{Throttle: true, BucketMax: 300, RestoreRate: 50}, shopify.Options{OrdersPerPage: 5, LinesPerOrder: 5})
	t0 := connectortest.Start().Add(-time.Hour)
	for i := range 60 {
		e.order(fmt.Sprintf("#%d", i), t0.Add(time.Duration(i)*time.Second), line("WIDGET-1", 1))
	}
	e.fake.Drain() // the first query is THROTTLED
	res, err := e.connector(nil, nil).SyncOrders(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if res.RecordsSynced != 60 {
		t.Fatalf("result %+v", res)
	}
	sleeps := e.kit.Clock.Sleeps()
	if len(sleeps) == 0 {
		t.Fatal("never waited for the bucket")
	}
	// The THROTTLED retry waited for the query's cost to refill: (42-0)/50 s, at least 1s.
	if sleeps[0] < time.Second || sleeps[0] > 2*time.Second {
		t.Fatalf("first wait %s", sleeps[0])
	}
	// Pages: 12, plus exactly one throttled attempt; the proactive slowdown
	// kept every other page from being throttled.
	if n := e.fake.Calls("SentryOrders"); n != 13 {
		t.Fatalf("%d orders requests, want 12 pages + 1 throttled (sleeps %v)", n, sleeps)
	}
	if !strings.Contains(e.kit.Logs(), "throttled by the upstream") {
		t.Fatal("throttle retry not logged")
	}
}

func TestTransientFailuresAndRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		status    int
		n         int
		after     string
		wantErr   error
		wantSleep time.Duration
	}{
		{"503 twice then ok", 503, 2, "", nil, 0},
		{"429 with Retry-After", 429, 1, "7", nil, 7 * time.Second},
		{"500 until the retries run out", 500, 4, "", connectors.ErrTransient, 0},
		{"401 is permanent and not retried", 401, 1, "", connectors.ErrPermanent, 0},
		{"422 is a data error", 422, 1, "", connectors.ErrData, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newShop(t, shopify.FakeConfig{}, shopify.Options{})
			e.order("#1", connectortest.Start().Add(-time.Hour), line("WIDGET-1", 1))
			e.fake.FailNext("SentryOrders", tc.status, tc.n, tc.after)
			res, err := e.connector(nil, nil).SyncOrders(ctx, time.Time{})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				if tc.status == 401 && e.fake.Calls("SentryOrders") != 1 {
					t.Fatalf("401 was retried: %d calls", e.fake.Calls("SentryOrders"))
				}
				return
			}
			if err != nil || res.RecordsSynced != 1 {
				t.Fatalf("%+v %v", res, err)
			}
			if tc.wantSleep != 0 && e.kit.Clock.Sleeps()[0] != tc.wantSleep {
				t.Fatalf("sleeps %v, want first %s", e.kit.Clock.Sleeps(), tc.wantSleep)
			}
		})
	}
}

func TestItemsAndInventory(t *testing.T) {
	t.Parallel()
	e := newShop(t, shopify.FakeConfig{}, shopify.Options{VariantsPerPage: 2, LevelsPerPage: 2})
	t0 := connectortest.Start().Add(-time.Hour)
	v1 := e.fake.AddVariant(shopify.FakeVariant{SKU: "WIDGET-1", Barcode: "012345", ProductTitle: "Widget", Title: "Default Title", UpdatedAt: t0})
	v2 := e.fake.AddVariant(shopify.FakeVariant{SKU: "TEE-M", ProductTitle: "Tee", Title: "Medium", UpdatedAt: t0.Add(time.Minute)})
	e.fake.AddVariant(shopify.FakeVariant{ProductTitle: "No sku", UpdatedAt: t0})
	e.fake.SetLevel(shopify.FakeLevel{LocationID: loc, SKU: "WIDGET-1", Tracked: true, OnHand: 12, UpdatedAt: t0})
	e.fake.SetLevel(shopify.FakeLevel{LocationID: loc, SKU: "TEE-M", Tracked: true, OnHand: -3, UpdatedAt: t0})
	e.fake.SetLevel(shopify.FakeLevel{LocationID: loc, SKU: "UNTRACKED", Tracked: false, OnHand: 5, UpdatedAt: t0})
	e.fake.SetLevel(shopify.FakeLevel{LocationID: "gid://shopify/Location/1", SKU: "ELSEWHERE", Tracked: true, OnHand: 5, UpdatedAt: t0})
	c := e.connector(nil, nil)

	res, err := c.SyncItems(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 2 || res.RecordsSkipped != 1 {
		t.Fatalf("items %+v %v", res, err)
	}
	items := e.kit.Sink.Items()
	if items[v1].Name != "Widget" || items[v1].Barcode != "012345" || items[v2].Name != "Tee - Medium" {
		t.Fatalf("items %+v", items)
	}
	res, err = c.SyncInventory(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 2 || res.RecordsSkipped != 1 {
		t.Fatalf("inventory %+v %v", res, err)
	}
	inv := e.kit.Sink.Inventory()
	if inv["WIDGET-1"].OnHand != 12 || inv["TEE-M"].OnHand != 0 || len(inv) != 2 {
		t.Fatalf("inventory %+v", inv)
	}

	// Without a location, or with one the shop does not have: configuration errors.
	_, err = e.connector(map[string]string{"location_id": ""}, nil).SyncInventory(ctx, time.Time{})
	if !errors.Is(err, connectors.ErrNotConfigured) {
		t.Fatalf("no location: %v", err)
	}
	_, err = e.connector(map[string]string{"location_id": "12345"}, nil).SyncInventory(ctx, time.Time{})
	var ce *connectors.ConfigError
	if !errors.As(err, &ce) || ce.Fields["location_id"] == "" {
		t.Fatalf("unknown location: %v", err)
	}
}

func TestPushFulfillment(t *testing.T) {
	t.Parallel()
	e := newShop(t, shopify.FakeConfig{}, shopify.Options{})
	t0 := connectortest.Start().Add(-time.Hour)
	id := e.order("#1", t0, line("WIDGET-1", 1))
	elsewhere := e.fake.AddOrder(shopify.FakeOrder{Name: "#2", UpdatedAt: t0, LocationID: "gid://shopify/Location/1"})
	c := e.connector(nil, nil)
	req := connectors.FulfillmentRequest{SourceID: id, OrderNumber: "#1", Carrier: "UPS", Tracking: "1Z999", IdempotencyKey: "k1"}

	r1, err := c.PushFulfillment(ctx, req)
	if err != nil || !r1.Success || r1.AlreadyDone || !strings.HasPrefix(r1.UpstreamRef, "gid://shopify/Fulfillment/") {
		t.Fatalf("first push: %+v %v", r1, err)
	}
	if st, nums := e.fake.OrderFulfillment(id); st != "CLOSED" || len(nums) != 1 || nums[0] != "1Z999" {
		t.Fatalf("upstream: %s %v", st, nums)
	}
	// A retry (the response was lost, say) finds it and creates nothing.
	r2, err := c.PushFulfillment(ctx, req)
	if err != nil || !r2.AlreadyDone || r2.UpstreamRef != r1.UpstreamRef || e.fake.Fulfillments() != 1 {
		t.Fatalf("repeat: %+v %v (%d fulfillments)", r2, err, e.fake.Fulfillments())
	}
	// Without a tracking number the closed fulfillment orders tell the same.
	req.Tracking = ""
	if r3, err := c.PushFulfillment(ctx, req); err != nil || !r3.AlreadyDone {
		t.Fatalf("repeat without tracking: %+v %v", r3, err)
	}
	// An order assigned to another location: a data error naming the setting.
	_, err = c.PushFulfillment(ctx, connectors.FulfillmentRequest{SourceID: elsewhere, Carrier: "UPS"})
	var de *connectors.DataError
	if !errors.As(err, &de) || de.Fields["location_id"] == "" {
		t.Fatalf("other location: %v", err)
	}
	if _, err := c.PushFulfillment(ctx, connectors.FulfillmentRequest{SourceID: "gid://shopify/Order/404", Carrier: "UPS"}); !errors.Is(err, connectors.ErrData) {
		t.Fatalf("unknown order: %v", err)
	}
	// A transient failure of the mutation is not blindly resent: 500 on a
	// mutation is returned, and the next attempt finds what happened.
	id2 := e.order("#3", t0, line("WIDGET-1", 1))
	e.fake.FailNext("SentryFulfill", 500, 1, "")
	if _, err := c.PushFulfillment(ctx, connectors.FulfillmentRequest{SourceID: id2, Carrier: "DHL", Tracking: "JD1"}); !errors.Is(err, connectors.ErrTransient) {
		t.Fatalf("500 on fulfillmentCreate: %v", err)
	}
	if e.fake.Calls("SentryFulfill") != 2 {
		t.Fatalf("mutation resent: %d calls", e.fake.Calls("SentryFulfill"))
	}
	if r, err := c.PushFulfillment(ctx, connectors.FulfillmentRequest{SourceID: id2, Carrier: "DHL", Tracking: "JD1"}); err != nil || r.AlreadyDone {
		t.Fatalf("next attempt: %+v %v", r, err)
	}
}

func TestClientCredentials(t *testing.T) {
	t.Parallel()
	e := newShop(t, shopify.FakeConfig{AccessToken: "-", ClientID: "cid", ClientSecret: "csecret_0123456789"}, shopify.Options{})
	settings := map[string]string{"auth_mode": shopify.AuthClientCredentials, "client_id": "cid"}
	secrets := map[string]string{"client_secret": "csecret_0123456789"}
	c := e.connector(settings, secrets)

	// Concurrent callers share one grant.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if res, err := c.TestConnection(ctx); err != nil || !res.OK {
				t.Errorf("test connection: %+v %v", res, err)
			}
		})
	}
	wg.Wait()
	if n := e.fake.Calls("token"); n != 1 {
		t.Fatalf("%d token grants for concurrent callers, want 1", n)
	}
	puts := e.kit.Vault.Puts()
	if len(puts) != 1 || strings.Join(puts[0].Keys, ",") != "oauth_access_token,oauth_token_expires_at" || puts[0].Actor != "connector:shopify" {
		t.Fatalf("token not saved to the vault: %+v", puts)
	}

	// Five minutes before expiry it is renewed, once.
	e.kit.Clock.After(24*time.Hour - 4*time.Minute)
	if res, _ := c.TestConnection(ctx); !res.OK {
		t.Fatalf("after refresh: %+v", res)
	}
	if n := e.fake.Calls("token"); n != 2 {
		t.Fatalf("%d grants, want a refresh before expiry", n)
	}

	// A restarted hub (a new driver) reuses the token saved in the vault.
	saved, _ := e.kit.Vault.Credentials(ctx, shopify.Name, 1)
	secrets2 := map[string]string{"client_secret": "csecret_0123456789"}
	for k, v := range saved {
		secrets2[k] = string(v.Reveal())
	}
	e.restart()
	if res, _ := e.connector(settings, secrets2).TestConnection(ctx); !res.OK || e.fake.Calls("token") != 2 {
		t.Fatalf("after restart: %+v, %d grants", res, e.fake.Calls("token"))
	}

	// Wrong secret: the grant fails permanently and the secret is not shown.
	e2 := newShop(t, shopify.FakeConfig{ClientID: "cid", ClientSecret: "right"}, shopify.Options{})
	res, err := e2.connector(settings, map[string]string{"client_secret": "wrong_secret_value"}).TestConnection(ctx)
	if err != nil || res.OK || strings.Contains(res.Message, "wrong_secret_value") {
		t.Fatalf("bad secret: %+v %v", res, err)
	}
}

func TestTokenRevokedIsRegranted(t *testing.T) {
	t.Parallel()
	e := newShop(t, shopify.FakeConfig{AccessToken: "-", ClientID: "cid", ClientSecret: "csecret", TokenTTL: time.Hour},
		shopify.Options{RefreshBefore: time.Minute})
	settings := map[string]string{"auth_mode": shopify.AuthClientCredentials, "client_id": "cid"}
	// A token the vault still believes valid but Shopify no longer accepts.
	exp := connectortest.Start().Add(time.Hour).Format(time.RFC3339)
	c := e.connector(settings, map[string]string{"client_secret": "csecret", "oauth_access_token": "shpat_revoked", "oauth_token_expires_at": exp})
	if res, _ := c.TestConnection(ctx); !res.OK || e.fake.Calls("token") != 1 {
		t.Fatalf("%+v, %d grants", res, e.fake.Calls("token"))
	}
}

func TestValidateSettings(t *testing.T) {
	t.Parallel()
	e := newShop(t, shopify.FakeConfig{}, shopify.Options{})
	v := e.connector(nil, nil).(connectors.SettingsValidator)
	for _, tc := range []struct {
		name     string
		settings connectors.Values
		secrets  map[string]bool
		field    string
	}{
		{"ok token", connectors.Values{"shop_domain": shop}, map[string]bool{"access_token": true}, ""},
		{"bad domain", connectors.Values{"shop_domain": "evil.example.com"}, map[string]bool{"access_token": true}, "shop_domain"},
		{"internal host", connectors.Values{"shop_domain": "localhost"}, map[string]bool{"access_token": true}, "shop_domain"},
		{"token missing", connectors.Values{"shop_domain": shop}, nil, "access_token"},
		{"client id missing", connectors.Values{"shop_domain": shop, "auth_mode": shopify.AuthClientCredentials}, map[string]bool{"client_secret": true}, "client_id"},
		{"client secret missing", connectors.Values{"shop_domain": shop, "auth_mode": shopify.AuthClientCredentials, "client_id": "x"}, nil, "client_secret"},
		{"bad location", connectors.Values{"shop_domain": shop, "location_id": "abc"}, map[string]bool{"access_token": true}, "location_id"},
		{"numeric location", connectors.Values{"shop_domain": shop, "location_id": "123"}, map[string]bool{"access_token": true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := v.ValidateSettings(tc.settings, tc.secrets)
			if tc.field == "" && len(bad) > 0 || tc.field != "" && bad[tc.field] == "" {
				t.Fatalf("%v", bad)
			}
		})
	}
}
