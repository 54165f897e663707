package store_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"sentryhub/store"
)

// Keys older than the retention window are pruned; younger ones still make
// a retried request return its first result.
func TestPruneIdempotencyKeys(t *testing.T) {
	e := newWHEnv(t)
	now := whEpoch
	e.db.Now = func() time.Time { return now }
	adjust := func(id string) store.Result[store.InventoryLevel] {
		t.Helper()
		r, err := e.db.ApplyAdjustment(e.ctx, store.OpMeta{RequestID: id, Actor: "test"},
			store.AdjustmentInput{WarehouseID: e.wh1, SKU: "WIDGET-1", Delta: 5, Reason: "count"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	old, young := uuid.NewString(), uuid.NewString()
	adjust(old)
	now = now.Add(store.IdempotencyRetention - time.Hour)
	adjust(young)
	now = now.Add(2 * time.Hour) // old is now past the window, young is not

	n, err := e.db.PruneIdempotencyKeys(e.ctx, now.Add(-store.IdempotencyRetention))
	if err != nil {
		t.Fatal(err)
	}
	// newWHEnv's setup operations are older still: everything but young goes.
	if n < 1 {
		t.Fatalf("pruned %d keys", n)
	}
	if r := adjust(young); !r.Replayed {
		t.Fatal("a key inside the window was forgotten")
	}
	if r := adjust(old); r.Replayed {
		t.Fatal("a key past the window still replays")
	}
	// Nothing left to prune before the cutoff.
	if n, err := e.db.PruneIdempotencyKeys(e.ctx, now.Add(-store.IdempotencyRetention)); err != nil || n != 0 {
		t.Fatalf("second prune: %d, %v", n, err)
	}
}
