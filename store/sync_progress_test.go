package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"sentryhub/store"
)

// itemPage is n items from source "shop" numbered from first, with the
// ones listed in bad given an empty sku (refused).
func itemPage(first, n int, bad ...int) []store.SourceRecord {
	out := make([]store.SourceRecord, n)
	for i := range n {
		id := first + i
		sku := fmt.Sprintf("PROG-%d", id)
		for _, b := range bad {
			if b == id {
				sku = ""
			}
		}
		out[i] = store.SourceRecord{Source: store.SourceRef{Name: "shop", ID: fmt.Sprint(id)},
			Item: &store.ItemInput{SKU: sku, Name: "Item " + fmt.Sprint(id)}}
	}
	return out
}

// TestSyncProgress: a claim starts the progress at zero with its trigger;
// each page adds its written and refused records in its own transaction;
// a new attempt starts the count again and carries the previous attempt's
// error; a run that lost its lease counts nothing; progress is shown only
// while running, and the next claim resets it.
func TestSyncProgress(t *testing.T) {
	e, fc := syncEnv(t)
	k := store.SyncKey{Connector: "shop", WarehouseID: e.wh1, SyncType: "items"}
	progress := func() store.SyncProgress {
		t.Helper()
		st, err := e.db.GetSyncState(e.ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if st.Progress == nil {
			t.Fatalf("no progress while %s", st.Status)
		}
		return *st.Progress
	}
	page := func(run string, recs []store.SourceRecord) {
		t.Helper()
		if _, err := e.db.UpsertSyncPage(e.ctx, store.OpMeta{Actor: "connector:shop"}, k, run, recs); err != nil {
			t.Fatal(err)
		}
	}

	run := uuid.NewString()
	c, err := e.db.ClaimSync(e.ctx, k, store.ClaimOptions{RunID: run, Trigger: "schedule"})
	if err != nil {
		t.Fatal(err)
	}
	if c.State.Progress == nil || *c.State.Progress != (store.SyncProgress{Trigger: "schedule"}) {
		t.Fatalf("claim progress %+v", c.State.Progress)
	}
	if p := progress(); p != (store.SyncProgress{Trigger: "schedule"}) {
		t.Fatalf("after claim %+v", p)
	}
	if err := e.db.StartSyncAttempt(e.ctx, k, run, 1, ""); err != nil {
		t.Fatal(err)
	}
	page(run, itemPage(1, 3))
	if p := progress(); p.Attempt != 1 || p.RecordsSynced != 3 || p.RecordsFailed != 0 || p.Error != "" {
		t.Fatalf("after one page %+v", p)
	}
	// The second page has one refused record; records already stored
	// count as written (unchanged).
	page(run, append(itemPage(4, 2, 5), itemPage(1, 1)...))
	if p := progress(); p.RecordsSynced != 5 || p.RecordsFailed != 1 {
		t.Fatalf("after two pages %+v", p)
	}

	// The attempt failed; the next starts from zero and shows why.
	if err := e.db.StartSyncAttempt(e.ctx, k, run, 2, "upstream answered 503"); err != nil {
		t.Fatal(err)
	}
	if p := progress(); p != (store.SyncProgress{Trigger: "schedule", Attempt: 2, Error: "upstream answered 503"}) {
		t.Fatalf("second attempt %+v", p)
	}
	page(run, itemPage(1, 2))
	if p := progress(); p.RecordsSynced != 2 || p.Attempt != 2 {
		t.Fatalf("second attempt's page %+v", p)
	}

	// Another run takes the lease over: the stale run's pages are written
	// but not counted, and its attempts are refused.
	fc.Advance(6 * time.Minute)
	fresh := uuid.NewString()
	if _, err := e.db.ClaimSync(e.ctx, k, store.ClaimOptions{RunID: fresh, Trigger: "manual"}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.StartSyncAttempt(e.ctx, k, run, 3, "x"); !errors.Is(err, store.ErrRunSuperseded) {
		t.Fatalf("stale attempt: %v", err)
	}
	page(run, itemPage(10, 2))
	if p := progress(); p != (store.SyncProgress{Trigger: "manual"}) {
		t.Fatalf("stale run counted: %+v", p)
	}
	if _, err := e.db.GetItem(e.ctx, "PROG-11"); err != nil {
		t.Fatalf("stale run's page not written: %v", err)
	}

	if err := e.db.FinishSync(e.ctx, k, fresh, store.SyncRunRecord{Status: store.RunSuccess}); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.db.GetSyncState(e.ctx, k); st.Progress != nil {
		t.Fatalf("progress shown after the run: %+v", st.Progress)
	}
	states, _ := e.db.ListSyncStates(e.ctx, "shop", 0)
	if len(states) != 1 || states[0].Progress != nil {
		t.Fatalf("listed states %+v", states)
	}
}
