package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// FulfillmentStatus is where a fulfillment push is.
type FulfillmentStatus string

// Fulfillment push statuses.
const (
	FulfillmentPending   FulfillmentStatus = "pending"
	FulfillmentSucceeded FulfillmentStatus = "succeeded"
	FulfillmentFailed    FulfillmentStatus = "failed"
	// FulfillmentSkipped: the order's source has no connector that can push
	// fulfillments (not registered, or without the capability).
	FulfillmentSkipped FulfillmentStatus = "skipped"
)

// FulfillmentPush is the queued push of a shipped order back to the system
// it came from, and its outcome. There is at most one per order.
type FulfillmentPush struct {
	ID             int64             `json:"id"`
	OrderID        string            `json:"order_id"`
	Connector      string            `json:"connector"`
	WarehouseID    int64             `json:"warehouse_id"`
	SourceID       string            `json:"source_id"`
	OrderNumber    string            `json:"order_number"`
	Carrier        string            `json:"carrier"`
	Tracking       string            `json:"tracking"`
	Lines          []OrderLine       `json:"lines"`
	IdempotencyKey string            `json:"idempotency_key"`
	Status         FulfillmentStatus `json:"status"`
	Attempts       int               `json:"attempts"`
	NextAttemptAt  time.Time         `json:"next_attempt_at"`
	LastError      string            `json:"last_error,omitempty"`
	UpstreamRef    string            `json:"upstream_ref,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	CompletedAt    *time.Time        `json:"completed_at,omitempty"`
}

const insertFulfillmentSQL = `INSERT INTO fulfillment_pushes (order_id, connector_name,
	warehouse_id, source_id, order_number, carrier, tracking, lines, idempotency_key,
	next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// queueFulfillmentPush queues the push of a just-shipped order inside the
// ship transaction, so the shipment and the duty to report it upstream
// commit together. Orders that did not come from another system (no source
// reference) have nothing to push. txnID, the ship request's id, is the
// idempotency key sent upstream.
func (w *writeTx) queueFulfillmentPush(ctx context.Context, so SalesOrder, txnID string) error {
	if so.Source == nil {
		return nil
	}
	lines, err := json.Marshal(so.Lines)
	if err != nil {
		return fmt.Errorf("queue fulfillment push: %w", err)
	}
	ts := formatTime(w.now)
	if _, err := w.ExecContext(ctx, insertFulfillmentSQL, so.ID, so.Source.Name, so.WarehouseID,
		so.Source.ID, so.OrderNumber, so.Carrier, so.Tracking, string(lines), txnID, ts, ts, ts); err != nil {
		return fmt.Errorf("queue fulfillment push: %w", interpretError(err))
	}
	return nil
}

const fulfillmentCols = `id, order_id, connector_name, warehouse_id, source_id, order_number,
	carrier, tracking, lines, idempotency_key, status, attempts, next_attempt_at, last_error,
	upstream_ref, created_at, updated_at, completed_at`

func scanFulfillment(sc interface{ Scan(...any) error }) (FulfillmentPush, error) {
	var p FulfillmentPush
	var lines, next, created, updated string
	var completed sql.NullString
	if err := sc.Scan(&p.ID, &p.OrderID, &p.Connector, &p.WarehouseID, &p.SourceID, &p.OrderNumber,
		&p.Carrier, &p.Tracking, &lines, &p.IdempotencyKey, &p.Status, &p.Attempts, &next,
		&p.LastError, &p.UpstreamRef, &created, &updated, &completed); err != nil {
		return FulfillmentPush{}, interpretError(err)
	}
	if err := json.Unmarshal([]byte(lines), &p.Lines); err != nil {
		return FulfillmentPush{}, fmt.Errorf("decode lines of fulfillment push %d: %w", p.ID, err)
	}
	var err error
	if p.NextAttemptAt, err = parseTime(next); err != nil {
		return FulfillmentPush{}, err
	}
	if p.CreatedAt, err = parseTime(created); err != nil {
		return FulfillmentPush{}, err
	}
	if p.UpdatedAt, err = parseTime(updated); err != nil {
		return FulfillmentPush{}, err
	}
	if p.CompletedAt, err = scanOptTime(completed); err != nil {
		return FulfillmentPush{}, err
	}
	return p, nil
}

// FulfillmentKey is a connector + warehouse with pushes due.
type FulfillmentKey struct {
	Connector   string
	WarehouseID int64
}

// DueFulfillmentKeys returns the connector + warehouse pairs that have a
// pending push whose next attempt is due at the store clock's now.
func (db *DB) DueFulfillmentKeys(ctx context.Context) ([]FulfillmentKey, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT DISTINCT connector_name, warehouse_id
		FROM fulfillment_pushes WHERE status = 'pending' AND next_attempt_at <= ?
		ORDER BY connector_name, warehouse_id`, formatTime(db.now()))
	if err != nil {
		return nil, fmt.Errorf("due fulfillment keys: %w", err)
	}
	defer rows.Close()
	var out []FulfillmentKey
	for rows.Next() {
		var k FulfillmentKey
		if err := rows.Scan(&k.Connector, &k.WarehouseID); err != nil {
			return nil, fmt.Errorf("due fulfillment keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("due fulfillment keys: %w", err)
	}
	return out, nil
}

// NextFulfillmentDue returns when the earliest pending push is due (it may
// be in the past), and false when none is pending: a seek on
// (status, next_attempt_at).
func (db *DB) NextFulfillmentDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullString
	if err := db.r.QueryRowContext(ctx, `SELECT MIN(next_attempt_at) FROM fulfillment_pushes
		WHERE status = 'pending'`).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("next fulfillment due: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	t, err := parseTime(next.String)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next fulfillment due: %w", err)
	}
	return t, true, nil
}

// FulfillmentFilter selects fulfillment pushes; zero fields match all.
type FulfillmentFilter struct {
	Connector   string
	WarehouseID int64
	Status      FulfillmentStatus
	// DueOnly keeps pending pushes whose next attempt is due now.
	DueOnly bool
	Limit   int // default 50, at most 500
}

// ListFulfillmentPushes returns the pushes matching f. Due pushes come
// oldest first (the order they are worked); otherwise newest first.
func (db *DB) ListFulfillmentPushes(ctx context.Context, f FulfillmentFilter) ([]FulfillmentPush, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 500)
	var w filter
	eq(&w, "connector_name", f.Connector)
	eq(&w, "warehouse_id", f.WarehouseID)
	eq(&w, "status", f.Status)
	order := " ORDER BY id DESC"
	if f.DueOnly {
		w.where("status = 'pending'")
		w.where("next_attempt_at <= ?", formatTime(db.now()))
		order = " ORDER BY id"
	}
	q := `SELECT ` + fulfillmentCols + ` FROM fulfillment_pushes` + w.sql() + order + " LIMIT ?"
	args := append(w.args, f.Limit)
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list fulfillment pushes: %w", err)
	}
	defer rows.Close()
	out := []FulfillmentPush{}
	for rows.Next() {
		p, err := scanFulfillment(rows)
		if err != nil {
			return nil, fmt.Errorf("list fulfillment pushes: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list fulfillment pushes: %w", err)
	}
	return out, nil
}

// GetFulfillmentPush returns the push of the sales order orderID: the
// outcome of reporting its shipment upstream. It returns ErrNotFound when
// the order has none (not shipped, or not from a connector).
func (db *DB) GetFulfillmentPush(ctx context.Context, orderID string) (FulfillmentPush, error) {
	p, err := scanFulfillment(db.r.QueryRowContext(ctx, `SELECT `+fulfillmentCols+`
		FROM fulfillment_pushes WHERE order_id = ?`, orderID))
	if err != nil {
		return FulfillmentPush{}, fmt.Errorf("fulfillment push of order %s: %w", orderID, err)
	}
	return p, nil
}

// FulfillmentAttempt is the outcome of one push attempt.
type FulfillmentAttempt struct {
	// Status is the push's new status: pending (retry at NextAttemptAt),
	// succeeded, failed or skipped.
	Status        FulfillmentStatus
	NextAttemptAt time.Time
	Error         string
	UpstreamRef   string
	// Counted is false for an attempt that never reached the connector
	// (shutdown, a lost lease): attempts is not incremented.
	Counted bool
}

// RecordFulfillmentAttempt stores the outcome of an attempt at push id. It
// returns ErrNotFound for an unknown id and a *ConflictError when the push
// is no longer pending (an admin or another worker settled it).
func (db *DB) RecordFulfillmentAttempt(ctx context.Context, id int64, a FulfillmentAttempt) error {
	now := db.now()
	var completed any
	if a.Status != FulfillmentPending {
		completed = formatTime(now)
	}
	if a.NextAttemptAt.IsZero() {
		a.NextAttemptAt = now
	}
	inc := 0
	if a.Counted {
		inc = 1
	}
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		var status FulfillmentStatus
		if err := tx.QueryRowContext(ctx, `SELECT status FROM fulfillment_pushes WHERE id = ?`, id).Scan(&status); err != nil {
			return interpretError(err)
		}
		if status != FulfillmentPending {
			return &ConflictError{Message: fmt.Sprintf("fulfillment push %d is %s, not pending", id, status)}
		}
		_, err := tx.ExecContext(ctx, `UPDATE fulfillment_pushes SET status = ?, attempts = attempts + ?,
			next_attempt_at = ?, last_error = ?, upstream_ref = CASE WHEN ? = '' THEN upstream_ref ELSE ? END,
			updated_at = ?, completed_at = ? WHERE id = ?`,
			a.Status, inc, formatTime(a.NextAttemptAt), capText(a.Error, maxSyncMessage),
			a.UpstreamRef, a.UpstreamRef, formatTime(now), completed, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("record fulfillment attempt %d: %w", id, err)
	}
	return nil
}

// RetryFulfillmentPush makes a failed or skipped push of connector pending
// again, due now, with an audit row "fulfillment.retry". It returns
// ErrNotFound for an id unknown or of another connector, and a
// *ConflictError for a push that is pending or succeeded.
func (db *DB) RetryFulfillmentPush(ctx context.Context, actor, connector string, id int64) (FulfillmentPush, error) {
	var out FulfillmentPush
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		p, err := scanFulfillment(tx.QueryRowContext(ctx, `SELECT `+fulfillmentCols+`
			FROM fulfillment_pushes WHERE id = ? AND connector_name = ?`, id, connector))
		if err != nil {
			return err
		}
		if p.Status != FulfillmentFailed && p.Status != FulfillmentSkipped {
			return &ConflictError{Message: fmt.Sprintf("fulfillment push %d is %s; only failed or skipped pushes can be retried", id, p.Status),
				Fields: map[string]string{"status": string(p.Status)}}
		}
		now := db.now()
		ts := formatTime(now)
		// A fresh retry budget: a push that failed by running out of
		// attempts would otherwise fail again at its first transient error.
		// The audit row keeps the earlier count.
		if _, err := tx.ExecContext(ctx, `UPDATE fulfillment_pushes SET status = 'pending', attempts = 0,
			next_attempt_at = ?, updated_at = ?, completed_at = NULL WHERE id = ?`, ts, ts, id); err != nil {
			return err
		}
		previous := p.Attempts
		p.Status, p.Attempts, p.NextAttemptAt, p.UpdatedAt, p.CompletedAt = FulfillmentPending, 0, now, now, nil
		out = p
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "fulfillment.retry",
			Target: fmt.Sprintf("fulfillment_push:%d", id),
			Diff:   map[string]any{"order_id": p.OrderID, "connector": p.Connector, "previous_attempts": previous}})
	})
	if err != nil {
		var ce *ConflictError
		if errors.As(err, &ce) {
			return FulfillmentPush{}, err
		}
		return FulfillmentPush{}, fmt.Errorf("retry fulfillment push %d: %w", id, err)
	}
	return out, nil
}
