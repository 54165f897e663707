package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"sentryhub/canonjson"
)

// OpMeta identifies the request behind a write operation.
type OpMeta struct {
	// RequestID is the caller's idempotency key (the X-Request-ID header), a
	// UUID. It becomes the source_txn_id of every event the operation
	// appends. Empty means a fresh random id, i.e. no idempotency.
	RequestID string
	// Scope is whose key RequestID is: the caller ("token:<id>",
	// "user:<id>") for the HTTP API; empty for the hub's own writes
	// (connectors, the demo). Keys are unique per scope, so another
	// caller's key is a new key, never a replay of someone else's result.
	Scope string
	// Actor names who asked (token name, user email, connector), kept with
	// the idempotency record.
	Actor string
}

// Result is what a warehouse write operation returns.
//
// Idempotency: the first successful application of (Scope, RequestID)
// stores this Result (as JSON, in the same transaction as the change) with
// the operation and a fingerprint of its input. When the same scope sends
// the same RequestID again for the same operation with the same input,
// nothing is written, no event is appended, and the stored Result is
// returned with Replayed set: Value is the entity as the first application
// returned it (not its current state), and EventIDs and Created are the first
// application's, so the HTTP layer can send the identical response (status
// from Created, body from Value). The same scope and RequestID with another
// operation or input is refused with an *IdempotencyConflictError.
type Result[T any] struct {
	Value T `json:"value"`
	// EventIDs are the events the operation appended, in order; empty when it
	// appended none (creates, upserts, a cycle count that matched).
	EventIDs []int64 `json:"event_ids"`
	// Created is true when the operation inserted a new entity (HTTP 201).
	Created bool `json:"created"`
	// SourceTxnID is the normalized request id (generated when
	// OpMeta.RequestID was empty): the events' source_txn_id.
	SourceTxnID string `json:"source_txn_id"`
	// Replayed is true when this is a stored first result (see above).
	Replayed bool `json:"-"`
}

// ConflictError reports a request that is valid on its own but conflicts
// with the current state: a transition not allowed from the entity's status,
// stock that would go below zero, receiving more than ordered, a taken
// unique key. Fields names the offending input fields when there are any.
// It wraps ErrConflict (HTTP 409).
type ConflictError struct {
	Message string
	Fields  map[string]string
	// Err is the driver's unique-constraint error when the conflict was
	// found by SQLite rather than by a check of our own; it stays out of
	// Message (driver text never reaches a client) but errors.As finds it.
	Err error
}

func (e *ConflictError) Error() string { return e.Message }

// Unwrap lets errors.Is(err, ErrConflict) match, and errors.As reach Err.
func (e *ConflictError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrConflict}
	}
	return []error{ErrConflict, e.Err}
}

// Limits on input sizes.
const (
	maxCodeLen  = 64
	maxNameLen  = 200
	maxRefLen   = 200 // skus, order numbers, barcodes, source names and ids
	maxLines    = 1000
	maxQty      = 1_000_000_000
	maxShipToKB = 16
)

// fieldErrs collects problems by field name, keeping the first per field.
type fieldErrs map[string]string

func (f fieldErrs) add(field, msg string) {
	if _, ok := f[field]; !ok {
		f[field] = msg
	}
}

// message joins the problems in field order after prefix, so the message
// alone names what is wrong.
func (f fieldErrs) message(prefix string) string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(prefix)
	for i, k := range keys {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(k + " " + f[k])
	}
	return b.String()
}

// invalid returns a *ValidationError for the collected problems, or nil.
func (f fieldErrs) invalid(prefix string) error {
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Message: f.message(prefix), Fields: f}
}

// conflict returns a *ConflictError for the collected problems, or nil.
func (f fieldErrs) conflict(prefix string) error {
	if len(f) == 0 {
		return nil
	}
	return &ConflictError{Message: f.message(prefix), Fields: f}
}

// checkText validates a short identifier or name.
func (f fieldErrs) checkText(field, v string, maxLen int, required bool) {
	switch {
	case v == "":
		if required {
			f.add(field, "is required")
		}
	case len(v) > maxLen:
		f.add(field, "must be at most "+strconv.Itoa(maxLen)+" bytes")
	case !utf8.ValidString(v):
		f.add(field, "must be valid UTF-8")
	case strings.TrimSpace(v) != v:
		f.add(field, "must not start or end with whitespace")
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		f.add(field, "must not contain control characters")
	}
}

func (f fieldErrs) checkQty(field string, q int64) {
	if q < 1 || q > maxQty {
		f.add(field, "must be between 1 and "+strconv.Itoa(maxQty))
	}
}

func (f fieldErrs) checkWarehouseID(field string, id int64) {
	if id <= 0 {
		f.add(field, "must be a warehouse id")
	}
}

func (f fieldErrs) checkSource(src *SourceRef) {
	if src == nil {
		return
	}
	f.checkText("source.name", src.Name, maxRefLen, true)
	f.checkText("source.id", src.ID, maxRefLen, true)
}

// checkLines validates order lines: at least one, each with a sku and a
// positive quantity, each sku once (callers merge repeated skus, so every
// later step can key lines by sku).
func (f fieldErrs) checkLines(lines []OrderLine) {
	if len(lines) == 0 {
		f.add("lines", "must list at least one line")
		return
	}
	if len(lines) > maxLines {
		f.add("lines", "must list at most "+strconv.Itoa(maxLines)+" lines")
		return
	}
	seen := make(map[string]int, len(lines))
	for i, l := range lines {
		p := "lines[" + strconv.Itoa(i) + "]."
		f.checkText(p+"sku", l.SKU, maxRefLen, true)
		f.checkQty(p+"qty", l.Qty)
		if j, dup := seen[l.SKU]; dup && l.SKU != "" {
			f.add(p+"sku", "repeats the sku of lines["+strconv.Itoa(j)+"]; combine them")
		}
		seen[l.SKU] = i
	}
}

// SourceRef names an entity in the system of record it came from. It is
// unique per source, so a re-sync upserts instead of duplicating.
type SourceRef struct {
	Name string `json:"name"` // the connector or system, like "shopify"
	ID   string `json:"id"`   // the entity's id there
}

// OrderLine is a quantity of one sku: a sales order or transfer line, or a
// line of a receipt.
type OrderLine struct {
	SKU string `json:"sku"`
	Qty int64  `json:"qty"`
}

// querier is what reads need from *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// normalizeRequestID returns the request id in canonical form, or a new one.
func normalizeRequestID(id string) (string, error) {
	if id == "" {
		return uuid.NewString(), nil
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return "", &ValidationError{Message: "invalid request id: must be a UUID",
			Fields: map[string]string{"request_id": "must be a UUID"}}
	}
	return u.String(), nil
}

// parseEntityID normalizes an entity UUID. An id that is not a UUID cannot
// exist, so it is reported as not found.
func parseEntityID(kind, id string) (string, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", fmt.Errorf("%s %q: %w", kind, id, ErrNotFound)
	}
	return u.String(), nil
}

// opCtx is what an operation body gets: its transaction and the request's
// source_txn_id.
type opCtx struct {
	*writeTx
	txnID string
}

// runOp runs one idempotent operation in one write transaction. It looks up
// (scope, request id) first and returns the stored Result when it was the
// same operation with the same input (the fingerprint: input holds the
// path's ids as well as the body), refuses the key when it was another;
// otherwise it runs fn, stores its Result and commits.
// Errors of the operation's own making (*ValidationError, *ConflictError,
// ErrNotFound) are returned as they are, since their messages are complete;
// anything else is wrapped with the operation name.
func runOp[T any](ctx context.Context, db *DB, meta OpMeta, op string, input any,
	fn func(ctx context.Context, o opCtx) (T, bool, error)) (Result[T], error) {
	txnID, err := normalizeRequestID(meta.RequestID)
	if err != nil {
		return Result[T]{}, err
	}
	in, err := json.Marshal(input)
	if err != nil {
		return Result[T]{}, fmt.Errorf("%s: fingerprint request: %w", op, err)
	}
	sum := sha256.Sum256(in)
	hash := hex.EncodeToString(sum[:])

	var res Result[T]
	_, err = db.update(ctx, func(w *writeTx) error {
		var storedOp, storedHash, stored string
		err := w.QueryRowContext(ctx, `SELECT operation, fingerprint, result FROM idempotency_keys
			WHERE scope = ? AND request_id = ?`, meta.Scope, txnID).Scan(&storedOp, &storedHash, &stored)
		switch {
		case err == nil:
			if storedOp != op || storedHash != hash {
				return &IdempotencyConflictError{RequestID: txnID, FirstOperation: storedOp, Operation: op}
			}
			if err := json.Unmarshal([]byte(stored), &res); err != nil {
				return fmt.Errorf("decode stored result: %w", err)
			}
			res.Replayed = true
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("look up request id: %w", err)
		}

		v, created, err := fn(ctx, opCtx{writeTx: w, txnID: txnID})
		if err != nil {
			return err
		}
		res = Result[T]{Value: v, EventIDs: append([]int64{}, w.eventIDs...), Created: created, SourceTxnID: txnID}
		// No HTML escaping, so stored JSON values (ship_to) replay byte for byte.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		if _, err := w.ExecContext(ctx, `INSERT INTO idempotency_keys
			(scope, request_id, operation, fingerprint, result, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			meta.Scope, txnID, op, hash, buf.String(), meta.Actor, w.nowText); err != nil {
			return fmt.Errorf("store result: %w", interpretError(err))
		}
		return nil
	})
	if err != nil {
		var ve *ValidationError
		var ce *ConflictError
		var ie *IdempotencyConflictError
		if errors.As(err, &ve) || errors.As(err, &ce) || errors.As(err, &ie) || errors.Is(err, ErrNotFound) {
			return Result[T]{}, err
		}
		return Result[T]{}, fmt.Errorf("%s: %w", op, err)
	}
	return res, nil
}

// Warehouse is a site holding stock. Its id is a small integer.
type Warehouse struct {
	ID        int64     `json:"id"`
	Code      string    `json:"code"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// WarehouseInput is the body of CreateWarehouse.
type WarehouseInput struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// CreateWarehouse adds a warehouse. A bad code or name gives a
// *ValidationError; a code in use gives a *ConflictError.
func (db *DB) CreateWarehouse(ctx context.Context, meta OpMeta, in WarehouseInput) (Result[Warehouse], error) {
	f := fieldErrs{}
	f.checkText("code", in.Code, maxCodeLen, true)
	f.checkText("name", in.Name, maxNameLen, true)
	if err := f.invalid("invalid warehouse"); err != nil {
		return Result[Warehouse]{}, err
	}
	return runOp(ctx, db, meta, "warehouse.create", in, func(ctx context.Context, o opCtx) (Warehouse, bool, error) {
		var taken int64
		err := o.QueryRowContext(ctx, `SELECT id FROM warehouses WHERE code = ?`, in.Code).Scan(&taken)
		if err == nil {
			return Warehouse{}, false, &ConflictError{
				Message: fmt.Sprintf("warehouse code %q is taken by warehouse %d", in.Code, taken),
				Fields:  map[string]string{"code": "is taken"},
			}
		} else if !errors.Is(err, sql.ErrNoRows) {
			return Warehouse{}, false, err
		}
		res, err := o.ExecContext(ctx, `INSERT INTO warehouses (code, name, created_at) VALUES (?, ?, ?)`,
			in.Code, in.Name, o.nowText)
		if err != nil {
			return Warehouse{}, false, interpretError(err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return Warehouse{}, false, err
		}
		return Warehouse{ID: id, Code: in.Code, Name: in.Name, CreatedAt: o.now}, true, nil
	})
}

// ListWarehouses returns every warehouse by id.
func (db *DB) ListWarehouses(ctx context.Context) ([]Warehouse, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, code, name, created_at FROM warehouses ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list warehouses: %w", err)
	}
	defer rows.Close()
	out := []Warehouse{}
	for rows.Next() {
		var w Warehouse
		var created string
		if err := rows.Scan(&w.ID, &w.Code, &w.Name, &created); err != nil {
			return nil, fmt.Errorf("list warehouses: %w", err)
		}
		if w.CreatedAt, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("list warehouses: %w", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list warehouses: %w", err)
	}
	return out, nil
}

// checkWarehouseExists adds a field error when warehouse id does not exist.
func checkWarehouseExists(ctx context.Context, q querier, f fieldErrs, field string, id int64) error {
	if id <= 0 {
		return nil // already reported by checkWarehouseID
	}
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM warehouses WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		f.add(field, "names unknown warehouse "+strconv.FormatInt(id, 10))
		return nil
	}
	return err
}

// checkSKUsExist adds a field error per line whose sku is not a known item.
func checkSKUsExist(ctx context.Context, q querier, f fieldErrs, lines []OrderLine) error {
	for i, l := range lines {
		if err := checkSKUExists(ctx, q, f, "lines["+strconv.Itoa(i)+"].sku", l.SKU); err != nil {
			return err
		}
	}
	return nil
}

func checkSKUExists(ctx context.Context, q querier, f fieldErrs, field, sku string) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM items WHERE sku = ?`, sku).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		f.add(field, fmt.Sprintf("names unknown sku %q", sku))
		return nil
	}
	return err
}

// Item is a stock-keeping unit.
type Item struct {
	ID        string     `json:"id"`
	SKU       string     `json:"sku"`
	Name      string     `json:"name"`
	Barcode   string     `json:"barcode"`
	Source    *SourceRef `json:"source,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// ItemInput is the body of UpsertItem.
type ItemInput struct {
	SKU     string `json:"sku"`
	Name    string `json:"name"`
	Barcode string `json:"barcode"`
}

func (in ItemInput) check(f fieldErrs) {
	f.checkText("sku", in.SKU, maxRefLen, true)
	f.checkText("name", in.Name, maxNameLen, true)
	f.checkText("barcode", in.Barcode, maxRefLen, false)
}

// UpsertItem creates the item with in.SKU or updates its name and barcode
// (Result.Created tells which). Bad input gives a *ValidationError.
func (db *DB) UpsertItem(ctx context.Context, meta OpMeta, in ItemInput) (Result[Item], error) {
	f := fieldErrs{}
	in.check(f)
	if err := f.invalid("invalid item"); err != nil {
		return Result[Item]{}, err
	}
	return runOp(ctx, db, meta, "item.upsert", in, func(ctx context.Context, o opCtx) (Item, bool, error) {
		it, err := getItem(ctx, o, `sku = ?`, in.SKU)
		switch {
		case errors.Is(err, ErrNotFound):
			return o.insertItem(ctx, in, nil)
		case err != nil:
			return Item{}, false, err
		}
		return o.updateItem(ctx, it, in, it.Source)
	})
}

// UpsertItemBySource creates or updates the item a connector knows as src,
// so re-syncs never duplicate it. An item created earlier by hand with the
// same sku is adopted (src is attached to it). A sku that would change, or
// that belongs to an item from another source, gives a *ConflictError.
func (db *DB) UpsertItemBySource(ctx context.Context, meta OpMeta, src SourceRef, in ItemInput) (Result[Item], error) {
	f := fieldErrs{}
	in.check(f)
	f.checkSource(&src)
	if err := f.invalid("invalid item"); err != nil {
		return Result[Item]{}, err
	}
	input := struct {
		Source SourceRef
		Item   ItemInput
	}{src, in}
	return runOp(ctx, db, meta, "item.upsert_by_source", input, func(ctx context.Context, o opCtx) (Item, bool, error) {
		it, out, err := o.upsertItemBySource(ctx, src, in)
		return it, out == OutcomeCreated, err
	})
}

// upsertItemBySource is the body of UpsertItemBySource and of an item
// record of UpsertRecords. An item equal to the input is left alone
// (OutcomeUnchanged). Items belong to no warehouse, so they append no
// event.
func (o opCtx) upsertItemBySource(ctx context.Context, src SourceRef, in ItemInput) (Item, Outcome, error) {
	it, err := getItem(ctx, o, `source_name = ? AND source_id = ?`, src.Name, src.ID)
	switch {
	case err == nil:
		if it.SKU != in.SKU {
			return Item{}, "", &ConflictError{
				Message: fmt.Sprintf("item %s/%s has sku %q; a sku cannot change", src.Name, src.ID, it.SKU),
				Fields:  map[string]string{"sku": "differs from the item's sku " + strconv.Quote(it.SKU)},
			}
		}
		if it.Name == in.Name && it.Barcode == in.Barcode {
			return it, OutcomeUnchanged, nil
		}
		it, _, err = o.updateItem(ctx, it, in, &src)
		return it, OutcomeUpdated, err
	case !errors.Is(err, ErrNotFound):
		return Item{}, "", err
	}
	it, err = getItem(ctx, o, `sku = ?`, in.SKU)
	switch {
	case errors.Is(err, ErrNotFound):
		it, _, err = o.insertItem(ctx, in, &src)
		return it, OutcomeCreated, err
	case err != nil:
		return Item{}, "", err
	case it.Source != nil:
		return Item{}, "", &ConflictError{
			Message: fmt.Sprintf("sku %q belongs to item %s/%s", in.SKU, it.Source.Name, it.Source.ID),
			Fields:  map[string]string{"sku": "belongs to an item from another source"},
		}
	}
	it, _, err = o.updateItem(ctx, it, in, &src)
	return it, OutcomeUpdated, err
}

func (o opCtx) insertItem(ctx context.Context, in ItemInput, src *SourceRef) (Item, bool, error) {
	it := Item{ID: newEntityID(), SKU: in.SKU, Name: in.Name, Barcode: in.Barcode,
		Source: src, CreatedAt: o.now, UpdatedAt: o.now}
	name, sid := sourceArgs(src)
	if _, err := o.ExecContext(ctx, `INSERT INTO items
		(id, sku, name, barcode, source_name, source_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		it.ID, it.SKU, it.Name, it.Barcode, name, sid, o.nowText, o.nowText); err != nil {
		return Item{}, false, interpretError(err)
	}
	return it, true, nil
}

func (o opCtx) updateItem(ctx context.Context, it Item, in ItemInput, src *SourceRef) (Item, bool, error) {
	it.Name, it.Barcode, it.Source, it.UpdatedAt = in.Name, in.Barcode, src, o.now
	name, sid := sourceArgs(src)
	if _, err := o.ExecContext(ctx, `UPDATE items SET name = ?, barcode = ?,
		source_name = ?, source_id = ?, updated_at = ? WHERE id = ?`,
		it.Name, it.Barcode, name, sid, o.nowText, it.ID); err != nil {
		return Item{}, false, interpretError(err)
	}
	return it, false, nil
}

func sourceArgs(src *SourceRef) (any, any) {
	if src == nil {
		return nil, nil
	}
	return src.Name, src.ID
}

func scanSource(name, id sql.NullString) *SourceRef {
	if !name.Valid {
		return nil
	}
	return &SourceRef{Name: name.String, ID: id.String}
}

// GetItem returns the item with sku, or ErrNotFound.
func (db *DB) GetItem(ctx context.Context, sku string) (Item, error) {
	it, err := getItem(ctx, db.r, `sku = ?`, sku)
	if err != nil {
		return Item{}, fmt.Errorf("item %q: %w", sku, err)
	}
	return it, nil
}

func getItem(ctx context.Context, q querier, where string, args ...any) (Item, error) {
	var it Item
	var srcName, srcID sql.NullString
	var created, updated string
	err := q.QueryRowContext(ctx, `SELECT id, sku, name, barcode, source_name, source_id,
		created_at, updated_at FROM items WHERE `+where, args...).
		Scan(&it.ID, &it.SKU, &it.Name, &it.Barcode, &srcName, &srcID, &created, &updated)
	if err != nil {
		return Item{}, interpretError(err)
	}
	it.Source = scanSource(srcName, srcID)
	if it.CreatedAt, err = parseTime(created); err != nil {
		return Item{}, err
	}
	if it.UpdatedAt, err = parseTime(updated); err != nil {
		return Item{}, err
	}
	return it, nil
}

// canonicalObject returns raw as a canonical JSON object, or a field error.
func canonicalObject(f fieldErrs, field string, raw json.RawMessage, maxKB int) []byte {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		f.add(field, "is required")
		return nil
	}
	if len(raw) > maxKB<<10 {
		f.add(field, "must be at most "+strconv.Itoa(maxKB)+" KiB")
		return nil
	}
	b, err := canonjson.Canonicalize(raw)
	if err != nil || len(b) == 0 || b[0] != '{' {
		f.add(field, "must be a JSON object")
		return nil
	}
	return b
}

// optTime formats an optional timestamp for storage.
func optTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

// scanOptTime parses an optional stored timestamp.
func scanOptTime(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := parseTime(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}
