package store

import (
	"context"
	"fmt"
	"time"
)

// ConnectorWebhookEvent is a provider webhook event accepted for a
// connector in a warehouse.
type ConnectorWebhookEvent struct {
	ID          int64
	Connector   string
	WarehouseID int64
	Stream      string
	EventID     string
	EventType   string
	Body        []byte
	Status      string // pending, done, failed
	Attempts    int
	Result      string
	ReceivedAt  time.Time
}

// Webhook event statuses.
const (
	WebhookEventPending = "pending"
	WebhookEventDone    = "done"
	WebhookEventFailed  = "failed"
)

// MaxWebhookEventBody bounds a stored provider webhook body.
const MaxWebhookEventBody = 1 << 20

// AcceptConnectorWebhookEvent stores ev as pending, committed when it
// returns: the caller answers the provider only after. A redelivery of an
// event id already stored for the connector and warehouse stores nothing
// and returns duplicate = true.
func (db *DB) AcceptConnectorWebhookEvent(ctx context.Context, ev ConnectorWebhookEvent) (id int64, duplicate bool, err error) {
	f := fieldErrs{}
	f.checkText("connector", ev.Connector, maxNameLen, true)
	f.checkWarehouseID("warehouse_id", ev.WarehouseID)
	f.checkText("stream", ev.Stream, maxNameLen, true)
	f.checkText("event_id", ev.EventID, 200, true)
	f.checkText("event_type", ev.EventType, 200, false)
	if len(ev.Body) > MaxWebhookEventBody {
		f.add("body", "is larger than 1 MiB")
	}
	if err := f.invalid("invalid webhook event"); err != nil {
		return 0, false, err
	}
	res, err := db.w.ExecContext(ctx, `INSERT INTO connector_webhook_events
		(connector, warehouse_id, stream, event_id, event_type, body, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (connector, warehouse_id, event_id) DO NOTHING`,
		ev.Connector, ev.WarehouseID, ev.Stream, ev.EventID, ev.EventType, ev.Body, formatTime(db.now()))
	if err != nil {
		return 0, false, fmt.Errorf("accept webhook event %s: %w", connectorTarget(ev.Connector, ev.WarehouseID), err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, true, nil
	}
	id, err = res.LastInsertId()
	return id, false, err
}

// PendingConnectorWebhookEvents returns up to limit pending events, oldest
// first.
func (db *DB) PendingConnectorWebhookEvents(ctx context.Context, limit int) ([]ConnectorWebhookEvent, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, connector, warehouse_id, stream, event_id, event_type, body,
		status, attempts, result, received_at FROM connector_webhook_events
		WHERE status = 'pending' ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("pending webhook events: %w", err)
	}
	defer rows.Close()
	var out []ConnectorWebhookEvent
	for rows.Next() {
		var ev ConnectorWebhookEvent
		var received string
		if err := rows.Scan(&ev.ID, &ev.Connector, &ev.WarehouseID, &ev.Stream, &ev.EventID, &ev.EventType, &ev.Body,
			&ev.Status, &ev.Attempts, &ev.Result, &received); err != nil {
			return nil, fmt.Errorf("pending webhook events: %w", err)
		}
		if ev.ReceivedAt, err = parseTime(received); err != nil {
			return nil, fmt.Errorf("pending webhook events: %w", err)
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// FinishConnectorWebhookEvent records the outcome of processing event id:
// done, failed (permanently), or pending again for a transient problem.
func (db *DB) FinishConnectorWebhookEvent(ctx context.Context, id int64, status, result string) error {
	if status != WebhookEventDone && status != WebhookEventFailed && status != WebhookEventPending {
		return fmt.Errorf("finish webhook event %d: unknown status %q", id, status)
	}
	if len(result) > 2000 {
		result = result[:2000]
	}
	var processed any
	if status != WebhookEventPending {
		processed = formatTime(db.now())
	}
	res, err := db.w.ExecContext(ctx, `UPDATE connector_webhook_events
		SET status = ?, result = ?, attempts = attempts + 1, processed_at = ? WHERE id = ?`, status, result, processed, id)
	if err != nil {
		return fmt.Errorf("finish webhook event %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("finish webhook event %d: %w", id, ErrNotFound)
	}
	return nil
}

// WebhookEventCounts counts a connector's events in a warehouse by status,
// and its rejected deliveries by reason.
type WebhookEventCounts struct {
	ByStatus   map[string]int64 `json:"by_status"`
	Rejections map[string]int64 `json:"rejections"`
}

// ConnectorWebhookCounts returns the counts of connector in warehouseID.
func (db *DB) ConnectorWebhookCounts(ctx context.Context, connector string, warehouseID int64) (WebhookEventCounts, error) {
	out := WebhookEventCounts{ByStatus: map[string]int64{}, Rejections: map[string]int64{}}
	for _, q := range []struct {
		sql string
		m   map[string]int64
	}{
		{`SELECT status, count(*) FROM connector_webhook_events WHERE connector = ? AND warehouse_id = ? GROUP BY status`, out.ByStatus},
		{`SELECT reason, count FROM connector_webhook_rejections WHERE connector = ? AND warehouse_id = ?`, out.Rejections},
	} {
		rows, err := db.r.QueryContext(ctx, q.sql, connector, warehouseID)
		if err != nil {
			return out, fmt.Errorf("webhook counts: %w", err)
		}
		for rows.Next() {
			var k string
			var n int64
			if err := rows.Scan(&k, &n); err != nil {
				rows.Close()
				return out, fmt.Errorf("webhook counts: %w", err)
			}
			q.m[k] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return out, err
		}
	}
	return out, nil
}

// CountConnectorWebhookRejection counts one refused delivery.
func (db *DB) CountConnectorWebhookRejection(ctx context.Context, connector string, warehouseID int64, reason string) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO connector_webhook_rejections (connector, warehouse_id, reason, count, last_at)
		VALUES (?, ?, ?, 1, ?) ON CONFLICT (connector, warehouse_id, reason) DO UPDATE SET count = count + 1, last_at = excluded.last_at`,
		connector, warehouseID, reason, formatTime(db.now()))
	if err != nil {
		return fmt.Errorf("count webhook rejection: %w", err)
	}
	return nil
}
