package manifests_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"sentryhub/clock"
	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/manifest"
	"sentryhub/connectors/manifests"
	"sentryhub/connectors/manifests/tinyshopfake"
	"sentryhub/ssrf"
	"sentryhub/store"
	"sentryhub/store/storetest"
	"sentryhub/store/vault"
)

// TestTinyShopStreamSchedules runs the Tiny Shop manifest under the real
// scheduler with no schedule set by an admin: each poll stream runs on
// the schedule its manifest gives it (orders every 5 minutes by cron,
// products every 15 minutes, stock every 30), against the fake shop, into
// the store.
func TestTinyShopStreamSchedules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t, filepath.Join(t.TempDir(), store.FileName), store.WithAuditKey(store.DeriveAuditKey([]byte("test"))))
	fc := clock.NewFake(time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC))
	db.Now = fc.Now
	fake := tinyshopfake.New(t, 5)
	reg := connectors.NewRegistry()
	if err := manifest.Register(reg, manifests.Examples, "examples/tinyshop", manifest.Options{}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	v := connectortest.NewFakeVault()
	pool := connectortest.NewPool(t, connectors.HTTPConfig{AllowHTTP: true}, ssrf.New(ssrf.Config{AllowPrivate: connectortest.Loopback()}), fc, log)
	deps := connectors.RunnerDeps{Registry: reg, DB: db, Vault: v, HTTP: pool, Clock: fc, Log: log}
	deps.Finished.InitSize(t, "a sync run's outcome", 20)
	finished := deps.Finished.C()
	runner := connectortest.NewRunner(t, connectors.RunnerConfig{}, deps)
	w, err := db.CreateWarehouse(ctx, store.OpMeta{}, store.WarehouseInput{Code: "W1", Name: "Main"})
	if err != nil {
		t.Fatal(err)
	}
	wh := w.Value.ID
	if err := db.PutConnectorSettings(ctx, "test", "tinyshop", wh, map[string]string{"api_url": fake.URL()}); err != nil {
		t.Fatal(err)
	}
	if err := v.PutCredentials(ctx, "test", "tinyshop", wh, map[string]vault.Secret{"api_key": vault.NewSecret(fake.Key)}); err != nil {
		t.Fatal(err)
	}

	cfg := connectors.SchedulerConfig{Rand: func() float64 { return 0 }, Refresh: 24 * time.Hour}
	cfg.Ticked.Init(t, "a scheduler pass")
	ticks := cfg.Ticked.C()
	sch := connectors.NewScheduler(cfg, db, runner, fc, nil)
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sch.Run(sctx) }()
	t.Cleanup(func() { cancel(); <-done })

	start := fc.Now()
	// at waits until the scheduler sleeps until at, moves the clock there
	// and returns the sync types of the runs that start, sorted.
	at := func(d time.Duration, runs int) []string {
		t.Helper()
		want := start.Add(d)
	wait:
		for {
			select {
			case next := <-ticks:
				if next.Equal(want) {
					break wait
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no wake-up at %s", want.Format("15:04"))
			}
		}
		fc.Advance(want.Sub(fc.Now()))
		var got []string
		for range runs {
			var o connectors.Outcome
			select {
			case o = <-finished:
			case <-time.After(10 * time.Second):
				all, _ := db.ListSyncRuns(ctx, store.SyncRunFilter{Connector: "tinyshop"})
				var seen []string
				for _, r := range all {
					seen = append(seen, r.SyncType+" "+string(r.Status)+" "+r.Notes+" "+r.StartedAt.Format("15:04:05"))
				}
				t.Fatalf("%s: %d of %d runs finished (so far %v); runs: %v", want.Format("15:04"), len(got), runs, got, seen)
			}
			if o.Status != store.RunSuccess || o.Result.RecordsSynced+o.Result.RecordsFailed == 0 { // orders before products: refused, but read
				t.Fatalf("%s: %+v", want.Format("15:04"), o)
			}
			got = append(got, o.Key.SyncType)
		}
		slices.Sort(got)
		return got
	}
	if got := at(5*time.Minute, 1); !slices.Equal(got, []string{"orders"}) {
		t.Fatalf("08:05 ran %v", got)
	}
	if got := at(10*time.Minute, 1); !slices.Equal(got, []string{"orders"}) {
		t.Fatalf("08:10 ran %v", got)
	}
	if got := at(15*time.Minute, 2); !slices.Equal(got, []string{"items", "orders"}) {
		t.Fatalf("08:15 ran %v", got)
	}
	at(20*time.Minute, 1)
	at(25*time.Minute, 1)
	if got := at(30*time.Minute, 3); !slices.Equal(got, []string{"inventory", "items", "orders"}) {
		t.Fatalf("08:30 ran %v", got)
	}
	if _, err := db.GetItem(ctx, "SKU-00004"); err != nil {
		t.Fatalf("products not synced: %v", err)
	}
	runs, err := db.ListSyncRuns(ctx, store.SyncRunFilter{Connector: "tinyshop", SyncType: "inventory"})
	if err != nil || len(runs) != 1 || runs[0].Trigger != "schedule" || runs[0].Notes != "streams: stock" || runs[0].RecordsSynced != 5 {
		t.Fatalf("stock runs %+v %v", runs, err)
	}
}
