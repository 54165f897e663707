package store

import (
	"context"
	"fmt"
	"time"
)

// HourActivity is what happened in one hour: events committed, and the
// deliveries created in it by their state now.
type HourActivity struct {
	Hour      time.Time // start of the hour, UTC
	Events    int64
	Succeeded int64
	Retrying  int64 // pending or in flight after a failed attempt
	Dead      int64
}

// Activity returns one HourActivity per hour of the hours up to now,
// oldest first, for the dashboard chart. Neither table has an index on
// time, and none is added for a chart: ids and timestamps grow together
// (one writer), so the first row of the window is found by a binary
// search over the primary key, and only the window's rows are read.
func (db *DB) Activity(ctx context.Context, now time.Time, hours int) ([]HourActivity, error) {
	end := now.UTC().Truncate(time.Hour).Add(time.Hour)
	start := end.Add(-time.Duration(hours) * time.Hour)
	out := make([]HourActivity, hours)
	for i := range out {
		out[i].Hour = start.Add(time.Duration(i) * time.Hour)
	}
	slot := func(bucket string) int {
		t, err := time.Parse("2006-01-02T15", bucket)
		if err != nil {
			return -1
		}
		i := int(t.Sub(start) / time.Hour)
		if i < 0 || i >= hours {
			return -1
		}
		return i
	}

	from, err := db.firstIDSince(ctx, "integration_events", "event_id", "visible_at", start)
	if err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT substr(visible_at, 1, 13), count(*) FROM integration_events
		WHERE event_id >= ? GROUP BY 1`, from)
	if err != nil {
		return nil, fmt.Errorf("event activity: %w", err)
	}
	for rows.Next() {
		var b string
		var n int64
		if err := rows.Scan(&b, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("event activity: %w", err)
		}
		if i := slot(b); i >= 0 {
			out[i].Events += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("event activity: %w", err)
	}

	from, err = db.firstIDSince(ctx, "webhook_deliveries", "id", "created_at", start)
	if err != nil {
		return nil, err
	}
	rows, err = db.r.QueryContext(ctx, `SELECT substr(created_at, 1, 13), status, last_error_kind IS NOT NULL, count(*)
		FROM webhook_deliveries WHERE id >= ? GROUP BY 1, 2, 3`, from)
	if err != nil {
		return nil, fmt.Errorf("delivery activity: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b string
		var status DeliveryStatus
		var failed bool
		var n int64
		if err := rows.Scan(&b, &status, &failed, &n); err != nil {
			return nil, fmt.Errorf("delivery activity: %w", err)
		}
		i := slot(b)
		if i < 0 {
			continue
		}
		switch {
		case status == DeliverySucceeded:
			out[i].Succeeded += n
		case status == DeliveryDead:
			out[i].Dead += n
		case (status == DeliveryPending || status == DeliveryInFlight) && failed:
			out[i].Retrying += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("delivery activity: %w", err)
	}
	return out, nil
}

// firstIDSince returns the smallest id of table whose time column is at
// or after since (or one past the last id when none is), by binary search
// over ids: each probe is one primary-key seek. Table and column names are
// the caller's constants, never input.
func (db *DB) firstIDSince(ctx context.Context, table, idCol, timeCol string, since time.Time) (int64, error) {
	var lo, hi int64
	if err := db.r.QueryRowContext(ctx, `SELECT coalesce(min(`+idCol+`), 1), coalesce(max(`+idCol+`), 0) + 1 FROM `+table).
		Scan(&lo, &hi); err != nil {
		return 0, fmt.Errorf("activity window of %s: %w", table, err)
	}
	want := formatTime(since)
	for lo < hi {
		mid := lo + (hi-lo)/2
		var id int64
		var at string
		err := db.r.QueryRowContext(ctx, `SELECT `+idCol+`, `+timeCol+` FROM `+table+` WHERE `+idCol+` >= ? ORDER BY `+idCol+` LIMIT 1`, mid).
			Scan(&id, &at)
		if err != nil {
			return 0, fmt.Errorf("activity window of %s: %w", table, interpretError(err))
		}
		if at >= want {
			hi = mid
		} else {
			lo = id + 1
		}
	}
	return lo, nil
}

// DeliveryRate is how a subscription's recent deliveries ended.
type DeliveryRate struct {
	Succeeded, Dead int64
}

// Rate is Succeeded / (Succeeded + Dead), or nil before any finished.
func (r DeliveryRate) Rate() *float64 {
	if r.Succeeded+r.Dead == 0 {
		return nil
	}
	v := float64(r.Succeeded) / float64(r.Succeeded+r.Dead)
	return &v
}

// SuccessRates returns, per subscription, how the deliveries created since
// since ended (succeeded or dead; open ones are not counted yet). Like
// Activity it reads only the window's rows.
func (db *DB) SuccessRates(ctx context.Context, since time.Time) (map[int64]DeliveryRate, error) {
	from, err := db.firstIDSince(ctx, "webhook_deliveries", "id", "created_at", since)
	if err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT subscription_id, status, count(*) FROM webhook_deliveries
		WHERE id >= ? AND status IN ('succeeded', 'dead', 'replayed') GROUP BY 1, 2`, from)
	if err != nil {
		return nil, fmt.Errorf("success rates: %w", err)
	}
	defer rows.Close()
	out := map[int64]DeliveryRate{}
	for rows.Next() {
		var id, n int64
		var status DeliveryStatus
		if err := rows.Scan(&id, &status, &n); err != nil {
			return nil, fmt.Errorf("success rates: %w", err)
		}
		r := out[id]
		if status == DeliverySucceeded {
			r.Succeeded += n
		} else {
			r.Dead += n // replayed rows were dead before their replay
		}
		out[id] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("success rates: %w", err)
	}
	return out, nil
}
