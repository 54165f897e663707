package connectors_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"sentryhub/connectors"
	"sentryhub/store"
)

func transient(msg string) error {
	return &connectors.HTTPError{Kind: connectors.KindTransient, Method: "GET", URL: "https://up.example/x", Status: 503, Message: msg}
}

func TestRunCursorAndOverlap(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	start := h.clock.Now()
	// First run: everything (zero since); the newest record seen is 10
	// minutes old, so the cursor is that, not the run's start.
	h.s.sync = func(ctx context.Context, env connectors.Env, n int) (connectors.SyncResult, error) {
		var r connectors.SyncResult
		switch n {
		case 1:
			r.See(start.Add(-10 * time.Minute))
		case 2:
			r.See(start.Add(time.Hour)) // an upstream clock ahead of ours
		}
		r.RecordsSynced = 3
		return r, nil
	}
	out, err := h.runner.Run(h.ctx, h.key(connectors.SyncOrders), connectors.RunOptions{Trigger: "test"})
	if err != nil || out.Status != store.RunSuccess || !out.Result.Success || out.Attempts != 1 {
		t.Fatalf("%+v %v", out, err)
	}
	if !out.Cursor.Equal(start.Add(-10 * time.Minute)) {
		t.Fatalf("cursor %s", out.Cursor)
	}
	h.clock.Advance(time.Hour)
	out, _ = h.runner.Run(h.ctx, h.key(connectors.SyncOrders), connectors.RunOptions{})
	// The second run read from the cursor minus the 2-minute overlap, and
	// its cursor is capped at its own start.
	if since := h.s.sinces(); !since[0].IsZero() || !since[1].Equal(start.Add(-12*time.Minute)) {
		t.Fatalf("since %v", since)
	}
	if !out.Cursor.Equal(start.Add(time.Hour)) {
		t.Fatalf("cursor %s, want the run start %s", out.Cursor, start.Add(time.Hour))
	}
	// A run with nothing seen moves the cursor to its start.
	h.clock.Advance(time.Hour)
	out, _ = h.runner.Run(h.ctx, h.key(connectors.SyncOrders), connectors.RunOptions{})
	if !out.Cursor.Equal(start.Add(2 * time.Hour)) {
		t.Fatalf("empty run cursor %s", out.Cursor)
	}
	// A full run ignores the cursor.
	h.runner.Run(h.ctx, h.key(connectors.SyncOrders), connectors.RunOptions{Full: true})
	if since := h.s.sinces(); !since[3].IsZero() {
		t.Fatalf("full run since %s", since[3])
	}
	st := h.state(connectors.SyncOrders)
	if st.Status != store.SyncIdle || st.LastSuccessAt == nil || st.ConsecutiveErrors != 0 {
		t.Fatalf("state %+v", st)
	}
	runs, _ := h.db.ListSyncRuns(h.ctx, store.SyncRunFilter{Connector: "scripted"})
	if len(runs) != 4 || runs[3].RecordsSynced != 3 || runs[3].Trigger != "test" {
		t.Fatalf("history %+v", runs)
	}
}

func TestRunLevelRetries(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	h.s.sync = func(ctx context.Context, env connectors.Env, n int) (connectors.SyncResult, error) {
		if n < 3 {
			return connectors.SyncResult{}, transient("upstream 503")
		}
		return connectors.SyncResult{RecordsSynced: 1}, nil
	}
	done := h.execute(h.ctx, connectors.SyncOrders)
	<-h.s.started
	for range 2 {
		// Asleep on the retry delay (and the heartbeat): 30 s later it runs again.
		h.waitWaiters(2)
		before := h.s.callCount()
		h.clock.Advance(30 * time.Second)
		<-h.s.started
		if h.s.callCount() != before+1 {
			t.Fatalf("retry did not call the connector")
		}
	}
	out := <-done
	if out.Status != store.RunSuccess || out.Attempts != 3 {
		t.Fatalf("%+v", out)
	}
	if st := h.state(connectors.SyncOrders); st.HeartbeatAt == nil || st.ConsecutiveErrors != 0 {
		t.Fatalf("state %+v", st)
	}
}

func TestRunFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		err      error
		attempts int
	}{
		{"permanent is not retried", &connectors.HTTPError{Kind: connectors.KindPermanent, Status: 401, Message: "bad token " + secretValue}, 1},
		{"data error is not retried", &connectors.DataError{Message: "rejected", Fields: map[string]string{"sku": "unknown"}}, 1},
		{"open circuit is not retried", &connectors.CircuitOpenError{Connector: "scripted", WarehouseID: 1}, 1},
		{"a plain error is not retried", fmt.Errorf("mapping broke near %s", secretValue), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, connectors.RunnerConfig{})
			h.s.sync = func(context.Context, connectors.Env, int) (connectors.SyncResult, error) {
				return connectors.SyncResult{}, tc.err
			}
			for i := 1; i <= 3; i++ {
				out, err := h.runner.Run(h.ctx, h.key(connectors.SyncItems), connectors.RunOptions{})
				if err != nil || out.Status != store.RunFailed || out.Attempts != tc.attempts {
					t.Fatalf("run %d: %+v %v", i, out, err)
				}
				if strings.Contains(out.Error, secretValue) {
					t.Fatalf("outcome leaks the secret: %s", out.Error)
				}
				st := h.state(connectors.SyncItems)
				want := store.SyncIdle
				if i == 3 {
					want = store.SyncError
				}
				if st.Status != want || st.ConsecutiveErrors != i || st.LastErrorMessage == "" || strings.Contains(st.LastErrorMessage, secretValue) {
					t.Fatalf("run %d state %+v", i, st)
				}
			}
		})
	}
}

func TestRunTransientExhausted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{Retries: 2})
	h.s.sync = func(context.Context, connectors.Env, int) (connectors.SyncResult, error) {
		return connectors.SyncResult{}, transient("still down")
	}
	done := h.execute(h.ctx, connectors.SyncOrders)
	<-h.s.started
	for range 2 {
		h.waitWaiters(2)
		h.clock.Advance(30 * time.Second)
		<-h.s.started
	}
	out := <-done
	if out.Status != store.RunFailed || out.Attempts != 3 || !errors.Is(out.Err, connectors.ErrTransient) {
		t.Fatalf("%+v", out)
	}
}

func TestDuplicateRunRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	release := make(chan struct{})
	h.s.sync = func(ctx context.Context, _ connectors.Env, _ int) (connectors.SyncResult, error) {
		<-release
		return connectors.SyncResult{}, nil
	}
	done := h.execute(h.ctx, connectors.SyncOrders)
	<-h.s.started
	_, err := h.runner.Run(h.ctx, h.key(connectors.SyncOrders), connectors.RunOptions{})
	var dup *store.DuplicateRunError
	if !errors.As(err, &dup) {
		t.Fatalf("second run: %v", err)
	}
	// Other sync types of the same connector run independently.
	h.s.sync = nil
	close(release)
	if out := <-done; out.Status != store.RunSuccess {
		t.Fatalf("%+v", out)
	}
	if _, err := h.runner.Run(h.ctx, h.key(connectors.SyncItems), connectors.RunOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestStaleRunIsTakenOver(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	// A worker claimed the row and died: no heartbeats.
	dead := uuid.NewString()
	if _, err := h.db.ClaimSync(h.ctx, h.key(connectors.SyncOrders), store.ClaimOptions{RunID: dead}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.runner.Run(h.ctx, h.key(connectors.SyncOrders), connectors.RunOptions{}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("claim over a fresh run: %v", err)
	}
	h.clock.Advance(6 * time.Minute)
	out, err := h.runner.Run(h.ctx, h.key(connectors.SyncOrders), connectors.RunOptions{})
	if err != nil || out.Status != store.RunSuccess || out.TookOver != dead {
		t.Fatalf("takeover: %+v %v", out, err)
	}
	runs, _ := h.db.ListSyncRuns(h.ctx, store.SyncRunFilter{})
	if runs[0].TookOver != dead {
		t.Fatalf("history: %+v", runs[0])
	}
}

func TestSupersededRunStopsAndIsDropped(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	wrote := make(chan error, 1)
	h.s.sync = func(ctx context.Context, env connectors.Env, _ int) (connectors.SyncResult, error) {
		<-ctx.Done() // the runner cancels the run when its lease is lost
		// A late write through the sink is refused.
		wrote <- env.Sink.UpsertItem(context.Background(), connectors.Item{SourceID: "late", SKU: "LATE-1", Name: "late", UpdatedAt: time.Now()})
		return connectors.SyncResult{}, ctx.Err()
	}
	done := h.execute(h.ctx, connectors.SyncOrders)
	<-h.s.started
	// Another worker decides this run is stale and takes the row over.
	h.clock.Advance(time.Millisecond)
	other := uuid.NewString()
	if _, err := h.db.ClaimSync(h.ctx, h.key(connectors.SyncOrders), store.ClaimOptions{RunID: other, StaleAfter: time.Nanosecond}); err != nil {
		t.Fatal(err)
	}
	h.waitWaiters(1)
	h.clock.Advance(30 * time.Second) // the next heartbeat finds the lease gone
	out := <-done
	if out.Status != store.RunSuperseded {
		t.Fatalf("%+v", out)
	}
	if err := <-wrote; !errors.Is(err, store.ErrRunSuperseded) {
		t.Fatalf("late write: %v", err)
	}
	if _, err := h.db.GetItem(h.ctx, "LATE-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("late write reached the store")
	}
	if st := h.state(connectors.SyncOrders); st.RunID != other || st.Status != store.SyncRunning {
		t.Fatalf("the new owner's row was touched: %+v", st)
	}
}

func TestShutdownInterruptsRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	h.s.sync = func(ctx context.Context, _ connectors.Env, _ int) (connectors.SyncResult, error) {
		<-ctx.Done()
		return connectors.SyncResult{}, ctx.Err()
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := h.execute(ctx, connectors.SyncOrders)
	<-h.s.started
	cancel()
	out := <-done
	if out.Status != store.RunInterrupted {
		t.Fatalf("%+v", out)
	}
	if st := h.state(connectors.SyncOrders); st.Status != store.SyncIdle || st.ConsecutiveErrors != 0 || st.RunID != "" {
		t.Fatalf("state %+v", st)
	}
}

func TestRunRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	for _, tc := range []struct {
		key  store.SyncKey
		want error
	}{
		{store.SyncKey{Connector: "nope", WarehouseID: h.wh, SyncType: "orders"}, store.ErrNotFound},
		{store.SyncKey{Connector: "scripted", WarehouseID: h.wh, SyncType: "everything"}, store.ErrInvalid},
		{store.SyncKey{Connector: "scripted", WarehouseID: h.wh, SyncType: "inventory"}, store.ErrInvalid},
	} {
		if _, err := h.runner.Run(h.ctx, tc.key, connectors.RunOptions{}); !errors.Is(err, tc.want) {
			t.Errorf("%+v: %v", tc.key, err)
		}
	}
	// No credentials for the warehouse: the run fails, naming the field.
	w2, _ := h.db.CreateWarehouse(h.ctx, store.OpMeta{}, store.WarehouseInput{Code: "W2", Name: "Two"})
	out, err := h.runner.Run(h.ctx, store.SyncKey{Connector: "scripted", WarehouseID: w2.Value.ID, SyncType: "orders"}, connectors.RunOptions{})
	if err != nil || out.Status != store.RunFailed || !errors.Is(out.Err, connectors.ErrNotConfigured) || !strings.Contains(out.Error, "api_key") {
		t.Fatalf("%+v %v", out, err)
	}
}

func TestSinkWritesThroughTheStore(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	h.s.sync = func(ctx context.Context, env connectors.Env, _ int) (connectors.SyncResult, error) {
		var r connectors.SyncResult
		up := h.clock.Now().Add(-time.Minute)
		for _, o := range []connectors.Order{
			{SourceID: "o1", OrderNumber: "S-1", UpdatedAt: up, Lines: []connectors.Line{{SKU: "WIDGET-1", Qty: 1}, {SKU: "WIDGET-1", Qty: 2}}},
			{SourceID: "o2", OrderNumber: "S-2", UpdatedAt: up, Lines: []connectors.Line{{SKU: "UNKNOWN", Qty: 1}}},
		} {
			if err := r.Track(o.SourceID, env.Sink.UpsertOrder(ctx, o)); err != nil {
				return r, err
			}
		}
		return r, nil
	}
	for range 2 { // the second run re-reads the same records: nothing changes
		out, _ := h.runner.Run(h.ctx, h.key(connectors.SyncOrders), connectors.RunOptions{})
		if out.Status != store.RunSuccess || out.Result.RecordsSynced != 1 || out.Result.RecordsFailed != 1 ||
			!strings.Contains(out.Result.Failures[0].Message, "UNKNOWN") {
			t.Fatalf("%+v", out)
		}
	}
	var n int
	h.db.Reader().QueryRow(`SELECT count(*) FROM sales_orders WHERE source_name = 'scripted'`).Scan(&n)
	if n != 1 {
		t.Fatalf("%d orders", n)
	}
	runs, _ := h.db.ListSyncRuns(h.ctx, store.SyncRunFilter{})
	if !strings.Contains(runs[0].Notes, "1 record(s) refused") {
		t.Fatalf("notes %q", runs[0].Notes)
	}
}
