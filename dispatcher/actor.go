package dispatcher

import (
	"cmp"
	"container/heap"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"sentryhub/clock"
	"sentryhub/store"
)

// eventRef is an event as it goes on the wire, shared by every delivery of
// it (all subscriptions, all retries): body is the canonical envelope,
// serialized once, and exactly what is signed and sent.
type eventRef struct {
	id        int64
	eventType string
	lane      string // aggregate_type + "/" + aggregate_id: its lane under ordering "aggregate"
	body      []byte
}

func newEventRef(ev *store.Event) (*eventRef, error) {
	body, err := ev.Envelope()
	if err != nil {
		return nil, err
	}
	return &eventRef{id: ev.ID, eventType: ev.EventType, lane: ev.AggregateType + "/" + ev.AggregateID, body: body}, nil
}

// delivery is an open delivery row held in its lane. Only the actor that
// owns the lane touches it, except that the worker sending it reads id and
// ev (never written after creation).
type delivery struct {
	id       int64
	ev       *eventRef
	attempts int
	nextAt   time.Time // zero: due as soon as it heads its lane
	lastSec  int64     // unix second of the last attempt
}

// Lane states.
const (
	laneIdle    = iota // empty, or head not scheduled yet
	laneReady          // in the ready queue
	laneWaiting        // in the timer heap
	laneBusy           // head in flight
)

// globalLane is the one lane key of a subscription with ordering "global".
// Aggregate lane keys always contain a "/", so it never collides with one.
const globalLane = "*"

// lane is one FIFO of a subscription: (aggregate_type, aggregate_id), or
// every delivery of the subscription under ordering "global".
type lane struct {
	key   string
	q     []*delivery
	state int
	due   time.Time
	idx   int
}

type laneHeap []*lane

func (h laneHeap) Len() int           { return len(h) }
func (h laneHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h laneHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].idx = i; h[j].idx = j }
func (h *laneHeap) Push(x any)        { l := x.(*lane); l.idx = len(*h); *h = append(*h, l) }
func (h *laneHeap) Pop() any {
	old := *h
	l := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	l.idx = -1
	return l
}

// actorConfig is a subscription's sending configuration.
type actorConfig struct {
	send        *sendConfig
	maxInFlight int
	rate        float64 // per second; 0: unlimited
	paused      bool
	// global: ordering "global", one lane for every delivery (strict id
	// order, one at a time) instead of one per aggregate.
	global bool
}

// actorMsg is what the engine tells an actor: new deliveries to queue (in
// id order, after their commit) and/or a new configuration.
type actorMsg struct {
	add []*delivery
	cfg *actorConfig
}

type workResult struct {
	j   *job
	res sendResult
}

// actor runs one subscription's lanes: it decides what is sent when, hands
// attempts to its workers, and turns their results into delivery updates
// for the engine. Everything but the workers runs on its one goroutine.
type actor struct {
	d     *Dispatcher
	comp  completer // where results go; the actor knows nothing of the engine
	subID int64
	cfg   actorConfig
	lim   *rate.Limiter

	// global is the ordering the lanes are keyed by. It follows
	// cfg.global once nothing is in flight (see relane).
	global bool
	lanes  map[string]*lane
	// failingHeads counts the lanes whose head has been attempted and
	// has not succeeded yet (attempts > 0): when it equals len(lanes),
	// nothing can progress until a failing head succeeds (see stuck).
	failingHeads int
	// adds counts the batches of new deliveries applied, for the engine
	// to tell a stuck report from one made before its latest batch.
	adds      int64
	ready     []*lane
	readyHead int
	timers    laneHeap
	inflight  int
	rateAt    time.Time // when the token bucket next allows a send
	blocked   bool      // waiting for the engine to catch up
	timerAt   time.Time
	timerC    <-chan time.Time

	inbox   *mailbox[actorMsg]
	results chan workResult
	jobs    chan *job
	workers int
	wg      sync.WaitGroup
}

func newActor(d *Dispatcher, comp completer, subID int64, cfg actorConfig) *actor {
	a := &actor{
		d: d, comp: comp, subID: subID,
		lanes:   map[string]*lane{},
		inbox:   newMailbox[actorMsg](),
		results: make(chan workResult, store.MaxMaxInFlight),
		jobs:    make(chan *job, store.MaxMaxInFlight),
	}
	a.setConfig(cfg, d.clock.Now())
	a.global = cfg.global
	return a
}

func (a *actor) setConfig(cfg actorConfig, now time.Time) {
	if cfg.rate > 0 {
		burst := max(1, int(cfg.rate))
		if a.lim == nil {
			a.lim = rate.NewLimiter(rate.Limit(cfg.rate), burst)
			// Start with a full bucket, like rate.NewLimiter, but on the
			// injected clock.
			a.lim.SetLimitAt(now, rate.Limit(cfg.rate))
		} else {
			a.lim.SetLimitAt(now, rate.Limit(cfg.rate))
			a.lim.SetBurstAt(now, burst)
		}
	} else {
		a.lim = nil
	}
	a.cfg = cfg
}

// run is the actor's loop. fetchCtx ending stops new sends (shutdown or
// deletion); the loop then waits for the attempts in flight, which run
// under workCtx, and returns once none is left.
func (a *actor) run(fetchCtx, workCtx context.Context) {
	defer func() {
		close(a.jobs)
		a.wg.Wait()
	}()
	fetchDone := fetchCtx.Done()
	stopping := false
	for {
		now := a.d.clock.Now()
		added := false
		for _, m := range a.inbox.take() {
			added = a.apply(m, now) || added
		}
		if added && a.stuck() {
			// New deliveries only queued behind failing heads: say so,
			// since no outcome may come for a while (see engine.checkPending).
			a.comp.record(record{sub: a.subID, outcome: true, state: true, stuck: true, seq: a.adds})
			a.d.signals.Stuck.Signal(a.subID)
		}
		if a.global != a.cfg.global && a.inflight == 0 {
			a.relane(now)
		}
		active := !stopping && !a.cfg.paused
		if active {
			a.promote(now)
			a.dispatch(workCtx, now)
		}
		if stopping && a.inflight == 0 {
			return
		}
		var timerC <-chan time.Time
		if active {
			timerC = a.arm()
		}
		var drained <-chan struct{}
		if active && a.blocked {
			drained = a.comp.committed()
		}
		select {
		case <-fetchDone:
			stopping, fetchDone = true, nil
		case <-a.inbox.signal:
		case r := <-a.results:
			a.handle(r)
			for more := true; more; {
				select {
				case r := <-a.results:
					a.handle(r)
				default:
					more = false
				}
			}
		case <-timerC:
			a.timerC = nil
		case <-drained:
		}
	}
}

// apply applies one message and reports whether it brought deliveries.
func (a *actor) apply(m actorMsg, now time.Time) bool {
	if m.cfg != nil {
		a.setConfig(*m.cfg, now)
	}
	if len(m.add) == 0 {
		return false
	}
	a.adds++
	a.enqueue(m.add, now)
	return true
}

// laneKey is the lane dl belongs to under the current ordering.
func (a *actor) laneKey(dl *delivery) string {
	if a.global {
		return globalLane
	}
	return dl.ev.lane
}

// enqueue appends deliveries, in id order, to the back of their lanes.
func (a *actor) enqueue(dls []*delivery, now time.Time) {
	for _, dl := range dls {
		k := a.laneKey(dl)
		l := a.lanes[k]
		if l == nil {
			l = &lane{key: k, idx: -1}
			a.lanes[k] = l
		}
		l.q = append(l.q, dl)
		if len(l.q) == 1 && dl.attempts > 0 {
			a.failingHeads++
		}
		if l.state == laneIdle {
			a.schedule(l, now)
		}
	}
}

// limit is how many attempts may be in flight: one under ordering
// "global" (it has one lane, whose head alone may be in flight).
func (a *actor) limit() int {
	if a.global {
		return 1
	}
	return a.cfg.maxInFlight
}

// relane rebuilds the lanes for a changed ordering. It runs only when
// nothing is in flight (dispatch starts nothing while the ordering
// changes), so every delivery is in a queue, with its attempts and retry
// time: they are requeued in id order under the new keys, which is exactly
// what a restart would load. Attempts that were in flight when the change
// arrived finished under the old lanes; everything else follows the new
// ordering.
func (a *actor) relane(now time.Time) {
	var all []*delivery
	for _, l := range a.lanes {
		all = append(all, l.q...)
	}
	slices.SortFunc(all, func(x, y *delivery) int { return cmp.Compare(x.id, y.id) })
	clear(a.ready)
	a.lanes, a.ready, a.readyHead, a.timers = map[string]*lane{}, a.ready[:0], 0, nil
	a.failingHeads = 0
	a.global = a.cfg.global
	a.enqueue(all, now)
}

// schedule places an idle lane according to its head: ready now, waiting
// for its retry (or dead-letter) time, or gone when empty.
func (a *actor) schedule(l *lane, now time.Time) {
	if len(l.q) == 0 {
		l.state = laneIdle
		delete(a.lanes, l.key)
		return
	}
	head := l.q[0]
	if head.attempts >= MaxAttempts || head.nextAt.After(now) {
		l.state, l.due = laneWaiting, head.nextAt
		heap.Push(&a.timers, l)
		return
	}
	l.state = laneReady
	a.ready = append(a.ready, l)
}

// popHead removes a lane's head (succeeded or dead-lettered), keeping
// failingHeads in step.
func (a *actor) popHead(l *lane) {
	if l.q[0].attempts > 0 {
		a.failingHeads--
	}
	l.q[0] = nil
	l.q = l.q[1:]
	if len(l.q) > 0 && l.q[0].attempts > 0 {
		a.failingHeads++
	}
}

// stuck reports whether every lane waits behind a head that has failed
// (none is fresh or empty): the subscription cannot progress unless a
// failing delivery succeeds. Under ordering "global" that is its one
// lane's head; under "aggregate", every aggregate holding deliveries. The
// engine pauses a stuck subscription at its pending ceiling.
func (a *actor) stuck() bool {
	return len(a.lanes) > 0 && a.failingHeads == len(a.lanes)
}

func (a *actor) readyLen() int { return len(a.ready) - a.readyHead }

func (a *actor) popReady() *lane {
	l := a.ready[a.readyHead]
	a.ready[a.readyHead] = nil
	a.readyHead++
	if a.readyHead > 1024 && a.readyHead*2 > len(a.ready) {
		n := copy(a.ready, a.ready[a.readyHead:])
		clear(a.ready[n:])
		a.ready = a.ready[:n]
		a.readyHead = 0
	}
	return l
}

// promote moves lanes whose time has come to the ready queue, and
// dead-letters heads whose last attempt failed Config.DeadLetterDelay ago.
func (a *actor) promote(now time.Time) {
	for len(a.timers) > 0 && !a.timers[0].due.After(now) {
		l := heap.Pop(&a.timers).(*lane)
		head := l.q[0]
		if head.attempts >= MaxAttempts {
			a.popHead(l)
			l.state = laneIdle
			a.schedule(l, now)
			a.comp.record(record{sub: a.subID, terminal: true, dead: true, outcome: true, stuck: a.stuck(), seq: a.adds,
				upd: store.DeliveryUpdate{ID: head.id, Status: store.DeliveryDead, Attempts: head.attempts, CompletedAt: now}})
			a.d.metrics.deadLetters.Inc()
			a.d.log.Warn("webhook delivery dead-lettered", slog.Int64("subscription_id", a.subID),
				slog.Int64("delivery_id", head.id), slog.Int64("event_id", head.ev.id), slog.Int("attempts", head.attempts))
			continue
		}
		l.state = laneReady
		a.ready = append(a.ready, l)
	}
}

// dispatch starts sends while the subscription has in-flight room, the
// token bucket allows, and the engine is keeping up.
func (a *actor) dispatch(workCtx context.Context, now time.Time) {
	a.rateAt = time.Time{}
	a.blocked = false
	if a.global != a.cfg.global {
		// The ordering changes once the attempts in flight finish.
		return
	}
	limit := a.limit()
	for a.inflight < limit && a.readyLen() > 0 {
		if a.comp.backlogged() {
			a.blocked = true
			return
		}
		if a.lim != nil {
			if tok := a.lim.TokensAt(now); tok < 1 {
				a.rateAt = now.Add(time.Duration((1-tok)/a.cfg.rate*float64(time.Second)) + time.Millisecond)
				return
			}
			a.lim.AllowN(now, 1)
		}
		l := a.popReady()
		head := l.q[0]
		l.state = laneBusy
		a.inflight++
		for a.workers < limit {
			a.workers++
			a.wg.Add(1)
			go a.worker(workCtx)
		}
		// Shown as in_flight once committed; a no-op if the outcome
		// arrives in the same batch.
		a.comp.record(record{sub: a.subID, mark: true, upd: store.DeliveryUpdate{
			ID: head.id, Status: store.DeliveryInFlight, Attempts: head.attempts}})
		a.jobs <- &job{d: head, cfg: a.cfg.send}
	}
}

func (a *actor) worker(ctx context.Context) {
	defer a.wg.Done()
	for j := range a.jobs {
		a.results <- workResult{j: j, res: a.d.send(ctx, j)}
	}
}

// arm returns a channel that fires when the next lane is due or the token
// bucket refills, reusing the pending timer when it fires early enough.
func (a *actor) arm() <-chan time.Time {
	var due time.Time
	if len(a.timers) > 0 {
		due = a.timers[0].due
	}
	if !a.rateAt.IsZero() && a.readyLen() > 0 && (due.IsZero() || a.rateAt.Before(due)) {
		due = a.rateAt
	}
	if due.IsZero() {
		return a.timerC
	}
	if a.timerC != nil && !a.timerAt.After(due) {
		return a.timerC
	}
	a.timerAt, a.timerC = due, clock.At(a.d.clock, due)
	return a.timerC
}

// handle turns a finished attempt into the delivery's next state.
func (a *actor) handle(r workResult) {
	a.inflight--
	dl, res := r.j.d, r.res
	l := a.lanes[a.laneKey(dl)]
	l.state = laneIdle
	now := a.d.clock.Now()
	if res.released {
		// Shutdown or deletion: no attempt happened as far as the
		// consumer contract goes; the row is released to pending.
		a.schedule(l, now)
		return
	}
	if dl.attempts == 0 {
		// The head has been attempted: it counts as failing until it
		// succeeds (popHead).
		a.failingHeads++
	}
	dl.attempts++
	dl.lastSec = res.start.Unix()
	att := &store.Attempt{At: store.TimeOf(res.start), DurationMS: res.duration.Milliseconds(),
		StatusCode: res.status, ErrorKind: res.kind}
	rec := record{sub: a.subID, outcome: true, upd: store.DeliveryUpdate{ID: dl.id, Attempts: dl.attempts, Attempt: att}}
	a.d.metrics.observe(res)
	switch {
	case res.ok:
		rec.upd.Status, rec.upd.CompletedAt = store.DeliverySucceeded, res.end
		rec.terminal, rec.successAt = true, res.end
		a.popHead(l)
	default:
		if dl.attempts < MaxAttempts {
			dl.nextAt = nextAttemptAt(a.d.cfg.RetryDelay(dl.attempts), res.end, dl.lastSec, a.d.cfg.Jitter())
		} else {
			dl.nextAt = res.end.Add(a.d.cfg.DeadLetterDelay)
		}
		rec.upd.Status, rec.upd.NextAttemptAt = store.DeliveryPending, dl.nextAt
		rec.failureAt, rec.kind, rec.status = res.end, res.kind, res.status
		a.d.log.Debug("webhook attempt failed", slog.Int64("subscription_id", a.subID),
			slog.Int64("delivery_id", dl.id), slog.Int64("event_id", dl.ev.id), slog.Int("attempt", dl.attempts),
			slog.String("error_kind", string(res.kind)), slog.Int("status_code", res.status),
			slog.Any("error", res.err), slog.Time("next_attempt_at", dl.nextAt))
		if res.kind == store.KindUnknown && res.err != nil && isBodyMismatch(res.err) {
			a.d.log.Error("webhook body check failed: bytes sent differ from bytes signed", slog.Int64("subscription_id", a.subID),
				slog.Int64("delivery_id", dl.id), slog.Any("error", res.err))
		}
	}
	a.schedule(l, now)
	rec.stuck, rec.seq = a.stuck(), a.adds
	a.comp.record(rec)
	a.d.signals.Result.Signal(resultSignal{a.subID, dl.id, rec.upd})
}
