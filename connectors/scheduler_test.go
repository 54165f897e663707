package connectors_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/store"
	"sentryhub/testsignal"
)

type schedEnv struct {
	*harness
	ticks <-chan time.Time      // the last scheduler's Ticked
	armed <-chan struct{}       // the last scheduler's GraceArmed
	sch   *connectors.Scheduler // the one the service edits for
	svc   *connectors.Service
}

func newSchedEnv(t *testing.T) *schedEnv {
	h := newHarness(t, connectors.RunnerConfig{})
	e := &schedEnv{harness: h}
	e.sch = e.scheduler()
	e.svc = connectors.NewService(connectors.ServiceConfig{Registry: h.reg, DB: h.db, Vault: h.vault, HTTP: h.pool,
		Runner: h.runner, Clock: h.clock, Scheduler: e.sch})
	return e
}

func (e *schedEnv) scheduler() *connectors.Scheduler {
	// No periodic refresh: each wake-up is a schedule or an edit.
	cfg := connectors.SchedulerConfig{Rand: func() float64 { return 0 }, Refresh: 24 * time.Hour}
	cfg.Ticked.Init(e.t, "a scheduler pass")
	cfg.GraceArmed.Init(e.t, "the shutdown grace timer")
	e.ticks, e.armed = cfg.Ticked.C(), cfg.GraceArmed.C()
	return connectors.NewScheduler(cfg, e.db, e.runner, e.clock, nil)
}

// wantTick waits for a pass that leaves the scheduler waiting for want.
// Every store commit (a run's, an edit's) makes a pass, so passes that
// still wait for an earlier time may come first.
func (e *schedEnv) wantTick(what string, want time.Time) {
	e.t.Helper()
	var seen []time.Time
	for {
		select {
		case next := <-e.ticks:
			if next.Equal(want) {
				return
			}
			seen = append(seen, next)
		case <-time.After(10 * time.Second):
			e.t.Fatalf("%s: want a wake-up at %s, saw %v", what, want, seen)
		}
	}
}

// start runs a scheduler until the returned stop is called.
func (e *schedEnv) start(s *connectors.Scheduler) (stop func()) {
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Fatal(err)
		}
	}
}

func TestSchedulerSurvivesRestart(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t)
	start := e.clock.Now()
	if _, err := e.svc.PutSchedules(e.ctx, "user:a", "scripted", e.wh, []connectors.ScheduleRequest{{SyncType: "orders", IntervalSeconds: 300}}); err != nil {
		t.Fatal(err)
	}
	stop := e.start(e.scheduler())
	e.wantTick("first wake-up", start.Add(5*time.Minute))
	e.clock.Advance(5 * time.Minute)
	if o := <-e.done; o.Status != store.RunSuccess {
		t.Fatalf("%+v", o)
	}
	e.wantTick("next wake-up", start.Add(10*time.Minute))
	stop()

	// Down for 12 minutes: two slots missed. The restarted scheduler runs
	// once (missed runs are coalesced), then resumes the interval.
	e.clock.Advance(12 * time.Minute)
	stop = e.start(e.scheduler())
	if o := <-e.done; o.Status != store.RunSuccess {
		t.Fatalf("%+v", o)
	}
	e.wantTick("after restart next wake-up", start.Add(22*time.Minute))
	stop()
	runs, _ := e.db.ListSyncRuns(e.ctx, store.SyncRunFilter{})
	if len(runs) != 2 || runs[0].Trigger != "schedule" {
		t.Fatalf("runs %+v", runs)
	}
	scheds, _ := e.db.ListSchedules(e.ctx, "scripted", e.wh)
	if len(scheds) != 1 || scheds[0].LastRunAt == nil || !scheds[0].NextRunAt.Equal(start.Add(22*time.Minute)) {
		t.Fatalf("schedule %+v", scheds)
	}
}

func TestSchedulerCronDisabledAndWake(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t)
	start := e.clock.Now() // 09:00
	stop := e.start(e.sch)
	defer stop()
	e.wantTick("idle wake-up", start.Add(24*time.Hour)) // nothing scheduled: the refresh
	off := false
	if _, err := e.svc.PutSchedules(e.ctx, "user:a", "scripted", e.wh, []connectors.ScheduleRequest{
		{SyncType: "orders", Cron: "30 9 * * *"},
		{SyncType: "items", IntervalSeconds: 60, Enabled: &off},
	}); err != nil {
		t.Fatal(err)
	}
	// The edit's commit woke the scheduler: it now waits for 09:30, not the refresh.
	e.wantTick("wake-up", start.Add(30*time.Minute))
	e.clock.Advance(30 * time.Minute)
	o := <-e.done
	if o.Key.SyncType != "orders" {
		t.Fatalf("ran %+v", o)
	}
	if _, err := e.db.GetSyncState(e.ctx, e.key("items")); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("a disabled schedule ran")
	}
}

func TestSchedulerLetsRunsFinishOnShutdown(t *testing.T) {
	t.Parallel()
	for _, finish := range []bool{true, false} {
		e := newSchedEnv(t)
		release := make(chan struct{})
		e.s.sync = func(ctx context.Context, _ connectors.Env, _ int) (connectors.SyncResult, error) {
			select {
			case <-release:
				return connectors.SyncResult{}, nil
			case <-ctx.Done():
				return connectors.SyncResult{}, ctx.Err()
			}
		}
		if _, err := e.svc.PutSchedules(e.ctx, "user:a", "scripted", e.wh, []connectors.ScheduleRequest{{SyncType: "orders", IntervalSeconds: 60}}); err != nil {
			t.Fatal(err)
		}
		stop := e.start(e.sch)
		<-e.ticks
		e.clock.Advance(time.Minute)
		<-e.s.started
		stopped := make(chan struct{})
		go func() { stop(); close(stopped) }()
		// Shutdown waits for the run, up to the grace period. Advance only
		// once the grace timer is armed: counting the fake clock's waiters
		// raced with the scheduler's abandoned pass timers (2 of them and
		// the heartbeat made 3 before the grace timer existed, and the test
		// hung).
		select {
		case <-e.armed:
		case <-time.After(testsignal.Timeout):
			t.Fatal("shutdown did not arm its grace timer")
		}
		if finish {
			close(release)
			if o := <-e.done; o.Status != store.RunSuccess {
				t.Fatalf("finished run: %+v", o)
			}
		} else {
			e.clock.Advance(10 * time.Second)
			if o := <-e.done; o.Status != store.RunInterrupted {
				t.Fatalf("run past the grace: %+v", o)
			}
			if st := e.state("orders"); st.Status != store.SyncIdle {
				t.Fatalf("state %+v", st)
			}
		}
		<-stopped
	}
}

func TestPutSchedulesValidation(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t)
	_, err := e.svc.PutSchedules(e.ctx, "user:a", "scripted", e.wh, []connectors.ScheduleRequest{
		{SyncType: "inventory", IntervalSeconds: 300},
		{SyncType: "orders", Cron: "61 * * * *"},
		{SyncType: "items", IntervalSeconds: 5},
		{SyncType: "fulfillment", IntervalSeconds: 60, Cron: "* * * * *"},
	})
	var ve *store.ValidationError
	if !errors.As(err, &ve) {
		t.Fatal(err)
	}
	for _, f := range []string{"schedules[0].sync_type", "schedules[1].cron", "schedules[2].interval_seconds", "schedules[3].interval_seconds"} {
		if ve.Fields[f] == "" {
			t.Errorf("%s not named: %v", f, ve.Fields)
		}
	}
	if !strings.Contains(ve.Fields["schedules[1].cron"], "minute") {
		t.Errorf("cron error: %s", ve.Fields["schedules[1].cron"])
	}
	// An unchanged schedule keeps its next run when the set is edited.
	first, _ := e.svc.PutSchedules(e.ctx, "user:a", "scripted", e.wh, []connectors.ScheduleRequest{{SyncType: "orders", IntervalSeconds: 3600}})
	e.clock.Advance(20 * time.Minute)
	second, _ := e.svc.PutSchedules(e.ctx, "user:a", "scripted", e.wh, []connectors.ScheduleRequest{
		{SyncType: "orders", IntervalSeconds: 3600}, {SyncType: "items", IntervalSeconds: 600}})
	if !second[1].NextRunAt.Equal(first[0].NextRunAt) || !second[0].NextRunAt.Equal(e.clock.Now().Add(10*time.Minute)) {
		t.Fatalf("first %+v second %+v", first, second)
	}
	entries, _ := e.db.ListAudit(e.ctx, 0, 1)
	if entries[0].Action != "connector.schedules.put" || entries[0].Actor != "user:a" {
		t.Fatalf("audit %+v", entries[0])
	}
}
