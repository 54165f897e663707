package dispatcher

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sentryhub/store"
)

func ptr[T any](v T) *T { return &v }

// TestLanesFIFOAndHeadOfLine: one lane's failing head blocks only that
// lane; the others deliver in event order, in parallel.
func TestLanesFIFOAndHeadOfLine(t *testing.T) {
	t.Parallel()
	// The fake clock never reaches the retry: lane 0 stays blocked.
	e := newEnv(t, withFakeClock(time.Now()))
	var blocked atomic.Int64
	c := newConsumer(t, nil, func(w http.ResponseWriter, r *http.Request, cp captured) bool {
		if cp.eventID(t) == blocked.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}
		return false
	})
	e.start()
	sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL, MaxInFlight: ptr(8), Ordering: ptr(store.OrderingAggregate)})
	blocked.Store(e.mustNextEventID())
	ids := e.appendEvents(60, 3) // lanes: ids[0], ids[3], ... | ids[1], ids[4], ... | ...
	lane0 := testAggregates[0]
	got := c.waitN(t, 40+1) // lanes 1 and 2 in full, and lane 0's head at least once
	seen := map[string]int64{}
	for _, r := range got {
		agg, id := r.aggregate(t), r.eventID(t)
		if agg == lane0 && id != ids[0] {
			t.Fatalf("lane 0 sent event %d behind its failing head %d", id, ids[0])
		}
		if id < seen[agg] {
			t.Fatalf("lane %s out of order: %d after %d", agg, id, seen[agg])
		}
		seen[agg] = id
	}
	if seen[testAggregates[1]] != ids[58] || seen[testAggregates[2]] != ids[59] {
		t.Fatalf("lanes 1 and 2 did not finish: %v", seen)
	}
	e.untilCommitted("40 successes", func() bool { return len(deliveries(t, e.db, sub.ID, store.DeliverySucceeded)) == 40 })
	if n := len(deliveries(t, e.db, sub.ID, store.DeliveryPending)) + len(deliveries(t, e.db, sub.ID, store.DeliveryInFlight)); n != 20 {
		t.Fatalf("%d open deliveries, want lane 0's 20", n)
	}
}

// mustNextEventID returns the event_id the next append will get.
func (e *env) mustNextEventID() int64 {
	id, err := e.db.LatestEventID(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return id + 1
}

func TestMaxInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	release := make(chan struct{})
	var cur, peak atomic.Int32
	c := newConsumer(t, nil, func(w http.ResponseWriter, r *http.Request, cp captured) bool {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		cur.Add(-1)
		return false
	})
	e.start()
	sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL, MaxInFlight: ptr(3), Ordering: ptr(store.OrderingAggregate)})
	e.appendEvents(12, 12)
	c.waitN(t, 3)
	for range 9 {
		release <- struct{}{}
		c.wait(t)
	}
	for range 3 {
		release <- struct{}{}
	}
	e.untilCommitted("all delivered", func() bool { return len(deliveries(t, e.db, sub.ID, store.DeliverySucceeded)) == 12 })
	if peak.Load() != 3 {
		t.Fatalf("peak concurrency %d, want max_in_flight 3", peak.Load())
	}
}

// TestRateLimit: a token bucket of 5/s (burst 5) on the injected clock.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 5, 2, 14, 0, 0, 0, time.UTC)
	e := newEnv(t, withFakeClock(t0))
	c := newConsumer(t, e.fake.Now, nil)
	e.start()
	e.create(store.SubscriptionCreate{URL: c.srv.URL, RateLimitPerSec: ptr(5.0), MaxInFlight: ptr(50), Ordering: ptr(store.OrderingAggregate)})
	e.appendEvents(20, 20)
	perSecond := map[time.Time]int{}
	for step := range 4 {
		for _, r := range c.waitN(t, 5) {
			perSecond[r.at]++
		}
		if step < 3 {
			e.fake.Advance(time.Second)
		}
	}
	for at, n := range perSecond {
		if n != 5 {
			t.Fatalf("%d requests at %v, want 5 per second: %v", n, at.Sub(t0), perSecond)
		}
	}
	if len(perSecond) != 4 {
		t.Fatalf("requests spread over %d seconds, want 4", len(perSecond))
	}
}

func auditActions(t *testing.T, db *store.DB) []store.AuditEntry {
	t.Helper()
	entries, err := db.ListAudit(context.Background(), 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func findAudit(entries []store.AuditEntry, action string) *store.AuditEntry {
	for i := range entries {
		if entries[i].Action == action {
			return &entries[i]
		}
	}
	return nil
}

// TestPendingCeiling: reaching the pending ceiling with failing heads
// pauses; a paused subscription sends nothing and keeps its cursor; lifting the ceiling does
// not resume it (a hint says so); resuming continues exactly where it
// stopped.
func TestPendingCeiling(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFakeClock(time.Date(2026, 5, 2, 14, 0, 0, 0, time.UTC)))
	var fail atomic.Bool
	fail.Store(true)
	c := newConsumer(t, e.fake.Now, func(w http.ResponseWriter, r *http.Request, cp captured) bool {
		if fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}
		return false
	})
	e.start()
	sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL, PendingCeiling: ptr(int64(4)), Ordering: ptr(store.OrderingAggregate)})
	ids := e.appendEvents(10, 10)
	var s store.Subscription
	e.untilCommitted("auto-pause", func() bool {
		var err error
		s, err = e.db.Subscription(context.Background(), sub.ID)
		return err == nil && s.Status == store.SubscriptionPaused
	})
	if s.PauseReason != store.PausePendingCeiling || s.Cursor != ids[3] || s.PausedAt == nil {
		t.Fatalf("paused %+v, want pending_ceiling at cursor %d", s, ids[3])
	}
	if n := len(deliveries(t, e.db, sub.ID, "")); n != 4 {
		t.Fatalf("%d deliveries, want the 4 the ceiling allows", n)
	}
	a := findAudit(auditActions(t, e.db), "webhook.pause")
	if a == nil || a.Actor != "dispatcher" || !strings.Contains(string(a.Diff), "pending_ceiling") {
		t.Fatalf("pause audit %+v", a)
	}
	// The four failed first attempts are what paused it.
	attempted := len(c.all())
	if attempted != 4 {
		t.Fatalf("%d requests before the pause, want the 4 failing heads", attempted)
	}
	c.waitN(t, attempted)
	// Paused: time passes, nothing is sent, nothing is retried.
	e.fake.Advance(time.Hour)
	e.appendEvents(2, 2)
	e.fake.Advance(time.Hour)

	fail.Store(false)
	s2, hint, err := e.d.UpdateSubscription(context.Background(), "admin", sub.ID, store.SubscriptionPatch{PendingCeiling: ptr(int64(100))})
	if err != nil {
		t.Fatal(err)
	}
	if s2.Status != store.SubscriptionPaused || !strings.Contains(hint, `"status": "active"`) {
		t.Fatalf("after lifting the ceiling: status %s, hint %q", s2.Status, hint)
	}
	if len(c.all()) != attempted {
		t.Fatalf("a paused subscription sent %d requests", len(c.all())-attempted)
	}
	if _, hint, err := e.d.UpdateSubscription(context.Background(), "admin", sub.ID, store.SubscriptionPatch{Status: ptr("active")}); err != nil || hint != "" {
		t.Fatalf("resume: %v %q", err, hint)
	}
	got := c.waitN(t, 12)
	seen := map[int64]int{}
	for _, r := range got {
		seen[r.eventID(t)]++
	}
	if len(seen) != 12 {
		t.Fatalf("after resume %d distinct events, want 12 (each once): %v", len(seen), seen)
	}
	entries := auditActions(t, e.db)
	if findAudit(entries, "webhook.resume") == nil || findAudit(entries, "webhook.update") == nil {
		t.Fatal("resume and ceiling change must be audited")
	}
}

// TestDLQCeiling: dead rows reaching dlq_ceiling pause the subscription;
// replaying the DLQ empties it; resuming delivers.
func TestDLQCeiling(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFakeClock(time.Date(2026, 5, 2, 14, 0, 0, 0, time.UTC)))
	outs := e.watch()
	var fail atomic.Bool
	fail.Store(true)
	c := newConsumer(t, e.fake.Now, func(w http.ResponseWriter, r *http.Request, cp captured) bool {
		if fail.Load() {
			w.WriteHeader(http.StatusNotFound)
			return true
		}
		return false
	})
	e.start()
	sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL, DLQCeiling: ptr(int64(2)), Ordering: ptr(store.OrderingAggregate)})
	e.appendEvents(3, 3)
	for range MaxAttempts {
		var next time.Time
		for range 3 {
			if o := outs.WaitOrTimeout(); o.upd.NextAttemptAt.After(next) {
				next = o.upd.NextAttemptAt
			}
		}
		e.fake.Set(next)
	}
	var s store.Subscription
	e.untilCommitted("DLQ pause", func() bool {
		s, _ = e.db.Subscription(context.Background(), sub.ID)
		return s.Status == store.SubscriptionPaused
	})
	if s.PauseReason != store.PauseDLQCeiling {
		t.Fatalf("pause reason %q", s.PauseReason)
	}
	if n := len(deliveries(t, e.db, sub.ID, store.DeliveryDead)); n != 3 {
		t.Fatalf("%d dead, want 3", n)
	}
	st, err := e.d.Stats(context.Background(), sub.ID)
	if err != nil || st.Counts[store.DeliveryDead] != 3 || st.SuccessRate == nil || *st.SuccessRate != 0 || st.LastFailure == nil {
		t.Fatalf("stats %+v %v", st, err)
	}
	fail.Store(false)
	n, err := e.d.ReplayBatch(context.Background(), "admin", sub.ID, store.ReplayQuery{Status: store.DeliveryDead})
	if err != nil || n != 3 {
		t.Fatalf("replay batch: %d %v", n, err)
	}
	if n := len(deliveries(t, e.db, sub.ID, store.DeliveryDead)); n != 0 {
		t.Fatalf("%d still in the DLQ after the replay", n)
	}
	if len(deliveries(t, e.db, sub.ID, store.DeliveryReplayed)) != 3 {
		t.Fatal("replayed dead rows keep their history as status replayed")
	}
	_, hint, err := e.d.UpdateSubscription(context.Background(), "admin", sub.ID, store.SubscriptionPatch{DLQCeiling: ptr(int64(10))})
	if err != nil || hint == "" {
		t.Fatalf("lifting the DLQ ceiling: %v, hint %q", err, hint)
	}
	before := len(c.all())
	if _, _, err := e.d.UpdateSubscription(context.Background(), "admin", sub.ID, store.SubscriptionPatch{Status: ptr("active")}); err != nil {
		t.Fatal(err)
	}
	c.waitN(t, 3)
	e.untilCommitted("replays delivered", func() bool { return len(deliveries(t, e.db, sub.ID, store.DeliverySucceeded)) == 3 })
	if len(c.all()) != before+3 {
		t.Fatalf("%d requests after resume, want 3", len(c.all())-before)
	}
}

// TestFilterNonRetroactive: a filter change applies to events selected
// from then on; replay-batch with the filter shape backfills.
func TestFilterNonRetroactive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := newConsumer(t, nil, nil)
	e.start()
	before := e.appendEvents(3, 3) // committed before the subscription: never sent
	sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL, Filter: &store.SubscriptionFilter{
		EventTypes: []string{store.EventShipConfirmed}, WarehouseIDs: []int64{1, 2}}})
	if sub.Cursor != before[2] {
		t.Fatalf("new subscription cursor %d, want the log's end %d", sub.Cursor, before[2])
	}
	first := appendEventsTo(t, e.db, 9, 3, 3) // k=3..11: ships at k=3,6,9 (warehouse 1)
	for _, r := range c.waitN(t, 3) {
		if r.header.Get("X-Sentry-Event-Type") != store.EventShipConfirmed {
			t.Fatalf("filtered subscription got %s", r.header.Get("X-Sentry-Event-Type"))
		}
	}
	s, _, err := e.d.UpdateSubscription(context.Background(), "admin", sub.ID, store.SubscriptionPatch{
		Filter: &store.SubscriptionFilter{EventTypes: []string{store.EventPickConfirmed}}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Cursor < first[8] {
		t.Fatalf("cursor moved back to %d", s.Cursor)
	}
	later := appendEventsTo(t, e.db, 3, 3, 12) // k=12..14: one pick (k=13)
	r := c.wait(t)
	if r.eventID(t) != later[1] {
		t.Fatalf("after the filter change got event %d, want only the new pick %d", r.eventID(t), later[1])
	}
	// Backfill the picks committed before the change.
	n, err := e.d.ReplayBatch(context.Background(), "admin", sub.ID, store.ReplayQuery{
		Filter: store.SubscriptionFilter{EventTypes: []string{store.EventPickConfirmed}}, FromEventID: first[0], ToEventID: first[8]})
	if err != nil || n != 3 {
		t.Fatalf("backfill queued %d, %v", n, err)
	}
	for _, r := range c.waitN(t, 3) {
		if r.header.Get("X-Sentry-Event-Type") != store.EventPickConfirmed {
			t.Fatal("backfill sent a non-matching event")
		}
	}
	if a := findAudit(auditActions(t, e.db), "webhook.replay_batch"); a == nil {
		t.Fatal("replay-batch must be audited")
	}
	// A backfill without a filter of its own still sends only what the
	// subscription receives (its filter now: picks), not every event.
	n, err = e.d.ReplayBatch(context.Background(), "admin", sub.ID, store.ReplayQuery{FromEventID: first[0], ToEventID: first[8]})
	if err != nil || n != 3 {
		t.Fatalf("backfill without a request filter queued %d (want the 3 picks), %v", n, err)
	}
	for _, r := range c.waitN(t, 3) {
		if r.header.Get("X-Sentry-Event-Type") != store.EventPickConfirmed {
			t.Fatal("backfill ignored the subscription's own filter")
		}
	}
	// A backfill needs a range (or status dead).
	if _, err := e.d.ReplayBatch(context.Background(), "admin", sub.ID, store.ReplayQuery{}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("unbounded backfill: %v", err)
	}
	// The aggregate allowlist.
	s2, _ := e.create(store.SubscriptionCreate{Name: "one order", URL: c.srv.URL + "/one",
		Filter: &store.SubscriptionFilter{AggregateIDs: []string{strings.ToUpper(testAggregates[1])}}})
	if s2.Filter.AggregateIDs[0] != testAggregates[1] {
		t.Fatal("aggregate ids are normalized to lowercase")
	}
	appendEventsTo(t, e.db, 6, 3, 0)
	for range 2 {
		if r := c.wait(t); r.aggregate(t) != testAggregates[1] {
			t.Fatalf("allowlisted subscription got aggregate %s", r.aggregate(t))
		}
	}
}

// TestRotationAndReaper: rotation demotes generation 1 to 2 for 24h and
// signs with a new secret; a second rotation overwrites generation 2; the
// reaper deletes it once expired.
func TestRotationAndReaper(t *testing.T) {
	t.Parallel()
	t0 := time.Now().Truncate(time.Second)
	e := newEnv(t, withFakeClock(t0), func(c *Config) { c.ReaperInterval = time.Hour })
	c := newConsumer(t, e.fake.Now, nil)
	e.start()
	sub, key1 := e.create(store.SubscriptionCreate{URL: c.srv.URL})
	e.appendEvents(1, 1)
	if r := c.wait(t); !verifySentry(r.header, r.body, gen1Only(key1), e.fake.Now()) {
		t.Fatal("first secret")
	}
	sec2, exp, err := e.d.RotateSecret(context.Background(), "admin", sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	key2 := sec2.Reveal()
	if !exp.Equal(t0.Add(24 * time.Hour)) {
		t.Fatalf("previous secret expires %v, want now+24h", exp)
	}
	g1, g2, err := e.vault.WebhookSecrets(context.Background(), sub.ID)
	if err != nil || string(g1.Reveal()) != string(key2) || g2 == nil || string(g2.Reveal()) != string(key1) {
		t.Fatalf("after rotation: gen1 new, gen2 old; err %v", err)
	}
	e.appendEvents(1, 1)
	r := c.wait(t)
	both := func(g int) []byte { return map[int][]byte{1: key2, 2: key1}[g] }
	if !verifySentry(r.header, r.body, both, e.fake.Now()) || verifySentry(r.header, r.body, gen1Only(key1), e.fake.Now()) {
		t.Fatal("after rotation the dispatcher must sign with the new generation-1 secret")
	}
	// A second rotation inside the window overwrites generation 2.
	e.fake.Advance(time.Hour)
	sec3, exp3, err := e.d.RotateSecret(context.Background(), "admin", sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	g1, g2, _ = e.vault.WebhookSecrets(context.Background(), sub.ID)
	if !g1.Equal(sec3) || g2 == nil || string(g2.Reveal()) != string(key2) {
		t.Fatal("second rotation: gen2 must now be the second secret")
	}
	if exp, _ := e.d.PreviousSecretExpiry(context.Background(), sub.ID); exp == nil || !exp.Equal(exp3) {
		t.Fatalf("previous secret expiry %v", exp)
	}
	// The reaper deletes generation 2 once its window has closed.
	e.fake.Advance(24 * time.Hour)
	eventually(t, "reaped generation 2", func() bool {
		var n int
		e.db.Reader().QueryRow(`SELECT COUNT(*) FROM webhook_secrets WHERE subscription_id = ?`, sub.ID).Scan(&n)
		return n == 1
	})
	for _, a := range auditActions(t, e.db) {
		for _, k := range [][]byte{key1, key2, sec3.Reveal()} {
			if strings.Contains(string(a.Diff), string(k)) {
				t.Fatalf("audit %s holds a secret", a.Action)
			}
		}
	}
	if findAudit(auditActions(t, e.db), "webhook.rotate_secret") == nil {
		t.Fatal("rotation must be audited")
	}
}

func TestReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFakeClock(time.Now().Truncate(time.Second)))
	c := newConsumer(t, e.fake.Now, nil)
	e.start()
	sub, key := e.create(store.SubscriptionCreate{URL: c.srv.URL})
	e.appendEvents(1, 1)
	orig := c.wait(t)
	var d store.Delivery
	e.untilCommitted("success recorded", func() bool {
		ds := deliveries(t, e.db, sub.ID, store.DeliverySucceeded)
		if len(ds) == 1 {
			d = ds[0]
		}
		return len(ds) == 1
	})
	e.fake.Advance(7 * time.Second)
	nd, err := e.d.Replay(context.Background(), "admin", sub.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if nd.ID == d.ID || nd.ReplayOf == nil || *nd.ReplayOf != d.ID || nd.EventID != d.EventID {
		t.Fatalf("replay delivery %+v", nd)
	}
	rep := c.wait(t)
	if string(rep.body) != string(orig.body) {
		t.Fatal("a replay sends the same envelope (original event_timestamp)")
	}
	if rep.header.Get("X-Sentry-Timestamp") == orig.header.Get("X-Sentry-Timestamp") ||
		rep.header.Get("X-Sentry-Delivery-Id") == orig.header.Get("X-Sentry-Delivery-Id") {
		t.Fatal("a replay carries a fresh timestamp and delivery id")
	}
	if !verifySentry(rep.header, rep.body, gen1Only(key), e.fake.Now()) {
		t.Fatal("replay signature")
	}
	if _, err := e.d.Replay(context.Background(), "admin", sub.ID, 9999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("replay of an unknown delivery: %v", err)
	}
	if _, err := e.d.Replay(context.Background(), "admin", 9999, d.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("replay on an unknown subscription: %v", err)
	}
	a := findAudit(auditActions(t, e.db), "webhook.replay")
	if a == nil || !strings.Contains(string(a.Diff), `"new_delivery_id"`) {
		t.Fatalf("replay audit %+v", a)
	}
}

func TestReplayOfOpenDeliveryConflicts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	release := make(chan struct{})
	c := newConsumer(t, nil, func(w http.ResponseWriter, r *http.Request, cp captured) bool {
		<-release
		return false
	})
	e.start()
	t.Cleanup(func() { close(release) }) // runs before the dispatcher's stop
	sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL})
	e.appendEvents(1, 1)
	c.wait(t)
	d := deliveries(t, e.db, sub.ID, "")[0]
	if _, err := e.d.Replay(context.Background(), "admin", sub.ID, d.ID); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("replay of an open delivery: %v", err)
	}
}

// TestRestartRecovers: rows left in_flight (a crash) or pending with a
// retry time come back after a restart, in lane order, each retry keeping
// its schedule, and nothing stays in_flight.
func TestRestartRecovers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var mu sync.Mutex
	failing := true
	c := newConsumer(t, nil, func(w http.ResponseWriter, r *http.Request, cp captured) bool {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	outs := e.watch()
	e.start()
	sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL, Ordering: ptr(store.OrderingAggregate)})
	ids := e.appendEvents(9, 3)
	for range 3 { // the three heads fail once
		outs.WaitOrTimeout()
	}
	e.stop()
	c.waitN(t, 3) // those failed requests
	// What a kill -9 leaves: some rows marked in_flight.
	if _, err := e.db.Writer().Exec(`UPDATE webhook_deliveries SET status = 'in_flight' WHERE id IN
		(SELECT id FROM webhook_deliveries WHERE subscription_id = ? ORDER BY id LIMIT 2)`, sub.ID); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	// The restart's clock is 2 s on: the heads' first retries (1 s ± 10%
	// after their failure) are due at once rather than after a real wait.
	e2 := newEnvAt(t, e.db.Path, e.key, withFakeClock(time.Now().Add(2*time.Second)))
	e2.start()
	got := c.waitN(t, 9)
	last := map[string]int64{}
	seen := map[int64]bool{}
	for _, r := range got {
		agg, id := r.aggregate(t), r.eventID(t)
		if id < last[agg] {
			t.Fatalf("lane %s out of order after restart", agg)
		}
		last[agg], seen[id] = id, true
	}
	for _, id := range ids {
		if !seen[id] {
			t.Fatalf("event %d lost across the restart", id)
		}
	}
	e2.untilCommitted("all succeeded", func() bool { return len(deliveries(t, e2.db, sub.ID, store.DeliverySucceeded)) == 9 })
	if n := len(deliveries(t, e2.db, sub.ID, store.DeliveryInFlight)); n != 0 {
		t.Fatalf("%d rows stuck in_flight", n)
	}
}

// TestGracefulShutdown: attempts in flight at shutdown finish and are
// recorded; nothing new starts; after the grace period the rest are cut and
// released, not counted as attempts.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	t.Run("in-flight attempts finish", func(t *testing.T) {
		e := newEnv(t)
		arrived := make(chan struct{}, 100)
		release := make(chan struct{})
		c := newConsumer(t, nil, func(w http.ResponseWriter, r *http.Request, cp captured) bool {
			arrived <- struct{}{}
			<-release
			return false
		})
		e.start()
		sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL, MaxInFlight: ptr(3), Ordering: ptr(store.OrderingAggregate)})
		e.appendEvents(10, 10)
		for range 3 {
			<-arrived
		}
		// Shutdown begins (ctx cancelled) before the consumer answers, so
		// the lanes' next deliveries must not start.
		e.cancel()
		close(release)
		e.stop()
		if n := len(c.all()); n != 3 {
			t.Fatalf("%d requests, want only the 3 in flight at shutdown", n)
		}
		if n := len(deliveries(t, e.db, sub.ID, store.DeliverySucceeded)); n != 3 {
			t.Fatalf("%d succeeded rows, want the 3 that finished", n)
		}
		if n := len(deliveries(t, e.db, sub.ID, store.DeliveryInFlight)); n != 0 {
			t.Fatalf("%d rows left in_flight", n)
		}
	})
	t.Run("cut after the grace period", func(t *testing.T) {
		// The grace period runs on the injected clock: the attempts are cut
		// when the test moves the clock past it, and not before.
		e := newEnv(t, withFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
			func(c *Config) { c.ShutdownGrace = time.Hour })
		stop := make(chan struct{})
		c := newConsumer(t, nil, func(w http.ResponseWriter, r *http.Request, cp captured) bool {
			select {
			case <-stop:
			case <-r.Context().Done():
			}
			return false
		})
		t.Cleanup(func() { close(stop) })
		e.start()
		sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL, Ordering: ptr(store.OrderingAggregate)})
		e.appendEvents(2, 2)
		c.waitN(t, 2)
		e.untilCommitted("in_flight marks", func() bool { return len(deliveries(t, e.db, sub.ID, store.DeliveryInFlight)) == 2 })
		waiters := e.fake.Waiters()
		e.cancel()
		// Shutdown arms its grace timer; until the clock passes it, the
		// stuck attempts hold Run.
		for e.fake.Waiters() <= waiters {
			select {
			case <-e.fake.WaiterAdded():
			case <-time.After(waitTimeout):
				t.Fatal("shutdown armed no grace timer")
			}
		}
		select {
		case err := <-e.done:
			t.Fatalf("Run returned before the grace period ended: %v", err)
		default:
		}
		e.fake.Advance(time.Hour)
		select {
		case err := <-e.done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Fatalf("Run: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("Run did not return after the grace period")
		}
		e.cancel = nil
		for _, d := range deliveries(t, e.db, sub.ID, "") {
			if d.Status != store.DeliveryPending || d.Attempts != 0 {
				t.Fatalf("cut delivery %+v: must be released to pending without an attempt", d)
			}
		}
	})
}

func TestVisibilityFloor(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 5, 2, 14, 0, 0, 0, time.UTC)
	e := newEnv(t, withFakeClock(t0), func(c *Config) { c.VisibilityFloor = 2 * time.Second })
	c := newConsumer(t, e.fake.Now, nil)
	e.start()
	e.create(store.SubscriptionCreate{URL: c.srv.URL})
	e.appendEvents(1, 1)
	e.fake.Advance(1999 * time.Millisecond)
	e.fake.Advance(time.Millisecond)
	if r := c.wait(t); !r.at.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("sent at +%v, want exactly at the 2s floor", r.at.Sub(t0))
	}
}

func TestDeleteSubscription(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := newConsumer(t, nil, func(w http.ResponseWriter, r *http.Request, cp captured) bool {
		w.WriteHeader(500)
		return true
	})
	e.start()
	sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL, Ordering: ptr(store.OrderingAggregate)})
	e.appendEvents(20, 4)
	c.waitN(t, 4)
	if err := e.d.DeleteSubscription(context.Background(), "admin", sub.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.Subscription(context.Background(), sub.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted subscription still visible: %v", err)
	}
	e.untilCommitted("purge", func() bool {
		var n int
		e.db.Reader().QueryRow(`SELECT (SELECT COUNT(*) FROM webhook_deliveries WHERE subscription_id = ?) +
			(SELECT COUNT(*) FROM webhook_subscriptions WHERE id = ?) +
			(SELECT COUNT(*) FROM webhook_secrets WHERE subscription_id = ?)`, sub.ID, sub.ID, sub.ID).Scan(&n)
		return n == 0
	})
	if err := e.d.DeleteSubscription(context.Background(), "admin", sub.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if findAudit(auditActions(t, e.db), "webhook.delete") == nil {
		t.Fatal("delete must be audited")
	}
}

func TestStatsAndErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFakeClock(time.Now())) // no retries blur the counts
	var n atomic.Int32
	c := newConsumer(t, nil, func(w http.ResponseWriter, r *http.Request, cp captured) bool {
		if n.Add(1)%4 == 0 {
			w.WriteHeader(http.StatusForbidden)
			return true
		}
		return false
	})
	outs := e.watch()
	e.start()
	sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL, MaxInFlight: ptr(1), Ordering: ptr(store.OrderingAggregate)})
	e.appendEvents(8, 8)
	for range 8 {
		outs.WaitOrTimeout()
	}
	e.stop() // commits every outcome
	st, err := e.d.Stats(context.Background(), sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Counts[store.DeliverySucceeded] != 6 || st.Counts[store.DeliveryPending] != 2 {
		t.Fatalf("counts %v", st.Counts)
	}
	if st.SuccessRate == nil || *st.SuccessRate != 1 || st.AttemptSuccessRate == nil || *st.AttemptSuccessRate != 0.75 {
		t.Fatalf("rates %v %v", st.SuccessRate, st.AttemptSuccessRate)
	}
	if st.Latency.Samples != 8 || st.Latency.P50MS > st.Latency.P95MS || st.Latency.P95MS > st.Latency.P99MS {
		t.Fatalf("latency %+v", st.Latency)
	}
	if st.LastSuccessAt == nil || st.LastFailureAt == nil || st.LastFailureKind == nil || *st.LastFailureKind != "4xx" ||
		st.LastFailureStatus == nil || *st.LastFailureStatus != 403 || st.LastFailure == nil {
		t.Fatalf("last success/failure %+v", st)
	}
	errs, summary, err := e.d.Errors(context.Background(), store.WebhookErrorQuery{})
	if err != nil || len(errs) != 2 || len(summary) != 1 || summary[0].Kind != store.Kind4xx || summary[0].Count != 2 {
		t.Fatalf("errors %+v summary %+v err %v", errs, summary, err)
	}
	for _, we := range errs {
		if we.SubscriptionName != "test" || we.Error.Hint == "" || *we.StatusCode != 403 || we.EventType == "" {
			t.Fatalf("error entry %+v", we)
		}
	}
	if errs, _, _ := e.d.Errors(context.Background(), store.WebhookErrorQuery{Kind: store.Kind5xx}); len(errs) != 0 {
		t.Fatal("kind filter")
	}
	if _, _, err := e.d.Errors(context.Background(), store.WebhookErrorQuery{Kind: "teapot"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatal("bad kind must be a validation error")
	}
}

// TestStatementBudgetAndMetrics: group commit keeps SQL statements well
// below one per delivery, and the counter is exported with the other
// dispatcher metrics.
func TestStatementBudgetAndMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := newConsumer(t, nil, nil)
	e.start()
	sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL, MaxInFlight: ptr(32), Ordering: ptr(store.OrderingAggregate)})
	base := e.d.Statements()
	const n = 1000
	e.appendEvents(n, 300)
	c.waitN(t, n)
	e.untilCommitted("all committed", func() bool { return len(deliveries(t, e.db, sub.ID, store.DeliverySucceeded)) == n })
	per := float64(e.d.Statements()-base) / n
	t.Logf("%d statements for %d deliveries: %.3f per delivery", e.d.Statements()-base, n, per)
	if per >= 0.5 {
		t.Fatalf("%.3f statements per delivery, want well below 1", per)
	}
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
		if mf.GetName() == "sentryhub_webhook_sql_statements_total" && mf.GetMetric()[0].GetCounter().GetValue() < float64(e.d.Statements()-base) {
			t.Fatal("statement counter below the engine's count")
		}
	}
	for _, name := range []string{"sentryhub_webhook_attempts_total", "sentryhub_webhook_deliveries_total",
		"sentryhub_webhook_attempt_duration_seconds", "sentryhub_webhook_lane_backlog",
		"sentryhub_webhook_subscriptions_paused", "sentryhub_webhook_sql_statements_total", "sentryhub_webhook_commit_batch_records"} {
		if !got[name] {
			t.Errorf("metric %s not registered", name)
		}
	}
}

// TestUnreadableSecretWaitsForRotation: a subscription whose secret the
// current key cannot open (say, the key changed without rotate-key) is not
// dispatched, loses nothing, and starts once its secret is rotated.
func TestUnreadableSecretWaitsForRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := newConsumer(t, nil, nil)
	e.start()
	sub, _ := e.create(store.SubscriptionCreate{URL: c.srv.URL})
	e.stop()
	e2 := newEnvAt(t, e.db.Path, nil) // another encryption key
	e2.start()
	ids := appendEventsTo(t, e2.db, 3, 3, 0)
	eventually(t, "the unreadable secret reported", func() bool {
		return strings.Contains(e2.logs.String(), "no usable signing secret")
	})
	sec, _, err := e2.d.RotateSecret(context.Background(), "admin", sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.waitN(t, len(ids)) {
		if !verifySentry(r.header, r.body, gen1Only(sec.Reveal()), time.Now()) {
			t.Fatal("signed with the rotated secret")
		}
	}
	if strings.Contains(e2.logs.String(), string(sec.Reveal())) {
		t.Fatal("secret in the log")
	}
}

// A request whose caller has gone by the time the engine gets to it is
// skipped: no subscription is created whose one-time secret nobody
// receives, and nothing is audited.
func TestAbandonedRequestIsSkipped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	gone, cancel := context.WithCancel(context.Background())
	cancel() // the client hung up while the engine was busy (here: not started)
	_, _, err := e.d.CreateSubscription(gone, "admin", store.SubscriptionCreate{Name: "gone", URL: "http://127.0.0.1:9/h"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("create with a cancelled context: %v", err)
	}
	e.d.eng.mu.Lock()
	queued := len(e.d.eng.requests)
	e.d.eng.mu.Unlock()
	if queued != 1 {
		t.Fatalf("%d requests queued, want the abandoned one", queued)
	}
	e.start()
	// Requests run in order: once the next one is done, the engine has
	// been past the abandoned one.
	kept, _ := e.create(store.SubscriptionCreate{Name: "kept", URL: "http://127.0.0.1:9/h"})
	subs, err := e.d.Subscriptions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 1 || subs[0].ID != kept.ID {
		t.Fatalf("subscriptions %+v, want only %q", subs, kept.Name)
	}
	n := 0
	for _, a := range auditActions(t, e.db) {
		if a.Action == "webhook.create" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d webhook.create audits, want 1", n)
	}
}

// The generic do returns fn's typed result, and a panic in fn as an error
// without stopping the engine.
func TestDoTypedAndPanicSafe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.start()
	ctx := context.Background()
	n, err := do(ctx, e.d.eng, func(context.Context) (int, error) { return len(e.d.eng.subs), nil })
	if err != nil || n != 0 {
		t.Fatalf("do = %d, %v", n, err)
	}
	if _, err := do(ctx, e.d.eng, func(context.Context) (string, error) { panic("boom") }); err == nil ||
		!strings.Contains(err.Error(), "panicked") {
		t.Fatalf("panic: %v", err)
	}
	if s, err := do(ctx, e.d.eng, func(context.Context) (string, error) { return "alive", nil }); err != nil || s != "alive" {
		t.Fatalf("after a panic: %q, %v", s, err)
	}
	e.stop()
	if _, err := do(ctx, e.d.eng, func(context.Context) (int, error) { return 1, nil }); !errors.Is(err, ErrStopped) {
		t.Fatalf("after stop: %v", err)
	}
}
