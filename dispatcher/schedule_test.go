package dispatcher

import (
	"context"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sentryhub/store"
)

// seqJitter returns the values in turn, then 0.
func seqJitter(vals ...float64) Jitter {
	var mu sync.Mutex
	i := 0
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		if i >= len(vals) {
			return 0
		}
		i++
		return vals[i-1]
	}
}

// TestRetryScheduleAndDeadLetter runs the whole ~15 hour schedule on a fake
// clock: eight attempts with the contract's gaps (each with its jitter),
// head-of-line blocking of the lane meanwhile, the DLQ twelve hours after
// the eighth failure, and the lane moving on.
func TestRetryScheduleAndDeadLetter(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 5, 2, 14, 0, 0, 0, time.UTC)
	jit := []float64{-0.5, 1, -1, 0.25, -0.75, 0.5, 0.9}
	e := newEnv(t, withFakeClock(start), func(c *Config) { c.Jitter = seqJitter(jit...) })
	outs := e.watch()
	var firstEvent atomic.Int64
	c := newConsumer(t, e.fake.Now, func(w http.ResponseWriter, r *http.Request, cp captured) bool {
		if cp.eventID(t) == firstEvent.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		return false
	})
	e.start()
	sub, key := e.create(store.SubscriptionCreate{URL: c.srv.URL})
	ids := e.appendEvents(2, 1) // one lane: the second waits behind the first
	firstEvent.Store(ids[0])

	var attempts []captured
	for n := 1; n <= MaxAttempts; n++ {
		r := c.wait(t)
		if r.eventID(t) != ids[0] {
			t.Fatalf("attempt %d carried event %d: the lane's head must block the rest", n, r.eventID(t))
		}
		if !verifySentry(r.header, r.body, gen1Only(key), e.fake.Now()) {
			t.Fatalf("attempt %d does not verify", n)
		}
		attempts = append(attempts, r)
		o := outs.WaitOrTimeout()
		if o.upd.Attempts != n || o.upd.Status != store.DeliveryPending || o.upd.Attempt.ErrorKind != store.Kind5xx || o.upd.Attempt.StatusCode != 502 {
			t.Fatalf("outcome of attempt %d: %+v %+v", n, o.upd, o.upd.Attempt)
		}
		var wantGap time.Duration
		if n < MaxAttempts {
			// The spec: delay * (1 + 0.1*jitter), and never inside the
			// second of the previous attempt.
			wantGap = time.Duration(math.Round(float64(RetryDelay(n)) * (1 + 0.1*jit[n-1])))
			if next := r.at.Truncate(time.Second).Add(time.Second); r.at.Add(wantGap).Before(next) {
				wantGap = next.Sub(r.at)
			}
		} else {
			wantGap = 12 * time.Hour
		}
		if got := o.upd.NextAttemptAt.Sub(r.at); got != wantGap {
			t.Fatalf("after attempt %d the next is due in %v, want %v", n, got, wantGap)
		}
		// Just short of the time nothing happens; at the time it does.
		e.fake.Advance(wantGap - time.Millisecond)
		e.fake.Advance(time.Millisecond)
	}
	// Gaps as the consumer saw them, and a fresh timestamp each time.
	want := []time.Duration{time.Second, 4400 * time.Millisecond, 13500 * time.Millisecond, 61500 * time.Millisecond,
		4*time.Minute + 37500*time.Millisecond, 31*time.Minute + 30*time.Second, 2*time.Hour + 10*time.Minute + 48*time.Second}
	for i := 1; i < len(attempts); i++ {
		if gap := attempts[i].at.Sub(attempts[i-1].at); gap != want[i-1] {
			t.Errorf("gap before attempt %d = %v, want %v", i+1, gap, want[i-1])
		}
		if attempts[i].header.Get("X-Sentry-Delivery-Id") == attempts[i-1].header.Get("X-Sentry-Delivery-Id") {
			t.Errorf("attempt %d reused the delivery id", i+1)
		}
	}
	// Twelve hours after the eighth failure: dead, and the lane moves on.
	next := c.wait(t)
	if next.eventID(t) != ids[1] {
		t.Fatalf("after the DLQ the lane sent event %d, want %d", next.eventID(t), ids[1])
	}
	if got := next.at.Sub(attempts[7].at); got != 12*time.Hour {
		t.Fatalf("dead-lettered %v after the last attempt, want 12h", got)
	}
	e.untilCommitted("dead row and delivered successor", func() bool {
		dead := deliveries(t, e.db, sub.ID, store.DeliveryDead)
		ok := deliveries(t, e.db, sub.ID, store.DeliverySucceeded)
		return len(dead) == 1 && len(ok) == 1
	})
	dead := deliveries(t, e.db, sub.ID, store.DeliveryDead)[0]
	if dead.Attempts != 8 || len(dead.History) != 8 || dead.CompletedAt == nil || dead.LastErrorKind == nil || *dead.LastErrorKind != store.Kind5xx {
		t.Fatalf("dead delivery %+v", dead)
	}
	for i, a := range dead.History {
		if a.ErrorKind != store.Kind5xx || a.StatusCode != 502 || a.At != store.TimeOf(attempts[i].at) {
			t.Fatalf("history[%d] = %+v", i, a)
		}
	}
	if dead.LastError == nil || dead.LastError.Hint == "" {
		t.Fatal("a failed delivery carries the catalog's message and hint")
	}
	dlq, _, err := e.db.Deliveries(context.Background(), sub.ID, store.DeliveryQuery{Status: store.DeliveryDead})
	if err != nil || len(dlq) != 1 {
		t.Fatalf("DLQ %v %v", dlq, err)
	}
}

// TestSucceedsAfterFailures: a consumer that fails three times and then
// accepts; the delivery ends succeeded with four attempts on record.
func TestSucceedsAfterFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFakeClock(time.Date(2026, 5, 2, 14, 0, 0, 0, time.UTC)))
	outs := e.watch()
	var calls atomic.Int32
	c := newConsumer(t, e.fake.Now, func(w http.ResponseWriter, r *http.Request, cp captured) bool {
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(http.StatusInternalServerError)
		case 2:
			w.WriteHeader(http.StatusTooManyRequests)
		case 3:
			w.WriteHeader(http.StatusNotFound)
		default:
			return false
		}
		return true
	})
	e.start()
	sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL})
	e.appendEvents(1, 1)
	for range 3 {
		c.wait(t)
		o := outs.WaitOrTimeout()
		e.fake.Set(o.upd.NextAttemptAt)
	}
	c.wait(t)
	if o := outs.WaitOrTimeout(); o.upd.Status != store.DeliverySucceeded || o.upd.Attempts != 4 {
		t.Fatalf("final outcome %+v", o.upd)
	}
	e.untilCommitted("succeeded row", func() bool {
		return len(deliveries(t, e.db, sub.ID, store.DeliverySucceeded)) == 1
	})
	d := deliveries(t, e.db, sub.ID, "")[0]
	kinds := []store.ErrorKind{store.Kind5xx, store.Kind4xx, store.Kind4xx, ""}
	codes := []int{500, 429, 404, 200}
	if d.Attempts != 4 || len(d.History) != 4 || d.LastErrorKind != nil || d.LastStatusCode == nil || *d.LastStatusCode != 200 {
		t.Fatalf("delivery %+v", d)
	}
	for i, a := range d.History {
		if a.ErrorKind != kinds[i] || a.StatusCode != codes[i] {
			t.Fatalf("history[%d] = %+v", i, a)
		}
	}
	// It left the error view when it succeeded.
	errs, _, err := e.db.ListWebhookErrors(context.Background(), store.WebhookErrorQuery{})
	if err != nil || len(errs) != 0 {
		t.Fatalf("errors after success: %v %v", errs, err)
	}
}
