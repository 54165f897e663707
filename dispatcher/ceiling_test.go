package dispatcher

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sentryhub/store"
)

// ceilingWatch checks, on the engine goroutine after every commit, that a
// subscription never has more open deliveries than its pending ceiling.
func ceilingWatch(e *env) *atomic.Int64 {
	var peak atomic.Int64
	e.d.signals.checkCommit = func() {
		for _, s := range e.d.eng.subs {
			if s.open > peak.Load() {
				peak.Store(s.open)
			}
			if s.open > s.sub.PendingCeiling {
				e.t.Errorf("subscription %d: %d open deliveries, above its pending ceiling %d", s.sub.ID, s.open, s.sub.PendingCeiling)
			}
		}
	}
	return &peak
}

// okRecorder is a consumer that answers 200 unless fail is set, and
// records the event ids it accepted, in arrival order.
type okRecorder struct {
	fail atomic.Bool
	mu   sync.Mutex
	ok   []int64
}

func (o *okRecorder) respond(t *testing.T) func(w http.ResponseWriter, r *http.Request, cp captured) bool {
	return func(w http.ResponseWriter, r *http.Request, cp captured) bool {
		if o.fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		o.mu.Lock()
		o.ok = append(o.ok, cp.eventID(t))
		o.mu.Unlock()
		return false
	}
}

func (o *okRecorder) accepted() []int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.ok)
}

func (e *env) sub(id int64) store.Subscription {
	e.t.Helper()
	s, err := e.db.Subscription(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// checkDrained asserts that the consumer accepted every event of ids
// exactly once, in event_id order (global) or in order per aggregate, and
// that the subscription is active with nothing left open.
func checkDrained(t *testing.T, e *env, subID int64, ordering string, ids []int64, got []int64) {
	t.Helper()
	seen := map[int64]int{}
	for _, id := range got {
		seen[id]++
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Fatalf("event %d accepted %d times, want once (accepted %v)", id, seen[id], got)
		}
	}
	if len(got) != len(ids) {
		t.Fatalf("accepted %d events, want %d", len(got), len(ids))
	}
	if ordering == store.OrderingGlobal {
		if !slices.Equal(got, ids) {
			t.Fatalf("global ordering: accepted %v, want event_id order %v", got, ids)
		}
	} else {
		// appendEvents spreads events round robin over aggregates.
		lanes := map[int64]int{} // event id -> lane
		for i, id := range ids {
			lanes[id] = i
		}
		last := map[int]int64{}
		for _, id := range got {
			lane := lanes[id] % 3
			if id < last[lane] {
				t.Fatalf("aggregate %d out of order: %d after %d", lane, id, last[lane])
			}
			last[lane] = id
		}
	}
	s := e.sub(subID)
	if s.Status != store.SubscriptionActive || s.Cursor != ids[len(ids)-1] {
		t.Fatalf("after the drain: status %s (%s), cursor %d, want active at %d", s.Status, s.PauseReason, s.Cursor, ids[len(ids)-1])
	}
	e.untilCommitted("no open deliveries", func() bool {
		return len(deliveries(t, e.db, subID, store.DeliveryPending))+len(deliveries(t, e.db, subID, store.DeliveryInFlight)) == 0
	})
	if n := len(deliveries(t, e.db, subID, store.DeliverySucceeded)); n != len(ids) {
		t.Fatalf("%d succeeded deliveries, want %d", n, len(ids))
	}
}

// TestCeilingHealthyBacklogDrains: a backlog four times the pending ceiling
// reaches a healthy consumer in full, in order, without a pause: fan-out
// keeps at most the ceiling open and tops it up as deliveries succeed.
func TestCeilingHealthyBacklogDrains(t *testing.T) {
	t.Parallel()
	for _, ordering := range []string{store.OrderingGlobal, store.OrderingAggregate} {
		t.Run(ordering, func(t *testing.T) {
			e := newEnv(t, withFakeClock(time.Date(2026, 5, 2, 14, 0, 0, 0, time.UTC)))
			peak := ceilingWatch(e)
			rec := &okRecorder{}
			c := newConsumer(t, e.fake.Now, rec.respond(t))
			e.start()
			const ceiling = 8
			sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL, PendingCeiling: ptr(int64(ceiling)),
				MaxInFlight: ptr(4), Ordering: ptr(ordering)})
			ids := e.appendEvents(4*ceiling, 3) // one transaction: the whole backlog at once
			// Not c.waitN: a request is seen when it arrives, before the
			// recorder has accepted it; its outcome is committed after.
			e.untilCommitted("every event accepted", func() bool { return len(rec.accepted()) >= len(ids) })
			checkDrained(t, e, sub.ID, ordering, ids, rec.accepted())
			if findAudit(auditActions(t, e.db), "webhook.pause") != nil {
				t.Fatal("a healthy consumer's subscription was paused")
			}
			if p := peak.Load(); p != ceiling {
				t.Fatalf("peak open deliveries %d, want the ceiling %d (fan-out bounded by it)", p, ceiling)
			}
		})
	}
}

// TestCeilingResumeDrainsBacklog: a consumer fails, the subscription pauses
// at its ceiling with a failing head; once the consumer is fixed, one
// admin resume is enough to deliver a backlog several times the ceiling,
// every event once, in order.
func TestCeilingResumeDrainsBacklog(t *testing.T) {
	t.Parallel()
	for _, ordering := range []string{store.OrderingGlobal, store.OrderingAggregate} {
		t.Run(ordering, func(t *testing.T) {
			e := newEnv(t, withFakeClock(time.Date(2026, 5, 2, 14, 0, 0, 0, time.UTC)))
			ceilingWatch(e)
			rec := &okRecorder{}
			rec.fail.Store(true)
			c := newConsumer(t, e.fake.Now, rec.respond(t))
			e.start()
			const ceiling = 5
			sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL, PendingCeiling: ptr(int64(ceiling)),
				MaxInFlight: ptr(4), Ordering: ptr(ordering)})
			ids := e.appendEvents(5*ceiling, 3)
			e.untilCommitted("pause at the ceiling", func() bool { return e.sub(sub.ID).Status == store.SubscriptionPaused })
			if s := e.sub(sub.ID); s.PauseReason != store.PausePendingCeiling || s.Cursor != ids[ceiling-1] {
				t.Fatalf("paused %s at cursor %d, want pending_ceiling at %d", s.PauseReason, s.Cursor, ids[ceiling-1])
			}
			rec.fail.Store(false)
			// The failed heads retry one second later.
			e.fake.Advance(2 * time.Second)
			if _, _, err := e.d.UpdateSubscription(context.Background(), "admin", sub.ID, store.SubscriptionPatch{Status: ptr("active")}); err != nil {
				t.Fatal(err)
			}
			e.untilCommitted("every event accepted", func() bool { return len(rec.accepted()) >= len(ids) })
			checkDrained(t, e, sub.ID, ordering, ids, rec.accepted())
			pauses := 0
			for _, a := range auditActions(t, e.db) {
				if a.Action == "webhook.pause" {
					pauses++
				}
			}
			if pauses != 1 {
				t.Fatalf("%d pauses, want the one before the fix", pauses)
			}
		})
	}
}

// TestCeilingFailingConsumerPauses: with a consumer that fails everything,
// the subscription pauses once its open deliveries reach the ceiling with a
// failing head, audited with the reason; the cursor stays at the last event
// fanned out, so the rest of the backlog waits, nothing skipped.
func TestCeilingFailingConsumerPauses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ordering string
		requests int // attempts before the pause: the head (global), every lane (aggregate)
	}{{store.OrderingGlobal, 1}, {store.OrderingAggregate, 3}} {
		t.Run(tc.ordering, func(t *testing.T) {
			e := newEnv(t, withFakeClock(time.Date(2026, 5, 2, 14, 0, 0, 0, time.UTC)))
			ceilingWatch(e)
			c := newConsumer(t, e.fake.Now, func(w http.ResponseWriter, r *http.Request, cp captured) bool {
				w.WriteHeader(http.StatusBadGateway)
				return true
			})
			e.start()
			const ceiling = 4
			sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL, PendingCeiling: ptr(int64(ceiling)),
				MaxInFlight: ptr(16), Ordering: ptr(tc.ordering)})
			ids := e.appendEvents(4*ceiling, 3)
			e.untilCommitted("auto-pause", func() bool { return e.sub(sub.ID).Status == store.SubscriptionPaused })
			s := e.sub(sub.ID)
			if s.PauseReason != store.PausePendingCeiling || s.Cursor != ids[ceiling-1] || s.PausedAt == nil {
				t.Fatalf("paused %+v, want pending_ceiling at cursor %d", s, ids[ceiling-1])
			}
			if n := len(deliveries(t, e.db, sub.ID, "")); n != ceiling {
				t.Fatalf("%d deliveries, want the %d the ceiling allows", n, ceiling)
			}
			a := findAudit(auditActions(t, e.db), "webhook.pause")
			if a == nil || a.Actor != "dispatcher" || !strings.Contains(string(a.Diff), `"pending_ceiling"`) {
				t.Fatalf("pause audit %+v", a)
			}
			if got := len(c.all()); got != tc.requests {
				t.Fatalf("%d requests before the pause, want %d", got, tc.requests)
			}
			// Paused: retries come due, nothing is sent.
			e.fake.Advance(time.Hour)
			e.appendEvents(3, 3)
			e.fake.Advance(time.Hour)
			if got := len(c.all()); got != tc.requests {
				t.Fatalf("a paused subscription sent %d more requests", got-tc.requests)
			}
		})
	}
}

// TestCeilingOneBrokenAggregate: under ordering "aggregate" a failing
// aggregate does not pause the subscription while other aggregates still
// deliver; the ceiling bounds what it holds, and the subscription pauses
// only once every open delivery waits behind a failing head.
func TestCeilingOneBrokenAggregate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFakeClock(time.Date(2026, 5, 2, 14, 0, 0, 0, time.UTC)))
	ceilingWatch(e)
	broken := testAggregates[0]
	c := newConsumer(t, e.fake.Now, func(w http.ResponseWriter, r *http.Request, cp captured) bool {
		if cp.aggregate(t) == broken {
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}
		return false
	})
	e.start()
	const ceiling = 6
	sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL, PendingCeiling: ptr(int64(ceiling)),
		MaxInFlight: ptr(2), Ordering: ptr(store.OrderingAggregate)})
	ids := e.appendEvents(30, 3) // aggregate 0: ids[0], ids[3], ...
	e.untilCommitted("auto-pause", func() bool { return e.sub(sub.ID).Status == store.SubscriptionPaused })
	open := append(deliveries(t, e.db, sub.ID, store.DeliveryPending), deliveries(t, e.db, sub.ID, store.DeliveryInFlight)...)
	if len(open) != ceiling {
		t.Fatalf("%d open deliveries at the pause, want the ceiling %d", len(open), ceiling)
	}
	for _, d := range open {
		if i := slices.Index(ids, d.EventID); i%3 != 0 {
			t.Fatalf("open delivery of event %d (aggregate %d) at the pause: only the broken aggregate's should be left", d.EventID, i%3)
		}
	}
	// Every other event up to the cursor went through.
	s := e.sub(sub.ID)
	want := 0
	for i, id := range ids {
		if id <= s.Cursor && i%3 != 0 {
			want++
		}
	}
	if n := len(deliveries(t, e.db, sub.ID, store.DeliverySucceeded)); n != want || want <= ceiling {
		t.Fatalf("%d deliveries succeeded before the pause, want %d (more than the ceiling)", n, want)
	}
}

// TestCeilingRestartRetriesFirst: a subscription resumed at its ceiling
// with failing heads, then restarted, is not paused again for heads that
// failed before: the head is retried first, and only its failure pauses.
func TestCeilingRestartRetriesFirst(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 5, 2, 14, 0, 0, 0, time.UTC)
	e := newEnv(t, withFakeClock(t0))
	c := newConsumer(t, nil, func(w http.ResponseWriter, r *http.Request, cp captured) bool {
		w.WriteHeader(http.StatusBadGateway)
		return true
	})
	e.start()
	sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL, PendingCeiling: ptr(int64(3)), Ordering: ptr(store.OrderingGlobal)})
	e.appendEvents(6, 3)
	e.untilCommitted("auto-pause", func() bool { return e.sub(sub.ID).Status == store.SubscriptionPaused })
	c.wait(t) // the head's first attempt
	if _, _, err := e.d.UpdateSubscription(context.Background(), "admin", sub.ID, store.SubscriptionPatch{Status: ptr("active")}); err != nil {
		t.Fatal(err)
	}
	e.stop() // before the head's retry is due

	e2 := newEnvAt(t, e.db.Path, e.key, withFakeClock(t0))
	e2.d.signals.Stuck.Init(t, "the actor's report of its failing head after the restart")
	e2.start()
	// The actor loads the open deliveries and reports them stuck behind
	// the failed head; two round trips through the engine see that report
	// committed.
	if id := e2.d.signals.Stuck.WaitOrTimeout(); id != sub.ID {
		t.Fatalf("stuck report for subscription %d, want %d", id, sub.ID)
	}
	for range 2 {
		if _, err := do(context.Background(), e2.d.eng, func(context.Context) (struct{}, error) { return struct{}{}, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if s := e2.sub(sub.ID); s.Status != store.SubscriptionActive {
		t.Fatalf("paused (%s) at the restart, before the head was retried", s.PauseReason)
	}
	deadline := time.Now().Add(waitTimeout)
	for retried := false; !retried; {
		if time.Now().After(deadline) {
			t.Fatalf("the head was not retried after the restart (status %s)", e2.sub(sub.ID).Status)
		}
		e2.fake.Advance(5 * time.Second)
		select {
		case <-c.got:
			retried = true
		case <-time.After(5 * time.Millisecond):
		}
	}
	e2.untilCommitted("pause after the failed retry", func() bool { return e2.sub(sub.ID).Status == store.SubscriptionPaused })
	if s := e2.sub(sub.ID); s.PauseReason != store.PausePendingCeiling {
		t.Fatalf("pause reason %q", s.PauseReason)
	}
}
