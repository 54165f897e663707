package shopify_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
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

// pushWatch serves the fake and reports when each fulfillmentCreate
// request arrived.
type pushWatch struct {
	fake   *shopify.Fake
	pushed chan time.Time
}

func (p *pushWatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	before := p.fake.Fulfillments()
	p.fake.ServeHTTP(w, r)
	if p.fake.Fulfillments() > before {
		p.pushed <- at
	}
}

const shipOrders = 20

// BenchmarkShipToFulfillmentPush measures how long a shipment waits for
// its fulfillment push: the running fulfillment worker, on the real clock,
// against the fake Shopify over loopback HTTP. Each of 20 orders synced
// from the fake is picked, packed and shipped in the hub, one at a time;
// the latency runs from ShipSalesOrder's return (the commit that queued
// the push) to the arrival of the fulfillmentCreate request. Run it with
// -benchtime=1x: one op is the 20 shipments.
func BenchmarkShipToFulfillmentPush(b *testing.B) {
	ctx := context.Background()
	// Every settings write appends to the audit log, which needs its key.
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), store.FileName), store.WithAuditKey(store.DeriveAuditKey([]byte("bench"))))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	fake := shopify.NewFake(shopify.FakeConfig{Now: time.Now, AccessToken: token})
	fake.AddLocation(loc, "Main")
	t0 := time.Now().Add(-time.Hour)
	fake.AddVariant(shopify.FakeVariant{SKU: "WIDGET-1", ProductTitle: "Widget", Title: "Default Title", UpdatedAt: t0})
	fake.SetLevel(shopify.FakeLevel{LocationID: loc, SKU: "WIDGET-1", Tracked: true, OnHand: 1 << 20, UpdatedAt: t0})
	watch := &pushWatch{fake: fake, pushed: make(chan time.Time, 1)}
	srv := httptest.NewServer(watch)
	b.Cleanup(srv.Close)

	reg := connectors.NewRegistry()
	if err := shopify.Register(reg, shopify.Options{BaseURL: func(string) string { return srv.URL }}); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	v := connectortest.NewFakeVault()
	c := clock.Real{}
	pool := connectortest.NewPool(b, connectors.HTTPConfig{AllowHTTP: true}, ssrf.New(ssrf.Config{AllowPrivate: connectortest.Loopback()}), c, log)
	runner := connectortest.NewRunner(b, connectors.RunnerConfig{}, connectors.RunnerDeps{Registry: reg, DB: db, Vault: v, HTTP: pool, Clock: c, Log: log})
	w, err := db.CreateWarehouse(ctx, store.OpMeta{}, store.WarehouseInput{Code: "W1", Name: "Main"})
	if err != nil {
		b.Fatal(err)
	}
	wh := w.Value.ID
	if err := db.PutConnectorSettings(ctx, "bench", shopify.Name, wh, map[string]string{"shop_domain": shop, "location_id": loc}); err != nil {
		b.Fatal(err)
	}
	if err := v.PutCredentials(ctx, "bench", shopify.Name, wh, map[string]vault.Secret{"access_token": vault.NewSecret(token)}); err != nil {
		b.Fatal(err)
	}
	sync := func(syncType string) {
		out, err := runner.Run(ctx, store.SyncKey{Connector: shopify.Name, WarehouseID: wh, SyncType: syncType}, connectors.RunOptions{Trigger: "bench"})
		if err != nil || out.Status != store.RunSuccess {
			b.Fatalf("%s sync: %+v %v", syncType, out, err)
		}
	}
	sync(connectors.SyncItems)
	sync(connectors.SyncInventory)

	worker := connectors.NewFulfillmentWorker(runner, 0)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- worker.Run(wctx) }()
	b.Cleanup(func() {
		stop()
		<-done
	})

	var lat []time.Duration
	n := 0
	for b.Loop() {
		// Orders arrive upstream and are synced in, outside the timing.
		b.StopTimer()
		for i := range shipOrders {
			fake.AddOrder(shopify.FakeOrder{Name: fmt.Sprintf("#%d", 1000+n+i), UpdatedAt: time.Now().Add(-time.Minute),
				LocationID: loc, Lines: []shopify.FakeLine{line("WIDGET-1", 1)}})
		}
		n += shipOrders
		sync(connectors.SyncOrders)
		ids, err := pendingOrders(ctx, db)
		if err != nil || len(ids) != shipOrders {
			b.Fatalf("%d orders to ship (%v)", len(ids), err)
		}
		b.StartTimer()
		for _, id := range ids {
			if _, err := db.PickSalesOrder(ctx, store.OpMeta{}, id); err != nil {
				b.Fatal(err)
			}
			if _, err := db.PackSalesOrder(ctx, store.OpMeta{}, id); err != nil {
				b.Fatal(err)
			}
			if _, err := db.ShipSalesOrder(ctx, store.OpMeta{RequestID: uuid.NewString()}, id,
				store.ShipInput{Carrier: "UPS", Tracking: "1Z-" + id[:8]}); err != nil {
				b.Fatal(err)
			}
			committed := time.Now()
			select {
			case at := <-watch.pushed:
				lat = append(lat, at.Sub(committed))
			case <-time.After(time.Minute):
				b.Fatal("no fulfillment push within a minute of the ship")
			}
		}
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ship-to-push-ms")
	b.ReportMetric(q(0.95), "p95-ship-to-push-ms")
}

// pendingOrders returns the ids of the synced orders still open.
func pendingOrders(ctx context.Context, db *store.DB) ([]string, error) {
	rows, err := db.Reader().QueryContext(ctx, `SELECT id FROM sales_orders WHERE status = 'open' ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
