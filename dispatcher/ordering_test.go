package dispatcher

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sentryhub/store"
	"sentryhub/testsignal"
)

// orderingConsumer answers 500 to event fail while failing is set, 200
// otherwise, and tracks how many requests are open at once.
type orderingConsumer struct {
	*consumer
	fail      atomic.Int64
	failing   atomic.Bool
	cur, peak atomic.Int32
}

func newOrderingConsumer(t *testing.T, now func() time.Time) *orderingConsumer {
	oc := &orderingConsumer{}
	oc.consumer = newConsumer(t, now, func(w http.ResponseWriter, r *http.Request, cp captured) bool {
		n := oc.cur.Add(1)
		// Decremented before the response goes out, so a request that
		// only starts after the previous response never counts twice.
		defer oc.cur.Add(-1)
		for {
			p := oc.peak.Load()
			if n <= p || oc.peak.CompareAndSwap(p, n) {
				break
			}
		}
		if oc.failing.Load() && cp.eventID(t) == oc.fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}
		return false
	})
	return oc
}

// eventIDs returns the event ids of requests [from:] in arrival order.
func (oc *orderingConsumer) eventIDs(t *testing.T, from int) []int64 {
	t.Helper()
	var out []int64
	for _, r := range oc.all()[from:] {
		out = append(out, r.eventID(t))
	}
	return out
}

// driveUntil follows attempt outcomes on the fake clock, jumping to each
// failed attempt's retry time, until n deliveries have succeeded. The
// consumer stops failing after failures failed attempts.
func driveUntil(t *testing.T, e *env, outs *testsignal.Signal[outcome], oc *orderingConsumer, n, failures int) {
	t.Helper()
	for ok, failed := 0, 0; ok < n; {
		o := outs.WaitOrTimeout()
		if o.upd.Status == store.DeliverySucceeded {
			ok++
			continue
		}
		if failed++; failed >= failures {
			oc.failing.Store(false)
		}
		e.fake.Set(o.upd.NextAttemptAt)
	}
}

// wantStrictOrder checks got is exactly want: every event once, in
// increasing event_id order.
func wantStrictOrder(t *testing.T, got, want []int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d requests %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("request %d is event %d, want %d (strict event_id order): %v", i, got[i], want[i], got)
		}
	}
}

// TestGlobalOrderingStrictOrder: many aggregates, max_in_flight 16, and
// still every event arrives in increasing event_id order, one request at a
// time.
func TestGlobalOrderingStrictOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	oc := newOrderingConsumer(t, nil)
	e.start()
	sub, _ := e.create(store.SubscriptionCreate{URL: oc.srv.URL, MaxInFlight: ptr(16), Ordering: ptr(store.OrderingGlobal)})
	if sub.Ordering != store.OrderingGlobal {
		t.Fatalf("ordering %q", sub.Ordering)
	}
	var ids []int64
	for range 4 { // several fan-outs, so lanes get work while busy
		ids = append(ids, e.appendEvents(50, 25)...)
	}
	oc.waitN(t, len(ids))
	wantStrictOrder(t, oc.eventIDs(t, 0), ids)
	if p := oc.peak.Load(); p != 1 {
		t.Fatalf("peak concurrency %d under global ordering, want 1", p)
	}
	e.untilCommitted("all succeeded", func() bool { return len(deliveries(t, e.db, sub.ID, store.DeliverySucceeded)) == len(ids) })
}

// TestOrderingHeadOfLine: the consumer fails event N three times (retries
// on the injected clock). Under global ordering no later event of any
// aggregate is sent until N succeeds; under aggregate ordering the other
// aggregates finish meanwhile (the contrast that makes the first half
// meaningful).
func TestOrderingHeadOfLine(t *testing.T) {
	t.Parallel()
	const events, aggregates, blockedAt = 40, 8, 5
	for _, ordering := range []string{store.OrderingGlobal, store.OrderingAggregate} {
		t.Run(ordering, func(t *testing.T) {
			e := newEnv(t, withFakeClock(time.Date(2026, 5, 2, 14, 0, 0, 0, time.UTC)))
			outs := e.watch()
			oc := newOrderingConsumer(t, e.fake.Now)
			e.start()
			sub, _ := e.create(store.SubscriptionCreate{URL: oc.srv.URL, MaxInFlight: ptr(8), Ordering: ptr(ordering)})
			first := e.mustNextEventID()
			oc.fail.Store(first + blockedAt)
			oc.failing.Store(true)
			ids := e.appendEvents(events, aggregates)
			blockedAgg := testAggregates[blockedAt%aggregates]
			if ordering == store.OrderingAggregate {
				// Everything but the blocked aggregate's tail goes out while
				// the fake clock stands still before the first retry.
				others := 0
				for i := range ids {
					if testAggregates[i%aggregates] != blockedAgg || i < blockedAt {
						others++
					}
				}
				oc.waitN(t, others+1) // and the blocked head once
				for _, r := range oc.all() {
					if r.aggregate(t) == blockedAgg && r.eventID(t) > ids[blockedAt] {
						t.Fatalf("event %d sent behind its aggregate's failing head %d", r.eventID(t), ids[blockedAt])
					}
				}
				driveUntil(t, e, outs, oc, events, 3)
				return
			}
			driveUntil(t, e, outs, oc, events, 3)
			// Global: ids[0..N], then N's three retries, then the rest:
			// nothing after N, of any aggregate, before N succeeded.
			var want []int64
			want = append(want, ids[:blockedAt+1]...)
			for range 3 {
				want = append(want, ids[blockedAt])
			}
			want = append(want, ids[blockedAt+1:]...)
			got := oc.eventIDs(t, 0)
			if len(got) != len(want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("request %d is event %d, want %d: %v", i, got[i], want[i], got)
				}
			}
			if p := oc.peak.Load(); p != 1 {
				t.Fatalf("peak concurrency %d, want 1", p)
			}
			e.untilCommitted("all succeeded", func() bool { return len(deliveries(t, e.db, sub.ID, store.DeliverySucceeded)) == events })
		})
	}
}

// TestOrderingPatch: switching a running subscription from aggregate to
// global while one aggregate is stuck behind a failing head requeues the
// open deliveries in id order: nothing more goes out until the head
// succeeds, then everything in event_id order, one at a time. Switching
// back lets the other aggregates pass a failing head again.
func TestOrderingPatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFakeClock(time.Date(2026, 5, 2, 14, 0, 0, 0, time.UTC)))
	outs := e.watch()
	oc := newOrderingConsumer(t, e.fake.Now)
	e.start()
	sub, _ := e.create(store.SubscriptionCreate{URL: oc.srv.URL, MaxInFlight: ptr(8), Ordering: ptr(store.OrderingAggregate)})
	if sub.Ordering != store.OrderingAggregate {
		t.Fatalf("ordering %q", sub.Ordering)
	}
	oc.fail.Store(e.mustNextEventID())
	oc.failing.Store(true)
	ids := e.appendEvents(30, 3) // aggregate 0 is stuck behind ids[0]
	var failure outcome
	for ok, failed := 0, 0; ok < 20 || failed < 1; {
		o := outs.WaitOrTimeout()
		if o.upd.Status == store.DeliverySucceeded {
			ok++
		} else {
			failed++
			failure = o
		}
	}
	// Nothing is in flight now: aggregates 1 and 2 are done, ids[0] waits
	// for its retry.
	mark := len(oc.all())
	oc.peak.Store(0)
	s, _, err := e.d.UpdateSubscription(context.Background(), "admin", sub.ID, store.SubscriptionPatch{Ordering: ptr(store.OrderingGlobal)})
	if err != nil || s.Ordering != store.OrderingGlobal {
		t.Fatalf("patch: %+v %v", s, err)
	}
	a := findAudit(auditActions(t, e.db), "webhook.update")
	if a == nil || !strings.Contains(string(a.Diff), `"ordering":{"from":"aggregate","to":"global"}`) {
		t.Fatalf("audit %+v", a)
	}
	ids = append(ids, e.appendEvents(30, 3)...)
	oc.failing.Store(false)
	e.fake.Set(failure.upd.NextAttemptAt)
	driveUntil(t, e, outs, oc, 1+9+30, 1)
	var want []int64
	for i, id := range ids {
		if i >= 30 || i%3 == 0 {
			want = append(want, id)
		}
	}
	wantStrictOrder(t, oc.eventIDs(t, mark), want)
	if p := oc.peak.Load(); p != 1 {
		t.Fatalf("peak concurrency %d after switching to global, want 1", p)
	}

	// Back to per aggregate: a failing head blocks only its aggregate.
	if _, _, err := e.d.UpdateSubscription(context.Background(), "admin", sub.ID,
		store.SubscriptionPatch{Ordering: ptr(store.OrderingAggregate)}); err != nil {
		t.Fatal(err)
	}
	mark = len(oc.all())
	oc.fail.Store(e.mustNextEventID())
	oc.failing.Store(true)
	more := e.appendEvents(30, 3)
	behind := map[int64]bool{}
	for i := 3; i < len(more); i += 3 {
		behind[more[i]] = true
	}
	e.untilCommitted("the other aggregates' 20 events and the failing head", func() bool { return len(oc.all())-mark >= 21 })
	for _, id := range oc.eventIDs(t, mark) {
		if behind[id] {
			t.Fatalf("event %d sent behind its aggregate's failing head %d", id, more[0])
		}
	}
}

// TestOrderingGlobalAcrossRestart: a global subscription whose head failed
// before a crash (and rows the crash left in_flight) resumes after a
// restart in strict event_id order, head first, one at a time.
func TestOrderingGlobalAcrossRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	oc := newOrderingConsumer(t, nil)
	outs := e.watch()
	e.start()
	sub, _ := e.create(store.SubscriptionCreate{URL: oc.srv.URL, Ordering: ptr(store.OrderingGlobal)})
	oc.fail.Store(e.mustNextEventID())
	oc.failing.Store(true)
	ids := e.appendEvents(30, 10)
	if o := outs.WaitOrTimeout(); o.upd.Status != store.DeliveryPending {
		t.Fatalf("first outcome %+v, want the head's failure", o.upd)
	}
	e.stop()
	if got := oc.eventIDs(t, 0); len(got) != 1 || got[0] != ids[0] {
		t.Fatalf("before the restart: %v, want only the head", got)
	}
	// What a kill -9 leaves: some later rows marked in_flight.
	if _, err := e.db.Writer().Exec(`UPDATE webhook_deliveries SET status = 'in_flight' WHERE id IN
		(SELECT id FROM webhook_deliveries WHERE subscription_id = ? ORDER BY id LIMIT 3 OFFSET 5)`, sub.ID); err != nil {
		t.Fatal(err)
	}
	oc.failing.Store(false)
	oc.peak.Store(0)
	// The restart's clock is 2 s on: the head's first retry (1 s ± 10%
	// after its failure) is due at once rather than after a real wait.
	e2 := newEnvAt(t, e.db.Path, e.key, withFakeClock(time.Now().Add(2*time.Second)))
	e2.start()
	oc.waitN(t, 1+len(ids)) // the failed attempt, then every event
	wantStrictOrder(t, oc.eventIDs(t, 1), ids)
	if p := oc.peak.Load(); p != 1 {
		t.Fatalf("peak concurrency %d after restart, want 1", p)
	}
	e2.untilCommitted("all succeeded", func() bool { return len(deliveries(t, e2.db, sub.ID, store.DeliverySucceeded)) == len(ids) })
}

// TestOrderingPatchWhileInFlight: a switch to global while three lanes have
// a request open lets those finish, then sends everything else in strict
// event_id order, one at a time.
func TestOrderingPatchWhileInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	release := make(chan struct{})
	var seq, cur, late atomic.Int32
	c := newConsumer(t, nil, func(w http.ResponseWriter, r *http.Request, cp captured) bool {
		n := cur.Add(1)
		defer cur.Add(-1)
		if seq.Add(1) <= 3 {
			<-release
		} else if n > 1 {
			late.Store(n)
		}
		return false
	})
	e.start()
	sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL, MaxInFlight: ptr(3), Ordering: ptr(store.OrderingAggregate)})
	ids := e.appendEvents(9, 3)
	c.waitN(t, 3) // the three heads, held open
	if _, _, err := e.d.UpdateSubscription(context.Background(), "admin", sub.ID,
		store.SubscriptionPatch{Ordering: ptr(store.OrderingGlobal)}); err != nil {
		t.Fatal(err)
	}
	a, err := do(context.Background(), e.d.eng, func(context.Context) (*actor, error) { return e.d.eng.subs[sub.ID].actor, nil })
	if err != nil {
		t.Fatal(err)
	}
	// Once the actor has taken the new configuration from its inbox it
	// applies it before handling any result.
	eventually(t, "the actor took the new ordering", func() bool {
		a.inbox.mu.Lock()
		defer a.inbox.mu.Unlock()
		return len(a.inbox.items) == 0
	})
	ids = append(ids, e.appendEvents(9, 3)...)
	close(release)
	c.waitN(t, len(ids)-3)
	got := c.all()
	var rest []int64
	for _, r := range got[3:] {
		rest = append(rest, r.eventID(t))
	}
	wantStrictOrder(t, rest, ids[3:])
	if n := late.Load(); n != 0 {
		t.Fatalf("%d requests open at once after the switch to global", n)
	}
	e.untilCommitted("all succeeded", func() bool { return len(deliveries(t, e.db, sub.ID, store.DeliverySucceeded)) == len(ids) })
}
