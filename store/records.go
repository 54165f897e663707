package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Record events: a sales or purchase order that arrives from a source (a
// connector or an inbound push) appends <aggregate>.created when it is
// new and <aggregate>.updated when it changed. An order pushed again
// unchanged appends nothing. Orders entered through the warehouse API do
// not append them: their caller made them and already knows.
const (
	EventSalesOrderCreated    = "sales_order.created"
	EventSalesOrderUpdated    = "sales_order.updated"
	EventPurchaseOrderCreated = "purchase_order.created"
	EventPurchaseOrderUpdated = "purchase_order.updated"
)

// salesOrderData is the data of sales_order.created and .updated: the
// order as it now is.
type salesOrderData struct {
	OrderNumber string           `json:"order_number"`
	Status      SalesOrderStatus `json:"status"`
	ShipTo      json.RawMessage  `json:"ship_to"`
	Lines       []OrderLine      `json:"lines"`
	Source      SourceRef        `json:"source"`
}

// purchaseOrderData is the data of purchase_order.created and .updated;
// line quantities are the quantities ordered.
type purchaseOrderData struct {
	PONumber string              `json:"po_number"`
	Supplier string              `json:"supplier"`
	Status   PurchaseOrderStatus `json:"status"`
	Lines    []OrderLine         `json:"lines"`
	Source   SourceRef           `json:"source"`
}

// Outcome is what an upsert did with one record.
type Outcome string

// Record outcomes.
const (
	OutcomeCreated   Outcome = "created"
	OutcomeUpdated   Outcome = "updated"
	OutcomeUnchanged Outcome = "unchanged" // equal to what is stored: nothing written, no event
	OutcomeRefused   Outcome = "refused"   // invalid or in conflict: nothing written
)

// existsCache remembers, for the length of one batch, the warehouses and
// skus found to exist, so a page of orders over the same few skus looks
// each up once. Only hits are kept: within a transaction neither is
// deleted, and a miss may become a hit when an earlier record of the batch
// creates the item. A nil cache looks everything up.
type existsCache struct {
	warehouses map[int64]bool
	skus       map[string]bool
	// missing holds the orders (by table, source name and id) that a
	// batch found absent before its first record, so creating them needs
	// no lookup each. An order a record of the batch creates leaves it.
	missing map[string]bool
}

func newExistsCache() *existsCache {
	return &existsCache{warehouses: map[int64]bool{}, skus: map[string]bool{}, missing: map[string]bool{}}
}

func missingKey(table string, src SourceRef) string {
	return table + "\x00" + src.Name + "\x00" + src.ID
}

// absent reports whether the batch knows the order src of table is not
// stored.
func (c *existsCache) absent(table string, src SourceRef) bool {
	return c != nil && c.missing[missingKey(table, src)]
}

// created records that src of table now exists.
func (c *existsCache) created(table string, src *SourceRef) {
	if c != nil && src != nil {
		delete(c.missing, missingKey(table, *src))
	}
}

// prefetchChunk is how many source ids one lookup query takes; shorter
// chunks are padded so that the statement text, and its prepared
// statement, is always the same.
const prefetchChunk = 100

// findMissing looks up, a chunk at a time, which orders of the batch are
// not stored yet, so that creating them costs no lookup of their own.
func (c *existsCache) findMissing(ctx context.Context, q querier, pending []checkedRecord) error {
	type key struct{ table, source string }
	ids := map[key][]string{}
	for _, p := range pending {
		switch {
		case p.rec.SalesOrder != nil:
			k := key{"sales_orders", p.rec.Source.Name}
			ids[k] = append(ids[k], p.rec.Source.ID)
		case p.rec.PurchaseOrder != nil:
			k := key{"purchase_orders", p.rec.Source.Name}
			ids[k] = append(ids[k], p.rec.Source.ID)
		}
	}
	for k, list := range ids {
		query := `SELECT source_id FROM ` + k.table + ` WHERE source_name = ? AND source_id IN (?` +
			strings.Repeat(", ?", prefetchChunk-1) + `)`
		for start := 0; start < len(list); start += prefetchChunk {
			chunk := list[start:min(start+prefetchChunk, len(list))]
			args := make([]any, 0, prefetchChunk+1)
			args = append(args, k.source)
			for i := range prefetchChunk {
				args = append(args, chunk[min(i, len(chunk)-1)])
			}
			found := map[string]bool{}
			rows, err := q.QueryContext(ctx, query, args...)
			if err != nil {
				return fmt.Errorf("look up existing orders: %w", err)
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return fmt.Errorf("look up existing orders: %w", err)
				}
				found[id] = true
			}
			if err := rows.Close(); err != nil {
				return fmt.Errorf("look up existing orders: %w", err)
			}
			for _, id := range chunk {
				if !found[id] {
					c.missing[missingKey(k.table, SourceRef{Name: k.source, ID: id})] = true
				}
			}
		}
	}
	return nil
}

func (c *existsCache) checkWarehouse(ctx context.Context, q querier, f fieldErrs, field string, id int64) error {
	if c != nil && c.warehouses[id] {
		return nil
	}
	before := len(f)
	if err := checkWarehouseExists(ctx, q, f, field, id); err != nil {
		return err
	}
	if c != nil && len(f) == before && id > 0 {
		c.warehouses[id] = true
	}
	return nil
}

func (c *existsCache) checkSKU(ctx context.Context, q querier, f fieldErrs, field, sku string) error {
	if c != nil && c.skus[sku] {
		return nil
	}
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM items WHERE sku = ?`, sku).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		f.add(field, fmt.Sprintf("names unknown sku %q", sku))
		return nil
	case err != nil:
		return err
	}
	if c != nil {
		c.skus[sku] = true
	}
	return nil
}

func (c *existsCache) checkSKUs(ctx context.Context, q querier, f fieldErrs, lines []OrderLine) error {
	for i, l := range lines {
		if err := c.checkSKU(ctx, q, f, "lines["+strconv.Itoa(i)+"].sku", l.SKU); err != nil {
			return err
		}
	}
	return nil
}

// SourceRecord is one record of UpsertRecords: exactly one of the inputs,
// keyed by Source (the system's name and the record's id there).
type SourceRecord struct {
	Source        SourceRef
	Item          *ItemInput
	SalesOrder    *SalesOrderInput    // its Source is set from Source
	PurchaseOrder *PurchaseOrderInput // its Source is set from Source
	// Adjustment and Transfer have no source columns: the source document
	// that made them is remembered apart, so pushing it again is
	// unchanged (or, with other values, refused: they cannot change).
	Adjustment *AdjustmentInput
	Transfer   *TransferInput
	// Level sets the on-hand quantity by a cycle count; a level already
	// at the count is unchanged and writes nothing.
	Level *CycleCountInput
	// IdempotencyKey, when set, is the source's own key for this record
	// (a mapping-declared field): a record whose key was seen before from
	// the same source returns the first result, marked Replayed, and
	// writes nothing. The same key with other content is refused.
	IdempotencyKey string
}

// RecordResult is the outcome of one SourceRecord.
type RecordResult struct {
	Outcome Outcome `json:"outcome"`
	// ID is the entity's id (item, order, transfer, inventory level or
	// cycle count); empty when refused or for an unchanged level.
	ID       string  `json:"id,omitempty"`
	EventIDs []int64 `json:"event_ids,omitempty"`
	// Message and Fields say why a record was refused.
	Message  string            `json:"message,omitempty"`
	Fields   map[string]string `json:"fields,omitempty"`
	Replayed bool              `json:"replayed,omitempty"`
	// Err is the refusal (a *ValidationError or *ConflictError).
	Err error `json:"-"`
}

// Refused returns the result of a record refused before it reached the
// store (a document that did not map).
func Refused(message string, fields map[string]string) RecordResult {
	return RecordResult{Outcome: OutcomeRefused, Message: message, Fields: fields}
}

func refusal(err error) (RecordResult, bool) {
	var ve *ValidationError
	var ce *ConflictError
	switch {
	case errors.As(err, &ve):
		return RecordResult{Outcome: OutcomeRefused, Message: ve.Message, Fields: ve.Fields, Err: err}, true
	case errors.As(err, &ce):
		return RecordResult{Outcome: OutcomeRefused, Message: ce.Message, Fields: ce.Fields, Err: err}, true
	}
	return RecordResult{}, false
}

// check validates r on its own and returns the field errors and the
// resource name it is written as.
func (r *SourceRecord) check() (fieldErrs, string, error) {
	f := fieldErrs{}
	f.checkSource(&r.Source)
	n := 0
	var kind, prefix string
	if in := r.Item; in != nil {
		n, kind, prefix = n+1, "items", "invalid item"
		in.check(f)
	}
	if in := r.SalesOrder; in != nil {
		n, kind, prefix = n+1, "sales_orders", "invalid sales order"
		f.checkText("order_number", in.OrderNumber, maxRefLen, true)
		f.checkWarehouseID("warehouse_id", in.WarehouseID)
		if shipTo := canonicalObject(f, "ship_to", in.ShipTo, maxShipToKB); shipTo != nil {
			in.ShipTo = shipTo
		}
		f.checkLines(in.Lines)
		src := r.Source
		in.Source = &src
	}
	if in := r.PurchaseOrder; in != nil {
		n, kind, prefix = n+1, "purchase_orders", "invalid purchase order"
		f.checkText("po_number", in.PONumber, maxRefLen, true)
		f.checkWarehouseID("warehouse_id", in.WarehouseID)
		f.checkText("supplier", in.Supplier, maxNameLen, false)
		f.checkLines(in.Lines)
		src := r.Source
		in.Source = &src
	}
	if in := r.Adjustment; in != nil {
		n, kind, prefix = n+1, "inventory", "invalid inventory adjustment"
		f.checkWarehouseID("warehouse_id", in.WarehouseID)
		f.checkText("sku", in.SKU, maxRefLen, true)
		if in.Delta == 0 || in.Delta < -maxQty || in.Delta > maxQty {
			f.add("delta", "must be a non-zero quantity between -"+strconv.Itoa(maxQty)+" and "+strconv.Itoa(maxQty))
		}
		f.checkText("reason", in.Reason, maxNameLen, true)
	}
	if in := r.Transfer; in != nil {
		n, kind, prefix = n+1, "transfers", "invalid transfer"
		f.checkWarehouseID("from_warehouse_id", in.FromWarehouseID)
		f.checkWarehouseID("to_warehouse_id", in.ToWarehouseID)
		if in.FromWarehouseID > 0 && in.FromWarehouseID == in.ToWarehouseID {
			f.add("to_warehouse_id", "must differ from from_warehouse_id")
		}
		f.checkLines(in.Lines)
	}
	if in := r.Level; in != nil {
		n, kind, prefix = n+1, "inventory_levels", "invalid stock level"
		f.checkWarehouseID("warehouse_id", in.WarehouseID)
		f.checkText("sku", in.SKU, maxRefLen, true)
		switch {
		case in.CountedQty == nil:
			f.add("counted_qty", "is required")
		case *in.CountedQty < 0 || *in.CountedQty > maxQty:
			f.add("counted_qty", "must be between 0 and "+strconv.Itoa(maxQty))
		}
	}
	if n != 1 {
		return nil, "", fmt.Errorf("source record %s/%s has %d inputs, want exactly one", r.Source.Name, r.Source.ID, n)
	}
	return f, kind, f.invalid(prefix)
}

// fingerprint is the SHA-256 of the record's input as JSON.
func (r *SourceRecord) fingerprint() (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("fingerprint record: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// UpsertRecords writes a batch of records from one or more sources in one
// write transaction: a page of a connector sync or an inbound push. Each
// record runs in its own savepoint, so a record that is refused (invalid,
// or in conflict with the hub's state) leaves no trace and does not stop
// the others; its RecordResult says why. A record equal to what is stored
// is unchanged: nothing is written and no event appended. The events a
// record causes are appended in the same transaction, with meta.RequestID
// (or a fresh id) as their source_txn_id. An error is returned only when
// the batch as a whole failed, and then nothing of it was written.
func (db *DB) UpsertRecords(ctx context.Context, meta OpMeta, recs []SourceRecord) ([]RecordResult, error) {
	out, pending, err := checkRecords(recs)
	if err != nil {
		return nil, err
	}
	if len(pending) == 0 {
		return out, nil
	}
	txnID, err := normalizeRequestID(meta.RequestID)
	if err != nil {
		return nil, err
	}
	_, err = db.update(ctx, func(w *writeTx) error {
		return upsertRecords(ctx, opCtx{writeTx: w, txnID: txnID}, pending, out)
	})
	if err != nil {
		return nil, fmt.Errorf("upsert records: %w", err)
	}
	return out, nil
}

// checkRecords runs every record's own checks: the refused ones get their
// result in out, the others are returned to be written.
func checkRecords(recs []SourceRecord) (out []RecordResult, pending []checkedRecord, err error) {
	out = make([]RecordResult, len(recs))
	pending = make([]checkedRecord, 0, len(recs))
	for i := range recs {
		f, kind, err := recs[i].check()
		if err != nil {
			res, ok := refusal(err)
			if !ok {
				return nil, nil, err
			}
			out[i] = res
			continue
		}
		pending = append(pending, checkedRecord{i: i, rec: &recs[i], f: f, kind: kind})
	}
	return out, pending, nil
}

// checkedRecord is a record that passed its own checks: its position in
// the batch, its normalized input, the resource it is written as.
type checkedRecord struct {
	i    int
	rec  *SourceRecord
	f    fieldErrs
	kind string
}

// upsertRecords runs the pending records in o's transaction, one savepoint
// each, filling out.
func upsertRecords(ctx context.Context, o opCtx, pending []checkedRecord, out []RecordResult) error {
	c := newExistsCache()
	if len(pending) > 1 { // a record alone looks itself up
		if err := c.findMissing(ctx, o, pending); err != nil {
			return err
		}
	}
	for _, p := range pending {
		if _, err := o.ExecContext(ctx, "SAVEPOINT record"); err != nil {
			return fmt.Errorf("savepoint: %w", err)
		}
		first := len(o.eventIDs)
		res, err := o.upsertRecord(ctx, p, c)
		if err != nil {
			r, ok := refusal(err)
			if !ok {
				return err
			}
			res = r
			o.eventIDs = o.eventIDs[:first]
			if _, err := o.ExecContext(ctx, "ROLLBACK TO record"); err != nil {
				return fmt.Errorf("roll back record: %w", err)
			}
		}
		if _, err := o.ExecContext(ctx, "RELEASE record"); err != nil {
			return fmt.Errorf("release savepoint: %w", err)
		}
		out[p.i] = res
	}
	return nil
}

// upsertRecord writes one checked record.
func (o opCtx) upsertRecord(ctx context.Context, p checkedRecord, c *existsCache) (RecordResult, error) {
	r, f, kind := p.rec, p.f, p.kind
	var fp string
	if r.IdempotencyKey != "" || r.Adjustment != nil || r.Transfer != nil {
		var err error
		if fp, err = r.fingerprint(); err != nil {
			return RecordResult{}, err
		}
	}
	if r.IdempotencyKey != "" {
		res, seen, err := o.recordReplay(ctx, r, kind, fp)
		if err != nil || seen {
			return res, err
		}
	}
	first := len(o.eventIDs)
	res, err := o.writeRecord(ctx, r, kind, fp, f, c)
	if err != nil {
		return RecordResult{}, err
	}
	if len(o.eventIDs) > first {
		res.EventIDs = append([]int64(nil), o.eventIDs[first:]...)
	}
	if r.IdempotencyKey != "" {
		if err := o.rememberRecord(ctx, r, kind, fp, res); err != nil {
			return RecordResult{}, err
		}
	}
	return res, nil
}

func (o opCtx) writeRecord(ctx context.Context, r *SourceRecord, kind, fp string, f fieldErrs, c *existsCache) (RecordResult, error) {
	switch {
	case r.Item != nil:
		it, out, err := o.upsertItemBySource(ctx, r.Source, *r.Item)
		return RecordResult{Outcome: out, ID: it.ID}, err
	case r.SalesOrder != nil:
		so, out, err := o.upsertSalesOrder(ctx, *r.SalesOrder, f, c)
		return RecordResult{Outcome: out, ID: so.ID}, err
	case r.PurchaseOrder != nil:
		po, out, err := o.upsertPurchaseOrder(ctx, *r.PurchaseOrder, f, c)
		return RecordResult{Outcome: out, ID: po.ID}, err
	case r.Level != nil:
		cc, err := o.recordCycleCount(ctx, *r.Level, f, c, true)
		if err != nil || cc.ID == "" {
			return RecordResult{Outcome: OutcomeUnchanged}, err
		}
		return RecordResult{Outcome: OutcomeUpdated, ID: cc.ID}, nil
	}
	// Adjustments and transfers are made once per source document.
	var id, storedFP string
	err := o.QueryRowContext(ctx, `SELECT entity_id, fingerprint FROM source_records
		WHERE source_name = ? AND resource = ? AND source_id = ?`, r.Source.Name, kind, r.Source.ID).Scan(&id, &storedFP)
	switch {
	case err == nil && storedFP == fp:
		return RecordResult{Outcome: OutcomeUnchanged, ID: id}, nil
	case err == nil:
		return RecordResult{}, &ConflictError{
			Message: fmt.Sprintf("%s/%s was already applied with other values; an applied %s cannot change",
				r.Source.Name, r.Source.ID, map[string]string{"inventory": "adjustment", "transfers": "transfer"}[kind]),
		}
	case !errors.Is(err, sql.ErrNoRows):
		return RecordResult{}, err
	}
	if r.Adjustment != nil {
		lv, err := o.applyAdjustment(ctx, *r.Adjustment, f, c)
		if err != nil {
			return RecordResult{}, err
		}
		id = lv.ID
	} else {
		t, err := o.createTransfer(ctx, *r.Transfer, f, c)
		if err != nil {
			return RecordResult{}, err
		}
		id = t.ID
	}
	if _, err := o.ExecContext(ctx, `INSERT INTO source_records
		(source_name, resource, source_id, entity_id, fingerprint, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		r.Source.Name, kind, r.Source.ID, id, fp, o.nowText); err != nil {
		return RecordResult{}, fmt.Errorf("remember source record: %w", interpretError(err))
	}
	return RecordResult{Outcome: OutcomeCreated, ID: id}, nil
}

// recordScope is the idempotency scope of a source's own record keys.
func recordScope(source string) string { return "source:" + source }

// recordReplay returns the stored result of a record whose idempotency key
// was seen before from its source.
func (o opCtx) recordReplay(ctx context.Context, r *SourceRecord, kind, fp string) (RecordResult, bool, error) {
	var op, storedFP, stored string
	err := o.QueryRowContext(ctx, `SELECT operation, fingerprint, result FROM idempotency_keys
		WHERE scope = ? AND request_id = ?`, recordScope(r.Source.Name), r.IdempotencyKey).Scan(&op, &storedFP, &stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return RecordResult{}, false, nil
	case err != nil:
		return RecordResult{}, false, fmt.Errorf("look up idempotency key: %w", err)
	case op != "record."+kind || storedFP != fp:
		return RecordResult{}, true, &ConflictError{
			Message: fmt.Sprintf("idempotency key %q of %s was already used for another document", r.IdempotencyKey, r.Source.Name),
			Fields:  map[string]string{"idempotency_key": "was already used for another document"},
		}
	}
	var res RecordResult
	if err := json.Unmarshal([]byte(stored), &res); err != nil {
		return RecordResult{}, false, fmt.Errorf("decode stored record result: %w", err)
	}
	res.Replayed = true
	return res, true, nil
}

func (o opCtx) rememberRecord(ctx context.Context, r *SourceRecord, kind, fp string, res RecordResult) error {
	b, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode record result: %w", err)
	}
	if _, err := o.ExecContext(ctx, `INSERT INTO idempotency_keys
		(scope, request_id, operation, fingerprint, result, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		recordScope(r.Source.Name), r.IdempotencyKey, "record."+kind, fp, string(b), "source:"+r.Source.Name, o.nowText); err != nil {
		return fmt.Errorf("store record result: %w", interpretError(err))
	}
	return nil
}

// Check runs the record's own checks (sizes, required fields, quantities;
// no database), as UpsertRecords does first, and returns the refusal, or
// nil when the record passes them.
func (r SourceRecord) Check() *RecordResult {
	_, _, err := r.check()
	if err == nil {
		return nil
	}
	res, ok := refusal(err)
	if !ok {
		res = RecordResult{Outcome: OutcomeRefused, Message: err.Error()}
	}
	return &res
}

// newEntityID returns a new entity id: a time-ordered UUID (version 7),
// so that rows created together sit together in the primary key index
// and a batch of inserts touches a few pages at its end rather than one
// random page per row.
func newEntityID() string {
	u, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return u.String()
}
