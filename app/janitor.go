package app

import (
	"context"
	"log/slog"
	"time"

	"sentryhub/clock"
	"sentryhub/store"
)

// janitorInterval is how often housekeeping runs; retention windows are in
// days, so hourly keeps tables within an hour of their bound.
const janitorInterval = time.Hour

// janitor prunes what the store keeps only for a while (idempotency keys
// past store.IdempotencyRetention, finished webhook deliveries past
// store.DeliveryRetention, login sessions ended longer ago than
// store.SessionRetention, inbound push log rows past store.PushRetention),
// at start and then every
// janitorInterval, until ctx ends. Failures are logged and retried at the
// next tick: housekeeping must never stop the hub.
func janitor(db *store.DB, c clock.Clock, log *slog.Logger) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		tasks := []struct {
			what      string
			retention time.Duration
			prune     func(context.Context, time.Time) (int64, error)
		}{
			{"idempotency keys", store.IdempotencyRetention, db.PruneIdempotencyKeys},
			{"finished webhook deliveries", store.DeliveryRetention, db.PruneWebhookDeliveries},
			{"ended login sessions", store.SessionRetention, db.PruneSessions},
			{"inbound push log", store.PushRetention, db.PruneInboundPushes},
		}
		for {
			for _, task := range tasks {
				n, err := task.prune(ctx, c.Now().Add(-task.retention))
				switch {
				case err != nil && ctx.Err() == nil:
					log.Warn("prune "+task.what, slog.Any("err", err))
				case n > 0:
					log.Info("pruned "+task.what, slog.Int64("deleted", n), slog.Duration("retention", task.retention))
				}
			}
			if err := clock.Sleep(ctx, c, janitorInterval); err != nil {
				return nil // ctx ended: a clean stop
			}
		}
	}
}
