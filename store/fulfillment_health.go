package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// FulfillmentHealth counts the fulfillment pushes of one connector in one
// warehouse that need attention.
type FulfillmentHealth struct {
	Connector   string `json:"connector"`
	WarehouseID int64  `json:"warehouse_id"`
	Pending     int64  `json:"pending"`
	// Overdue are pending pushes created before the check's threshold.
	Overdue         int64      `json:"overdue"`
	Failed          int64      `json:"failed"`
	OldestPendingAt *time.Time `json:"oldest_pending_at,omitempty"`
}

// FulfillmentHealthCounts returns the health of every connector and
// warehouse with pending or failed pushes (connector "" and warehouseID 0
// mean all), counting pending pushes created before overdueBefore as
// overdue.
func (db *DB) FulfillmentHealthCounts(ctx context.Context, connector string, warehouseID int64, overdueBefore time.Time) ([]FulfillmentHealth, error) {
	var w filter
	eq(&w, "connector_name", connector)
	eq(&w, "warehouse_id", warehouseID)
	w.where("status IN ('pending', 'failed')")
	q := `SELECT connector_name, warehouse_id,
		sum(status = 'pending'), sum(status = 'pending' AND created_at < ?), sum(status = 'failed'),
		min(CASE WHEN status = 'pending' THEN created_at END)
		FROM fulfillment_pushes` + w.sql() + ` GROUP BY connector_name, warehouse_id ORDER BY connector_name, warehouse_id`
	rows, err := db.r.QueryContext(ctx, q, append([]any{formatTime(overdueBefore)}, w.args...)...)
	if err != nil {
		return nil, fmt.Errorf("fulfillment health: %w", err)
	}
	defer rows.Close()
	out := []FulfillmentHealth{}
	for rows.Next() {
		var h FulfillmentHealth
		var oldest sql.NullString
		if err := rows.Scan(&h.Connector, &h.WarehouseID, &h.Pending, &h.Overdue, &h.Failed, &oldest); err != nil {
			return nil, fmt.Errorf("fulfillment health: %w", err)
		}
		if oldest.Valid {
			t, err := parseTime(oldest.String)
			if err != nil {
				return nil, fmt.Errorf("fulfillment health: %w", err)
			}
			h.OldestPendingAt = &t
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
