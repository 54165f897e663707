package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SalesOrderStatus is where a sales order is in its life:
// open -> picked -> packed -> shipped (cancelled is reserved for
// cancellations from the system of record).
type SalesOrderStatus string

// Sales order statuses.
const (
	SalesOrderOpen      SalesOrderStatus = "open"
	SalesOrderPicked    SalesOrderStatus = "picked"
	SalesOrderPacked    SalesOrderStatus = "packed"
	SalesOrderShipped   SalesOrderStatus = "shipped"
	SalesOrderCancelled SalesOrderStatus = "cancelled"
)

// SalesOrder is an order to ship stock out of a warehouse.
type SalesOrder struct {
	ID          string           `json:"id"`
	OrderNumber string           `json:"order_number"`
	WarehouseID int64            `json:"warehouse_id"`
	Status      SalesOrderStatus `json:"status"`
	ShipTo      json.RawMessage  `json:"ship_to"` // canonical JSON object
	Carrier     string           `json:"carrier"`
	Tracking    string           `json:"tracking"`
	Source      *SourceRef       `json:"source,omitempty"`
	Lines       []OrderLine      `json:"lines"`
	CreatedAt   time.Time        `json:"created_at"`
	UpdatedAt   time.Time        `json:"updated_at"`
	PickedAt    *time.Time       `json:"picked_at,omitempty"`
	PackedAt    *time.Time       `json:"packed_at,omitempty"`
	ShippedAt   *time.Time       `json:"shipped_at,omitempty"`
}

// SalesOrderInput is the body of CreateSalesOrder.
type SalesOrderInput struct {
	OrderNumber string          `json:"order_number"`
	WarehouseID int64           `json:"warehouse_id"`
	ShipTo      json.RawMessage `json:"ship_to"` // a JSON object
	Lines       []OrderLine     `json:"lines"`
	// Source, when set, makes the call an upsert keyed by it (connectors).
	Source *SourceRef `json:"source,omitempty"`
}

// orderLinesData is the data of pick.confirmed and pack.confirmed.
type orderLinesData struct {
	OrderNumber string      `json:"order_number"`
	Lines       []OrderLine `json:"lines"`
}

// shipData is the data of ship.confirmed.
type shipData struct {
	OrderNumber string      `json:"order_number"`
	Carrier     string      `json:"carrier"`
	Tracking    string      `json:"tracking"`
	Lines       []OrderLine `json:"lines"`
}

// CreateSalesOrder creates an open sales order. With in.Source set it
// upserts by that source reference: an existing open order is replaced
// (Result.Created false); one already picked or later is returned unchanged
// when the input matches it and refused with a *ConflictError when it does
// not. Bad input, an unknown warehouse or sku gives a *ValidationError; an
// order_number in use by another order gives a *ConflictError.
func (db *DB) CreateSalesOrder(ctx context.Context, meta OpMeta, in SalesOrderInput) (Result[SalesOrder], error) {
	f := fieldErrs{}
	f.checkText("order_number", in.OrderNumber, maxRefLen, true)
	f.checkWarehouseID("warehouse_id", in.WarehouseID)
	shipTo := canonicalObject(f, "ship_to", in.ShipTo, maxShipToKB)
	f.checkLines(in.Lines)
	f.checkSource(in.Source)
	if err := f.invalid("invalid sales order"); err != nil {
		return Result[SalesOrder]{}, err
	}
	in.ShipTo = shipTo
	return runOp(ctx, db, meta, "sales_order.create", in, func(ctx context.Context, o opCtx) (SalesOrder, bool, error) {
		so, out, err := o.upsertSalesOrder(ctx, in, f, nil)
		return so, out == OutcomeCreated, err
	})
}

// upsertSalesOrder is the body of CreateSalesOrder and of a sales order
// record of UpsertRecords: in is checked (its ship_to canonical). With
// in.Source set, an order from that source that is created or changed
// appends sales_order.created or sales_order.updated; an order equal to
// the input is left alone (OutcomeUnchanged, no write, no event). c, when
// not nil, remembers warehouses and skus known to exist across a batch.
func (o opCtx) upsertSalesOrder(ctx context.Context, in SalesOrderInput, f fieldErrs, c *existsCache) (SalesOrder, Outcome, error) {
	if err := c.checkWarehouse(ctx, o, f, "warehouse_id", in.WarehouseID); err != nil {
		return SalesOrder{}, "", err
	}
	if err := c.checkSKUs(ctx, o, f, in.Lines); err != nil {
		return SalesOrder{}, "", err
	}
	if err := f.invalid("invalid sales order"); err != nil {
		return SalesOrder{}, "", err
	}
	var existing *SalesOrder
	if in.Source != nil && !c.absent("sales_orders", *in.Source) {
		so, err := getSalesOrder(ctx, o, `source_name = ? AND source_id = ?`, in.Source.Name, in.Source.ID)
		switch {
		case err == nil:
			existing = &so
		case !errors.Is(err, ErrNotFound):
			return SalesOrder{}, "", err
		}
	}
	if existing != nil && existing.OrderNumber == in.OrderNumber && existing.WarehouseID == in.WarehouseID &&
		bytes.Equal(existing.ShipTo, in.ShipTo) && slices.Equal(existing.Lines, in.Lines) {
		return *existing, OutcomeUnchanged, nil
	}
	if existing != nil && existing.Status != SalesOrderOpen {
		return SalesOrder{}, "", &ConflictError{Message: fmt.Sprintf(
			"sales order %s from %s/%s is %s and can no longer change",
			existing.OrderNumber, in.Source.Name, in.Source.ID, existing.Status)}
	}
	// The order_number's UNIQUE constraint finds a taken number; only then
	// is the owner looked up, for the message.
	taken := func(err error) error {
		var ce *ConflictError
		if !errors.As(err, &ce) {
			return err
		}
		var id string
		if qerr := o.QueryRowContext(ctx, `SELECT id FROM sales_orders WHERE order_number = ?`, in.OrderNumber).Scan(&id); qerr != nil {
			return err
		}
		return &ConflictError{
			Message: fmt.Sprintf("order_number %q is taken by sales order %s", in.OrderNumber, id),
			Fields:  map[string]string{"order_number": "is taken"},
			Err:     ce.Err,
		}
	}

	if existing == nil {
		so := SalesOrder{ID: newEntityID(), OrderNumber: in.OrderNumber, WarehouseID: in.WarehouseID,
			Status: SalesOrderOpen, ShipTo: in.ShipTo, Source: in.Source, Lines: in.Lines,
			CreatedAt: o.now, UpdatedAt: o.now}
		name, sid := sourceArgs(in.Source)
		if _, err := o.ExecContext(ctx, `INSERT INTO sales_orders
			(id, order_number, warehouse_id, status, ship_to, source_name, source_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, so.ID, so.OrderNumber, so.WarehouseID, so.Status,
			string(so.ShipTo), name, sid, o.nowText, o.nowText); err != nil {
			return SalesOrder{}, "", taken(interpretError(err))
		}
		if err := o.insertLines(ctx, "sales_order_lines", "order_id", so.ID, so.Lines); err != nil {
			return SalesOrder{}, "", err
		}
		c.created("sales_orders", in.Source)
		return so, OutcomeCreated, o.emitSalesOrder(ctx, EventSalesOrderCreated, so)
	}

	so := *existing
	so.OrderNumber, so.WarehouseID, so.ShipTo, so.Lines, so.UpdatedAt =
		in.OrderNumber, in.WarehouseID, in.ShipTo, in.Lines, o.now
	if _, err := o.ExecContext(ctx, `UPDATE sales_orders SET order_number = ?, warehouse_id = ?,
		ship_to = ?, updated_at = ? WHERE id = ?`, so.OrderNumber, so.WarehouseID, string(so.ShipTo),
		o.nowText, so.ID); err != nil {
		return SalesOrder{}, "", taken(interpretError(err))
	}
	if _, err := o.ExecContext(ctx, `DELETE FROM sales_order_lines WHERE order_id = ?`, so.ID); err != nil {
		return SalesOrder{}, "", fmt.Errorf("replace sales order lines: %w", err)
	}
	if err := o.insertLines(ctx, "sales_order_lines", "order_id", so.ID, so.Lines); err != nil {
		return SalesOrder{}, "", err
	}
	return so, OutcomeUpdated, o.emitSalesOrder(ctx, EventSalesOrderUpdated, so)
}

// emitSalesOrder appends a sales order record event for an order from a
// source; orders entered by hand emit none (see EventSalesOrderCreated).
func (o opCtx) emitSalesOrder(ctx context.Context, eventType string, so SalesOrder) error {
	if so.Source == nil {
		return nil
	}
	_, err := o.emit(ctx, eventType, AggregateSalesOrder, so.ID, so.WarehouseID, o.txnID, salesOrderData{
		OrderNumber: so.OrderNumber, Status: so.Status, ShipTo: so.ShipTo, Lines: so.Lines, Source: *so.Source})
	return err
}

// insertLines writes sku/qty lines of a sales order or transfer in one
// statement (prepared per line count, so a sync's few shapes are parsed
// once).
func (o opCtx) insertLines(ctx context.Context, table, key, id string, lines []OrderLine) error {
	if len(lines) == 0 {
		return nil
	}
	var q strings.Builder
	q.WriteString(`INSERT INTO ` + table + ` (` + key + `, line_no, sku, qty) VALUES `)
	args := make([]any, 0, 4*len(lines))
	for i, l := range lines {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?)")
		args = append(args, id, i+1, l.SKU, l.Qty)
	}
	if _, err := o.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("insert %s: %w", table, interpretError(err))
	}
	return nil
}

// GetSalesOrder returns the sales order with id, or ErrNotFound.
func (db *DB) GetSalesOrder(ctx context.Context, id string) (SalesOrder, error) {
	id, err := parseEntityID("sales order", id)
	if err != nil {
		return SalesOrder{}, err
	}
	so, err := getSalesOrder(ctx, db.r, `id = ?`, id)
	if err != nil {
		return SalesOrder{}, fmt.Errorf("sales order %s: %w", id, err)
	}
	return so, nil
}

func getSalesOrder(ctx context.Context, q querier, where string, args ...any) (SalesOrder, error) {
	var so SalesOrder
	var shipTo, created, updated string
	var srcName, srcID, picked, packed, shipped sql.NullString
	err := q.QueryRowContext(ctx, `SELECT id, order_number, warehouse_id, status, ship_to, carrier,
		tracking, source_name, source_id, created_at, updated_at, picked_at, packed_at, shipped_at
		FROM sales_orders WHERE `+where, args...).Scan(&so.ID, &so.OrderNumber, &so.WarehouseID,
		&so.Status, &shipTo, &so.Carrier, &so.Tracking, &srcName, &srcID, &created, &updated,
		&picked, &packed, &shipped)
	if err != nil {
		return SalesOrder{}, interpretError(err)
	}
	so.ShipTo = json.RawMessage(shipTo)
	so.Source = scanSource(srcName, srcID)
	if so.CreatedAt, err = parseTime(created); err != nil {
		return SalesOrder{}, err
	}
	if so.UpdatedAt, err = parseTime(updated); err != nil {
		return SalesOrder{}, err
	}
	if so.PickedAt, err = scanOptTime(picked); err != nil {
		return SalesOrder{}, err
	}
	if so.PackedAt, err = scanOptTime(packed); err != nil {
		return SalesOrder{}, err
	}
	if so.ShippedAt, err = scanOptTime(shipped); err != nil {
		return SalesOrder{}, err
	}
	so.Lines, err = getLines(ctx, q, `SELECT sku, qty FROM sales_order_lines WHERE order_id = ? ORDER BY line_no`, so.ID)
	if err != nil {
		return SalesOrder{}, err
	}
	return so, nil
}

func getLines(ctx context.Context, q querier, query, id string) ([]OrderLine, error) {
	rows, err := q.QueryContext(ctx, query, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	lines := []OrderLine{}
	for rows.Next() {
		var l OrderLine
		if err := rows.Scan(&l.SKU, &l.Qty); err != nil {
			return nil, err
		}
		lines = append(lines, l)
	}
	return lines, rows.Err()
}

// salesOrderIn loads the sales order id in the operation's transaction and
// checks it is in status from, else returns a *ConflictError saying what the
// order needs first.
func (o opCtx) salesOrderIn(ctx context.Context, id string, from SalesOrderStatus, verb string) (SalesOrder, error) {
	so, err := getSalesOrder(ctx, o, `id = ?`, id)
	if errors.Is(err, ErrNotFound) {
		return SalesOrder{}, fmt.Errorf("sales order %s: %w", id, ErrNotFound)
	} else if err != nil {
		return SalesOrder{}, err
	}
	if so.Status != from {
		need := map[SalesOrderStatus]string{
			SalesOrderOpen:   "only an open order can be picked",
			SalesOrderPicked: "it must be picked before it can be packed",
			SalesOrderPacked: "it must be packed before it can ship",
		}[from]
		return SalesOrder{}, &ConflictError{
			Message: fmt.Sprintf("cannot %s sales order %s: it is %s; %s", verb, so.OrderNumber, so.Status, need),
			Fields:  map[string]string{"status": string(so.Status)},
		}
	}
	return so, nil
}

// PickSalesOrder marks an open order picked and appends pick.confirmed.
// An unknown id gives ErrNotFound; an order that is not open gives a
// *ConflictError.
func (db *DB) PickSalesOrder(ctx context.Context, meta OpMeta, id string) (Result[SalesOrder], error) {
	id, err := parseEntityID("sales order", id)
	if err != nil {
		return Result[SalesOrder]{}, err
	}
	return runOp(ctx, db, meta, "sales_order.pick", id, func(ctx context.Context, o opCtx) (SalesOrder, bool, error) {
		so, err := o.salesOrderIn(ctx, id, SalesOrderOpen, "pick")
		if err != nil {
			return SalesOrder{}, false, err
		}
		now := o.now
		so.Status, so.PickedAt, so.UpdatedAt = SalesOrderPicked, &now, o.now
		if err := o.updateSalesOrder(ctx, so); err != nil {
			return SalesOrder{}, false, err
		}
		_, err = o.emit(ctx, EventPickConfirmed, AggregateSalesOrder, so.ID, so.WarehouseID, o.txnID,
			orderLinesData{OrderNumber: so.OrderNumber, Lines: so.Lines})
		return so, false, err
	})
}

// PackSalesOrder marks a picked order packed and appends pack.confirmed.
// An unknown id gives ErrNotFound; an order that is not picked gives a
// *ConflictError.
func (db *DB) PackSalesOrder(ctx context.Context, meta OpMeta, id string) (Result[SalesOrder], error) {
	id, err := parseEntityID("sales order", id)
	if err != nil {
		return Result[SalesOrder]{}, err
	}
	return runOp(ctx, db, meta, "sales_order.pack", id, func(ctx context.Context, o opCtx) (SalesOrder, bool, error) {
		so, err := o.salesOrderIn(ctx, id, SalesOrderPicked, "pack")
		if err != nil {
			return SalesOrder{}, false, err
		}
		now := o.now
		so.Status, so.PackedAt, so.UpdatedAt = SalesOrderPacked, &now, o.now
		if err := o.updateSalesOrder(ctx, so); err != nil {
			return SalesOrder{}, false, err
		}
		_, err = o.emit(ctx, EventPackConfirmed, AggregateSalesOrder, so.ID, so.WarehouseID, o.txnID,
			orderLinesData{OrderNumber: so.OrderNumber, Lines: so.Lines})
		return so, false, err
	})
}

// ShipInput is the body of ShipSalesOrder.
type ShipInput struct {
	Carrier  string `json:"carrier"`
	Tracking string `json:"tracking"` // optional
}

// ShipSalesOrder ships a packed order: its lines leave the warehouse's stock,
// it records carrier and tracking, and appends ship.confirmed. For an order
// with a source reference it also queues the fulfillment push to that
// source (see GetFulfillmentPush), in the same transaction. An unknown id
// gives ErrNotFound; bad input a *ValidationError; an order that is not
// packed, or stock short of any line, a *ConflictError (nothing changes).
func (db *DB) ShipSalesOrder(ctx context.Context, meta OpMeta, id string, in ShipInput) (Result[SalesOrder], error) {
	id, err := parseEntityID("sales order", id)
	if err != nil {
		return Result[SalesOrder]{}, err
	}
	f := fieldErrs{}
	f.checkText("carrier", in.Carrier, maxRefLen, true)
	f.checkText("tracking", in.Tracking, maxRefLen, false)
	if err := f.invalid("invalid shipment"); err != nil {
		return Result[SalesOrder]{}, err
	}
	input := struct {
		ID string
		ShipInput
	}{id, in}
	return runOp(ctx, db, meta, "sales_order.ship", input, func(ctx context.Context, o opCtx) (SalesOrder, bool, error) {
		so, err := o.salesOrderIn(ctx, id, SalesOrderPacked, "ship")
		if err != nil {
			return SalesOrder{}, false, err
		}
		if err := o.takeStock(ctx, so.WarehouseID, so.Lines, "cannot ship sales order "+so.OrderNumber); err != nil {
			return SalesOrder{}, false, err
		}
		now := o.now
		so.Status, so.ShippedAt, so.UpdatedAt = SalesOrderShipped, &now, o.now
		so.Carrier, so.Tracking = in.Carrier, in.Tracking
		if err := o.updateSalesOrder(ctx, so); err != nil {
			return SalesOrder{}, false, err
		}
		if _, err := o.emit(ctx, EventShipConfirmed, AggregateSalesOrder, so.ID, so.WarehouseID, o.txnID,
			shipData{OrderNumber: so.OrderNumber, Carrier: so.Carrier, Tracking: so.Tracking, Lines: so.Lines}); err != nil {
			return SalesOrder{}, false, err
		}
		// An order from a connector owes its source a fulfillment push; queue
		// it in this transaction so a crash cannot lose it (connector_fulfillment.go).
		return so, false, o.queueFulfillmentPush(ctx, so, o.txnID)
	})
}

// updateSalesOrder writes an order's status fields.
func (o opCtx) updateSalesOrder(ctx context.Context, so SalesOrder) error {
	if _, err := o.ExecContext(ctx, `UPDATE sales_orders SET status = ?, carrier = ?, tracking = ?,
		updated_at = ?, picked_at = ?, packed_at = ?, shipped_at = ? WHERE id = ?`,
		so.Status, so.Carrier, so.Tracking, formatTime(so.UpdatedAt), optTime(so.PickedAt),
		optTime(so.PackedAt), optTime(so.ShippedAt), so.ID); err != nil {
		return fmt.Errorf("update sales order: %w", interpretError(err))
	}
	return nil
}

// PurchaseOrderStatus is where a purchase order is in its life.
type PurchaseOrderStatus string

// Purchase order statuses.
const (
	PurchaseOrderOpen              PurchaseOrderStatus = "open"
	PurchaseOrderPartiallyReceived PurchaseOrderStatus = "partially_received"
	PurchaseOrderReceived          PurchaseOrderStatus = "received"
	PurchaseOrderCancelled         PurchaseOrderStatus = "cancelled"
)

// PurchaseOrder is an order of stock from a supplier into a warehouse.
type PurchaseOrder struct {
	ID          string              `json:"id"`
	PONumber    string              `json:"po_number"`
	WarehouseID int64               `json:"warehouse_id"`
	Supplier    string              `json:"supplier"`
	Status      PurchaseOrderStatus `json:"status"`
	Source      *SourceRef          `json:"source,omitempty"`
	Lines       []PurchaseOrderLine `json:"lines"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
}

// PurchaseOrderLine is one sku of a purchase order.
type PurchaseOrderLine struct {
	SKU         string `json:"sku"`
	QtyOrdered  int64  `json:"qty_ordered"`
	QtyReceived int64  `json:"qty_received"`
}

// PurchaseOrderInput is the body of CreatePurchaseOrder; line quantities
// are the quantities ordered.
type PurchaseOrderInput struct {
	PONumber    string      `json:"po_number"`
	WarehouseID int64       `json:"warehouse_id"`
	Supplier    string      `json:"supplier"`
	Lines       []OrderLine `json:"lines"`
	// Source, when set, makes the call an upsert keyed by it (connectors).
	Source *SourceRef `json:"source,omitempty"`
}

// ReceiptInput is the body of ReceivePurchaseOrder: the quantities received
// now, per sku of the order.
type ReceiptInput struct {
	Lines []OrderLine `json:"lines"`
}

// receiptData is the data of receipt.completed.
type receiptData struct {
	PONumber string              `json:"po_number"`
	Status   PurchaseOrderStatus `json:"status"` // after the receipt
	Lines    []OrderLine         `json:"lines"`  // received by this receipt
}

// CreatePurchaseOrder creates an open purchase order. With in.Source set it
// upserts by that reference: an order nothing was received on yet is
// replaced (Result.Created false); a partly or fully received one is
// returned unchanged when the input matches it and refused with a
// *ConflictError when it does not. Bad input, an unknown warehouse or sku
// gives a *ValidationError; a po_number in use gives a *ConflictError.
func (db *DB) CreatePurchaseOrder(ctx context.Context, meta OpMeta, in PurchaseOrderInput) (Result[PurchaseOrder], error) {
	f := fieldErrs{}
	f.checkText("po_number", in.PONumber, maxRefLen, true)
	f.checkWarehouseID("warehouse_id", in.WarehouseID)
	f.checkText("supplier", in.Supplier, maxNameLen, false)
	f.checkLines(in.Lines)
	f.checkSource(in.Source)
	if err := f.invalid("invalid purchase order"); err != nil {
		return Result[PurchaseOrder]{}, err
	}
	return runOp(ctx, db, meta, "purchase_order.create", in, func(ctx context.Context, o opCtx) (PurchaseOrder, bool, error) {
		po, out, err := o.upsertPurchaseOrder(ctx, in, f, nil)
		return po, out == OutcomeCreated, err
	})
}

// upsertPurchaseOrder is the body of CreatePurchaseOrder and of a purchase
// order record of UpsertRecords, as upsertSalesOrder is for sales orders:
// orders from a source append purchase_order.created or
// purchase_order.updated, and an order equal to the input is unchanged.
func (o opCtx) upsertPurchaseOrder(ctx context.Context, in PurchaseOrderInput, f fieldErrs, c *existsCache) (PurchaseOrder, Outcome, error) {
	if err := c.checkWarehouse(ctx, o, f, "warehouse_id", in.WarehouseID); err != nil {
		return PurchaseOrder{}, "", err
	}
	if err := c.checkSKUs(ctx, o, f, in.Lines); err != nil {
		return PurchaseOrder{}, "", err
	}
	if err := f.invalid("invalid purchase order"); err != nil {
		return PurchaseOrder{}, "", err
	}
	var existing *PurchaseOrder
	if in.Source != nil && !c.absent("purchase_orders", *in.Source) {
		po, err := getPurchaseOrder(ctx, o, `source_name = ? AND source_id = ?`, in.Source.Name, in.Source.ID)
		switch {
		case err == nil:
			existing = &po
		case !errors.Is(err, ErrNotFound):
			return PurchaseOrder{}, "", err
		}
	}
	if existing != nil && existing.PONumber == in.PONumber && existing.WarehouseID == in.WarehouseID &&
		existing.Supplier == in.Supplier &&
		slices.EqualFunc(existing.Lines, in.Lines, func(a PurchaseOrderLine, b OrderLine) bool {
			return a.SKU == b.SKU && a.QtyOrdered == b.Qty
		}) {
		return *existing, OutcomeUnchanged, nil
	}
	if existing != nil && existing.Status != PurchaseOrderOpen {
		return PurchaseOrder{}, "", &ConflictError{Message: fmt.Sprintf(
			"purchase order %s from %s/%s is %s and can no longer change",
			existing.PONumber, in.Source.Name, in.Source.ID, existing.Status)}
	}
	taken := func(err error) error {
		var ce *ConflictError
		if !errors.As(err, &ce) {
			return err
		}
		var id string
		if qerr := o.QueryRowContext(ctx, `SELECT id FROM purchase_orders WHERE po_number = ?`, in.PONumber).Scan(&id); qerr != nil {
			return err
		}
		return &ConflictError{
			Message: fmt.Sprintf("po_number %q is taken by purchase order %s", in.PONumber, id),
			Fields:  map[string]string{"po_number": "is taken"},
			Err:     ce.Err,
		}
	}
	lines := make([]PurchaseOrderLine, len(in.Lines))
	for i, l := range in.Lines {
		lines[i] = PurchaseOrderLine{SKU: l.SKU, QtyOrdered: l.Qty}
	}

	if existing == nil {
		po := PurchaseOrder{ID: newEntityID(), PONumber: in.PONumber, WarehouseID: in.WarehouseID,
			Supplier: in.Supplier, Status: PurchaseOrderOpen, Source: in.Source, Lines: lines,
			CreatedAt: o.now, UpdatedAt: o.now}
		name, sid := sourceArgs(in.Source)
		if _, err := o.ExecContext(ctx, `INSERT INTO purchase_orders
			(id, po_number, warehouse_id, supplier, status, source_name, source_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, po.ID, po.PONumber, po.WarehouseID, po.Supplier,
			po.Status, name, sid, o.nowText, o.nowText); err != nil {
			return PurchaseOrder{}, "", taken(interpretError(err))
		}
		if err := o.insertPOLines(ctx, po.ID, po.Lines); err != nil {
			return PurchaseOrder{}, "", err
		}
		c.created("purchase_orders", in.Source)
		return po, OutcomeCreated, o.emitPurchaseOrder(ctx, EventPurchaseOrderCreated, po)
	}

	po := *existing
	po.PONumber, po.WarehouseID, po.Supplier, po.Lines, po.UpdatedAt =
		in.PONumber, in.WarehouseID, in.Supplier, lines, o.now
	if _, err := o.ExecContext(ctx, `UPDATE purchase_orders SET po_number = ?, warehouse_id = ?,
		supplier = ?, updated_at = ? WHERE id = ?`, po.PONumber, po.WarehouseID, po.Supplier,
		o.nowText, po.ID); err != nil {
		return PurchaseOrder{}, "", taken(interpretError(err))
	}
	if _, err := o.ExecContext(ctx, `DELETE FROM purchase_order_lines WHERE po_id = ?`, po.ID); err != nil {
		return PurchaseOrder{}, "", fmt.Errorf("replace purchase order lines: %w", err)
	}
	if err := o.insertPOLines(ctx, po.ID, po.Lines); err != nil {
		return PurchaseOrder{}, "", err
	}
	return po, OutcomeUpdated, o.emitPurchaseOrder(ctx, EventPurchaseOrderUpdated, po)
}

// emitPurchaseOrder appends a purchase order record event for an order
// from a source.
func (o opCtx) emitPurchaseOrder(ctx context.Context, eventType string, po PurchaseOrder) error {
	if po.Source == nil {
		return nil
	}
	lines := make([]OrderLine, len(po.Lines))
	for i, l := range po.Lines {
		lines[i] = OrderLine{SKU: l.SKU, Qty: l.QtyOrdered}
	}
	_, err := o.emit(ctx, eventType, AggregatePurchaseOrder, po.ID, po.WarehouseID, o.txnID, purchaseOrderData{
		PONumber: po.PONumber, Supplier: po.Supplier, Status: po.Status, Lines: lines, Source: *po.Source})
	return err
}

func (o opCtx) insertPOLines(ctx context.Context, id string, lines []PurchaseOrderLine) error {
	for i, l := range lines {
		if _, err := o.ExecContext(ctx, `INSERT INTO purchase_order_lines
			(po_id, line_no, sku, qty_ordered, qty_received) VALUES (?, ?, ?, ?, ?)`,
			id, i+1, l.SKU, l.QtyOrdered, l.QtyReceived); err != nil {
			return fmt.Errorf("insert purchase order line: %w", interpretError(err))
		}
	}
	return nil
}

// GetPurchaseOrder returns the purchase order with id, or ErrNotFound.
func (db *DB) GetPurchaseOrder(ctx context.Context, id string) (PurchaseOrder, error) {
	id, err := parseEntityID("purchase order", id)
	if err != nil {
		return PurchaseOrder{}, err
	}
	po, err := getPurchaseOrder(ctx, db.r, `id = ?`, id)
	if err != nil {
		return PurchaseOrder{}, fmt.Errorf("purchase order %s: %w", id, err)
	}
	return po, nil
}

func getPurchaseOrder(ctx context.Context, q querier, where string, args ...any) (PurchaseOrder, error) {
	var po PurchaseOrder
	var created, updated string
	var srcName, srcID sql.NullString
	err := q.QueryRowContext(ctx, `SELECT id, po_number, warehouse_id, supplier, status, source_name,
		source_id, created_at, updated_at FROM purchase_orders WHERE `+where, args...).Scan(&po.ID,
		&po.PONumber, &po.WarehouseID, &po.Supplier, &po.Status, &srcName, &srcID, &created, &updated)
	if err != nil {
		return PurchaseOrder{}, interpretError(err)
	}
	po.Source = scanSource(srcName, srcID)
	if po.CreatedAt, err = parseTime(created); err != nil {
		return PurchaseOrder{}, err
	}
	if po.UpdatedAt, err = parseTime(updated); err != nil {
		return PurchaseOrder{}, err
	}
	rows, err := q.QueryContext(ctx, `SELECT sku, qty_ordered, qty_received FROM purchase_order_lines
		WHERE po_id = ? ORDER BY line_no`, po.ID)
	if err != nil {
		return PurchaseOrder{}, err
	}
	defer rows.Close()
	po.Lines = []PurchaseOrderLine{}
	for rows.Next() {
		var l PurchaseOrderLine
		if err := rows.Scan(&l.SKU, &l.QtyOrdered, &l.QtyReceived); err != nil {
			return PurchaseOrder{}, err
		}
		po.Lines = append(po.Lines, l)
	}
	return po, rows.Err()
}

// ReceivePurchaseOrder books stock received against a purchase order into
// its warehouse and appends receipt.completed; the order becomes
// partially_received or, once every line is in full, received. An unknown id
// gives ErrNotFound; bad lines or a sku not on the order a
// *ValidationError; an order already received or cancelled, or a quantity
// beyond what is still outstanding, a *ConflictError (nothing changes).
func (db *DB) ReceivePurchaseOrder(ctx context.Context, meta OpMeta, id string, in ReceiptInput) (Result[PurchaseOrder], error) {
	id, err := parseEntityID("purchase order", id)
	if err != nil {
		return Result[PurchaseOrder]{}, err
	}
	f := fieldErrs{}
	f.checkLines(in.Lines)
	if err := f.invalid("invalid receipt"); err != nil {
		return Result[PurchaseOrder]{}, err
	}
	input := struct {
		ID string
		ReceiptInput
	}{id, in}
	return runOp(ctx, db, meta, "purchase_order.receive", input, func(ctx context.Context, o opCtx) (PurchaseOrder, bool, error) {
		po, err := getPurchaseOrder(ctx, o, `id = ?`, id)
		if errors.Is(err, ErrNotFound) {
			return PurchaseOrder{}, false, fmt.Errorf("purchase order %s: %w", id, ErrNotFound)
		} else if err != nil {
			return PurchaseOrder{}, false, err
		}
		if po.Status != PurchaseOrderOpen && po.Status != PurchaseOrderPartiallyReceived {
			return PurchaseOrder{}, false, &ConflictError{
				Message: fmt.Sprintf("cannot receive purchase order %s: it is %s", po.PONumber, po.Status),
				Fields:  map[string]string{"status": string(po.Status)},
			}
		}
		bySKU := make(map[string]int, len(po.Lines))
		for i, l := range po.Lines {
			bySKU[l.SKU] = i
		}
		over := fieldErrs{}
		for i, l := range in.Lines {
			j, ok := bySKU[l.SKU]
			if !ok {
				f.add("lines["+strconv.Itoa(i)+"].sku", fmt.Sprintf("%q is not on purchase order %s", l.SKU, po.PONumber))
				continue
			}
			pl := po.Lines[j]
			if left := pl.QtyOrdered - pl.QtyReceived; l.Qty > left {
				over.add("lines["+strconv.Itoa(i)+"].qty", fmt.Sprintf(
					"receives %d of %q but only %d of the %d ordered are outstanding", l.Qty, l.SKU, left, pl.QtyOrdered))
			}
		}
		if err := f.invalid("invalid receipt for purchase order " + po.PONumber); err != nil {
			return PurchaseOrder{}, false, err
		}
		if err := over.conflict("cannot receive more than ordered on purchase order " + po.PONumber); err != nil {
			return PurchaseOrder{}, false, err
		}

		for _, l := range in.Lines {
			po.Lines[bySKU[l.SKU]].QtyReceived += l.Qty
			if _, err := o.ExecContext(ctx, `UPDATE purchase_order_lines SET qty_received = qty_received + ?
				WHERE po_id = ? AND sku = ?`, l.Qty, po.ID, l.SKU); err != nil {
				return PurchaseOrder{}, false, fmt.Errorf("update purchase order line: %w", interpretError(err))
			}
		}
		if err := o.putStock(ctx, po.WarehouseID, in.Lines); err != nil {
			return PurchaseOrder{}, false, err
		}
		po.Status = PurchaseOrderReceived
		for _, l := range po.Lines {
			if l.QtyReceived < l.QtyOrdered {
				po.Status = PurchaseOrderPartiallyReceived
			}
		}
		po.UpdatedAt = o.now
		if _, err := o.ExecContext(ctx, `UPDATE purchase_orders SET status = ?, updated_at = ? WHERE id = ?`,
			po.Status, o.nowText, po.ID); err != nil {
			return PurchaseOrder{}, false, fmt.Errorf("update purchase order: %w", interpretError(err))
		}
		_, err = o.emit(ctx, EventReceiptCompleted, AggregatePurchaseOrder, po.ID, po.WarehouseID, o.txnID,
			receiptData{PONumber: po.PONumber, Status: po.Status, Lines: in.Lines})
		return po, false, err
	})
}
