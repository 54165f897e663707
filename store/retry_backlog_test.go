package store

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// TestRetryBacklog counts retrying deliveries now and an hour ago from the
// rows' attempt logs and completion times.
func TestRetryBacklog(t *testing.T) {
	db := whTestDB(t)
	ctx := context.Background()
	now := time.Date(2026, 5, 2, 14, 0, 0, 0, time.UTC)
	if _, err := db.w.ExecContext(ctx, `INSERT INTO webhook_subscriptions (id, name, url, filter, status,
		pending_ceiling, dlq_ceiling, rate_limit_per_sec, max_in_flight, cursor, created_at, updated_at)
		VALUES (1, 's', 'https://example.com/h', '{}', 'active', 100, 10, 0, 1, 0, ?, ?)`,
		formatTime(now), formatTime(now)); err != nil {
		t.Fatal(err)
	}
	ev := NewEvent{EventType: EventShipConfirmed, AggregateType: AggregateSalesOrder,
		AggregateID: "0b5f7d1e-4a8e-4c4f-9a53-6f1f8f0c2d11", WarehouseID: 1,
		SourceTxnID: "5f0c4b0a-2d63-4b8e-8f6e-0c1a9d2b7e44", Data: json.RawMessage(`{"n":1}`)}
	eng, err := db.NewWebhookEngine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	// add inserts one delivery created at created, failing first at
	// failed (zero: its first attempt succeeds at created), then
	// succeeding at done (zero: still open).
	add := func(created, failed, done time.Time) {
		t.Helper()
		evIDs, err := db.AppendEvents(ctx, []NewEvent{ev})
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.Update(ctx, func(tx *EngineTx) error {
			ids, err := tx.InsertDeliveries(1, evIDs, []int64{0}, created)
			if err != nil {
				return err
			}
			var ups []DeliveryUpdate
			if failed.IsZero() {
				ups = append(ups, DeliveryUpdate{ID: ids[0], Status: DeliverySucceeded, Attempts: 1, CompletedAt: created,
					Attempt: &Attempt{At: TimeOf(created), StatusCode: 200}})
			} else {
				ups = append(ups, DeliveryUpdate{ID: ids[0], Status: DeliveryPending, Attempts: 1, NextAttemptAt: failed.Add(time.Minute),
					Attempt: &Attempt{At: TimeOf(failed), StatusCode: 503, ErrorKind: "http_5xx"}})
				if !done.IsZero() {
					ups = append(ups, DeliveryUpdate{ID: ids[0], Status: DeliverySucceeded, Attempts: 2, CompletedAt: done,
						Attempt: &Attempt{At: TimeOf(done), StatusCode: 200}})
				}
			}
			for _, u := range ups {
				if err := tx.ApplyDeliveryUpdates([]DeliveryUpdate{u}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	var none time.Time
	add(ago(3*time.Hour), none, none)                                 // succeeded at once: never retrying
	add(ago(3*time.Hour), ago(3*time.Hour), none)                     // retrying then and now
	add(ago(2*time.Hour), ago(2*time.Hour), ago(30*time.Minute))      // retrying then, done now
	add(ago(30*time.Minute), ago(20*time.Minute), none)               // retrying now only
	add(ago(20*time.Minute), ago(10*time.Minute), none)               // retrying now only
	add(ago(10*24*time.Hour), ago(10*24*time.Hour), ago(9*time.Hour)) // outside the window

	cur, hour, err := db.RetryBacklog(ctx, 1, now)
	if err != nil {
		t.Fatal(err)
	}
	if cur != 3 || hour != 2 {
		t.Fatalf("retrying now %d, an hour ago %d; want 3 and 2", cur, hour)
	}
	if cur, hour, err := db.RetryBacklog(ctx, 2, now); err != nil || cur != 0 || hour != 0 {
		t.Fatalf("other subscription: %d %d %v", cur, hour, err)
	}
}
