package shopify_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"sentryhub/clock"
	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/shopify"
	"sentryhub/ssrf"
	"sentryhub/store"
	"sentryhub/store/vault"
)

// hubEnv is the whole pipeline on a real SQLite file: the runner's state
// machine, the Shopify connector against the fake, the store sink, and the
// fulfillment worker.
type hubEnv struct {
	t      *testing.T
	ctx    context.Context
	db     *store.DB
	clock  *clock.Fake
	fake   *shopify.Fake
	runner *connectors.Runner
	wh     int64
}

func newHub(t *testing.T) *hubEnv {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), store.FileName), store.WithAuditKey(store.DeriveAuditKey([]byte("test"))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	fc := clock.NewFake(time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC))
	db.Now = fc.Now
	fake := shopify.NewFake(shopify.FakeConfig{Now: fc.Now, AccessToken: token})
	fake.AddLocation(loc, "Main")
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	reg := connectors.NewRegistry()
	if err := shopify.Register(reg, shopify.Options{BaseURL: func(string) string { return srv.URL }, OrdersPerPage: 2}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	v := connectortest.NewFakeVault()
	pool := connectortest.NewPool(t, connectors.HTTPConfig{AllowHTTP: true}, ssrf.New(ssrf.Config{AllowPrivate: connectortest.Loopback()}), fc, log)
	r := connectortest.NewRunner(t, connectors.RunnerConfig{}, connectors.RunnerDeps{Registry: reg, DB: db, Vault: v, HTTP: pool, Clock: fc, Log: log})
	w, err := db.CreateWarehouse(ctx, store.OpMeta{}, store.WarehouseInput{Code: "W1", Name: "Main"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutConnectorSettings(ctx, "test", shopify.Name, w.Value.ID, map[string]string{"shop_domain": shop, "location_id": loc}); err != nil {
		t.Fatal(err)
	}
	if err := v.PutCredentials(ctx, "test", shopify.Name, w.Value.ID, map[string]vault.Secret{"access_token": vault.NewSecret(token), "webhook_secret": vault.NewSecret(hookSecret)}); err != nil {
		t.Fatal(err)
	}
	return &hubEnv{t: t, ctx: ctx, db: db, clock: fc, fake: fake, runner: r, wh: w.Value.ID}
}

func (h *hubEnv) sync(syncType string) connectors.Outcome {
	h.t.Helper()
	out, err := h.runner.Run(h.ctx, store.SyncKey{Connector: shopify.Name, WarehouseID: h.wh, SyncType: syncType}, connectors.RunOptions{Trigger: "test"})
	if err != nil {
		h.t.Fatal(err)
	}
	if out.Status != store.RunSuccess {
		h.t.Fatalf("%s sync: %+v", syncType, out)
	}
	return out
}

func (h *hubEnv) count(table string) int {
	h.t.Helper()
	var n int
	if err := h.db.Reader().QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func TestEndToEndThroughTheStore(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	t0 := h.clock.Now().Add(-time.Hour)
	h.fake.AddVariant(shopify.FakeVariant{SKU: "WIDGET-1", ProductTitle: "Widget", Title: "Default Title", UpdatedAt: t0})
	h.fake.AddVariant(shopify.FakeVariant{SKU: "GADGET-9", ProductTitle: "Gadget", Title: "Blue", UpdatedAt: t0})
	o1 := h.fake.AddOrder(shopify.FakeOrder{Name: "#1001", UpdatedAt: t0, LocationID: loc, Lines: []shopify.FakeLine{line("WIDGET-1", 2)},
		Address: map[string]string{"name": "Ada", "city": "London"}})
	o2 := h.fake.AddOrder(shopify.FakeOrder{Name: "#1002", UpdatedAt: t0.Add(time.Minute), LocationID: loc, Lines: []shopify.FakeLine{line("GADGET-9", 1)}})
	h.fake.AddOrder(shopify.FakeOrder{Name: "#1003", UpdatedAt: t0.Add(2 * time.Minute), LocationID: loc, Lines: []shopify.FakeLine{line("UNKNOWN-SKU", 1)}})
	h.fake.SetLevel(shopify.FakeLevel{LocationID: loc, SKU: "WIDGET-1", Tracked: true, OnHand: 10, UpdatedAt: t0})
	h.fake.SetLevel(shopify.FakeLevel{LocationID: loc, SKU: "GADGET-9", Tracked: true, OnHand: 4, UpdatedAt: t0})

	h.sync(connectors.SyncItems)
	h.sync(connectors.SyncInventory)
	out := h.sync(connectors.SyncOrders)
	if out.Result.RecordsSynced != 2 || out.Result.RecordsFailed != 1 || out.Cursor == nil || !out.Cursor.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("orders run: %+v", out)
	}
	if n := h.count("sales_orders"); n != 2 {
		t.Fatalf("%d sales orders", n)
	}
	inv, _ := h.db.ListInventory(h.ctx, store.InventoryFilter{WarehouseID: h.wh, SKU: "WIDGET-1"})
	if len(inv) != 1 || inv[0].OnHand != 10 {
		t.Fatalf("inventory: %+v", inv)
	}

	// Re-syncing the same window writes nothing new (the overlap re-reads
	// it): the orders are unchanged, so no event either.
	events := h.count("integration_events")
	h.clock.Advance(time.Minute)
	h.sync(connectors.SyncOrders)
	if h.count("integration_events") != events || h.count("sales_orders") != 2 {
		t.Fatal("an unchanged re-sync wrote rows")
	}

	// The order changes upstream: the next sync updates it in place.
	h.clock.Advance(10 * time.Minute)
	h.fake.UpdateOrder(o1, func(o *shopify.FakeOrder) { o.Lines = []shopify.FakeLine{line("WIDGET-1", 3), line("GADGET-9", 1)} })
	h.clock.Advance(time.Minute)
	events = h.count("integration_events")
	out = h.sync(connectors.SyncOrders)
	// The overlap window re-reads #1002 (unchanged: no write) along with
	// the updated #1001 (one write, one sales_order.updated).
	if out.Result.RecordsSynced != 2 || h.count("integration_events") != events+1 {
		t.Fatalf("incremental sync: %+v, %d new events", out.Result, h.count("integration_events")-events)
	}
	if ev, err := h.db.LatestEvent(h.ctx); err != nil || ev.EventType != store.EventSalesOrderUpdated {
		t.Fatalf("latest event %+v %v, want %s", ev, err, store.EventSalesOrderUpdated)
	}
	if n := h.count("sales_orders"); n != 2 {
		t.Fatalf("re-synced order duplicated: %d sales orders", n)
	}
	var id string
	if err := h.db.Reader().QueryRow(`SELECT id FROM sales_orders WHERE source_name = 'shopify' AND source_id = ?`, o1).Scan(&id); err != nil {
		t.Fatal(err)
	}
	so, _ := h.db.GetSalesOrder(h.ctx, id)
	if len(so.Lines) != 2 || so.Lines[0].Qty != 3 {
		t.Fatalf("order not updated: %+v", so.Lines)
	}

	// Ship #1002 in the hub: the push is queued with the shipment and the
	// fulfillment loop reports it to Shopify once.
	var id2 string
	h.db.Reader().QueryRow(`SELECT id FROM sales_orders WHERE source_id = ?`, o2).Scan(&id2)
	meta := store.OpMeta{RequestID: uuid.NewString(), Actor: "test"}
	for _, step := range []func() error{
		func() error { _, err := h.db.PickSalesOrder(h.ctx, store.OpMeta{}, id2); return err },
		func() error { _, err := h.db.PackSalesOrder(h.ctx, store.OpMeta{}, id2); return err },
		func() error {
			_, err := h.db.ShipSalesOrder(h.ctx, meta, id2, store.ShipInput{Carrier: "UPS", Tracking: "1Z-E2E"})
			return err
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	w := connectors.NewFulfillmentWorker(h.runner, 0)
	if err := w.Drain(h.ctx); err != nil {
		t.Fatal(err)
	}
	p, err := h.db.GetFulfillmentPush(h.ctx, id2)
	if err != nil || p.Status != store.FulfillmentSucceeded || p.Attempts != 1 || p.IdempotencyKey != meta.RequestID {
		t.Fatalf("push: %+v %v", p, err)
	}
	if st, nums := h.fake.OrderFulfillment(o2); st != "CLOSED" || len(nums) != 1 || nums[0] != "1Z-E2E" {
		t.Fatalf("upstream: %s %v", st, nums)
	}
	if err := w.Drain(h.ctx); err != nil || h.fake.Fulfillments() != 1 {
		t.Fatalf("second drain: %v, %d fulfillments", err, h.fake.Fulfillments())
	}
	st, _ := h.db.GetSyncState(h.ctx, store.SyncKey{Connector: shopify.Name, WarehouseID: h.wh, SyncType: connectors.SyncFulfillment})
	if st.Status != store.SyncIdle || st.LastSuccessAt == nil {
		t.Fatalf("fulfillment sync state: %+v", st)
	}
}
