package connectors_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/store"
)

// TestFulfillmentHealthIsASync: the fulfillment_health_check task runs as
// the fulfillment_health sync of each connection with open pushes: a
// failed push makes the run fail (in the history, counted as a failure, so
// the sync shows failing), a check already running is not started twice,
// and once the push succeeds the next check records the recovery.
func TestFulfillmentHealthIsASync(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	svc := connectors.NewService(connectors.ServiceConfig{Registry: h.reg, DB: h.db, Vault: h.vault, HTTP: h.pool,
		Runner: h.runner, Clock: h.clock})
	info, _, _ := h.reg.Lookup("scripted")
	if !strings.Contains(strings.Join(info.SyncTypes, ","), "fulfillment,fulfillment_health") {
		t.Fatalf("sync types %v", info.SyncTypes)
	}
	check := connectors.NewFulfillmentHealthCheck(h.runner, 0)

	// Nothing queued: nothing to check.
	if outs, err := check.Once(h.ctx); err != nil || len(outs) != 0 {
		t.Fatalf("idle check: %+v %v", outs, err)
	}

	h.s.push = func(context.Context, connectors.FulfillmentRequest) (connectors.PushResult, error) {
		return connectors.PushResult{}, &connectors.HTTPError{Kind: connectors.KindPermanent, Status: 403, Message: "denied"}
	}
	so := h.shippedOrder("scripted", "H-1")
	if err := connectors.NewFulfillmentWorker(h.runner, 0).Drain(h.ctx); err != nil {
		t.Fatal(err)
	}
	<-h.done // the fulfillment run
	if p := h.push(so.ID); p.Status != store.FulfillmentFailed {
		t.Fatalf("push %+v", p)
	}

	// One at a time: while a check holds the sync, the task starts none.
	held, err := h.runner.Claim(h.ctx, h.key(connectors.SyncFulfillmentHealth), connectors.RunOptions{Trigger: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if outs, err := check.Once(h.ctx); err != nil || len(outs) != 0 {
		t.Fatalf("check while one runs: %+v %v", outs, err)
	}
	held.Abandon(h.ctx)

	outs, err := check.Once(h.ctx)
	if err != nil || len(outs) != 1 {
		t.Fatalf("check: %+v %v", outs, err)
	}
	<-h.done
	o := outs[0]
	if o.Key != h.key(connectors.SyncFulfillmentHealth) || o.Status != store.RunFailed || o.Attempts != 1 ||
		!strings.Contains(o.Error, "1 failed, 0 overdue") {
		t.Fatalf("outcome %+v", o)
	}
	st := h.state(connectors.SyncFulfillmentHealth)
	if st.ConsecutiveErrors != 1 || !strings.Contains(st.LastErrorMessage, "fulfillment pushes need attention") {
		t.Fatalf("state %+v", st)
	}
	status, err := svc.SyncStatus(h.ctx, "scripted", h.wh)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range status.Runs {
		if r.SyncType == connectors.SyncFulfillmentHealth && r.Trigger == "health_check" && r.Status == store.RunFailed {
			found = true
		}
	}
	if !found {
		t.Fatalf("history %+v", status.Runs)
	}

	// The push is retried and succeeds: the connection has nothing open,
	// but its last check failed, so the next check runs and clears it.
	h.s.push = nil
	if _, err := svc.RetryFulfillment(h.ctx, "user:a", "scripted", h.push(so.ID).ID); err != nil {
		t.Fatal(err)
	}
	if err := connectors.NewFulfillmentWorker(h.runner, 0).Drain(h.ctx); err != nil {
		t.Fatal(err)
	}
	<-h.done
	if outs, err = check.Once(h.ctx); err != nil || len(outs) != 1 || outs[0].Status != store.RunSuccess {
		t.Fatalf("recovery check: %+v %v", outs, err)
	}
	<-h.done
	if st := h.state(connectors.SyncFulfillmentHealth); st.ConsecutiveErrors != 0 || st.LastSuccessAt == nil {
		t.Fatalf("state after recovery %+v", st)
	}
	// Healthy and not failing: no more checks.
	if outs, err = check.Once(h.ctx); err != nil || len(outs) != 0 {
		t.Fatalf("after recovery: %+v %v", outs, err)
	}
}

// TestFulfillmentHealthOverdue: a push pending longer than the overdue
// threshold fails the check too, through the Run loop on the fake clock.
func TestFulfillmentHealthOverdue(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	h.shippedOrder("scripted", "H-2") // queued, never pushed (no worker)
	check := connectors.NewFulfillmentHealthCheck(h.runner, time.Minute)
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- check.Run(ctx) }()
	defer func() { cancel(); <-done }()
	h.waitWaiters(1)
	h.clock.Advance(connectors.FulfillmentOverdue + time.Minute)
	o := <-h.done
	if o.Key.SyncType != connectors.SyncFulfillmentHealth || o.Status != store.RunFailed || !strings.Contains(o.Error, "1 overdue") {
		t.Fatalf("outcome %+v", o)
	}
}
