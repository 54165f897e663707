package web

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"sentryhub/store"
)

// TestConnectorProgressShows: while a sync runs, its card shows the
// attempt, the records written so far and the error that ended the
// previous attempt, and its row heads the run history with the trigger and
// the records so far. Without JavaScript a reload shows the same; with it,
// the sections refresh (data-refresh).
func TestConnectorProgressShows(t *testing.T) {
	t.Parallel()
	e := newConnectorUIEnv(t)
	ctx := context.Background()
	key := store.SyncKey{Connector: "shopify", WarehouseID: e.wh, SyncType: "items"}
	run := uuid.NewString()
	if _, err := e.db.ClaimSync(ctx, key, store.ClaimOptions{RunID: run, Trigger: "schedule"}); err != nil {
		t.Fatal(err)
	}
	doc, _ := e.page(e.adminC, "/connectors/shopify?warehouse_id=1", 200)
	card := connByID(doc, "sync-items")
	if a := find(card, "dd", "data-field", "attempt"); a == nil || !strings.Contains(text(a), "starting") {
		t.Fatalf("attempt before the first: %q", text(a))
	}

	if err := e.db.StartSyncAttempt(ctx, key, run, 2, "GET https://acme.myshopify.com/x: HTTP 503"); err != nil {
		t.Fatal(err)
	}
	recs := []store.SourceRecord{
		{Source: store.SourceRef{Name: "shopify", ID: "v1"}, Item: &store.ItemInput{SKU: "PROG-1", Name: "One"}},
		{Source: store.SourceRef{Name: "shopify", ID: "v2"}, Item: &store.ItemInput{SKU: "PROG-2", Name: "Two"}},
		{Source: store.SourceRef{Name: "shopify", ID: "v3"}, Item: &store.ItemInput{SKU: "", Name: "Refused"}},
	}
	if _, err := e.db.UpsertSyncPage(ctx, store.OpMeta{}, key, run, recs); err != nil {
		t.Fatal(err)
	}
	doc, raw := e.page(e.adminC, "/connectors/shopify?warehouse_id=1", 200)
	card = connByID(doc, "sync-items")
	if a := find(card, "dd", "data-field", "attempt"); a == nil || !strings.HasPrefix(strings.TrimSpace(text(a)), "2") {
		t.Fatalf("attempt: %q", text(a))
	}
	if p := find(card, "dd", "data-field", "progress"); p == nil || !strings.Contains(text(p), "2 written, 1 refused") {
		t.Fatalf("records so far: %q", text(p))
	}
	if re := find(card, "dd", "data-field", "run-error"); re == nil || !strings.Contains(text(re), "HTTP 503") {
		t.Fatalf("previous attempt's error: %q", text(re))
	}
	row := find(connByID(doc, "runs"), "tr", "data-run", run)
	if row == nil || !strings.Contains(text(row), "schedule") || !strings.Contains(text(row), "attempt 2") {
		t.Fatalf("running row: %q", text(row))
	}
	if rec := find(row, "td", "data-field", "records"); rec == nil || strings.Join(strings.Fields(text(rec)), " ") != "2 / 0 / 1" {
		t.Fatalf("running row's records: %q", text(rec))
	}
	if !strings.Contains(raw, `id="sync" data-refresh=`) {
		t.Fatal("the sync section does not refresh while running")
	}
	// Another sync type that is not running shows no progress.
	if find(connByID(doc, "sync-orders"), "dd", "data-field", "attempt") != nil {
		t.Fatal("progress shown for a sync that is not running")
	}
	// The fulfillment loop pushes rather than writes records: its attempt
	// shows, a record count does not.
	push := store.SyncKey{Connector: "shopify", WarehouseID: e.wh, SyncType: "fulfillment"}
	if _, err := e.db.ClaimSync(ctx, push, store.ClaimOptions{RunID: uuid.NewString(), Trigger: "fulfillment"}); err != nil {
		t.Fatal(err)
	}
	doc, _ = e.page(e.adminC, "/connectors/shopify?warehouse_id=1", 200)
	if card := connByID(doc, "sync-fulfillment"); find(card, "dd", "data-field", "attempt") == nil ||
		find(card, "dd", "data-field", "progress") != nil {
		t.Fatal("fulfillment progress: want the attempt and no record count")
	}

	if err := e.db.FinishSync(ctx, key, run, store.SyncRunRecord{Trigger: "schedule", Status: store.RunSuccess, Synced: 2, Failed: 1}); err != nil {
		t.Fatal(err)
	}
	doc, _ = e.page(e.adminC, "/connectors/shopify?warehouse_id=1", 200)
	if find(connByID(doc, "sync-items"), "dd", "data-field", "attempt") != nil {
		t.Fatal("progress shown after the run ended")
	}
}
