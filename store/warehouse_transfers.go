package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// TransferStatus is where a transfer is in its life.
type TransferStatus string

// Transfer statuses.
const (
	TransferOpen      TransferStatus = "open"
	TransferCompleted TransferStatus = "completed"
	TransferCancelled TransferStatus = "cancelled"
)

// Transfer moves stock from one warehouse to another.
type Transfer struct {
	ID              string         `json:"id"`
	FromWarehouseID int64          `json:"from_warehouse_id"`
	ToWarehouseID   int64          `json:"to_warehouse_id"`
	Status          TransferStatus `json:"status"`
	Lines           []OrderLine    `json:"lines"`
	CreatedAt       time.Time      `json:"created_at"`
	UpdatedAt       time.Time      `json:"updated_at"`
	CompletedAt     *time.Time     `json:"completed_at,omitempty"`
}

// TransferInput is the body of CreateTransfer.
type TransferInput struct {
	FromWarehouseID int64       `json:"from_warehouse_id"`
	ToWarehouseID   int64       `json:"to_warehouse_id"`
	Lines           []OrderLine `json:"lines"`
}

// transferData is the data of transfer.completed.
type transferData struct {
	FromWarehouseID int64       `json:"from_warehouse_id"`
	ToWarehouseID   int64       `json:"to_warehouse_id"`
	Lines           []OrderLine `json:"lines"`
}

// CreateTransfer creates an open transfer; no stock moves until
// CompleteTransfer. Bad input, unknown warehouses or skus, or the same
// warehouse at both ends give a *ValidationError.
func (db *DB) CreateTransfer(ctx context.Context, meta OpMeta, in TransferInput) (Result[Transfer], error) {
	f := fieldErrs{}
	f.checkWarehouseID("from_warehouse_id", in.FromWarehouseID)
	f.checkWarehouseID("to_warehouse_id", in.ToWarehouseID)
	if in.FromWarehouseID > 0 && in.FromWarehouseID == in.ToWarehouseID {
		f.add("to_warehouse_id", "must differ from from_warehouse_id")
	}
	f.checkLines(in.Lines)
	if err := f.invalid("invalid transfer"); err != nil {
		return Result[Transfer]{}, err
	}
	return runOp(ctx, db, meta, "transfer.create", in, func(ctx context.Context, o opCtx) (Transfer, bool, error) {
		t, err := o.createTransfer(ctx, in, f, nil)
		return t, err == nil, err
	})
}

// createTransfer is the body of CreateTransfer and of a transfer record of
// UpsertRecords.
func (o opCtx) createTransfer(ctx context.Context, in TransferInput, f fieldErrs, c *existsCache) (Transfer, error) {
	if err := c.checkWarehouse(ctx, o, f, "from_warehouse_id", in.FromWarehouseID); err != nil {
		return Transfer{}, err
	}
	if err := c.checkWarehouse(ctx, o, f, "to_warehouse_id", in.ToWarehouseID); err != nil {
		return Transfer{}, err
	}
	if err := c.checkSKUs(ctx, o, f, in.Lines); err != nil {
		return Transfer{}, err
	}
	if err := f.invalid("invalid transfer"); err != nil {
		return Transfer{}, err
	}
	t := Transfer{ID: newEntityID(), FromWarehouseID: in.FromWarehouseID,
		ToWarehouseID: in.ToWarehouseID, Status: TransferOpen, Lines: in.Lines,
		CreatedAt: o.now, UpdatedAt: o.now}
	if _, err := o.ExecContext(ctx, `INSERT INTO transfers
		(id, from_warehouse_id, to_warehouse_id, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)`, t.ID, t.FromWarehouseID, t.ToWarehouseID, t.Status,
		o.nowText, o.nowText); err != nil {
		return Transfer{}, fmt.Errorf("insert transfer: %w", interpretError(err))
	}
	if err := o.insertLines(ctx, "transfer_lines", "transfer_id", t.ID, t.Lines); err != nil {
		return Transfer{}, err
	}
	return t, nil
}

// GetTransfer returns the transfer with id, or ErrNotFound.
func (db *DB) GetTransfer(ctx context.Context, id string) (Transfer, error) {
	id, err := parseEntityID("transfer", id)
	if err != nil {
		return Transfer{}, err
	}
	t, err := getTransfer(ctx, db.r, id)
	if err != nil {
		return Transfer{}, fmt.Errorf("transfer %s: %w", id, err)
	}
	return t, nil
}

func getTransfer(ctx context.Context, q querier, id string) (Transfer, error) {
	var t Transfer
	var created, updated string
	var completed sql.NullString
	err := q.QueryRowContext(ctx, `SELECT id, from_warehouse_id, to_warehouse_id, status, created_at,
		updated_at, completed_at FROM transfers WHERE id = ?`, id).Scan(&t.ID, &t.FromWarehouseID,
		&t.ToWarehouseID, &t.Status, &created, &updated, &completed)
	if err != nil {
		return Transfer{}, interpretError(err)
	}
	if t.CreatedAt, err = parseTime(created); err != nil {
		return Transfer{}, err
	}
	if t.UpdatedAt, err = parseTime(updated); err != nil {
		return Transfer{}, err
	}
	if t.CompletedAt, err = scanOptTime(completed); err != nil {
		return Transfer{}, err
	}
	t.Lines, err = getLines(ctx, q, `SELECT sku, qty FROM transfer_lines WHERE transfer_id = ? ORDER BY line_no`, t.ID)
	if err != nil {
		return Transfer{}, err
	}
	return t, nil
}

// CompleteTransfer moves an open transfer's lines from its source warehouse
// to its destination and appends transfer.completed. The event's
// warehouse_id is the source warehouse (where the transfer was raised);
// data names both ends. An unknown id gives ErrNotFound; a transfer that is
// not open, or source stock short of any line, a *ConflictError (nothing
// changes).
func (db *DB) CompleteTransfer(ctx context.Context, meta OpMeta, id string) (Result[Transfer], error) {
	id, err := parseEntityID("transfer", id)
	if err != nil {
		return Result[Transfer]{}, err
	}
	return runOp(ctx, db, meta, "transfer.complete", id, func(ctx context.Context, o opCtx) (Transfer, bool, error) {
		t, err := getTransfer(ctx, o, id)
		if errors.Is(err, ErrNotFound) {
			return Transfer{}, false, fmt.Errorf("transfer %s: %w", id, ErrNotFound)
		} else if err != nil {
			return Transfer{}, false, err
		}
		if t.Status != TransferOpen {
			return Transfer{}, false, &ConflictError{
				Message: fmt.Sprintf("cannot complete transfer %s: it is %s", t.ID, t.Status),
				Fields:  map[string]string{"status": string(t.Status)},
			}
		}
		if err := o.takeStock(ctx, t.FromWarehouseID, t.Lines, "cannot complete transfer "+t.ID); err != nil {
			return Transfer{}, false, err
		}
		if err := o.putStock(ctx, t.ToWarehouseID, t.Lines); err != nil {
			return Transfer{}, false, err
		}
		now := o.now
		t.Status, t.CompletedAt, t.UpdatedAt = TransferCompleted, &now, o.now
		if _, err := o.ExecContext(ctx, `UPDATE transfers SET status = ?, updated_at = ?, completed_at = ?
			WHERE id = ?`, t.Status, o.nowText, o.nowText, t.ID); err != nil {
			return Transfer{}, false, fmt.Errorf("update transfer: %w", interpretError(err))
		}
		_, err = o.emit(ctx, EventTransferCompleted, AggregateTransfer, t.ID, t.FromWarehouseID, o.txnID,
			transferData{FromWarehouseID: t.FromWarehouseID, ToWarehouseID: t.ToWarehouseID, Lines: t.Lines})
		return t, false, err
	})
}
