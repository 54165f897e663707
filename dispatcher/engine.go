package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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

// record is one change to a delivery, sent by an actor to the engine.
type record struct {
	sub      int64
	upd      store.DeliveryUpdate
	mark     bool // in-flight mark, superseded by a later outcome
	terminal bool // succeeded or dead: leaves the open count
	dead     bool
	// outcome marks an attempt's result, a dead-letter transition or
	// (state) a report without a delivery change: stuck is then the
	// actor's stuck() right after it, when it had applied seq batches of
	// new deliveries (see subState.handed).
	outcome   bool
	state     bool
	stuck     bool
	seq       int64
	successAt time.Time
	failureAt time.Time
	kind      store.ErrorKind
	status    int
}

type request struct {
	run   func(ctx context.Context) (any, error)
	reply chan reqResult
}

type reqResult struct {
	v   any
	err error
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

	mu       sync.Mutex
	records  []record
	requests []*request
	closed   bool
	signal   chan struct{} // one slot: something was queued
	full     chan struct{} // one slot: a batch is ready, stop lingering
	wake     atomic.Bool   // events were appended
	backlog  atomic.Int64  // records queued, not yet committed
	drained  *broadcast    // fired after each commit

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
	return &engine{
		d:       d,
		subs:    map[int64]*subState{},
		signal:  make(chan struct{}, 1),
		full:    make(chan struct{}, 1),
		drained: newBroadcast(),
	}
}

func (e *engine) poke() {
	select {
	case e.signal <- struct{}{}:
	default:
	}
}

// record queues a delivery change for the next group commit.
func (e *engine) record(r record) {
	e.mu.Lock()
	e.records = append(e.records, r)
	n := len(e.records)
	e.mu.Unlock()
	e.backlog.Add(1)
	e.poke()
	if n >= e.d.cfg.CommitBatch {
		select {
		case e.full <- struct{}{}:
		default:
		}
	}
}

// backlogged reports whether actors should wait for the engine to commit
// before starting more sends, so outcomes cannot pile up without bound
// when the disk is slower than the consumers.
func (e *engine) backlogged() bool { return e.backlog.Load() > int64(e.d.cfg.MaxBacklog) }

// do runs fn on the engine goroutine, between batches, and returns its
// result. It returns ErrStopped when the engine is not running.
func (e *engine) do(ctx context.Context, fn func(ctx context.Context) (any, error)) (any, error) {
	r := &request{run: fn, reply: make(chan reqResult, 1)}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, ErrStopped
	}
	e.requests = append(e.requests, r)
	e.mu.Unlock()
	e.poke()
	select {
	case res := <-r.reply:
		return res.v, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (e *engine) take() ([]record, []*request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	recs, reqs := e.records, e.requests
	e.records, e.requests = nil, nil
	return recs, reqs
}

// run starts the engine: it recovers the lanes from the database, then
// loops until ctx ends, then shuts down gracefully.
func (e *engine) run(ctx context.Context) error {
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	e.fetchCtx, e.workCtx = ctx, workCtx
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
		s.matcher = s.sub.Filter.Matcher()
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
	a := newActor(e.d, s.sub.ID, e.actorConfig(s))
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
func (e *engine) linger(ctx context.Context) {
	if e.moreFanout {
		return
	}
	start := time.Now()
	for {
		e.mu.Lock()
		skip := len(e.requests) > 0 || len(e.records) >= e.d.cfg.CommitBatch
		e.mu.Unlock()
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
		case <-e.full:
			t.Stop()
			return
		case <-ctx.Done():
			t.Stop()
			return
		case <-e.signal:
			// Re-check: a request, a full batch, or appended events
			// shorten the wait.
			t.Stop()
		}
	}
}

// Notify marks that events were appended and wakes the engine. It never
// blocks (store.Notifier).
func (e *engine) notify() {
	e.wake.Store(true)
	e.poke()
}

// sweep catches events appended by another process (a CLI, a test, a
// second hub on the same file), which do not call Notify: a constant-time
// look at the log's head.
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

func (e *engine) runRequests(ctx context.Context, reqs []*request) {
	for _, r := range reqs {
		v, err := e.safeRun(ctx, r)
		r.reply <- reqResult{v: v, err: err}
	}
}

func (e *engine) safeRun(ctx context.Context, r *request) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("webhook admin operation panicked: %v", p)
			e.d.log.Error("webhook admin operation panicked", slog.Any("panic", p))
		}
	}()
	return r.run(ctx)
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
	recs, reqs := e.take()
	e.runRequests(ctx, reqs)
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
	e.backlog.Add(-int64(len(recs)))
	e.moreFanout = more
	e.d.metrics.batch.Observe(float64(len(recs)))
	if purged {
		delete(e.subs, purge.sub.ID)
		e.d.metrics.backlog.DeleteLabelValues(strconv.FormatInt(purge.sub.ID, 10))
	}
	e.commitEffects(eff)
	e.drained.fire()
	if e.d.hooks.afterCommit != nil {
		e.d.hooks.afterCommit()
	}
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

// fanout creates deliveries for the events after each active
// subscription's cursor. Subscriptions at the same cursor (normally all of
// them) share one read of the log, and each subscription's matches go in
// with one INSERT. It reports whether more events wait beyond this batch.
func (e *engine) fanout(t *store.EngineTx, eff effects, now time.Time) (bool, error) {
	groups := map[int64][]*subState{}
	for _, s := range e.subs {
		if s.deleting || s.actor == nil || s.sub.Status != store.SubscriptionActive {
			continue
		}
		if s.open+eff.of(s.sub.ID).openDelta >= s.sub.PendingCeiling {
			// At the ceiling: the rest of the backlog waits beyond the
			// cursor until deliveries finish (see refill).
			s.capped = true
			continue
		}
		s.capped = false
		groups[s.sub.Cursor] = append(groups[s.sub.Cursor], s)
	}
	if len(groups) == 0 {
		return false, nil
	}
	cursors := make([]int64, 0, len(groups))
	for c := range groups {
		cursors = append(cursors, c)
	}
	slices.Sort(cursors)
	refs := map[int64]*eventRef{}
	floor := e.d.cfg.VisibilityFloor
	more := false
	for _, c := range cursors {
		evs, err := t.EventsAfter(c, e.d.cfg.FanoutBatch)
		if err != nil {
			return false, err
		}
		if len(evs) == e.d.cfg.FanoutBatch {
			more = true
		}
		if floor > 0 {
			// The floor is a setting for parity with the seed's Postgres
			// deployment; see DESIGN.md: with one writer, ids commit in
			// order and there are no holes for it to cover.
			cutoff := now.Add(-floor)
			for i := range evs {
				if evs[i].VisibleAt.After(cutoff) {
					e.armFloor(evs[i].VisibleAt.Add(floor), now)
					evs = evs[:i]
					more = false
					break
				}
			}
		}
		if len(evs) > 0 && evs[len(evs)-1].ID > e.sweptHead {
			e.sweptHead = evs[len(evs)-1].ID
		}
		for _, s := range groups[c] {
			se := eff.of(s.sub.ID)
			headroom := s.sub.PendingCeiling - (s.open + se.openDelta)
			cursor := c
			var ids []int64
			var chosen []*eventRef
			for i := range evs {
				ev := &evs[i]
				if !s.matcher.Match(ev) {
					cursor = ev.ID
					continue
				}
				if int64(len(ids)) >= headroom {
					s.capped = true
					break
				}
				ref := refs[ev.ID]
				if ref == nil {
					if ref, err = newEventRef(ev); err != nil {
						return false, fmt.Errorf("envelope of event %d: %w", ev.ID, err)
					}
					refs[ev.ID] = ref
				}
				ids = append(ids, ev.ID)
				chosen = append(chosen, ref)
				cursor = ev.ID
			}
			if len(ids) > 0 {
				dids, err := t.InsertDeliveries(s.sub.ID, ids, nil, now)
				if err != nil {
					return false, err
				}
				for i, id := range dids {
					se.add = append(se.add, &delivery{id: id, ev: chosen[i]})
				}
				se.openDelta += int64(len(ids))
			}
			if cursor > c {
				se.cursor = cursor
			}
			if len(ids) > 0 {
				// Not known to be stuck until the actor, having queued
				// these (fresh lanes, perhaps), says so.
				se.stuck, se.stuckSet = false, true
			}
		}
	}
	return more, nil
}

func (e *engine) armFloor(at, now time.Time) {
	if e.floorC != nil && !e.floorAt.After(at) {
		return
	}
	e.floorAt, e.floorC = at, e.d.clock.After(at.Sub(now))
}

// refill reports whether deliveries finished for a subscription whose
// fan-out stopped at its pending ceiling: the freed slots take the next
// events of its backlog.
func (e *engine) refill(recs []record) bool {
	for _, r := range recs {
		if r.terminal {
			if s := e.subs[r.sub]; s != nil && s.capped {
				return true
			}
		}
	}
	return false
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

// shutdown stops the engine: actors have stopped claiming work (ctx is
// done); attempts in flight get ShutdownGrace to finish and are then cut
// (and released, not counted). Every outcome is committed, rows left
// in_flight go back to pending, and queued admin requests fail with
// ErrStopped.
func (e *engine) shutdown(ctx context.Context, cancelWork context.CancelFunc) {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.d.cfg.ShutdownGrace+30*time.Second)
	defer cancel()
	for _, s := range e.subs {
		if s.stopFetch != nil {
			// ctx's end already stops them; this also covers a failed
			// start, where ctx may still be live.
			s.stopFetch()
		}
	}
	allDone := make(chan struct{})
	go func() {
		e.actors.Wait()
		close(allDone)
	}()
	grace := time.NewTimer(e.d.cfg.ShutdownGrace)
	defer grace.Stop()
wait:
	for {
		select {
		case <-allDone:
			break wait
		case <-grace.C:
			cancelWork()
		case <-e.signal:
			e.commitRecords(bg)
		}
	}
	e.mu.Lock()
	e.closed = true
	reqs := e.requests
	e.requests = nil
	e.mu.Unlock()
	for _, r := range reqs {
		r.reply <- reqResult{err: ErrStopped}
	}
	e.commitRecords(bg)
	if e.st == nil {
		return
	}
	var released int64
	err := e.st.Update(bg, func(t *store.EngineTx) error {
		for id, s := range e.subs {
			if s.deleting {
				continue
			}
			n, err := t.ReleaseInFlight(id)
			if err != nil {
				return err
			}
			released += n
		}
		return nil
	})
	if err != nil {
		e.d.log.Error("webhook dispatcher: releasing in-flight deliveries failed (they are released at the next start)", slog.Any("error", err))
	}
	e.d.log.Info("webhook dispatcher stopped", slog.Int64("released_in_flight", released))
}

// commitRecords commits queued outcomes only (no fan-out), for shutdown.
func (e *engine) commitRecords(ctx context.Context) {
	if e.st == nil {
		return
	}
	recs := append(e.retry, e.takeRecords()...)
	e.retry = nil
	if len(recs) == 0 {
		return
	}
	eff := effects{}
	err := e.st.Update(ctx, func(t *store.EngineTx) error {
		if err := e.applyRecords(t, recs, eff); err != nil {
			return err
		}
		return t.UpdateProgress(e.progress(eff))
	})
	if err != nil {
		e.d.log.Error("webhook dispatcher: recording outcomes at shutdown failed (those deliveries will be sent again)",
			slog.Int("records", len(recs)), slog.Any("error", err))
		return
	}
	e.backlog.Add(-int64(len(recs)))
	for id, se := range eff {
		if s := e.subs[id]; s != nil {
			s.open += se.openDelta
			s.dead += se.deadDelta
			if se.stuckSet {
				s.stuck = se.stuck
			}
			s.armed = s.armed || se.armed
		}
	}
	e.drained.fire()
}

func (e *engine) takeRecords() []record {
	e.mu.Lock()
	defer e.mu.Unlock()
	recs := e.records
	e.records = nil
	return recs
}
