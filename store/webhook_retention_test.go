package store

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"
)

// Finished deliveries older than the cut-off go; open, dead and recent
// ones stay, whatever the mix of subscriptions and statuses.
func TestPruneWebhookDeliveries(t *testing.T) {
	db := whTestDB(t)
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := db.withTx(ctx, func(tx *sql.Tx) error {
		for _, id := range []int{1, 2} {
			if _, err := tx.Exec(`INSERT INTO webhook_subscriptions (id, name, url, filter, status,
				pending_ceiling, dlq_ceiling, rate_limit_per_sec, max_in_flight, cursor, created_at, updated_at)
				VALUES (?, ?, 'https://example.com/h', '{}', 'active', 10, 10, 0, 1, 0, ?, ?)`,
				id, fmt.Sprint("s", id), formatTime(base), formatTime(base)); err != nil {
				return err
			}
		}
		// Day d gets, per subscription, one row of each status.
		for d := range 10 {
			at := formatTime(base.Add(time.Duration(d) * 24 * time.Hour))
			for _, sub := range []int{1, 2} {
				for _, st := range []string{"succeeded", "replayed", "dead", "pending"} {
					if _, err := tx.Exec(`INSERT INTO webhook_deliveries (subscription_id, event_id, status, created_at)
						VALUES (?, ?, ?, ?)`, sub, d, st, at); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	count := func(status string) int {
		var n int
		if err := db.r.QueryRow(`SELECT count(*) FROM webhook_deliveries WHERE status = ?`, status).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Cut-off at day 6: days 0..5 of succeeded and replayed go (2 subs x 6).
	n, err := db.PruneWebhookDeliveries(ctx, base.Add(6*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n != 24 {
		t.Fatalf("pruned %d, want 24", n)
	}
	for st, want := range map[string]int{"succeeded": 8, "replayed": 8, "dead": 20, "pending": 20} {
		if got := count(st); got != want {
			t.Errorf("%s: %d left, want %d", st, got, want)
		}
	}
	// Before every row, and on an empty table: nothing to do.
	if n, err := db.PruneWebhookDeliveries(ctx, base.Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("cut-off before all rows: %d %v", n, err)
	}
	empty := whTestDB(t)
	if n, err := empty.PruneWebhookDeliveries(ctx, base); err != nil || n != 0 {
		t.Fatalf("empty table: %d %v", n, err)
	}
}

// The cut-off search finds the last row before the cut-off across gaps in
// the ids (deleted rows) in O(log n) seeks.
func TestDeliveryIDBefore(t *testing.T) {
	db := whTestDB(t)
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := db.withTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO webhook_subscriptions (id, name, url, filter, status,
			pending_ceiling, dlq_ceiling, rate_limit_per_sec, max_in_flight, cursor, created_at, updated_at)
			VALUES (1, 's', 'https://example.com/h', '{}', 'active', 10, 10, 0, 1, 0, ?, ?)`, formatTime(base), formatTime(base)); err != nil {
			return err
		}
		for i := 1; i <= 1000; i++ {
			if i%7 == 0 {
				continue // gaps
			}
			if _, err := tx.Exec(`INSERT INTO webhook_deliveries (id, subscription_id, event_id, status, created_at)
				VALUES (?, 1, ?, 'succeeded', ?)`, i, i, formatTime(base.Add(time.Duration(i)*time.Minute))); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cutoffMin int
		want      int64
	}{{0, 0}, {1, 0}, {2, 1}, {8, 6}, {9, 8}, {500, 499}, {1001, 1000}, {5000, 1000}} {
		got, err := db.deliveryIDBefore(ctx, formatTime(base.Add(time.Duration(tc.cutoffMin)*time.Minute)))
		if err != nil || got != tc.want {
			t.Errorf("cut-off minute %d: %d %v, want %d", tc.cutoffMin, got, err, tc.want)
		}
	}
}
