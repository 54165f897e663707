package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// ConnectionKey names one connector in one warehouse.
type ConnectionKey struct {
	Connector   string `json:"connector"`
	WarehouseID int64  `json:"warehouse_id"`
}

// StreamSchedule is the persisted timing of one stream's own schedule in
// one connection.
type StreamSchedule struct {
	ConnectionKey
	Stream    string     `json:"stream"`
	SyncType  string     `json:"sync_type"`
	Schedule  string     `json:"schedule"`
	NextRunAt time.Time  `json:"next_run_at"`
	LastRunAt *time.Time `json:"last_run_at,omitempty"`
	// Cursor is how far the stream read in its last successful run limited
	// to its own schedule.
	Cursor *time.Time `json:"cursor,omitempty"`
}

// ConfiguredConnections returns every connector + warehouse with stored
// settings or credentials: the connections the scheduler runs streams for.
func (db *DB) ConfiguredConnections(ctx context.Context) ([]ConnectionKey, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT connector_name, warehouse_id FROM connector_settings
		UNION SELECT connector_name, warehouse_id FROM connector_credentials ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("configured connections: %w", err)
	}
	defer rows.Close()
	var out []ConnectionKey
	for rows.Next() {
		var k ConnectionKey
		if err := rows.Scan(&k.Connector, &k.WarehouseID); err != nil {
			return nil, fmt.Errorf("configured connections: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// ListStreamSchedules returns the stored stream schedules of connector
// (all when empty) in warehouseID (all when 0).
func (db *DB) ListStreamSchedules(ctx context.Context, connector string, warehouseID int64) ([]StreamSchedule, error) {
	var f filter
	eq(&f, "connector_name", connector)
	eq(&f, "warehouse_id", warehouseID)
	rows, err := db.r.QueryContext(ctx, `SELECT connector_name, warehouse_id, stream_key, sync_type, schedule,
		next_run_at, last_run_at, cursor FROM stream_schedules`+f.sql()+` ORDER BY connector_name, warehouse_id, stream_key`, f.args...)
	if err != nil {
		return nil, fmt.Errorf("list stream schedules: %w", err)
	}
	defer rows.Close()
	var out []StreamSchedule
	for rows.Next() {
		var s StreamSchedule
		var next string
		var last, cursor sql.NullString
		if err := rows.Scan(&s.Connector, &s.WarehouseID, &s.Stream, &s.SyncType, &s.Schedule, &next, &last, &cursor); err != nil {
			return nil, fmt.Errorf("list stream schedules: %w", err)
		}
		if s.NextRunAt, err = parseTime(next); err != nil {
			return nil, fmt.Errorf("list stream schedules: %w", err)
		}
		if s.LastRunAt, err = scanOptTime(last); err != nil {
			return nil, fmt.Errorf("list stream schedules: %w", err)
		}
		if s.Cursor, err = scanOptTime(cursor); err != nil {
			return nil, fmt.Errorf("list stream schedules: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// PutStreamSchedule stores s (its schedule text and next run), replacing
// the row of the same connection and stream; the last run is kept.
func (db *DB) PutStreamSchedule(ctx context.Context, s StreamSchedule) error {
	f := fieldErrs{}
	f.checkText("connector", s.Connector, maxNameLen, true)
	f.checkWarehouseID("warehouse_id", s.WarehouseID)
	f.checkText("stream", s.Stream, maxCodeLen, true)
	f.checkText("sync_type", s.SyncType, maxCodeLen, true)
	f.checkText("schedule", s.Schedule, maxCodeLen, true)
	if s.NextRunAt.IsZero() {
		f.add("next_run_at", "is required")
	}
	if err := f.invalid("invalid stream schedule"); err != nil {
		return err
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO stream_schedules
		(connector_name, warehouse_id, stream_key, sync_type, schedule, next_run_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (connector_name, warehouse_id, stream_key) DO UPDATE SET
		sync_type = excluded.sync_type, schedule = excluded.schedule, next_run_at = excluded.next_run_at`,
		s.Connector, s.WarehouseID, s.Stream, s.SyncType, s.Schedule, formatTime(s.NextRunAt))
	if err != nil {
		return fmt.Errorf("put stream schedule %s/%d/%s: %w", s.Connector, s.WarehouseID, s.Stream, interpretError(err))
	}
	return nil
}

// AdvanceStreamSchedule moves the next run of a stream from expect to next
// and records now as its last run, only if next_run_at still equals
// expect (compare-and-set, as AdvanceSchedule). It reports whether this
// caller won.
func (db *DB) AdvanceStreamSchedule(ctx context.Context, k ConnectionKey, stream string, expect, next time.Time) (bool, error) {
	res, err := db.w.ExecContext(ctx, `UPDATE stream_schedules SET next_run_at = ?, last_run_at = ?
		WHERE connector_name = ? AND warehouse_id = ? AND stream_key = ? AND next_run_at = ?`,
		formatTime(next), formatTime(db.now()), k.Connector, k.WarehouseID, stream, formatTime(expect))
	if err != nil {
		return false, fmt.Errorf("advance stream schedule %s/%d/%s: %w", k.Connector, k.WarehouseID, stream, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("advance stream schedule %s/%d/%s: %w", k.Connector, k.WarehouseID, stream, err)
	}
	return n == 1, nil
}

// AdvanceStreamCursors records that streams of connection k have read
// through cursor. A cursor only moves forward.
func (db *DB) AdvanceStreamCursors(ctx context.Context, k ConnectionKey, streams []string, cursor time.Time) error {
	c := formatTime(cursor)
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		for _, st := range streams {
			if _, err := tx.ExecContext(ctx, `UPDATE stream_schedules SET cursor = ?
				WHERE connector_name = ? AND warehouse_id = ? AND stream_key = ? AND (cursor IS NULL OR cursor < ?)`,
				c, k.Connector, k.WarehouseID, st, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("advance stream cursors %s/%d: %w", k.Connector, k.WarehouseID, err)
	}
	return nil
}
