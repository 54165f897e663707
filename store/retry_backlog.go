package store

import (
	"context"
	"fmt"
	"time"
)

// RetryBacklogWindow bounds how old a delivery RetryBacklog looks at can
// be: one still retrying after this long is dead by any schedule we use.
const RetryBacklogWindow = 7 * 24 * time.Hour

// RetryBacklog counts subscription subID's retrying deliveries (open after
// at least one attempt) now and as they stood one hour before now, from the
// delivery rows: one retrying then had its first attempt by then and was
// not completed by then. The dashboard calls a backlog growing when now
// exceeds then. Rows are read through the (subscription_id, id) index from
// the first one created within RetryBacklogWindow.
func (db *DB) RetryBacklog(ctx context.Context, subID int64, now time.Time) (current, hourAgo int64, err error) {
	from, err := db.firstIDSince(ctx, "webhook_deliveries", "id", "created_at", now.Add(-RetryBacklogWindow))
	if err != nil {
		return 0, 0, fmt.Errorf("retry backlog of subscription %d: %w", subID, err)
	}
	then := formatTime(now.Add(-time.Hour))
	err = db.r.QueryRowContext(ctx, `SELECT
		coalesce(sum(status IN ('pending', 'in_flight') AND attempts > 0), 0),
		coalesce(sum(attempt_log ->> '$[0].t' <= ?1 AND (completed_at IS NULL OR completed_at > ?1)), 0)
		FROM webhook_deliveries WHERE subscription_id = ?2 AND id >= ?3`, then, subID, from).Scan(&current, &hourAgo)
	if err != nil {
		return 0, 0, fmt.Errorf("retry backlog of subscription %d: %w", subID, interpretError(err))
	}
	return current, hourAgo, nil
}
