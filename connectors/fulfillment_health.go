package connectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"sentryhub/store"
)

// FulfillmentOverdue is how long a shipment may wait to be reported
// upstream before the health check calls it overdue.
const FulfillmentOverdue = time.Hour

// FulfillmentHealthReport is one connector and warehouse's fulfillment
// health: healthy when nothing failed and nothing is overdue.
type FulfillmentHealthReport struct {
	store.FulfillmentHealth
	Healthy bool `json:"healthy"`
}

// CheckFulfillmentHealth reports connector in warehouseID (or every
// connector and warehouse with open pushes, for "" and 0) as of now. A pair
// with nothing pending or failed is healthy.
func CheckFulfillmentHealth(ctx context.Context, db *store.DB, connector string, warehouseID int64, now time.Time) ([]FulfillmentHealthReport, error) {
	hs, err := db.FulfillmentHealthCounts(ctx, connector, warehouseID, now.Add(-FulfillmentOverdue))
	if err != nil {
		return nil, err
	}
	out := make([]FulfillmentHealthReport, 0, len(hs))
	for _, h := range hs {
		out = append(out, FulfillmentHealthReport{FulfillmentHealth: h, Healthy: h.Failed == 0 && h.Overdue == 0})
	}
	if len(out) == 0 && connector != "" && warehouseID != 0 {
		out = append(out, FulfillmentHealthReport{FulfillmentHealth: store.FulfillmentHealth{Connector: connector, WarehouseID: warehouseID}, Healthy: true})
	}
	return out, nil
}

// ErrFulfillmentUnhealthy is the failure of a fulfillment health run.
var ErrFulfillmentUnhealthy = errors.New("fulfillment pushes need attention")

// checkFulfillmentHealth is the fulfillment_health sync: it fails, naming
// the counts, when key's connection has failed or overdue pushes.
func (r *Runner) checkFulfillmentHealth(ctx context.Context, key store.SyncKey) (SyncResult, error) {
	reps, err := CheckFulfillmentHealth(ctx, r.deps.DB, key.Connector, key.WarehouseID, r.deps.Clock.Now())
	if err != nil {
		return SyncResult{}, err
	}
	for _, h := range reps {
		if !h.Healthy {
			return SyncResult{}, fmt.Errorf("%w: %d failed, %d overdue (pending over %s), %d pending",
				ErrFulfillmentUnhealthy, h.Failed, h.Overdue, FulfillmentOverdue, h.Pending)
		}
	}
	return SyncResult{}, nil
}

// FulfillmentHealthCheck is the seed's fulfillment_health_check task:
// every interval it runs the fulfillment_health sync of each connection
// that has open pushes, or whose last check failed (so a recovery is
// recorded). The runs go through the runner like every sync: one at a
// time per connection, in its history, and a failing check shows the sync
// as failing (an error after ErrorThreshold in a row), so a stalled push
// loop is noticed even when nobody opens the page.
type FulfillmentHealthCheck struct {
	runner *Runner
	every  time.Duration
}

// NewFulfillmentHealthCheck returns the task; every <= 0 means 5 minutes.
func NewFulfillmentHealthCheck(runner *Runner, every time.Duration) *FulfillmentHealthCheck {
	if every <= 0 {
		every = 5 * time.Minute
	}
	return &FulfillmentHealthCheck{runner: runner, every: every}
}

// Once runs one check of every connection concerned and returns the
// outcomes of the runs it started (a check already running is skipped).
func (h *FulfillmentHealthCheck) Once(ctx context.Context) ([]Outcome, error) {
	r := h.runner
	all, err := CheckFulfillmentHealth(ctx, r.deps.DB, "", 0, r.deps.Clock.Now())
	if err != nil {
		return nil, err
	}
	keys := map[store.SyncKey]bool{}
	var order []store.SyncKey
	add := func(k store.SyncKey) {
		if !keys[k] {
			keys[k] = true
			order = append(order, k)
		}
	}
	for _, rep := range all {
		add(store.SyncKey{Connector: rep.Connector, WarehouseID: rep.WarehouseID, SyncType: SyncFulfillmentHealth})
	}
	states, err := r.deps.DB.ListSyncStates(ctx, "", 0)
	if err != nil {
		return nil, err
	}
	for _, st := range states {
		if st.SyncType == SyncFulfillmentHealth && st.ConsecutiveErrors > 0 {
			add(st.SyncKey)
		}
	}
	var outs []Outcome
	for _, k := range order {
		if ctx.Err() != nil {
			break
		}
		out, err := r.Run(ctx, k, RunOptions{Trigger: "health_check"})
		var dup *store.DuplicateRunError
		switch {
		case errors.As(err, &dup):
			continue
		case err != nil:
			// Not registered, or cannot push: the fulfillment worker marks
			// such pushes skipped.
			r.deps.Log.Warn("fulfillment health check not started", slog.String("sync", k.String()), slog.Any("error", err))
			continue
		}
		outs = append(outs, out)
	}
	return outs, nil
}

// Run checks every interval until ctx ends.
func (h *FulfillmentHealthCheck) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.runner.deps.Clock.After(h.every):
		}
		if _, err := h.Once(ctx); err != nil && ctx.Err() == nil {
			h.runner.deps.Log.Error("fulfillment health check", slog.String("error", err.Error()))
		}
	}
}
