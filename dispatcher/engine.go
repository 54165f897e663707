package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"sentryhub/store"
	"sentryhub/store/vault"
)

// ErrStopped is returned by admin operations once the dispatcher has shut
// down (or failed to start).
var ErrStopped = fmt.Errorf("webhook dispatcher is not running: %w", store.ErrUnavailable)

// request is an admin operation queued for the engine goroutine (see do).
type request struct {
	// ctx is the caller's: once it is done nobody waits for the result,
	// and the engine skips the request.
	ctx  context.Context
	run  func(ctx context.Context) // runs the operation and replies
	fail func(err error)           // replies err instead
}

// subState is the engine's view of one subscription. The engine goroutine
// owns it.
type subState struct {
	sub     store.Subscription
	matcher *store.FilterMatcher
	secret  vault.Secret
	open    int64 // pending + in_flight rows
	dead    int64
	// stuck: every open delivery waits behind a failing head, as the
	// actor last reported (see actor.stuck). At the pending ceiling a
	// stuck subscription is paused; one that progresses never is. A
	// report counts only when the actor had seen every batch of
	// deliveries handed to it (handed): new ones may bring fresh lanes.
	stuck  bool
	handed int64
	// armed: an attempt's outcome has shown the subscription stuck since
	// the actor started or the last resume. Until then a bare state
	// report (new deliveries queued behind heads that failed before) does
	// not count: a resume, or a restart, gives those heads another try.
	armed bool
	// capped: the last fan-out stopped at the pending ceiling, so events
	// may wait beyond the cursor; freed slots trigger another fan-out.
	capped bool
	actor  *actor
	// stopFetch stops the actor claiming work; stopWork cuts its attempts
	// in flight. Deletion calls both; shutdown only the first, at once,
	// and cancels all work after the grace period.
	stopFetch, stopWork context.CancelFunc
	deleting            bool
	// held are the open deliveries of a subscription whose secret could
	// not be decrypted at start; a rotation starts its actor with them.
	held []*delivery
}

// engine is the dispatcher's single writer: see the package comment.
type engine struct {
	d  *Dispatcher
	st *store.WebhookEngine

	subs map[int64]*subState

	comp *batchCompleter // the actors' outcomes, for the next commit

	mu       sync.Mutex
	requests []*request
	closed   bool
	signal   chan struct{}   // one slot: something was queued
	wake     atomic.Bool     // events were appended
	changed  <-chan struct{} // from store.DB.Changed; the engine goroutine's
	noted    int64           // store.DB.CommittedEventID at the last wake-up

	retry      []record // records of a failed commit, retried first
	retryC     <-chan time.Time
	moreFanout bool
	floorAt    time.Time
	floorC     <-chan time.Time
	sweptHead  int64

	fetchCtx context.Context
	workCtx  context.Context
	actors   sync.WaitGroup
}

func newEngine(d *Dispatcher) *engine {
	e := &engine{
		d:      d,
		subs:   map[int64]*subState{},
		signal: make(chan struct{}, 1),
	}
	e.comp = newBatchCompleter(d.cfg.CommitBatch, d.cfg.MaxBacklog, e.poke)
	return e
}

func (e *engine) poke() {
	select {
	case e.signal <- struct{}{}:
	default:
	}
}

// do runs fn on e's goroutine, between batches, and returns its result.
// It returns ErrStopped when the engine is not running, and ctx's error when
// ctx ends first; a request whose ctx has ended by the time the engine gets
// to it is skipped, so nothing is done (no subscription created, say) whose
// result nobody receives.
func do[T any](ctx context.Context, e *engine, fn func(ctx context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	reply := make(chan result, 1) // exactly one of run and fail replies
	r := &request{
		ctx: ctx,
		run: func(ectx context.Context) {
			v, err := fn(ectx)
			reply <- result{v, err}
		},
		fail: func(err error) { reply <- result{err: err} },
	}
	var zero T
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return zero, ErrStopped
	}
	e.requests = append(e.requests, r)
	e.mu.Unlock()
	e.poke()
	select {
	case res := <-reply:
		return res.v, res.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// run starts the engine: it recovers the lanes from the database, then
// loops until ctx ends, then shuts down gracefully.
func (e *engine) run(ctx context.Context) error {
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	e.fetchCtx, e.workCtx = ctx, workCtx
	e.changed = e.d.db.Changed() // before start reads the log: no commit is missed
	err := e.start(ctx)
	if err == nil {
		e.loop(ctx)
	}
	e.shutdown(ctx, cancelWork)
	return err
}

// start loads every subscription, releases rows left in_flight by a crash
// or a cut-short shutdown, and queues every open delivery in its lane.
func (e *engine) start(ctx context.Context) error {
	type loaded struct {
		sub  store.Subscription
		open []store.OpenDelivery
		dead int64
	}
	var subs []loaded
	var released int64
	err := e.st.Update(ctx, func(t *store.EngineTx) error {
		all, err := t.EngineSubscriptions()
		if err != nil {
			return err
		}
		for _, s := range all {
			l := loaded{sub: s}
			if s.Status != store.SubscriptionDeleting {
				n, err := t.ReleaseInFlight(s.ID)
				if err != nil {
					return err
				}
				released += n
				if l.open, l.dead, err = t.OpenDeliveries(s.ID); err != nil {
					return err
				}
			}
			subs = append(subs, l)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("webhook dispatcher start: %w", err)
	}
	refs := map[int64]*eventRef{}
	var pending int
	for _, l := range subs {
		s := &subState{sub: l.sub, deleting: l.sub.Status == store.SubscriptionDeleting, dead: l.dead, open: int64(len(l.open))}
		e.subs[s.sub.ID] = s
		if s.deleting {
			continue
		}
		s.matcher = s.sub.Matcher()
		initial := make([]*delivery, 0, len(l.open))
		for _, od := range l.open {
			ref := refs[od.Event.ID]
			if ref == nil {
				if ref, err = newEventRef(&od.Event); err != nil {
					return fmt.Errorf("webhook dispatcher start: event %d: %w", od.Event.ID, err)
				}
				refs[od.Event.ID] = ref
			}
			dl := &delivery{id: od.ID, ev: ref, attempts: od.Attempts, nextAt: od.NextAttemptAt}
			if !od.LastAttemptAt.IsZero() {
				dl.lastSec = od.LastAttemptAt.Unix()
			}
			initial = append(initial, dl)
		}
		pending += len(initial)
		gen1, _, err := e.d.vault.WebhookSecrets(ctx, s.sub.ID)
		if err != nil {
			// Its deliveries stay pending: nothing is lost, and the
			// error names the subscription (never the secret).
			e.d.log.Error("webhook subscription has no usable signing secret; not dispatching it until its secret is rotated",
				slog.Int64("subscription_id", s.sub.ID), slog.Any("error", err))
			s.held = initial
			continue
		}
		s.secret = gen1
		e.startActor(s, initial)
	}
	e.d.log.Info("webhook dispatcher started", slog.Int("subscriptions", len(subs)),
		slog.Int("open_deliveries", pending), slog.Int64("released_in_flight", released))
	e.wake.Store(true)
	e.updateGauges()
	return nil
}

func (e *engine) actorConfig(s *subState) actorConfig {
	return actorConfig{
		send:        &sendConfig{url: s.sub.URL, secret: s.secret, standard: s.sub.StandardWebhooks},
		maxInFlight: s.sub.MaxInFlight,
		rate:        s.sub.RateLimitPerSec,
		paused:      s.sub.Status != store.SubscriptionActive,
		global:      s.sub.Ordering == store.OrderingGlobal,
	}
}

func (e *engine) startActor(s *subState, initial []*delivery) {
	a := newActor(e.d, e.comp, s.sub.ID, e.actorConfig(s))
	s.actor, s.handed, s.stuck, s.armed = a, 0, false, false
	e.hand(s, initial)
	fctx, fcancel := context.WithCancel(e.fetchCtx)
	wctx, wcancel := context.WithCancel(e.workCtx)
	s.stopFetch, s.stopWork = fcancel, wcancel
	e.actors.Add(1)
	go func() {
		defer e.actors.Done()
		defer wcancel()
		defer fcancel()
		a.run(fctx, wctx)
	}()
}

// hand gives new open deliveries (in id order, committed) to s's actor.
func (e *engine) hand(s *subState, dls []*delivery) {
	if len(dls) == 0 || s.actor == nil {
		return
	}
	s.handed++
	s.actor.inbox.put(actorMsg{add: dls})
}

// reconfigure tells s's actor about a changed subscription.
func (e *engine) reconfigure(s *subState) {
	if s.actor != nil {
		cfg := e.actorConfig(s)
		s.actor.inbox.put(actorMsg{cfg: &cfg})
	}
}

func (e *engine) loop(ctx context.Context) {
	clk := e.d.clock
	sweep := clk.After(e.d.cfg.SweepInterval)
	reap := clk.After(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.signal:
			e.linger(ctx)
		case <-e.changed:
			if e.onChanged() {
				e.linger(ctx)
			}
		case <-sweep:
			sweep = clk.After(e.d.cfg.SweepInterval)
			e.sweep(ctx)
		case <-reap:
			reap = clk.After(e.d.cfg.ReaperInterval)
			e.reap(ctx)
		case <-e.floorC:
			e.floorC, e.floorAt = nil, time.Time{}
			e.wake.Store(true)
		case <-e.retryC:
			e.retryC = nil
		}
		if ctx.Err() != nil {
			return
		}
		if e.retryC != nil {
			// A commit failed: only admin requests run until the retry.
			e.runRequests(ctx, e.takeRequests())
			continue
		}
		e.iterate(ctx)
		if e.moreFanout || e.purgePending() {
			e.poke()
		}
	}
}

func (e *engine) takeRequests() []*request {
	e.mu.Lock()
	defer e.mu.Unlock()
	reqs := e.requests
	e.requests = nil
	return reqs
}

// linger holds a wake-up so that work arriving together shares one
// transaction: up to CommitLinger when events were appended (fan-out
// latency counts), up to OutcomeLinger when only outcomes wait (lanes have
// already moved on in memory, so nothing waits for that commit but the
// admin views; at low rates the outcomes then ride along with the next
// fan-out). A full batch or an admin request ends the wait at once.
//
// The wait is on real time, not the injected clock, on purpose: it is how
// long this process gives its own goroutines to hand over more work, a
// property of the machine like a context switch, not a deadline of the
// delivery schedule. On a test's fake clock, which moves only when the test
// says, every commit would wait for the test to move time; the behaviour
// it batches (which outcomes share a transaction) is invisible in the rows.
// TestLinger checks the waits exactly in a testing/synctest bubble, where
// real time is fake and passes at once.
func (e *engine) linger(ctx context.Context) {
	if e.moreFanout {
		return
	}
	start := time.Now()
	for {
		e.mu.Lock()
		skip := len(e.requests) > 0
		e.mu.Unlock()
		skip = skip || e.comp.isFull()
		if skip {
			return
		}
		d := e.d.cfg.OutcomeLinger
		if e.wake.Load() {
			d = e.d.cfg.CommitLinger
		}
		left := d - time.Since(start)
		if left <= 0 {
			return
		}
		t := time.NewTimer(left)
		select {
		case <-t.C:
			return
		case <-e.comp.full:
			t.Stop()
			return
		case <-ctx.Done():
			t.Stop()
			return
		case <-e.signal:
			// Re-check: a request, a full batch, or appended events
			// shorten the wait.
			t.Stop()
		case <-e.changed:
			e.onChanged()
			t.Stop()
		}
	}
}

// onChanged handles a store commit: it takes the next channel, then (so
// that no commit is missed) marks a fan-out when events were committed
// since it last looked, and reports whether it did. Commits without events
// (admin writes, other listeners' bookkeeping) cost no transaction.
func (e *engine) onChanged() bool {
	e.changed = e.d.db.Changed()
	head := e.d.db.CommittedEventID()
	if head <= e.noted {
		return false
	}
	e.noted = head
	e.wake.Store(true)
	return true
}

// sweep catches events appended by another process (a CLI, a test, a
// second hub on the same file), which do not fire this process's
// store.DB.Changed: a constant-time look at the log's head.
func (e *engine) sweep(ctx context.Context) {
	e.st.CountStatements(1)
	head, err := e.d.db.LatestEventID(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.d.log.Warn("webhook sweep failed", slog.Any("error", err))
		}
		return
	}
	if head != e.sweptHead {
		e.sweptHead = head
		e.wake.Store(true)
		e.poke()
	}
}

// reap deletes generation-2 secrets whose dual-accept window has closed.
func (e *engine) reap(ctx context.Context) {
	n, err := e.d.db.ReapWebhookSecrets(ctx, e.d.clock.Now())
	switch {
	case err != nil && ctx.Err() == nil:
		e.d.log.Warn("webhook secret reaper failed", slog.Any("error", err))
	case n > 0:
		e.d.log.Info("expired webhook secrets reaped", slog.Int64("count", n))
	}
}

// runRequests runs admin requests in order, skipping those whose caller
// has gone.
func (e *engine) runRequests(ctx context.Context, reqs []*request) {
	for _, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			r.fail(err)
			continue
		}
		e.safeRun(ctx, r)
	}
}

func (e *engine) safeRun(ctx context.Context, r *request) {
	defer func() {
		if p := recover(); p != nil {
			e.d.log.Error("webhook admin operation panicked", slog.Any("panic", p))
			r.fail(fmt.Errorf("webhook admin operation panicked: %v", p))
		}
	}()
	r.run(ctx)
}

func (e *engine) purgePending() bool {
	for _, s := range e.subs {
		if s.deleting {
			return true
		}
	}
	return false
}

// subEffect is what a batch changes in memory once it commits.
type subEffect struct {
	openDelta, deadDelta int64
	cursor               int64
	add                  []*delivery
	pause                store.PauseReason
	// stuck replaces subState.stuck when stuckSet (the batch's latest
	// outcome, or a fan-out that gave the actor fresh lanes).
	stuck, stuckSet      bool
	armed                bool // an outcome showed it stuck (see subState.armed)
	successAt, failureAt time.Time
	kind                 store.ErrorKind
	status               int
}

type effects map[int64]*subEffect

func (ef effects) of(id int64) *subEffect {
	se := ef[id]
	if se == nil {
		se = &subEffect{}
		ef[id] = se
	}
	return se
}

const purgeChunk = 5000

// iterate runs admin requests, then one group commit: outcomes, fan-out,
// ceiling checks and subscription progress in a single transaction.
func (e *engine) iterate(ctx context.Context) {
	e.runRequests(ctx, e.takeRequests())
	recs := e.comp.take()
	if len(e.retry) > 0 {
		recs = append(e.retry, recs...)
		e.retry = nil
	}
	fan := e.wake.Swap(false) || e.moreFanout || e.refill(recs)
	e.moreFanout = false
	var purge *subState
	for _, s := range e.subs {
		if s.deleting {
			purge = s
			break
		}
	}
	if len(recs) == 0 && !fan && purge == nil {
		return
	}
	now := e.d.clock.Now()
	eff := effects{}
	more := false
	purged := false
	err := e.st.Update(ctx, func(t *store.EngineTx) error {
		if err := e.applyRecords(t, recs, eff); err != nil {
			return err
		}
		if fan {
			var err error
			if more, err = e.fanout(t, eff, now); err != nil {
				return err
			}
		}
		if err := e.checkPending(t, eff); err != nil {
			return err
		}
		if err := e.checkDLQ(t, eff); err != nil {
			return err
		}
		if purge != nil {
			var err error
			if purged, err = t.PurgeDeliveries(purge.sub.ID, purgeChunk); err != nil {
				return err
			}
		}
		return t.UpdateProgress(e.progress(eff))
	})
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			e.retry = recs
			return
		}
		e.d.log.Error("webhook group commit failed; retrying in 1s", slog.Int("records", len(recs)), slog.Any("error", err))
		e.retry = recs
		if fan {
			e.wake.Store(true)
		}
		e.retryC = e.d.clock.After(time.Second)
		return
	}
	e.moreFanout = more
	e.d.metrics.batch.Observe(float64(len(recs)))
	if purged {
		delete(e.subs, purge.sub.ID)
		e.d.metrics.backlog.DeleteLabelValues(strconv.FormatInt(purge.sub.ID, 10))
	}
	e.commitEffects(eff)
	e.comp.done(len(recs))
	if e.d.signals.checkCommit != nil {
		e.d.signals.checkCommit()
	}
	e.d.signals.Commit.Signal(struct{}{})
}

// applyRecords writes a batch of delivery changes. A delivery can appear
// several times (an in-flight mark, its outcome, a quick retry); marks
// followed by an outcome are dropped, and the rest go out in rounds so
// each statement touches a delivery at most once, in order.
func (e *engine) applyRecords(t *store.EngineTx, recs []record, eff effects) error {
	if len(recs) == 0 {
		return nil
	}
	lastOutcome := make(map[int64]int, len(recs))
	for i, r := range recs {
		if !r.mark && !r.state {
			lastOutcome[r.upd.ID] = i
		}
	}
	seen := make(map[int64]int, len(recs))
	var rounds [][]store.DeliveryUpdate
	for i, r := range recs {
		s := e.subs[r.sub]
		if s == nil || s.deleting {
			continue
		}
		if r.outcome {
			se := eff.of(r.sub)
			stuck := r.stuck && r.seq == s.handed
			if !r.state {
				se.armed = se.armed || stuck
			} else if !s.armed && !se.armed {
				stuck = false
			}
			se.stuck, se.stuckSet = stuck, true
		}
		if r.state {
			continue
		}
		if r.mark {
			if j, ok := lastOutcome[r.upd.ID]; ok && j > i {
				continue
			}
		}
		k := seen[r.upd.ID]
		seen[r.upd.ID] = k + 1
		for len(rounds) <= k {
			rounds = append(rounds, make([]store.DeliveryUpdate, 0, len(recs)/(k+1)))
		}
		rounds[k] = append(rounds[k], r.upd)
		se := eff.of(r.sub)
		if r.terminal {
			se.openDelta--
		}
		if r.dead {
			se.deadDelta++
		}
		if r.successAt.After(se.successAt) {
			se.successAt = r.successAt
		}
		if !r.failureAt.IsZero() && !r.failureAt.Before(se.failureAt) {
			se.failureAt, se.kind, se.status = r.failureAt, r.kind, r.status
		}
	}
	for _, round := range rounds {
		if err := t.ApplyDeliveryUpdates(round); err != nil {
			return err
		}
	}
	return nil
}

// checkPending pauses subscriptions that are stuck at their pending
// ceiling: their open deliveries reached it and every one waits behind a
// failing head, so the dispatcher would only keep retrying a consumer
// that does not take them. A subscription that keeps delivering never
// pauses here, however large its backlog: fan-out holds at most the
// ceiling open and the rest waits in the event log beyond the cursor.
func (e *engine) checkPending(t *store.EngineTx, eff effects) error {
	for id, se := range eff {
		s := e.subs[id]
		if s == nil || s.deleting || s.sub.Status != store.SubscriptionActive || se.pause != "" {
			continue
		}
		stuck := s.stuck
		if se.stuckSet {
			stuck = se.stuck
		}
		open := s.open + se.openDelta
		if !stuck || open < s.sub.PendingCeiling {
			continue
		}
		ok, err := t.PauseSubscription(id, store.PausePendingCeiling, map[string]any{
			"status":       map[string]any{"from": store.SubscriptionActive, "to": store.SubscriptionPaused},
			"pause_reason": map[string]any{"from": nil, "to": store.PausePendingCeiling},
			"open":         open, "pending_ceiling": s.sub.PendingCeiling, "head_failing": true,
		})
		if err != nil {
			return err
		}
		if ok {
			se.pause = store.PausePendingCeiling
		}
	}
	return nil
}

// checkDLQ pauses subscriptions whose dead count reached the DLQ ceiling in
// this batch.
func (e *engine) checkDLQ(t *store.EngineTx, eff effects) error {
	for id, se := range eff {
		s := e.subs[id]
		if se.deadDelta == 0 || s == nil || s.sub.Status != store.SubscriptionActive || se.pause != "" {
			continue
		}
		if dead := s.dead + se.deadDelta; dead >= s.sub.DLQCeiling {
			ok, err := t.PauseSubscription(id, store.PauseDLQCeiling, map[string]any{
				"status":       map[string]any{"from": store.SubscriptionActive, "to": store.SubscriptionPaused},
				"pause_reason": map[string]any{"from": nil, "to": store.PauseDLQCeiling},
				"dead":         dead, "dlq_ceiling": s.sub.DLQCeiling,
			})
			if err != nil {
				return err
			}
			if ok {
				se.pause = store.PauseDLQCeiling
			}
		}
	}
	return nil
}

func (e *engine) progress(eff effects) []store.SubscriptionProgress {
	var ps []store.SubscriptionProgress
	for id, se := range eff {
		if se.cursor == 0 && se.failureAt.IsZero() {
			continue
		}
		ps = append(ps, store.SubscriptionProgress{ID: id, Cursor: se.cursor,
			LastFailureAt: se.failureAt, FailureKind: se.kind, FailureStatus: se.status})
	}
	return ps
}

// commitEffects brings memory in line with what just committed and hands
// the new deliveries to their actors.
func (e *engine) commitEffects(eff effects) {
	for id, se := range eff {
		s := e.subs[id]
		if s == nil || s.deleting {
			continue
		}
		s.open += se.openDelta
		s.dead += se.deadDelta
		if se.stuckSet {
			s.stuck = se.stuck
		}
		s.armed = s.armed || se.armed
		if se.cursor > s.sub.Cursor {
			s.sub.Cursor = se.cursor
		}
		if !se.successAt.IsZero() {
			s.sub.LastSuccessAt = store.TimePtr(se.successAt)
		}
		if !se.failureAt.IsZero() {
			k, st := string(se.kind), se.status
			s.sub.LastFailureAt, s.sub.LastFailureKind = store.TimePtr(se.failureAt), &k
			if st > 0 {
				s.sub.LastFailureStatus = &st
			} else {
				s.sub.LastFailureStatus = nil
			}
		}
		if se.pause != "" {
			s.sub.Status, s.sub.PauseReason = store.SubscriptionPaused, se.pause
			s.sub.PausedAt = store.TimePtr(e.d.clock.Now())
			e.d.log.Warn("webhook subscription paused: ceiling reached", slog.Int64("subscription_id", id),
				slog.String("pause_reason", string(se.pause)), slog.Int64("open", s.open), slog.Int64("dead", s.dead))
			e.reconfigure(s)
		}
		e.hand(s, se.add)
	}
	e.updateGauges()
}

func (e *engine) updateGauges() {
	paused := 0
	for id, s := range e.subs {
		if s.deleting {
			continue
		}
		if s.sub.Status == store.SubscriptionPaused {
			paused++
		}
		e.d.metrics.backlog.WithLabelValues(strconv.FormatInt(id, 10)).Set(float64(s.open))
	}
	e.d.metrics.paused.Set(float64(paused))
}
