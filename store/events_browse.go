package store

import (
	"context"
	"fmt"
)

// EventSearch selects events for the admin UI's event browser; zero fields
// match everything.
type EventSearch struct {
	EventType   string
	WarehouseID int64
	AggregateID string
	FromID      int64 // event_id at least
	ToID        int64 // event_id at most
	Before      int64 // event_id below (paging)
	Limit       int
}

// SearchEvents returns up to q.Limit events matching q, newest first. A
// type or warehouse filter seeks its index; an aggregate filter alone
// walks back from the newest id, bounded by the id range and the limit.
func (db *DB) SearchEvents(ctx context.Context, q EventSearch) ([]Event, error) {
	var f filter
	eq(&f, "event_type", q.EventType)
	eq(&f, "warehouse_id", q.WarehouseID)
	eq(&f, "aggregate_id", q.AggregateID)
	if q.FromID > 0 {
		f.where("event_id >= ?", q.FromID)
	}
	if q.ToID > 0 {
		f.where("event_id <= ?", q.ToID)
	}
	if q.Before > 0 {
		f.where("event_id < ?", q.Before)
	}
	rows, err := db.r.QueryContext(ctx, selectEventSQL+f.sql()+` ORDER BY event_id DESC LIMIT ?`, append(f.args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("search events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("search events: %w", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search events: %w", err)
	}
	return out, nil
}

// EventByID returns one event, or ErrNotFound.
func (db *DB) EventByID(ctx context.Context, id int64) (Event, error) {
	ev, err := scanEvent(db.r.QueryRowContext(ctx, selectEventSQL+` WHERE event_id = ?`, id))
	if err != nil {
		return Event{}, fmt.Errorf("event %d: %w", id, interpretError(err))
	}
	return ev, nil
}

// EventDeliveries returns every delivery of one event (each subscription's,
// replays included), by subscription and then id.
func (db *DB) EventDeliveries(ctx context.Context, eventID int64) ([]Delivery, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries d
		LEFT JOIN integration_events e ON e.event_id = d.event_id
		JOIN webhook_subscriptions s ON s.id = d.subscription_id AND s.status <> 'deleting'
		WHERE d.event_id = ? ORDER BY d.subscription_id, d.id`, eventID)
	if err != nil {
		return nil, fmt.Errorf("deliveries of event %d: %w", eventID, err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("deliveries of event %d: %w", eventID, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("deliveries of event %d: %w", eventID, err)
	}
	return out, nil
}
