package connectors_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/store"
)

func (h *harness) push(orderID string) store.FulfillmentPush {
	h.t.Helper()
	p, err := h.db.GetFulfillmentPush(h.ctx, orderID)
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

func TestFulfillmentLoop(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	w := connectors.NewFulfillmentWorker(h.runner, 0)
	so := h.shippedOrder("scripted", "F-1")
	if p := h.push(so.ID); p.Status != store.FulfillmentPending {
		t.Fatalf("queued %+v", p)
	}
	if err := w.Drain(h.ctx); err != nil {
		t.Fatal(err)
	}
	p := h.push(so.ID)
	if p.Status != store.FulfillmentSucceeded || p.UpstreamRef != "ful-F-1" || p.Attempts != 1 {
		t.Fatalf("after drain %+v", p)
	}
	if len(h.s.pushes) != 1 {
		t.Fatalf("%d pushes", len(h.s.pushes))
	}
	req := h.s.pushes[0]
	if req.SourceID != "src-F-1" || req.Carrier != "UPS" || req.Tracking != "1Z-F-1" || req.IdempotencyKey != p.IdempotencyKey ||
		req.OrderID != so.ID || len(req.Lines) != 1 || req.Lines[0].SKU != "WIDGET-1" {
		t.Fatalf("request %+v", req)
	}
	// Nothing left to do: the next pass pushes nothing.
	if err := w.Drain(h.ctx); err != nil || len(h.s.pushes) != 1 {
		t.Fatalf("second pass pushed again: %v", err)
	}
	st := h.state(connectors.SyncFulfillment)
	if st.Status != store.SyncIdle || st.LastSuccessAt == nil {
		t.Fatalf("state %+v", st)
	}
}

func TestFulfillmentRetries(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{MaxPushAttempts: 5})
	w := connectors.NewFulfillmentWorker(h.runner, 0)
	fail := true
	h.s.push = func(ctx context.Context, req connectors.FulfillmentRequest) (connectors.PushResult, error) {
		if fail {
			return connectors.PushResult{}, transient("upstream 503 for " + secretValue)
		}
		return connectors.PushResult{Success: true, UpstreamRef: "ok"}, nil
	}
	so := h.shippedOrder("scripted", "F-2")
	start := h.clock.Now()
	for i := 1; i <= 3; i++ {
		if err := w.Drain(h.ctx); err != nil {
			t.Fatal(err)
		}
		p := h.push(so.ID)
		if p.Status != store.FulfillmentPending || p.Attempts != i || !p.NextAttemptAt.Equal(h.clock.Now().Add(30*time.Second)) ||
			strings.Contains(p.LastError, secretValue) || !strings.Contains(p.LastError, "503") {
			t.Fatalf("attempt %d: %+v", i, p)
		}
		// Not due yet: the next pass leaves it alone.
		n := len(h.s.pushes)
		w.Drain(h.ctx)
		if len(h.s.pushes) != n {
			t.Fatal("pushed before its retry time")
		}
		h.clock.Advance(30 * time.Second)
	}
	// After three quick retries the wait grows.
	w.Drain(h.ctx)
	if p := h.push(so.ID); p.Attempts != 4 || !p.NextAttemptAt.Equal(h.clock.Now().Add(5*time.Minute)) {
		t.Fatalf("fourth attempt %+v", p)
	}
	st := h.state(connectors.SyncFulfillment)
	if st.ConsecutiveErrors != 4 || st.Status != store.SyncError {
		t.Fatalf("state %+v", st)
	}
	fail = false
	h.clock.Advance(5 * time.Minute)
	w.Drain(h.ctx)
	if p := h.push(so.ID); p.Status != store.FulfillmentSucceeded || p.Attempts != 5 {
		t.Fatalf("recovered %+v (started %s)", p, start)
	}
}

func TestFulfillmentGivesUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		err    error
		status store.FulfillmentStatus
	}{
		{"permanent", &connectors.HTTPError{Kind: connectors.KindPermanent, Status: 401, Message: "denied"}, store.FulfillmentFailed},
		{"data", &connectors.DataError{Message: "rejected", Fields: map[string]string{"tracking": "invalid"}}, store.FulfillmentFailed},
		{"unsupported", connectors.Unsupported("scripted", connectors.CapPushFulfillment), store.FulfillmentSkipped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, connectors.RunnerConfig{})
			h.s.push = func(context.Context, connectors.FulfillmentRequest) (connectors.PushResult, error) {
				return connectors.PushResult{}, tc.err
			}
			so := h.shippedOrder("scripted", "F-3")
			connectors.NewFulfillmentWorker(h.runner, 0).Drain(h.ctx)
			if p := h.push(so.ID); p.Status != tc.status || p.Attempts != 1 || p.CompletedAt == nil {
				t.Fatalf("%+v", p)
			}
		})
	}
}

func TestFulfillmentWithoutAPushingConnector(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	ghost := h.shippedOrder("ghost", "G-1")
	nopush := h.shippedOrder("nopush", "N-1")
	connectors.NewFulfillmentWorker(h.runner, 0).Drain(h.ctx)
	for id, want := range map[string]string{ghost.ID: "not registered", nopush.ID: "does not support push_fulfillment"} {
		if p := h.push(id); p.Status != store.FulfillmentSkipped || !strings.Contains(p.LastError, want) {
			t.Fatalf("%+v", p)
		}
	}
}

func TestFulfillmentWaitsForCredentials(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	if err := h.vault.DeleteCredentials(h.ctx, "test", "scripted", h.wh); err != nil {
		t.Fatal(err)
	}
	so := h.shippedOrder("scripted", "C-1")
	w := connectors.NewFulfillmentWorker(h.runner, 0)
	w.Drain(h.ctx)
	p := h.push(so.ID)
	if p.Status != store.FulfillmentPending || p.Attempts != 1 || !strings.Contains(p.LastError, "api_key") || !p.NextAttemptAt.After(h.clock.Now()) {
		t.Fatalf("%+v", p)
	}
	if len(h.s.pushes) != 0 {
		t.Fatal("pushed without credentials")
	}
}

// The running worker pushes a shipment as soon as the ship commits (the
// poll is an hour away and nothing calls it), and retries a failed push
// when its retry falls due, again without waiting for the poll.
func TestFulfillmentWorkerLoop(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	var failOnce atomic.Bool
	h.s.mu.Lock()
	h.s.push = func(ctx context.Context, req connectors.FulfillmentRequest) (connectors.PushResult, error) {
		if failOnce.CompareAndSwap(true, false) {
			return connectors.PushResult{}, transient("upstream 503")
		}
		return connectors.PushResult{Success: true, UpstreamRef: "ok"}, nil
	}
	h.s.mu.Unlock()
	w := connectors.NewFulfillmentWorker(h.runner, time.Hour)
	w.Drained.InitSize(t, "a fulfillment pass", 1<<20)
	// waitFor checks cond after every pass; between passes it runs nudge.
	waitFor := func(what string, cond func() bool, nudge func()) {
		t.Helper()
		for !cond() {
			nudge()
			w.Drained.WaitOrTimeout()
		}
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	w.Drained.WaitOrTimeout()

	so := h.shippedOrder("scripted", "L-1")
	waitFor("push after the ship's commit", func() bool { return h.push(so.ID).Status == store.FulfillmentSucceeded }, func() {})

	failOnce.Store(true)
	so2 := h.shippedOrder("scripted", "L-2")
	waitFor("first attempt", func() bool { return h.push(so2.ID).Attempts == 1 }, func() {})
	if p := h.push(so2.ID); p.Status != store.FulfillmentPending || !p.NextAttemptAt.Equal(h.clock.Now().Add(30*time.Second)) {
		t.Fatalf("after a transient failure: %+v", p)
	}
	// Only time passes, up to the retry's due time: no commit, no poll.
	waitFor("retry when due", func() bool { return h.push(so2.ID).Status == store.FulfillmentSucceeded },
		func() {
			if h.clock.Now().Before(h.push(so2.ID).NextAttemptAt) {
				h.clock.Set(h.push(so2.ID).NextAttemptAt)
			} else {
				h.clock.Advance(time.Second) // the pass that saw it due may still be finishing
			}
		})
	if p := h.push(so2.ID); p.Attempts != 2 {
		t.Fatalf("retried push: %+v", p)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
