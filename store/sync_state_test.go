package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"sentryhub/clock"
	"sentryhub/store"
)

// syncEnv is a warehouse env whose store clock is a fake the test moves.
func syncEnv(t *testing.T) (*whEnv, *clock.Fake) {
	t.Helper()
	e := newWHEnv(t)
	fc := clock.NewFake(time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC))
	e.db.Now = fc.Now
	return e, fc
}

func TestSyncStateMachine(t *testing.T) {
	e, fc := syncEnv(t)
	k := store.SyncKey{Connector: "shopify", WarehouseID: e.wh1, SyncType: "orders"}
	if _, err := e.db.GetSyncState(e.ctx, k); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("state before first run: %v", err)
	}

	// First claim creates the row and runs it.
	run1 := uuid.NewString()
	c, err := e.db.ClaimSync(e.ctx, k, store.ClaimOptions{RunID: run1})
	if err != nil {
		t.Fatal(err)
	}
	if c.Previous.Status != store.SyncIdle || c.State.Status != store.SyncRunning || c.State.RunID != run1 || c.TookOver != "" {
		t.Fatalf("claim: %+v", c)
	}
	// A second claim while the lease is live is a duplicate run.
	_, err = e.db.ClaimSync(e.ctx, k, store.ClaimOptions{RunID: uuid.NewString()})
	var dup *store.DuplicateRunError
	if !errors.As(err, &dup) || dup.RunID != run1 || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second claim: %v", err)
	}

	// Success records the cursor and resets errors.
	fc.Advance(time.Minute)
	cursor := fc.Now().Add(-30 * time.Second)
	if err := e.db.FinishSync(e.ctx, k, run1, store.SyncRunRecord{Trigger: "manual", Status: store.RunSuccess,
		StartedAt: *c.State.StartedAt, Attempts: 1, Cursor: &cursor, Synced: 7}); err != nil {
		t.Fatal(err)
	}
	st, _ := e.db.GetSyncState(e.ctx, k)
	if st.Status != store.SyncIdle || st.RunID != "" || st.Cursor == nil || !st.Cursor.Equal(cursor) ||
		st.LastSuccessAt == nil || !st.LastSuccessAt.Equal(fc.Now()) || st.ConsecutiveErrors != 0 {
		t.Fatalf("after success: %+v", st)
	}

	// Three failures in a row flip the status to error; the cursor stays.
	for i := 1; i <= 3; i++ {
		run := uuid.NewString()
		if _, err := e.db.ClaimSync(e.ctx, k, store.ClaimOptions{RunID: run}); err != nil {
			t.Fatal(err)
		}
		if err := e.db.FinishSync(e.ctx, k, run, store.SyncRunRecord{Status: store.RunFailed, Error: "upstream 503"}); err != nil {
			t.Fatal(err)
		}
		st, _ = e.db.GetSyncState(e.ctx, k)
		want := store.SyncIdle
		if i == 3 {
			want = store.SyncError
		}
		if st.Status != want || st.ConsecutiveErrors != i || st.LastErrorMessage != "upstream 503" || !st.Cursor.Equal(cursor) {
			t.Fatalf("after failure %d: %+v", i, st)
		}
	}
	// An interrupted run neither counts nor clears; a success clears.
	run := uuid.NewString()
	e.db.ClaimSync(e.ctx, k, store.ClaimOptions{RunID: run})
	if err := e.db.FinishSync(e.ctx, k, run, store.SyncRunRecord{Status: store.RunInterrupted}); err != nil {
		t.Fatal(err)
	}
	if st, _ = e.db.GetSyncState(e.ctx, k); st.Status != store.SyncError || st.ConsecutiveErrors != 3 {
		t.Fatalf("after interrupt: %+v", st)
	}
	run = uuid.NewString()
	e.db.ClaimSync(e.ctx, k, store.ClaimOptions{RunID: run})
	if err := e.db.FinishSync(e.ctx, k, run, store.SyncRunRecord{Status: store.RunSuccess}); err != nil {
		t.Fatal(err)
	}
	if st, _ = e.db.GetSyncState(e.ctx, k); st.Status != store.SyncIdle || st.ConsecutiveErrors != 0 || !st.Cursor.Equal(cursor) {
		t.Fatalf("after recovery (nil cursor keeps the old one): %+v", st)
	}

	runs, err := e.db.ListSyncRuns(e.ctx, store.SyncRunFilter{Connector: "shopify", WarehouseID: e.wh1})
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, r := range runs {
		statuses = append(statuses, string(r.Status))
	}
	if got := strings.Join(statuses, ","); got != "success,interrupted,error,error,error,success" {
		t.Fatalf("history (newest first): %s", got)
	}
	if runs[5].RecordsSynced != 7 || runs[5].DurationMS != 60_000 || runs[5].Trigger != "manual" {
		t.Fatalf("first run: %+v", runs[5])
	}
}

func TestSyncStaleTakeoverDropsLateWrites(t *testing.T) {
	for _, tc := range []struct {
		name      string
		heartbeat bool          // keep the stale run's heartbeat fresh
		advance   time.Duration // time before the takeover attempt
		takeover  bool
	}{
		{"fresh heartbeat", true, 4 * time.Minute, false},
		{"heartbeat older than 5 minutes", false, 6 * time.Minute, true},
		{"fresh heartbeat but started over an hour ago", true, 61 * time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, fc := syncEnv(t)
			k := store.SyncKey{Connector: "shopify", WarehouseID: e.wh1, SyncType: "items"}
			stale := uuid.NewString()
			if _, err := e.db.ClaimSync(e.ctx, k, store.ClaimOptions{RunID: stale}); err != nil {
				t.Fatal(err)
			}
			for step := time.Minute; step <= tc.advance; step += time.Minute {
				fc.Advance(time.Minute)
				if tc.heartbeat {
					if err := e.db.HeartbeatSync(e.ctx, k, stale); err != nil {
						t.Fatal(err)
					}
				}
			}
			fresh := uuid.NewString()
			c, err := e.db.ClaimSync(e.ctx, k, store.ClaimOptions{RunID: fresh})
			if !tc.takeover {
				var dup *store.DuplicateRunError
				if !errors.As(err, &dup) {
					t.Fatalf("claim over a live run: %v", err)
				}
				return
			}
			if err != nil || c.TookOver != stale {
				t.Fatalf("takeover: %+v %v", c, err)
			}
			// The stale run's heartbeat and final write are dropped.
			if err := e.db.HeartbeatSync(e.ctx, k, stale); !errors.Is(err, store.ErrRunSuperseded) {
				t.Fatalf("stale heartbeat: %v", err)
			}
			late := fc.Now()
			if err := e.db.FinishSync(e.ctx, k, stale, store.SyncRunRecord{Status: store.RunSuccess, Cursor: &late}); !errors.Is(err, store.ErrRunSuperseded) {
				t.Fatalf("stale finish: %v", err)
			}
			st, _ := e.db.GetSyncState(e.ctx, k)
			if st.RunID != fresh || st.Status != store.SyncRunning || st.Cursor != nil {
				t.Fatalf("state changed by a stale run: %+v", st)
			}
			if err := e.db.FinishSync(e.ctx, k, fresh, store.SyncRunRecord{Status: store.RunSuccess, TookOver: stale}); err != nil {
				t.Fatal(err)
			}
			runs, _ := e.db.ListSyncRuns(e.ctx, store.SyncRunFilter{SyncType: "items"})
			if len(runs) != 2 || runs[0].Status != store.RunSuccess || runs[0].TookOver != stale || runs[1].Status != store.RunSuperseded {
				t.Fatalf("history: %+v", runs)
			}
		})
	}
}

func TestSyncRunHistoryIsPruned(t *testing.T) {
	e, _ := syncEnv(t)
	k := store.SyncKey{Connector: "shopify", WarehouseID: e.wh1, SyncType: "orders"}
	other := store.SyncKey{Connector: "shopify", WarehouseID: e.wh2, SyncType: "orders"}
	for i := 0; i < 8; i++ {
		for _, key := range []store.SyncKey{k, other} {
			run := uuid.NewString()
			if _, err := e.db.ClaimSync(e.ctx, key, store.ClaimOptions{RunID: run}); err != nil {
				t.Fatal(err)
			}
			if err := e.db.FinishSync(e.ctx, key, run, store.SyncRunRecord{Status: store.RunSuccess, Synced: i, KeepRuns: 5}); err != nil {
				t.Fatal(err)
			}
		}
	}
	runs, _ := e.db.ListSyncRuns(e.ctx, store.SyncRunFilter{Connector: "shopify", WarehouseID: e.wh1, Limit: 100})
	if len(runs) != 5 || runs[0].RecordsSynced != 7 || runs[4].RecordsSynced != 3 {
		t.Fatalf("kept runs: %+v", runs)
	}
	if n := countRows(t, e.db, "sync_runs"); n != 10 {
		t.Fatalf("rows across both keys: %d", n)
	}
}

func TestSyncKeyValidation(t *testing.T) {
	e, _ := syncEnv(t)
	for _, tc := range []struct {
		key   store.SyncKey
		run   string
		field string
	}{
		{store.SyncKey{WarehouseID: 1, SyncType: "orders"}, uuid.NewString(), "connector"},
		{store.SyncKey{Connector: "x", SyncType: "orders"}, uuid.NewString(), "warehouse_id"},
		{store.SyncKey{Connector: "x", WarehouseID: 1}, uuid.NewString(), "sync_type"},
		{store.SyncKey{Connector: "x", WarehouseID: 1, SyncType: "orders"}, "nope", "run_id"},
	} {
		_, err := e.db.ClaimSync(e.ctx, tc.key, store.ClaimOptions{RunID: tc.run})
		if _, ok := errFields(err)[tc.field]; !ok {
			t.Errorf("%+v: %v", tc.key, err)
		}
	}
}
