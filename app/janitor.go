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
// past store.IdempotencyRetention), at start and then every
// janitorInterval, until ctx ends. Failures are logged and retried at the
// next tick: housekeeping must never stop the hub.
func janitor(db *store.DB, c clock.Clock, log *slog.Logger) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		for {
			n, err := db.PruneIdempotencyKeys(ctx, c.Now().Add(-store.IdempotencyRetention))
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("prune idempotency keys", slog.Any("err", err))
			case n > 0:
				log.Info("pruned idempotency keys", slog.Int64("deleted", n),
					slog.Duration("retention", store.IdempotencyRetention))
			}
			if err := clock.Sleep(ctx, c, janitorInterval); err != nil {
				return nil // ctx ended: a clean stop
			}
		}
	}
}
