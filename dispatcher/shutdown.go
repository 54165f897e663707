package dispatcher

import (
	"context"
	"log/slog"
	"time"

	"sentryhub/store"
)

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
	// The grace period is on the injected clock, like every other
	// deadline the dispatcher keeps, so a test moves past it at once.
	grace := e.d.clock.After(e.d.cfg.ShutdownGrace)
wait:
	for {
		select {
		case <-allDone:
			break wait
		case <-grace:
			grace = nil
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
		r.fail(ErrStopped)
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
	recs := append(e.retry, e.comp.take()...)
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
	e.comp.done(len(recs))
}
