package connectors

import (
	"context"
	"log/slog"
	"time"

	"sentryhub/clock"
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

// FulfillmentHealthCheck is the seed's fulfillment_health_check task: every
// interval it checks every connector's fulfillment queue and logs a warning
// for each connector and warehouse with failed or overdue pushes, so a
// stalled push loop is noticed even when nobody opens the page.
type FulfillmentHealthCheck struct {
	db    *store.DB
	clock clock.Clock
	log   *slog.Logger
	every time.Duration
}

// NewFulfillmentHealthCheck returns the task; every <= 0 means 5 minutes.
func NewFulfillmentHealthCheck(db *store.DB, c clock.Clock, log *slog.Logger, every time.Duration) *FulfillmentHealthCheck {
	if every <= 0 {
		every = 5 * time.Minute
	}
	return &FulfillmentHealthCheck{db: db, clock: c, log: log, every: every}
}

// Once runs one check and returns the unhealthy pairs.
func (h *FulfillmentHealthCheck) Once(ctx context.Context) ([]FulfillmentHealthReport, error) {
	all, err := CheckFulfillmentHealth(ctx, h.db, "", 0, h.clock.Now())
	if err != nil {
		return nil, err
	}
	var bad []FulfillmentHealthReport
	for _, r := range all {
		if r.Healthy {
			continue
		}
		bad = append(bad, r)
		h.log.Warn("fulfillment pushes need attention", slog.String("connector", r.Connector),
			slog.Int64("warehouse_id", r.WarehouseID), slog.Int64("failed", r.Failed), slog.Int64("overdue", r.Overdue),
			slog.Int64("pending", r.Pending))
	}
	return bad, nil
}

// Run checks every interval until ctx ends.
func (h *FulfillmentHealthCheck) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.clock.After(h.every):
		}
		if _, err := h.Once(ctx); err != nil && ctx.Err() == nil {
			h.log.Error("fulfillment health check", slog.String("error", err.Error()))
		}
	}
}
