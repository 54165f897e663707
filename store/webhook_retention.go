package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// DeliveryRetention is how long finished webhook deliveries (succeeded, or
// replaced by a replay) stay in the history. Open and dead deliveries are
// never pruned: open ones are work, dead ones are the DLQ (bounded by each
// subscription's dlq_ceiling). Keeping history bounded keeps the admin
// views and stats, which read it per subscription, from growing without
// end.
const DeliveryRetention = 30 * 24 * time.Hour

// PruneWebhookDeliveries deletes succeeded and replayed deliveries created
// before before, in transactions of at most pruneBatch rows, and returns
// how many it deleted.
//
// Delivery ids grow with created_at (rows are appended as events fan out),
// so the cut-off is found as an id by binary search over the primary key,
// a few dozen seeks; each delete then walks the (subscription_id, status,
// id) index below that id. No index on created_at is needed, which would
// cost every delivery insert on the dispatcher's hot path.
func (db *DB) PruneWebhookDeliveries(ctx context.Context, before time.Time) (int64, error) {
	cut, err := db.deliveryIDBefore(ctx, formatTime(before))
	if err != nil || cut == 0 {
		return 0, err
	}
	var total int64
	for {
		var n int64
		err := db.withTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE id IN (
				SELECT d.id FROM webhook_subscriptions s JOIN webhook_deliveries d
					ON d.subscription_id = s.id AND d.status IN ('succeeded', 'replayed') AND d.id <= ?
				LIMIT ?)`, cut, pruneBatch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("prune webhook deliveries: %w", err)
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}

// deliveryIDBefore returns the largest delivery id created before cutoff
// (a formatted time), or 0 when there is none.
func (db *DB) deliveryIDBefore(ctx context.Context, cutoff string) (int64, error) {
	var lo, hi sql.NullInt64
	if err := db.r.QueryRowContext(ctx, `SELECT min(id), max(id) FROM webhook_deliveries`).Scan(&lo, &hi); err != nil {
		return 0, fmt.Errorf("prune webhook deliveries: %w", err)
	}
	if !lo.Valid {
		return 0, nil
	}
	createdAt := func(id int64) (int64, string, error) { // the first row at or after id
		var got int64
		var at string
		err := db.r.QueryRowContext(ctx, `SELECT id, created_at FROM webhook_deliveries WHERE id >= ? ORDER BY id LIMIT 1`, id).Scan(&got, &at)
		return got, at, err
	}
	// Invariant: rows below lo are before the cutoff; rows from hi+1 on are not.
	best := int64(0)
	l, h := lo.Int64, hi.Int64
	for l <= h {
		mid := l + (h-l)/2
		id, at, err := createdAt(mid)
		if errors.Is(err, sql.ErrNoRows) {
			h = mid - 1
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("prune webhook deliveries: %w", err)
		}
		if at < cutoff {
			best = id
			l = id + 1
		} else {
			h = mid - 1
		}
	}
	return best, nil
}
