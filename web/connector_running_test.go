package web

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"sentryhub/store"
)

// TestConnectorRunningSyncShows: while a sync runs it heads the run
// history, and the sync and run sections carry data-refresh (app.js
// refreshes them); once it fails it is labelled failing, not idle, and
// the refreshing stops.
func TestConnectorRunningSyncShows(t *testing.T) {
	t.Parallel()
	e := newConnectorUIEnv(t)
	e.seedWarehouse(e.token(store.ScopeWarehouseWrite))
	ctx := context.Background()
	key := store.SyncKey{Connector: "shopify", WarehouseID: 1, SyncType: "orders"}
	run := uuid.NewString()
	if _, err := e.db.ClaimSync(ctx, key, store.ClaimOptions{RunID: run}); err != nil {
		t.Fatal(err)
	}
	doc, raw := e.page(e.adminC, "/connectors/shopify?warehouse_id=1", 200)
	runs := find(doc, "section", "id", "runs")
	if runs == nil || !strings.Contains(text(runs), run[:8]) || !strings.Contains(text(runs), "running") {
		t.Fatalf("running sync not in the run history: %q", text(runs))
	}
	if !strings.Contains(raw, `id="sync" data-refresh=`) || !strings.Contains(raw, `id="runs" data-refresh=`) {
		t.Fatal("running sync sections do not refresh")
	}
	if err := e.db.FinishSync(ctx, key, run, store.SyncRunRecord{Status: store.RunFailed, Error: "upstream said no"}); err != nil {
		t.Fatal(err)
	}
	doc, raw = e.page(e.adminC, "/connectors/shopify?warehouse_id=1", 200)
	if strings.Contains(raw, "data-refresh") {
		t.Fatal("still refreshing after the run ended")
	}
	if find(doc, "span", "data-status", "failing") == nil {
		t.Fatal("a sync whose last run failed is not labelled failing")
	}
}
