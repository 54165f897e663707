package shopify_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"sentryhub/clock"
	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/shopify"
	"sentryhub/ssrf"
	"sentryhub/store"
)

// countingSink accepts everything and counts: the benchmark measures the
// connector (HTTP, JSON, mapping), not a store.
type countingSink struct{ n atomic.Int64 }

func (s *countingSink) UpsertItem(context.Context, connectors.Item) error { s.n.Add(1); return nil }
func (s *countingSink) UpsertOrder(context.Context, connectors.Order) error {
	s.n.Add(1)
	return nil
}
func (s *countingSink) SetInventory(context.Context, connectors.InventoryLevel) error {
	s.n.Add(1)
	return nil
}

const benchOrders = 10_000

// benchShop is a fake with 10,000 orders of two lines each, served in 40
// pages of 250.
func benchShop(b *testing.B) (*shopify.Fake, string) {
	b.Helper()
	fake := shopify.NewFake(shopify.FakeConfig{Now: connectortest.Start, AccessToken: token})
	t0 := connectortest.Start().Add(-30 * 24 * time.Hour)
	for i := range benchOrders {
		fake.AddOrder(shopify.FakeOrder{Name: fmt.Sprintf("#%d", 10000+i), UpdatedAt: t0.Add(time.Duration(i) * time.Second),
			LocationID: loc, Lines: []shopify.FakeLine{line(fmt.Sprintf("SKU-%d", i%50), 1), line("WIDGET-1", 2)},
			Address: map[string]string{"name": "Customer", "address1": "1 Main St", "city": "Springfield", "countryCodeV2": "US"}})
	}
	srv := httptest.NewServer(fake)
	b.Cleanup(srv.Close)
	return fake, srv.URL
}

func benchConnector(b *testing.B, url string, sink connectors.Sink, c clock.Clock) connectors.Connector {
	b.Helper()
	drv := shopify.NewDriver(shopify.Options{BaseURL: func(string) string { return url }, OrdersPerPage: 250, LinesPerOrder: 5})
	pool := connectortest.NewPool(b, connectors.HTTPConfig{AllowHTTP: true}, ssrf.New(ssrf.Config{AllowPrivate: connectortest.Loopback()}), c, slog.New(slog.DiscardHandler))
	env := connectors.Env{Connector: shopify.Name, WarehouseID: 1, HTTP: pool.Client(shopify.Name, 1), Sink: sink, Clock: c,
		Log: slog.New(slog.DiscardHandler), Settings: connectors.Values{"shop_domain": shop, "location_id": loc}}
	kit := connectortest.New(b)
	env.Secrets = kit.Env(shopify.Name, nil, map[string]string{"access_token": token}).Secrets
	return drv.New(env)
}

// BenchmarkSyncOrders10k syncs 10,000 orders in 40 pages from the fake
// server (loopback HTTP, JSON both ways) into a counting sink.
func BenchmarkSyncOrders10k(b *testing.B) {
	fake, url := benchShop(b)
	sink := &countingSink{}
	c := benchConnector(b, url, sink, connectortest.NewAutoClock(connectortest.Start()))
	pages := fake.Calls("SentryOrders")
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		res, err := c.SyncOrders(context.Background(), time.Time{})
		if err != nil || res.RecordsSynced != benchOrders {
			b.Fatalf("%+v %v", res, err)
		}
	}
	b.StopTimer()
	if got := (fake.Calls("SentryOrders") - pages) / b.N; got != 40 {
		b.Fatalf("%d pages per sync, want 40", got)
	}
	b.ReportMetric(float64(benchOrders*b.N)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkSyncOrders10kStore is the same sync written to SQLite through
// the store sink: one sales order upsert (with its idempotency record) per
// order, into a fresh database each iteration.
func BenchmarkSyncOrders10kStore(b *testing.B) {
	_, url := benchShop(b)
	ctx := context.Background()
	b.ReportAllocs()
	var elapsed time.Duration
	for range b.N {
		b.StopTimer()
		db, err := store.Open(ctx, filepath.Join(b.TempDir(), store.FileName), store.WithAuditKey(store.DeriveAuditKey([]byte("test"))))
		if err != nil {
			b.Fatal(err)
		}
		if err := db.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		w, err := db.CreateWarehouse(ctx, store.OpMeta{}, store.WarehouseInput{Code: "W1", Name: "Main"})
		if err != nil {
			b.Fatal(err)
		}
		for i := range 50 {
			db.UpsertItem(ctx, store.OpMeta{}, store.ItemInput{SKU: fmt.Sprintf("SKU-%d", i), Name: "x"})
		}
		db.UpsertItem(ctx, store.OpMeta{}, store.ItemInput{SKU: "WIDGET-1", Name: "Widget"})
		c := benchConnector(b, url, connectors.NewStoreSink(db, shopify.Name, w.Value.ID, nil), connectortest.NewAutoClock(connectortest.Start()))
		b.StartTimer()
		start := time.Now()
		res, err := c.SyncOrders(ctx, time.Time{})
		elapsed += time.Since(start)
		if err != nil || res.RecordsSynced != benchOrders {
			b.Fatalf("%+v %v", res, err)
		}
		b.StopTimer()
		db.Close()
	}
	b.ReportMetric(float64(benchOrders*b.N)/elapsed.Seconds(), "records/s")
}
