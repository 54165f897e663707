package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"sentryhub/assets"
	"sentryhub/store"
	"sentryhub/store/storetest"
)

// whEnv is a migrated database in a temporary directory with two
// warehouses (ids 1 and 2) and three items, and a clock that ticks one
// millisecond per reading.
type whEnv struct {
	tb  testing.TB
	ctx context.Context
	db  *store.DB
	wh1 int64
	wh2 int64
}

// whEpoch is the fake clock's start; its milliseconds are not zero so the
// envelope's .000 padding and real fractions are both exercised.
var whEpoch = time.Date(2026, 5, 2, 14, 22, 7, 413_000_000, time.UTC)

func newWHEnv(tb testing.TB) *whEnv {
	tb.Helper()
	ctx := context.Background()
	db := storetest.Open(tb, filepath.Join(tb.TempDir(), "sentryhub.db"), store.WithAuditKey(store.DeriveAuditKey([]byte("test"))),
		// The least argon2id cost: these tests are not about guessing cost.
		store.WithPasswordHashing(store.PasswordHashing{MemoryKiB: 8, Threads: 1}))
	var ticks atomic.Int64
	db.Now = func() time.Time { return whEpoch.Add(time.Duration(ticks.Add(1)-1) * time.Millisecond) }
	e := &whEnv{tb: tb, ctx: ctx, db: db}
	e.wh1 = e.mustWarehouse("W1", "Main warehouse")
	e.wh2 = e.mustWarehouse("W2", "Overflow")
	for _, it := range []store.ItemInput{
		{SKU: "WIDGET-1", Name: "Widget"},
		{SKU: "GADGET-9", Name: "Gadget", Barcode: "0123456789012"},
		{SKU: "BÜGEL-7", Name: "Bügel «Zürich» 🧲"},
	} {
		if _, err := db.UpsertItem(ctx, e.meta(), it); err != nil {
			tb.Fatal(err)
		}
	}
	return e
}

func (e *whEnv) meta() store.OpMeta {
	return store.OpMeta{RequestID: uuid.NewString(), Actor: "test"}
}

func (e *whEnv) mustWarehouse(code, name string) int64 {
	e.tb.Helper()
	r, err := e.db.CreateWarehouse(e.ctx, e.meta(), store.WarehouseInput{Code: code, Name: name})
	if err != nil {
		e.tb.Fatal(err)
	}
	return r.Value.ID
}

// stock adjusts the stock of sku in wh by delta through the real operation.
func (e *whEnv) stock(wh int64, sku string, delta int64) {
	e.tb.Helper()
	if _, err := e.db.ApplyAdjustment(e.ctx, e.meta(), store.AdjustmentInput{
		WarehouseID: wh, SKU: sku, Delta: delta, Reason: "test setup"}); err != nil {
		e.tb.Fatal(err)
	}
}

func (e *whEnv) onHand(wh int64, sku string) int64 {
	e.tb.Helper()
	ls, err := e.db.ListInventory(e.ctx, store.InventoryFilter{WarehouseID: wh, SKU: sku})
	if err != nil {
		e.tb.Fatal(err)
	}
	if len(ls) == 0 {
		return 0
	}
	return ls[0].OnHand
}

func (e *whEnv) order(number string, wh int64, lines ...store.OrderLine) store.SalesOrder {
	e.tb.Helper()
	r, err := e.db.CreateSalesOrder(e.ctx, e.meta(), store.SalesOrderInput{
		OrderNumber: number, WarehouseID: wh, Lines: lines,
		ShipTo: json.RawMessage(`{"name":"Ada Lovelace","city":"London","country":"GB"}`)})
	if err != nil {
		e.tb.Fatal(err)
	}
	return r.Value
}

// advance takes an order through pick, pack and ship until it has status.
func (e *whEnv) advance(so store.SalesOrder, status store.SalesOrderStatus) {
	e.tb.Helper()
	steps := []struct {
		status store.SalesOrderStatus
		do     func() error
	}{
		{store.SalesOrderPicked, func() error { _, err := e.db.PickSalesOrder(e.ctx, e.meta(), so.ID); return err }},
		{store.SalesOrderPacked, func() error { _, err := e.db.PackSalesOrder(e.ctx, e.meta(), so.ID); return err }},
		{store.SalesOrderShipped, func() error {
			_, err := e.db.ShipSalesOrder(e.ctx, e.meta(), so.ID, store.ShipInput{Carrier: "UPS", Tracking: "1Z"})
			return err
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			e.tb.Fatal(err)
		}
		if s.status == status {
			return
		}
	}
}

func (e *whEnv) purchaseOrder(number string, wh int64, lines ...store.OrderLine) store.PurchaseOrder {
	e.tb.Helper()
	r, err := e.db.CreatePurchaseOrder(e.ctx, e.meta(), store.PurchaseOrderInput{
		PONumber: number, WarehouseID: wh, Supplier: "Acme", Lines: lines})
	if err != nil {
		e.tb.Fatal(err)
	}
	return r.Value
}

func (e *whEnv) transfer(from, to int64, lines ...store.OrderLine) store.Transfer {
	e.tb.Helper()
	r, err := e.db.CreateTransfer(e.ctx, e.meta(), store.TransferInput{
		FromWarehouseID: from, ToWarehouseID: to, Lines: lines})
	if err != nil {
		e.tb.Fatal(err)
	}
	return r.Value
}

func (e *whEnv) latestEventID() int64 {
	e.tb.Helper()
	id, err := e.db.LatestEventID(e.ctx)
	if err != nil {
		e.tb.Fatal(err)
	}
	return id
}

func (e *whEnv) event(id int64) store.Event {
	e.tb.Helper()
	evs, _, err := e.db.ListEvents(e.ctx, store.EventQuery{After: id - 1, Limit: 1})
	if err != nil {
		e.tb.Fatal(err)
	}
	if len(evs) != 1 || evs[0].ID != id {
		e.tb.Fatalf("event %d not found (got %v)", id, evs)
	}
	return evs[0]
}

// dump renders every row of the warehouse and outbox tables, to prove a
// refused operation wrote nothing.
func (e *whEnv) dump() string {
	e.tb.Helper()
	var b strings.Builder
	for _, table := range []string{"warehouses", "items", "inventory_levels", "sales_orders",
		"sales_order_lines", "purchase_orders", "purchase_order_lines", "transfers", "transfer_lines",
		"cycle_counts", "idempotency_keys", "integration_events", "sqlite_sequence"} {
		rows, err := e.db.Reader().QueryContext(e.ctx, "SELECT * FROM "+table+" ORDER BY 1, 2")
		if err != nil {
			e.tb.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				e.tb.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %q\n", table, vals)
		}
		if err := rows.Err(); err != nil {
			e.tb.Fatal(err)
		}
		rows.Close()
	}
	return b.String()
}

// catalogEntry is one element of assets/schemas/catalog.json.
type catalogEntry struct {
	Type          string `json:"type"`
	Versions      []int  `json:"versions"`
	AggregateType string `json:"aggregate_type"`
}

// eventSchemas compiles every schema of the catalog from the embedded
// files, keyed by event type, and returns the catalog's aggregate types.
func eventSchemas(tb testing.TB) (map[string]*jsonschema.Schema, map[string]string) {
	tb.Helper()
	raw, err := fs.ReadFile(assets.Schemas, "schemas/catalog.json")
	if err != nil {
		tb.Fatal(err)
	}
	var catalog []catalogEntry
	if err := json.Unmarshal(raw, &catalog); err != nil {
		tb.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	schemas := map[string]*jsonschema.Schema{}
	aggs := map[string]string{}
	for _, ce := range catalog {
		for _, v := range ce.Versions {
			name := fmt.Sprintf("schemas/%s/%d.json", ce.Type, v)
			b, err := fs.ReadFile(assets.Schemas, name)
			if err != nil {
				tb.Fatal(err)
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				tb.Fatalf("%s: %v", name, err)
			}
			url := "https://sentryhub.invalid/" + name
			if err := c.AddResource(url, doc); err != nil {
				tb.Fatal(err)
			}
			sch, err := c.Compile(url)
			if err != nil {
				tb.Fatalf("compile %s: %v", name, err)
			}
			schemas[ce.Type] = sch
		}
		aggs[ce.Type] = ce.AggregateType
	}
	return schemas, aggs
}

// validateData checks data against the event type's schema.
func validateData(tb testing.TB, schemas map[string]*jsonschema.Schema, eventType string, data []byte) {
	tb.Helper()
	sch, ok := schemas[eventType]
	if !ok {
		tb.Fatalf("no schema for %s", eventType)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		tb.Errorf("%s data %s does not validate: %v", eventType, data, err)
	}
}

// errFields returns the Fields of a *ValidationError or *ConflictError.
func errFields(err error) map[string]string {
	var ve *store.ValidationError
	var ce *store.ConflictError
	switch {
	case errors.As(err, &ve):
		return ve.Fields
	case errors.As(err, &ce):
		return ce.Fields
	}
	return nil
}

// countRows counts the rows of table.
func countRows(tb testing.TB, db *store.DB, table string) int {
	tb.Helper()
	var n int
	if err := db.Reader().QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil && !errors.Is(err, sql.ErrNoRows) {
		tb.Fatal(err)
	}
	return n
}

func jsonschemaUnmarshal(s string) (any, error) {
	return jsonschema.UnmarshalJSON(strings.NewReader(s))
}
