package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// SyncStatus is the state of one connector + warehouse + sync type.
type SyncStatus string

// Sync statuses. A sync that failed fewer than the error threshold times in a
// row goes back to idle (its last error is kept); at the threshold it shows
// error until a run succeeds. Neither blocks the next run.
const (
	SyncIdle    SyncStatus = "idle"
	SyncRunning SyncStatus = "running"
	SyncError   SyncStatus = "error"
)

// RunStatus is how a finished sync run ended.
type RunStatus string

// Run statuses recorded in the run history.
const (
	RunSuccess RunStatus = "success"
	RunFailed  RunStatus = "error"
	// RunSuperseded is a run whose lease was taken over while it worked; its
	// final write to the sync state was dropped.
	RunSuperseded RunStatus = "superseded"
	// RunInterrupted is a run stopped by shutdown; it counts neither as a
	// success nor as an error.
	RunInterrupted RunStatus = "interrupted"
)

// Defaults of SyncRunRecord.
const (
	DefaultSyncErrorThreshold = 3
	DefaultSyncRunsKept       = 50
	maxSyncMessage            = 1000
)

// ErrRunSuperseded means a write named a run that no longer holds the sync
// state's lease: another worker took the run over as stale. The write was
// dropped.
var ErrRunSuperseded = errors.New("sync run superseded: another run took over its lease")

// SyncKey names one sync state row.
type SyncKey struct {
	Connector   string `json:"connector"`
	WarehouseID int64  `json:"warehouse_id"`
	SyncType    string `json:"sync_type"`
}

// String renders k as connector/warehouse:N/sync_type for messages.
func (k SyncKey) String() string {
	return fmt.Sprintf("%s/warehouse:%d/%s", k.Connector, k.WarehouseID, k.SyncType)
}

func (k SyncKey) check() error {
	f := fieldErrs{}
	f.checkText("connector", k.Connector, maxNameLen, true)
	f.checkWarehouseID("warehouse_id", k.WarehouseID)
	f.checkText("sync_type", k.SyncType, maxCodeLen, true)
	return f.invalid("invalid sync key")
}

// SyncState is one row of the sync state machine.
type SyncState struct {
	SyncKey
	Status            SyncStatus `json:"sync_status"`
	RunID             string     `json:"run_id,omitempty"`
	StartedAt         *time.Time `json:"started_at,omitempty"`
	HeartbeatAt       *time.Time `json:"heartbeat_at,omitempty"`
	LastSyncedAt      *time.Time `json:"last_synced_at,omitempty"`
	LastSuccessAt     *time.Time `json:"last_success_at,omitempty"`
	Cursor            *time.Time `json:"cursor,omitempty"`
	ConsecutiveErrors int        `json:"consecutive_errors"`
	LastErrorMessage  string     `json:"last_error_message,omitempty"`
	LastErrorAt       *time.Time `json:"last_error_at,omitempty"`
	UpdatedAt         time.Time  `json:"updated_at"`
	// Progress is how far the running sync has come; nil unless running.
	Progress *SyncProgress `json:"progress,omitempty"`
}

// DuplicateRunError refuses a claim while another run of the same key holds
// a live lease. It wraps ErrConflict (HTTP 409). It is not a failure of the
// sync and is never retried.
type DuplicateRunError struct {
	Key         SyncKey
	RunID       string
	StartedAt   time.Time
	HeartbeatAt time.Time
}

func (e *DuplicateRunError) Error() string {
	return fmt.Sprintf("sync %s is already running (run %s, started %s, last heartbeat %s)",
		e.Key, e.RunID, formatTime(e.StartedAt), formatTime(e.HeartbeatAt))
}

// Unwrap lets errors.Is(err, ErrConflict) match.
func (e *DuplicateRunError) Unwrap() error { return ErrConflict }

// ClaimOptions says how ClaimSync treats a row that is already running.
type ClaimOptions struct {
	// RunID is the new run's id, a UUID.
	RunID string
	// StaleAfter: a running row whose heartbeat is older than this is taken
	// over. Zero means 5 minutes.
	StaleAfter time.Duration
	// MaxRunAge: a running row that started longer ago than this is taken
	// over whatever its heartbeat (the seed's one-hour threshold). Zero
	// means one hour.
	MaxRunAge time.Duration
	// Trigger says why the run starts ("manual", "schedule", ...), shown
	// while it runs.
	Trigger string
}

// SyncClaim is the outcome of a successful ClaimSync.
type SyncClaim struct {
	// Previous is the row as it was before the claim (zero-valued, status
	// idle, for a key never run before).
	Previous SyncState
	// State is the row after the claim: running under the new run id.
	State SyncState
	// TookOver is the run id of a stale run this claim replaced, or "".
	TookOver string
}

const syncStateCols = `connector_name, warehouse_id, sync_type, sync_status, run_id, started_at,
	heartbeat_at, last_synced_at, last_success_at, cursor, consecutive_errors, last_error_message,
	last_error_at, updated_at, run_trigger, run_attempt, run_records_synced, run_records_failed, run_error`

func scanSyncState(sc interface{ Scan(...any) error }) (SyncState, error) {
	var s SyncState
	var runID, started, heartbeat, synced, success, cursor, errAt sql.NullString
	var updated string
	var p SyncProgress
	if err := sc.Scan(&s.Connector, &s.WarehouseID, &s.SyncType, &s.Status, &runID, &started,
		&heartbeat, &synced, &success, &cursor, &s.ConsecutiveErrors, &s.LastErrorMessage,
		&errAt, &updated, &p.Trigger, &p.Attempt, &p.RecordsSynced, &p.RecordsFailed, &p.Error); err != nil {
		return SyncState{}, interpretError(err)
	}
	if s.Status == SyncRunning {
		s.Progress = &p
	}
	s.RunID = runID.String
	var err error
	for _, p := range []struct {
		dst **time.Time
		src sql.NullString
	}{{&s.StartedAt, started}, {&s.HeartbeatAt, heartbeat}, {&s.LastSyncedAt, synced},
		{&s.LastSuccessAt, success}, {&s.Cursor, cursor}, {&s.LastErrorAt, errAt}} {
		if *p.dst, err = scanOptTime(p.src); err != nil {
			return SyncState{}, err
		}
	}
	if s.UpdatedAt, err = parseTime(updated); err != nil {
		return SyncState{}, err
	}
	return s, nil
}

func getSyncState(ctx context.Context, q querier, k SyncKey) (SyncState, error) {
	return scanSyncState(q.QueryRowContext(ctx, `SELECT `+syncStateCols+` FROM sync_state
		WHERE connector_name = ? AND warehouse_id = ? AND sync_type = ?`, k.Connector, k.WarehouseID, k.SyncType))
}

// GetSyncState returns the state of k, or ErrNotFound when it never ran.
func (db *DB) GetSyncState(ctx context.Context, k SyncKey) (SyncState, error) {
	s, err := getSyncState(ctx, db.r, k)
	if err != nil {
		return SyncState{}, fmt.Errorf("sync state %s: %w", k, err)
	}
	return s, nil
}

// ListSyncStates returns the sync states of connector (every connector when
// empty) in warehouseID (every warehouse when 0), ordered by key.
func (db *DB) ListSyncStates(ctx context.Context, connector string, warehouseID int64) ([]SyncState, error) {
	var f filter
	eq(&f, "connector_name", connector)
	eq(&f, "warehouse_id", warehouseID)
	q := `SELECT ` + syncStateCols + ` FROM sync_state` + f.sql()
	q += " ORDER BY connector_name, warehouse_id, sync_type"
	rows, err := db.r.QueryContext(ctx, q, f.args...)
	if err != nil {
		return nil, fmt.Errorf("list sync states: %w", err)
	}
	defer rows.Close()
	out := []SyncState{}
	for rows.Next() {
		s, err := scanSyncState(rows)
		if err != nil {
			return nil, fmt.Errorf("list sync states: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sync states: %w", err)
	}
	return out, nil
}

// ClaimSync is set_running: it makes k running under opt.RunID, creating the
// row on first use. A row already running under a live lease (a heartbeat
// within StaleAfter and a start within MaxRunAge) is not touched and the
// claim fails with a *DuplicateRunError. A stale running row is taken over:
// the new run id replaces the old one, so every later write of the stale run
// is dropped (see HeartbeatSync, FinishSync). Bad arguments give a
// *ValidationError.
func (db *DB) ClaimSync(ctx context.Context, k SyncKey, opt ClaimOptions) (SyncClaim, error) {
	if err := k.check(); err != nil {
		return SyncClaim{}, err
	}
	if _, err := uuid.Parse(opt.RunID); err != nil {
		return SyncClaim{}, &ValidationError{Message: "invalid run id: must be a UUID",
			Fields: map[string]string{"run_id": "must be a UUID"}}
	}
	if opt.StaleAfter <= 0 {
		opt.StaleAfter = 5 * time.Minute
	}
	if opt.MaxRunAge <= 0 {
		opt.MaxRunAge = time.Hour
	}
	var claim SyncClaim
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		now := db.now()
		ts := formatTime(now)
		prev, err := getSyncState(ctx, tx, k)
		switch {
		case errors.Is(err, ErrNotFound):
			if _, err := tx.ExecContext(ctx, `INSERT INTO sync_state
				(connector_name, warehouse_id, sync_type, updated_at) VALUES (?, ?, ?, ?)`,
				k.Connector, k.WarehouseID, k.SyncType, ts); err != nil {
				return interpretError(err)
			}
			prev = SyncState{SyncKey: k, Status: SyncIdle, UpdatedAt: now}
		case err != nil:
			return err
		}
		if prev.Status == SyncRunning {
			fresh := prev.HeartbeatAt != nil && now.Sub(*prev.HeartbeatAt) <= opt.StaleAfter
			young := prev.StartedAt != nil && now.Sub(*prev.StartedAt) <= opt.MaxRunAge
			if fresh && young {
				return &DuplicateRunError{Key: k, RunID: prev.RunID, StartedAt: *prev.StartedAt, HeartbeatAt: *prev.HeartbeatAt}
			}
			claim.TookOver = prev.RunID
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sync_state SET sync_status = 'running', run_id = ?,
			started_at = ?, heartbeat_at = ?, updated_at = ?, run_trigger = ?, run_attempt = 0,
			run_records_synced = 0, run_records_failed = 0, run_error = ''
			WHERE connector_name = ? AND warehouse_id = ? AND sync_type = ?`,
			opt.RunID, ts, ts, ts, capText(opt.Trigger, maxCodeLen), k.Connector, k.WarehouseID, k.SyncType); err != nil {
			return interpretError(err)
		}
		claim.Previous = prev
		claim.State = prev
		claim.State.Status, claim.State.RunID = SyncRunning, opt.RunID
		claim.State.StartedAt, claim.State.HeartbeatAt, claim.State.UpdatedAt = &now, &now, now
		claim.State.Progress = &SyncProgress{Trigger: capText(opt.Trigger, maxCodeLen)}
		return nil
	})
	if err != nil {
		var dup *DuplicateRunError
		if errors.As(err, &dup) {
			return SyncClaim{}, err
		}
		return SyncClaim{}, fmt.Errorf("claim sync %s: %w", k, err)
	}
	return claim, nil
}

// HeartbeatSync records that runID is still working on k. It returns
// ErrRunSuperseded when runID no longer holds the lease (the run was taken
// over), which tells the run to stop.
func (db *DB) HeartbeatSync(ctx context.Context, k SyncKey, runID string) error {
	ts := formatTime(db.now())
	res, err := db.w.ExecContext(ctx, `UPDATE sync_state SET heartbeat_at = ?, updated_at = ?
		WHERE connector_name = ? AND warehouse_id = ? AND sync_type = ? AND run_id = ?
		AND sync_status = 'running'`, ts, ts, k.Connector, k.WarehouseID, k.SyncType, runID)
	if err != nil {
		return fmt.Errorf("heartbeat sync %s: %w", k, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("heartbeat sync %s: %w", k, err)
	} else if n == 0 {
		return fmt.Errorf("heartbeat sync %s run %s: %w", k, runID, ErrRunSuperseded)
	}
	return nil
}

// SyncRunRecord is how a run ended, for FinishSync.
type SyncRunRecord struct {
	Trigger   string    // "manual", "schedule", "fulfillment", ...
	Status    RunStatus // RunSuccess, RunFailed or RunInterrupted
	StartedAt time.Time
	Attempts  int
	Since     *time.Time // where the run started reading
	// Cursor is the new cursor on success (nil keeps the old one).
	Cursor                  *time.Time
	Synced, Skipped, Failed int
	Notes                   string
	// Error is the sanitized message of a failed run.
	Error    string
	TookOver string
	// ErrorThreshold is how many failures in a row flip the status to
	// error; zero means DefaultSyncErrorThreshold.
	ErrorThreshold int
	// KeepRuns is how many history rows to keep per key; zero means
	// DefaultSyncRunsKept.
	KeepRuns int
}

// FinishSync is set_success / set_error: it ends runID's lease on k and
// appends the run to the history, in one transaction.
//
// On RunSuccess it sets last_synced_at and last_success_at to now, stores
// rec.Cursor (when set) and resets consecutive_errors. On RunFailed it
// records the message, increments consecutive_errors and shows error once
// they reach rec.ErrorThreshold (idle before). RunInterrupted releases the
// lease without counting anything.
//
// When runID no longer holds the lease the state is left untouched, the run
// is kept in the history as superseded, and ErrRunSuperseded is returned:
// the late write of a stale run is dropped.
func (db *DB) FinishSync(ctx context.Context, k SyncKey, runID string, rec SyncRunRecord) error {
	if rec.ErrorThreshold <= 0 {
		rec.ErrorThreshold = DefaultSyncErrorThreshold
	}
	if rec.KeepRuns <= 0 {
		rec.KeepRuns = DefaultSyncRunsKept
	}
	switch rec.Status {
	case RunSuccess, RunFailed, RunInterrupted:
	default:
		return &ValidationError{Message: "invalid run status " + string(rec.Status),
			Fields: map[string]string{"status": "must be success, error or interrupted"}}
	}
	rec.Error = capText(rec.Error, maxSyncMessage)
	rec.Notes = capText(rec.Notes, maxSyncMessage)
	superseded := false
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		now := db.now()
		ts := formatTime(now)
		var res sql.Result
		var err error
		where := ` WHERE connector_name = ? AND warehouse_id = ? AND sync_type = ? AND run_id = ?
			AND sync_status = 'running'`
		keyArgs := []any{k.Connector, k.WarehouseID, k.SyncType, runID}
		switch rec.Status {
		case RunSuccess:
			res, err = tx.ExecContext(ctx, `UPDATE sync_state SET sync_status = 'idle', run_id = NULL,
				last_synced_at = ?, last_success_at = ?, cursor = COALESCE(?, cursor),
				consecutive_errors = 0, last_error_message = '', updated_at = ?`+where,
				append([]any{ts, ts, optTime(rec.Cursor), ts}, keyArgs...)...)
		case RunFailed:
			res, err = tx.ExecContext(ctx, `UPDATE sync_state SET
				sync_status = CASE WHEN consecutive_errors + 1 >= ? THEN 'error' ELSE 'idle' END,
				run_id = NULL, last_synced_at = ?, consecutive_errors = consecutive_errors + 1,
				last_error_message = ?, last_error_at = ?, updated_at = ?`+where,
				append([]any{rec.ErrorThreshold, ts, rec.Error, ts, ts}, keyArgs...)...)
		case RunInterrupted:
			res, err = tx.ExecContext(ctx, `UPDATE sync_state SET
				sync_status = CASE WHEN consecutive_errors >= ? THEN 'error' ELSE 'idle' END,
				run_id = NULL, updated_at = ?`+where,
				append([]any{rec.ErrorThreshold, ts}, keyArgs...)...)
		}
		if err != nil {
			return interpretError(err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		status := rec.Status
		if n == 0 {
			superseded = true
			status = RunSuperseded
		}
		return insertSyncRun(ctx, tx, k, runID, status, now, rec)
	})
	if err != nil {
		return fmt.Errorf("finish sync %s run %s: %w", k, runID, err)
	}
	if superseded {
		return fmt.Errorf("finish sync %s run %s: %w", k, runID, ErrRunSuperseded)
	}
	return nil
}

func insertSyncRun(ctx context.Context, tx *sql.Tx, k SyncKey, runID string, status RunStatus, now time.Time, rec SyncRunRecord) error {
	started := rec.StartedAt
	if started.IsZero() {
		started = now
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO sync_runs (connector_name, warehouse_id, sync_type,
		run_id, trigger, status, started_at, finished_at, duration_ms, attempts, since, cursor,
		records_synced, records_skipped, records_failed, took_over, notes, error_message)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.Connector, k.WarehouseID, k.SyncType, runID, rec.Trigger, status, formatTime(started),
		formatTime(now), now.Sub(started).Milliseconds(), rec.Attempts, optTime(rec.Since),
		optTime(rec.Cursor), rec.Synced, rec.Skipped, rec.Failed, rec.TookOver, rec.Notes, rec.Error)
	if err != nil {
		return fmt.Errorf("record run: %w", interpretError(err))
	}
	// Keep the newest KeepRuns rows of the key; the index on (key, id) makes
	// both the OFFSET probe and the delete range scans.
	_, err = tx.ExecContext(ctx, `DELETE FROM sync_runs
		WHERE connector_name = ? AND warehouse_id = ? AND sync_type = ? AND id <= (
			SELECT id FROM sync_runs WHERE connector_name = ? AND warehouse_id = ? AND sync_type = ?
			ORDER BY id DESC LIMIT 1 OFFSET ?)`,
		k.Connector, k.WarehouseID, k.SyncType, k.Connector, k.WarehouseID, k.SyncType, rec.KeepRuns)
	if err != nil {
		return fmt.Errorf("prune run history: %w", err)
	}
	return nil
}

// SyncRun is one finished run in the history.
type SyncRun struct {
	ID             int64      `json:"id"`
	RunID          string     `json:"run_id"`
	Connector      string     `json:"connector"`
	WarehouseID    int64      `json:"warehouse_id"`
	SyncType       string     `json:"sync_type"`
	Trigger        string     `json:"trigger"`
	Status         RunStatus  `json:"status"`
	StartedAt      time.Time  `json:"started_at"`
	FinishedAt     time.Time  `json:"finished_at"`
	DurationMS     int64      `json:"duration_ms"`
	Attempts       int        `json:"attempts"`
	Since          *time.Time `json:"since,omitempty"`
	Cursor         *time.Time `json:"cursor,omitempty"`
	RecordsSynced  int        `json:"records_synced"`
	RecordsSkipped int        `json:"records_skipped"`
	RecordsFailed  int        `json:"records_failed"`
	TookOver       string     `json:"took_over,omitempty"`
	Notes          string     `json:"notes,omitempty"`
	ErrorMessage   string     `json:"error_message,omitempty"`
}

// SyncRunFilter selects run history rows; zero fields match everything.
type SyncRunFilter struct {
	Connector   string
	WarehouseID int64
	SyncType    string
	Limit       int // default 20, at most 500
}

// ListSyncRuns returns the newest runs matching f, newest first.
func (db *DB) ListSyncRuns(ctx context.Context, f SyncRunFilter) ([]SyncRun, error) {
	if f.Limit <= 0 {
		f.Limit = 20
	}
	f.Limit = min(f.Limit, 500)
	var w filter
	eq(&w, "connector_name", f.Connector)
	eq(&w, "warehouse_id", f.WarehouseID)
	eq(&w, "sync_type", f.SyncType)
	q := `SELECT id, run_id, connector_name, warehouse_id, sync_type, trigger, status, started_at,
		finished_at, duration_ms, attempts, since, cursor, records_synced, records_skipped,
		records_failed, took_over, notes, error_message FROM sync_runs` + w.sql() + " ORDER BY id DESC LIMIT ?"
	args := append(w.args, f.Limit)
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list sync runs: %w", err)
	}
	defer rows.Close()
	out := []SyncRun{}
	for rows.Next() {
		var r SyncRun
		var started, finished string
		var since, cursor sql.NullString
		if err := rows.Scan(&r.ID, &r.RunID, &r.Connector, &r.WarehouseID, &r.SyncType, &r.Trigger,
			&r.Status, &started, &finished, &r.DurationMS, &r.Attempts, &since, &cursor,
			&r.RecordsSynced, &r.RecordsSkipped, &r.RecordsFailed, &r.TookOver, &r.Notes,
			&r.ErrorMessage); err != nil {
			return nil, fmt.Errorf("list sync runs: %w", err)
		}
		if r.StartedAt, err = parseTime(started); err != nil {
			return nil, fmt.Errorf("list sync runs: %w", err)
		}
		if r.FinishedAt, err = parseTime(finished); err != nil {
			return nil, fmt.Errorf("list sync runs: %w", err)
		}
		if r.Since, err = scanOptTime(since); err != nil {
			return nil, fmt.Errorf("list sync runs: %w", err)
		}
		if r.Cursor, err = scanOptTime(cursor); err != nil {
			return nil, fmt.Errorf("list sync runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sync runs: %w", err)
	}
	return out, nil
}

// capText cuts s to at most n bytes on a rune boundary.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
