package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// InventoryLevel is the stock of one sku in one warehouse. Its ID is stable
// for the (warehouse, sku) pair: the aggregate_id of its adjustment.applied
// events.
type InventoryLevel struct {
	ID          string    `json:"id"`
	WarehouseID int64     `json:"warehouse_id"`
	SKU         string    `json:"sku"`
	OnHand      int64     `json:"on_hand"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// InventoryFilter narrows ListInventory; zero fields match everything.
type InventoryFilter struct {
	WarehouseID int64
	SKU         string
}

// ListInventory returns the inventory levels matching f, by warehouse and
// sku. Levels appear once stock first moves for the pair.
func (db *DB) ListInventory(ctx context.Context, f InventoryFilter) ([]InventoryLevel, error) {
	var w filter
	eq(&w, "warehouse_id", f.WarehouseID)
	eq(&w, "sku", f.SKU)
	q := `SELECT id, warehouse_id, sku, on_hand, updated_at FROM inventory_levels` + w.sql()
	q += " ORDER BY warehouse_id, sku"
	rows, err := db.r.QueryContext(ctx, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list inventory: %w", err)
	}
	defer rows.Close()
	out := []InventoryLevel{}
	for rows.Next() {
		var l InventoryLevel
		var updated string
		if err := rows.Scan(&l.ID, &l.WarehouseID, &l.SKU, &l.OnHand, &updated); err != nil {
			return nil, fmt.Errorf("list inventory: %w", err)
		}
		if l.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, fmt.Errorf("list inventory: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list inventory: %w", err)
	}
	return out, nil
}

// level returns the (warehouse, sku) level in the transaction, creating it
// at zero (with its stable UUID) when stock never moved for the pair.
func (w *writeTx) level(ctx context.Context, warehouseID int64, sku string) (InventoryLevel, error) {
	l, err := w.findLevel(ctx, warehouseID, sku)
	if !errors.Is(err, ErrNotFound) {
		return l, err
	}
	l = InventoryLevel{ID: newEntityID(), WarehouseID: warehouseID, SKU: sku, UpdatedAt: w.now}
	if _, err := w.ExecContext(ctx, `INSERT INTO inventory_levels
		(warehouse_id, sku, id, on_hand, updated_at) VALUES (?, ?, ?, 0, ?)`,
		warehouseID, sku, l.ID, w.nowText); err != nil {
		return InventoryLevel{}, fmt.Errorf("create inventory level: %w", interpretError(err))
	}
	return l, nil
}

// findLevel returns the (warehouse, sku) level or ErrNotFound.
func (w *writeTx) findLevel(ctx context.Context, warehouseID int64, sku string) (InventoryLevel, error) {
	l := InventoryLevel{WarehouseID: warehouseID, SKU: sku}
	var updated string
	err := w.QueryRowContext(ctx, `SELECT id, on_hand, updated_at FROM inventory_levels
		WHERE warehouse_id = ? AND sku = ?`, warehouseID, sku).Scan(&l.ID, &l.OnHand, &updated)
	if err != nil {
		return InventoryLevel{}, interpretError(err)
	}
	if l.UpdatedAt, err = parseTime(updated); err != nil {
		return InventoryLevel{}, err
	}
	return l, nil
}

// setOnHand writes a level's new quantity. Callers check it is not negative
// first, so the CHECK constraint is only a backstop.
func (w *writeTx) setOnHand(ctx context.Context, l *InventoryLevel, onHand int64) error {
	if _, err := w.ExecContext(ctx, `UPDATE inventory_levels SET on_hand = ?, updated_at = ?
		WHERE warehouse_id = ? AND sku = ?`, onHand, w.nowText, l.WarehouseID, l.SKU); err != nil {
		return fmt.Errorf("update inventory level: %w", interpretError(err))
	}
	l.OnHand, l.UpdatedAt = onHand, w.now
	return nil
}

// takeStock removes lines from a warehouse. When any line exceeds what is
// on hand it returns a *ConflictError naming each short line (prefix names
// the operation); lines taken before it are undone by the caller's
// transaction rolling back, as every operation's error does. The common
// case costs one guarded UPDATE per line.
func (w *writeTx) takeStock(ctx context.Context, warehouseID int64, lines []OrderLine, prefix string) error {
	var short []int
	for i, l := range lines {
		res, err := w.ExecContext(ctx, `UPDATE inventory_levels SET on_hand = on_hand - ?, updated_at = ?
			WHERE warehouse_id = ? AND sku = ? AND on_hand >= ?`,
			l.Qty, w.nowText, warehouseID, l.SKU, l.Qty)
		if err != nil {
			return fmt.Errorf("take stock: %w", interpretError(err))
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("take stock: %w", err)
		} else if n == 0 {
			short = append(short, i)
		}
	}
	if len(short) == 0 {
		return nil
	}
	f := fieldErrs{}
	for _, i := range short {
		l := lines[i]
		// A short line's level was not updated, so this reads its true stock.
		lv, err := w.findLevel(ctx, warehouseID, l.SKU)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		f.add("lines["+strconv.Itoa(i)+"].qty", fmt.Sprintf(
			"needs %d of %q but warehouse %d has %d on hand", l.Qty, l.SKU, warehouseID, lv.OnHand))
	}
	return f.conflict(prefix + ": insufficient stock")
}

// putStock adds lines to a warehouse.
func (w *writeTx) putStock(ctx context.Context, warehouseID int64, lines []OrderLine) error {
	for _, l := range lines {
		lv, err := w.level(ctx, warehouseID, l.SKU)
		if err != nil {
			return err
		}
		if err := w.setOnHand(ctx, &lv, lv.OnHand+l.Qty); err != nil {
			return err
		}
	}
	return nil
}

// AdjustmentInput is the body of ApplyAdjustment.
type AdjustmentInput struct {
	WarehouseID int64  `json:"warehouse_id"`
	SKU         string `json:"sku"`
	Delta       int64  `json:"delta"` // non-zero; negative removes stock
	Reason      string `json:"reason"`
}

// adjustmentData is the data of adjustment.applied.
type adjustmentData struct {
	SKU    string `json:"sku"`
	Delta  int64  `json:"delta"`
	Reason string `json:"reason"`
	OnHand int64  `json:"on_hand"` // after the adjustment
}

// ApplyAdjustment adds Delta to the stock of a sku in a warehouse and appends
// adjustment.applied (aggregate inventory, the level's id). It returns the
// level after the change. Bad input or an unknown warehouse or sku gives a
// *ValidationError; stock that would go below zero gives a *ConflictError.
func (db *DB) ApplyAdjustment(ctx context.Context, meta OpMeta, in AdjustmentInput) (Result[InventoryLevel], error) {
	f := fieldErrs{}
	f.checkWarehouseID("warehouse_id", in.WarehouseID)
	f.checkText("sku", in.SKU, maxRefLen, true)
	if in.Delta == 0 || in.Delta < -maxQty || in.Delta > maxQty {
		f.add("delta", "must be a non-zero quantity between -"+strconv.Itoa(maxQty)+" and "+strconv.Itoa(maxQty))
	}
	f.checkText("reason", in.Reason, maxNameLen, true)
	if err := f.invalid("invalid inventory adjustment"); err != nil {
		return Result[InventoryLevel]{}, err
	}
	return runOp(ctx, db, meta, "inventory.adjust", in, func(ctx context.Context, o opCtx) (InventoryLevel, bool, error) {
		lv, err := o.applyAdjustment(ctx, in, f, nil)
		return lv, false, err
	})
}

// applyAdjustment is the body of ApplyAdjustment and of an adjustment
// record of UpsertRecords.
func (o opCtx) applyAdjustment(ctx context.Context, in AdjustmentInput, f fieldErrs, c *existsCache) (InventoryLevel, error) {
	if err := c.checkWarehouse(ctx, o, f, "warehouse_id", in.WarehouseID); err != nil {
		return InventoryLevel{}, err
	}
	if err := c.checkSKU(ctx, o, f, "sku", in.SKU); err != nil {
		return InventoryLevel{}, err
	}
	if err := f.invalid("invalid inventory adjustment"); err != nil {
		return InventoryLevel{}, err
	}
	lv, err := o.level(ctx, in.WarehouseID, in.SKU)
	if err != nil {
		return InventoryLevel{}, err
	}
	if lv.OnHand+in.Delta < 0 {
		return InventoryLevel{}, &ConflictError{
			Message: fmt.Sprintf("adjustment would take %q in warehouse %d below zero: %d on hand, delta %d",
				in.SKU, in.WarehouseID, lv.OnHand, in.Delta),
			Fields: map[string]string{"delta": fmt.Sprintf("exceeds the %d on hand", lv.OnHand)},
		}
	}
	if err := o.setOnHand(ctx, &lv, lv.OnHand+in.Delta); err != nil {
		return InventoryLevel{}, err
	}
	if _, err := o.emit(ctx, EventAdjustmentApplied, AggregateInventory, lv.ID, in.WarehouseID, o.txnID,
		adjustmentData{SKU: in.SKU, Delta: in.Delta, Reason: in.Reason, OnHand: lv.OnHand}); err != nil {
		return InventoryLevel{}, err
	}
	return lv, nil
}

// CycleCountInput is the body of RecordCycleCount. CountedQty is a pointer
// so a missing count is refused rather than read as zero.
type CycleCountInput struct {
	WarehouseID int64  `json:"warehouse_id"`
	SKU         string `json:"sku"`
	CountedQty  *int64 `json:"counted_qty"`
}

// CycleCount is one physical count of a sku in a warehouse.
type CycleCount struct {
	ID             string    `json:"id"`
	WarehouseID    int64     `json:"warehouse_id"`
	SKU            string    `json:"sku"`
	CountedQty     int64     `json:"counted_qty"`
	PreviousOnHand int64     `json:"previous_on_hand"`
	Delta          int64     `json:"delta"`    // CountedQty - PreviousOnHand
	Adjusted       bool      `json:"adjusted"` // the count differed and stock was set to it
	CountedAt      time.Time `json:"counted_at"`
}

// cycleCountData is the data of cycle_count.adjusted.
type cycleCountData struct {
	SKU            string `json:"sku"`
	CountedQty     int64  `json:"counted_qty"`
	PreviousOnHand int64  `json:"previous_on_hand"`
	Delta          int64  `json:"delta"`
}

// RecordCycleCount records a physical count. When it differs from the books
// the level is set to the count and cycle_count.adjusted is appended
// (aggregate cycle_count, the count's id); when it matches, the count is
// recorded with Adjusted false and no event. Bad input or an unknown
// warehouse or sku gives a *ValidationError.
func (db *DB) RecordCycleCount(ctx context.Context, meta OpMeta, in CycleCountInput) (Result[CycleCount], error) {
	f := fieldErrs{}
	f.checkWarehouseID("warehouse_id", in.WarehouseID)
	f.checkText("sku", in.SKU, maxRefLen, true)
	switch {
	case in.CountedQty == nil:
		f.add("counted_qty", "is required")
	case *in.CountedQty < 0 || *in.CountedQty > maxQty:
		f.add("counted_qty", "must be between 0 and "+strconv.Itoa(maxQty))
	}
	if err := f.invalid("invalid cycle count"); err != nil {
		return Result[CycleCount]{}, err
	}
	return runOp(ctx, db, meta, "cycle_count.record", in, func(ctx context.Context, o opCtx) (CycleCount, bool, error) {
		cc, err := o.recordCycleCount(ctx, in, f, nil, false)
		return cc, err == nil, err
	})
}

// recordCycleCount is the body of RecordCycleCount and of a stock level
// record of UpsertRecords. With skipMatching, a count equal to the books
// writes nothing (a re-synced level that did not change) and returns a
// CycleCount with an empty ID.
func (o opCtx) recordCycleCount(ctx context.Context, in CycleCountInput, f fieldErrs, c *existsCache, skipMatching bool) (CycleCount, error) {
	if err := c.checkWarehouse(ctx, o, f, "warehouse_id", in.WarehouseID); err != nil {
		return CycleCount{}, err
	}
	if err := c.checkSKU(ctx, o, f, "sku", in.SKU); err != nil {
		return CycleCount{}, err
	}
	if err := f.invalid("invalid cycle count"); err != nil {
		return CycleCount{}, err
	}
	lv, err := o.level(ctx, in.WarehouseID, in.SKU)
	if err != nil {
		return CycleCount{}, err
	}
	cc := CycleCount{ID: newEntityID(), WarehouseID: in.WarehouseID, SKU: in.SKU,
		CountedQty: *in.CountedQty, PreviousOnHand: lv.OnHand, Delta: *in.CountedQty - lv.OnHand,
		CountedAt: o.now}
	cc.Adjusted = cc.Delta != 0
	if skipMatching && !cc.Adjusted {
		cc.ID = ""
		return cc, nil
	}
	if _, err := o.ExecContext(ctx, `INSERT INTO cycle_counts
		(id, warehouse_id, sku, counted_qty, previous_on_hand, adjusted, counted_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, cc.ID, cc.WarehouseID, cc.SKU, cc.CountedQty,
		cc.PreviousOnHand, cc.Adjusted, o.nowText); err != nil {
		return CycleCount{}, fmt.Errorf("insert cycle count: %w", interpretError(err))
	}
	if !cc.Adjusted {
		return cc, nil
	}
	if err := o.setOnHand(ctx, &lv, cc.CountedQty); err != nil {
		return CycleCount{}, err
	}
	if _, err := o.emit(ctx, EventCycleCountAdjusted, AggregateCycleCount, cc.ID, cc.WarehouseID, o.txnID,
		cycleCountData{SKU: cc.SKU, CountedQty: cc.CountedQty, PreviousOnHand: cc.PreviousOnHand,
			Delta: cc.Delta}); err != nil {
		return CycleCount{}, err
	}
	return cc, nil
}

// GetCycleCount returns the cycle count with id, or ErrNotFound.
func (db *DB) GetCycleCount(ctx context.Context, id string) (CycleCount, error) {
	id, err := parseEntityID("cycle count", id)
	if err != nil {
		return CycleCount{}, err
	}
	var cc CycleCount
	var counted string
	err = db.r.QueryRowContext(ctx, `SELECT id, warehouse_id, sku, counted_qty, previous_on_hand,
		adjusted, counted_at FROM cycle_counts WHERE id = ?`, id).Scan(&cc.ID, &cc.WarehouseID,
		&cc.SKU, &cc.CountedQty, &cc.PreviousOnHand, &cc.Adjusted, &counted)
	if errors.Is(err, sql.ErrNoRows) {
		return CycleCount{}, fmt.Errorf("cycle count %s: %w", id, ErrNotFound)
	} else if err != nil {
		return CycleCount{}, fmt.Errorf("get cycle count %s: %w", id, err)
	}
	cc.Delta = cc.CountedQty - cc.PreviousOnHand
	if cc.CountedAt, err = parseTime(counted); err != nil {
		return CycleCount{}, fmt.Errorf("get cycle count %s: %w", id, err)
	}
	return cc, nil
}
