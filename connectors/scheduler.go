package connectors

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"sentryhub/clock"
	"sentryhub/store"
	"sentryhub/testsignal"
)

// runGroup owns the goroutines of launched runs. Their context outlives
// the worker's by a grace period, so at shutdown a run in progress may
// finish; after the grace it is cancelled and releases its row as
// interrupted (the next start runs it again).
type runGroup struct {
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	live   bool
	// graceArmed fires when close has armed its grace timer (tests advance
	// a fake clock past it only then).
	graceArmed testsignal.Signal[struct{}]
}

func (g *runGroup) open(parent context.Context) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ctx, g.cancel = context.WithCancel(context.WithoutCancel(parent))
	g.live = true
}

// spawn runs fn in an owned goroutine; false once the group is closed.
func (g *runGroup) spawn(fn func(ctx context.Context)) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.live {
		return false
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		fn(g.ctx)
	}()
	return true
}

// close stops new spawns, waits up to grace for runs to finish, then
// cancels the rest and waits for them.
func (g *runGroup) close(c clock.Clock, grace time.Duration) {
	g.mu.Lock()
	if !g.live {
		g.mu.Unlock()
		return
	}
	g.live = false
	cancel := g.cancel
	g.mu.Unlock()
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	expired := c.After(grace)
	g.graceArmed.Signal(struct{}{})
	select {
	case <-done:
	case <-expired:
		cancel()
		<-done
	}
	cancel()
}

// SchedulerConfig tunes the scheduler. Zero fields get the defaults.
type SchedulerConfig struct {
	// MaxJitter caps the random delay added to each next run (30s); the
	// delay is at most a tenth of the schedule's period, so hourly syncs of
	// many warehouses do not all start on the same second.
	MaxJitter time.Duration
	// Refresh is the longest the scheduler sleeps before re-reading the
	// schedules (1m), so edits made by another process are picked up.
	Refresh time.Duration
	// Grace is how long runs in progress may continue after shutdown (10s).
	Grace time.Duration
	// Rand returns jitter in [0,1) (math/rand/v2 when nil).
	Rand func() float64
	// Ticked receives, after each pass, the next wake-up time once the
	// scheduler is already waiting for it; GraceArmed fires when shutdown
	// has armed the grace timer. Both are no-ops unless a test initialises
	// them before NewScheduler.
	Ticked     testsignal.Signal[time.Time]
	GraceArmed testsignal.Signal[struct{}]
}

// Scheduler starts syncs when their schedules are due. Schedules live in
// SQLite with their next run time, which the scheduler advances with a
// compare-and-set before starting a run: a restart neither loses a due run
// nor runs one twice, and missed runs are coalesced into one.
type Scheduler struct {
	cfg    SchedulerConfig
	db     *store.DB
	runner *Runner
	clock  clock.Clock
	log    *slog.Logger
	group  runGroup
}

// NewScheduler returns a scheduler running syncs through runner.
func NewScheduler(cfg SchedulerConfig, db *store.DB, runner *Runner, c clock.Clock, log *slog.Logger) *Scheduler {
	if cfg.MaxJitter <= 0 {
		cfg.MaxJitter = 30 * time.Second
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = time.Minute
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Second
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{cfg: cfg, db: db, runner: runner, clock: c, log: log,
		group: runGroup{graceArmed: cfg.GraceArmed}}
}

// NextRun returns the first run of spec after now, jittered.
func (s *Scheduler) NextRun(spec ScheduleSpec, now time.Time) time.Time {
	next := spec.Next(now)
	if next.IsZero() {
		return next
	}
	period := spec.Interval
	if spec.Cron != nil {
		period = spec.Cron.Next(next).Sub(next)
	}
	j := min(s.cfg.MaxJitter, period/10)
	if j <= 0 {
		return next
	}
	return next.Add(time.Duration(s.cfg.Rand() * float64(j)))
}

// Run schedules until ctx ends, then lets runs in progress finish within
// the grace period. It re-reads the schedules when the next is due, after
// every store commit (an admin edit, a run finishing) and at least every
// Refresh. It returns nil.
func (s *Scheduler) Run(ctx context.Context) error {
	s.group.open(ctx)
	defer s.group.close(s.clock, s.cfg.Grace)
	for {
		changed := s.db.Changed() // before reading: a commit meanwhile wakes the next pass
		next, err := s.tick(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("scheduler pass failed", slog.Any("error", err))
		}
		wait := max(next.Sub(s.clock.Now()), 0)
		timer := s.clock.After(wait)
		s.cfg.Ticked.Signal(next)
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-timer:
		}
	}
}

// tick starts every due schedule and returns when to look again.
func (s *Scheduler) tick(ctx context.Context) (time.Time, error) {
	now := s.clock.Now()
	next := now.Add(s.cfg.Refresh)
	schedules, err := s.db.ListSchedules(ctx, "", 0)
	if err != nil {
		return next, err
	}
	for _, sc := range schedules {
		if !sc.Enabled {
			continue
		}
		if sc.NextRunAt.After(now) {
			if sc.NextRunAt.Before(next) {
				next = sc.NextRunAt
			}
			continue
		}
		spec, bad := ParseSchedule(sc.IntervalSeconds, sc.Cron)
		if bad != nil {
			s.log.Error("invalid stored schedule", slog.String("sync", sc.SyncKey.String()), slog.Any("problems", bad))
			continue
		}
		nr := s.NextRun(spec, now)
		won, err := s.db.AdvanceSchedule(ctx, sc.SyncKey, sc.NextRunAt, nr)
		if err != nil {
			return next, err
		}
		if !won {
			continue // another scheduler took this slot, or an admin changed it
		}
		if nr.Before(next) {
			next = nr
		}
		s.launch(sc.SyncKey, nil)
	}
	// After the connection schedules: a run of a whole sync type launched
	// above covers its streams, and the stream run is then skipped.
	sn, err := s.tickStreams(ctx, now, schedules)
	if sn.Before(next) {
		next = sn
	}
	return next, err
}

// tickStreams starts the due streams of every configured connection whose
// connector declares streams with schedules of their own, and returns when
// the next one is due. The due streams of one sync type start as one run
// of that type limited to them, so the sync state machine (one run at a
// time per connection and sync type, its history, cursor and errors) is
// the same as for every other run. A connection schedule of that type that
// is disabled pauses its streams too.
func (s *Scheduler) tickStreams(ctx context.Context, now time.Time, schedules []store.ConnectorSchedule) (time.Time, error) {
	next := now.Add(s.cfg.Refresh)
	conns, err := s.db.ConfiguredConnections(ctx)
	if err != nil || len(conns) == 0 {
		return next, err
	}
	stored, err := s.db.ListStreamSchedules(ctx, "", 0)
	if err != nil {
		return next, err
	}
	type streamKey struct {
		store.ConnectionKey
		stream string
	}
	rows := make(map[streamKey]store.StreamSchedule, len(stored))
	for _, r := range stored {
		rows[streamKey{r.ConnectionKey, r.Stream}] = r
	}
	paused := map[store.SyncKey]bool{}
	for _, sc := range schedules {
		if !sc.Enabled {
			paused[sc.SyncKey] = true
		}
	}
	for _, conn := range conns {
		info, _, ok := s.runner.deps.Registry.Lookup(conn.Connector)
		if !ok {
			continue
		}
		due := map[string][]string{} // sync type -> due streams
		for _, st := range info.Streams {
			k := store.SyncKey{Connector: conn.Connector, WarehouseID: conn.WarehouseID, SyncType: st.SyncType}
			if st.Schedule == "" || paused[k] {
				continue
			}
			spec, err := ParseScheduleText(st.Schedule)
			if err != nil { // refused at registration; never here
				continue
			}
			row, ok := rows[streamKey{conn, st.Key}]
			if !ok || row.Schedule != st.Schedule || row.SyncType != st.SyncType {
				// First sight of this stream here, or its schedule changed.
				nr := s.NextRun(spec, now)
				if err := s.db.PutStreamSchedule(ctx, store.StreamSchedule{ConnectionKey: conn, Stream: st.Key,
					SyncType: st.SyncType, Schedule: st.Schedule, NextRunAt: nr}); err != nil {
					return next, err
				}
				next = earliest(next, nr)
				continue
			}
			if row.NextRunAt.After(now) {
				next = earliest(next, row.NextRunAt)
				continue
			}
			nr := s.NextRun(spec, now)
			won, err := s.db.AdvanceStreamSchedule(ctx, conn, st.Key, row.NextRunAt, nr)
			if err != nil {
				return next, err
			}
			if won {
				next = earliest(next, nr)
				due[st.SyncType] = append(due[st.SyncType], st.Key)
			}
		}
		for _, t := range info.SyncTypes { // canonical order
			if streams := due[t]; len(streams) > 0 {
				s.launch(store.SyncKey{Connector: conn.Connector, WarehouseID: conn.WarehouseID, SyncType: t}, streams)
			}
		}
	}
	return next, nil
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// launch starts a scheduled run of k, limited to streams when not nil.
// Whether a run of k is still going is the store's lease to say (the
// claim refuses a second run): it is released when the run is recorded,
// before anyone hears the outcome, so a slot due right after a run ends
// is never skipped for a run that is only still returning.
func (s *Scheduler) launch(k store.SyncKey, streams []string) {
	s.group.spawn(func(ctx context.Context) {
		_, err := s.runner.Run(ctx, k, RunOptions{Trigger: "schedule", Streams: streams})
		var dup *store.DuplicateRunError
		switch {
		case errors.As(err, &dup):
			s.log.Info("scheduled sync skipped: previous run still in progress", slog.String("sync", k.String()), slog.String("run_id", dup.RunID))
		case err != nil:
			s.log.Warn("scheduled sync not started", slog.String("sync", k.String()), slog.Any("error", err))
		}
	})
}

// FulfillmentWorker pushes queued fulfillments: it runs the fulfillment
// sync of each connector + warehouse with pushes due, through the runner's
// state machine, after every store commit (a shipment queues its push in
// its own transaction), when the earliest pending push falls due (retries),
// and at least every `every` (for pushes queued by another process).
type FulfillmentWorker struct {
	runner *Runner
	every  time.Duration
	// Drained fires after each pass once the worker is waiting again, when
	// a test has initialised it (before Run); a no-op otherwise.
	Drained testsignal.Signal[struct{}]
}

// NewFulfillmentWorker returns a worker that polls every `every` (1m when
// 0) besides waking on commits and due retries.
func NewFulfillmentWorker(runner *Runner, every time.Duration) *FulfillmentWorker {
	if every <= 0 {
		every = time.Minute
	}
	return &FulfillmentWorker{runner: runner, every: every}
}

// stuckDueWait is how long the worker waits before looking again at a push
// already due that its pass could not start (its sync is running already,
// or the run failed to start), rather than spinning.
const stuckDueWait = time.Second

// Run works the queue until ctx ends. It returns nil.
func (w *FulfillmentWorker) Run(ctx context.Context) error {
	r := w.runner
	for {
		changed := r.deps.DB.Changed() // before the pass: a commit meanwhile wakes the next
		if err := w.Drain(ctx); err != nil && ctx.Err() == nil {
			r.deps.Log.Error("fulfillment pass failed", slog.Any("error", err))
		}
		timer := r.deps.Clock.After(w.wait(ctx))
		w.Drained.Signal(struct{}{})
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-timer:
		}
	}
}

// wait returns how long to sleep after a pass: until the earliest pending
// push is due, but at most every.
func (w *FulfillmentWorker) wait(ctx context.Context) time.Duration {
	r := w.runner
	next, ok, err := r.deps.DB.NextFulfillmentDue(ctx)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			r.deps.Log.Warn("fulfillment worker: next due time unknown; polling", slog.Any("error", err))
		}
		return w.every
	case !ok:
		return w.every
	}
	d := next.Sub(r.deps.Clock.Now())
	if d <= 0 {
		d = stuckDueWait
	}
	return min(d, w.every)
}

// Drain runs one pass: a fulfillment run per connector + warehouse with due
// pushes. Pushes whose source has no connector able to push are marked
// skipped.
func (w *FulfillmentWorker) Drain(ctx context.Context) error {
	r := w.runner
	keys, err := r.deps.DB.DueFulfillmentKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if ctx.Err() != nil {
			return nil
		}
		info, _, ok := r.deps.Registry.Lookup(k.Connector)
		if !ok || !info.Supports(CapPushFulfillment) {
			reason := "connector " + k.Connector + " is not registered"
			if ok {
				reason = "connector " + k.Connector + " does not support push_fulfillment"
			}
			if err := r.settleDue(ctx, k, store.FulfillmentSkipped, reason, 0); err != nil {
				return err
			}
			continue
		}
		_, err := r.Run(ctx, store.SyncKey{Connector: k.Connector, WarehouseID: k.WarehouseID, SyncType: SyncFulfillment},
			RunOptions{Trigger: "fulfillment"})
		var dup *store.DuplicateRunError
		if err != nil && !errors.As(err, &dup) {
			r.deps.Log.Warn("fulfillment run not started", slog.String("connector", k.Connector),
				slog.Int64("warehouse_id", k.WarehouseID), slog.Any("error", err))
		}
	}
	return nil
}

// settleDue records one attempt on every due push of k: status with
// message, retried after delay when status is pending.
func (r *Runner) settleDue(ctx context.Context, k store.FulfillmentKey, status store.FulfillmentStatus, msg string, delay time.Duration) error {
	pushes, err := r.deps.DB.ListFulfillmentPushes(ctx, store.FulfillmentFilter{Connector: k.Connector,
		WarehouseID: k.WarehouseID, DueOnly: true, Limit: 500})
	if err != nil {
		return err
	}
	for _, p := range pushes {
		a := store.FulfillmentAttempt{Status: status, Error: msg, Counted: true}
		if status == store.FulfillmentPending {
			if p.Attempts+1 >= r.cfg.MaxPushAttempts {
				a.Status = store.FulfillmentFailed
			} else {
				a.NextAttemptAt = r.deps.Clock.Now().Add(max(delay, r.pushDelay(p.Attempts+1)))
			}
		}
		if err := r.deps.DB.RecordFulfillmentAttempt(ctx, p.ID, a); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
		r.deps.Metrics.push(k.Connector, string(a.Status))
	}
	return nil
}
