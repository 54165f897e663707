package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// ConnectorSchedule runs one sync type of a connector in a warehouse on an
// interval or a cron expression. The cron syntax is validated by the
// connectors package; the store only keeps it.
type ConnectorSchedule struct {
	SyncKey
	IntervalSeconds int64      `json:"interval_seconds,omitempty"`
	Cron            string     `json:"cron,omitempty"`
	Enabled         bool       `json:"enabled"`
	NextRunAt       time.Time  `json:"next_run_at"`
	LastRunAt       *time.Time `json:"last_run_at,omitempty"`
	UpdatedAt       time.Time  `json:"updated_at"`
	UpdatedBy       string     `json:"updated_by"`
}

// ScheduleInput is one schedule of ReplaceSchedules: exactly one of
// IntervalSeconds and Cron is set. NextRunAt is computed by the caller
// (which owns the cron syntax and the jitter).
type ScheduleInput struct {
	SyncType        string    `json:"sync_type"`
	IntervalSeconds int64     `json:"interval_seconds,omitempty"`
	Cron            string    `json:"cron,omitempty"`
	Enabled         bool      `json:"enabled"`
	NextRunAt       time.Time `json:"-"`
}

const scheduleCols = `connector_name, warehouse_id, sync_type, interval_seconds, cron, enabled,
	next_run_at, last_run_at, updated_at, updated_by`

func scanSchedule(sc interface{ Scan(...any) error }) (ConnectorSchedule, error) {
	var s ConnectorSchedule
	var interval sql.NullInt64
	var cron, last sql.NullString
	var next, updated string
	if err := sc.Scan(&s.Connector, &s.WarehouseID, &s.SyncType, &interval, &cron, &s.Enabled,
		&next, &last, &updated, &s.UpdatedBy); err != nil {
		return ConnectorSchedule{}, interpretError(err)
	}
	s.IntervalSeconds, s.Cron = interval.Int64, cron.String
	var err error
	if s.NextRunAt, err = parseTime(next); err != nil {
		return ConnectorSchedule{}, err
	}
	if s.LastRunAt, err = scanOptTime(last); err != nil {
		return ConnectorSchedule{}, err
	}
	if s.UpdatedAt, err = parseTime(updated); err != nil {
		return ConnectorSchedule{}, err
	}
	return s, nil
}

// ListSchedules returns the schedules of connector (all when empty) in
// warehouseID (all when 0), ordered by key.
func (db *DB) ListSchedules(ctx context.Context, connector string, warehouseID int64) ([]ConnectorSchedule, error) {
	return listSchedules(ctx, db.r, connector, warehouseID)
}

func listSchedules(ctx context.Context, q querier, connector string, warehouseID int64) ([]ConnectorSchedule, error) {
	var f filter
	eq(&f, "connector_name", connector)
	eq(&f, "warehouse_id", warehouseID)
	qs := `SELECT ` + scheduleCols + ` FROM connector_schedules` + f.sql()
	qs += " ORDER BY connector_name, warehouse_id, sync_type"
	rows, err := q.QueryContext(ctx, qs, f.args...)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	defer rows.Close()
	out := []ConnectorSchedule{}
	for rows.Next() {
		s, err := scanSchedule(rows)
		if err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	return out, nil
}

// ReplaceSchedules makes in the complete set of schedules of connector in
// warehouseID (schedules of other sync types are removed) and appends a
// "connector.schedules.put" audit row with the new set, in one transaction.
// It returns the stored schedules. Input that is not one interval or one
// cron expression per sync type gives a *ValidationError naming the entry.
func (db *DB) ReplaceSchedules(ctx context.Context, actor, connector string, warehouseID int64, in []ScheduleInput) ([]ConnectorSchedule, error) {
	f := fieldErrs{}
	f.checkText("connector", connector, maxNameLen, true)
	f.checkWarehouseID("warehouse_id", warehouseID)
	seen := map[string]int{}
	for i, s := range in {
		p := fmt.Sprintf("schedules[%d].", i)
		f.checkText(p+"sync_type", s.SyncType, maxCodeLen, true)
		if j, dup := seen[s.SyncType]; dup {
			f.add(p+"sync_type", fmt.Sprintf("repeats schedules[%d]; one schedule per sync type", j))
		}
		seen[s.SyncType] = i
		switch {
		case (s.IntervalSeconds != 0) == (s.Cron != ""):
			f.add(p+"interval_seconds", "set exactly one of interval_seconds and cron")
		case s.IntervalSeconds < 0:
			f.add(p+"interval_seconds", "must be positive")
		}
		if s.NextRunAt.IsZero() {
			f.add(p+"next_run_at", "is required")
		}
	}
	if err := f.invalid("invalid schedules"); err != nil {
		return nil, err
	}
	var out []ConnectorSchedule
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		ts := formatTime(db.now())
		if _, err := tx.ExecContext(ctx, `DELETE FROM connector_schedules
			WHERE connector_name = ? AND warehouse_id = ?`, connector, warehouseID); err != nil {
			return err
		}
		for _, s := range in {
			var interval, cron any
			if s.Cron != "" {
				cron = s.Cron
			} else {
				interval = s.IntervalSeconds
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO connector_schedules
				(connector_name, warehouse_id, sync_type, interval_seconds, cron, enabled, next_run_at,
				 updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				connector, warehouseID, s.SyncType, interval, cron, s.Enabled, formatTime(s.NextRunAt),
				ts, actor); err != nil {
				return fmt.Errorf("store schedule %s: %w", s.SyncType, interpretError(err))
			}
		}
		if err := db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "connector.schedules.put",
			Target: connectorTarget(connector, warehouseID), Diff: map[string]any{"schedules": in}}); err != nil {
			return err
		}
		var err error
		out, err = listSchedules(ctx, tx, connector, warehouseID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("replace schedules %s: %w", connectorTarget(connector, warehouseID), err)
	}
	return out, nil
}

// AdvanceSchedule moves the next run of k from expect to next and records
// now as its last run, but only if next_run_at still equals expect: a
// compare-and-set, so two schedulers (or one restarted mid-way) fire a due
// schedule once. It reports whether this caller won.
func (db *DB) AdvanceSchedule(ctx context.Context, k SyncKey, expect, next time.Time) (bool, error) {
	now := formatTime(db.now())
	res, err := db.w.ExecContext(ctx, `UPDATE connector_schedules SET next_run_at = ?, last_run_at = ?
		WHERE connector_name = ? AND warehouse_id = ? AND sync_type = ? AND next_run_at = ?`,
		formatTime(next), now, k.Connector, k.WarehouseID, k.SyncType, formatTime(expect))
	if err != nil {
		return false, fmt.Errorf("advance schedule %s: %w", k, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("advance schedule %s: %w", k, err)
	}
	return n == 1, nil
}
