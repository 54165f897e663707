package store_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"sentryhub/store"
)

func line(sku string, qty int64) store.OrderLine { return store.OrderLine{SKU: sku, Qty: qty} }

// TestOperationEvents runs each event-emitting operation and checks its
// state change and the one event it appended: envelope fields, canonical
// data, and data valid against the event type's schema.
func TestOperationEvents(t *testing.T) {
	schemas, aggs := eventSchemas(t)
	type stockWant struct {
		wh  int64
		sku string
		qty int64
	}
	tests := []struct {
		name string
		// run performs setup with its own request ids, then the operation
		// under test with meta, and returns the event ids that operation
		// reported and the aggregate id its event must carry.
		run       func(t *testing.T, e *whEnv, meta store.OpMeta) (ids []int64, aggID string)
		wantType  string
		wantWH    int64
		wantData  string
		wantStock []stockWant
	}{
		{
			name: "pick",
			run: func(t *testing.T, e *whEnv, meta store.OpMeta) ([]int64, string) {
				so := e.order("SO-1", e.wh1, line("WIDGET-1", 2), line("GADGET-9", 1))
				r, err := e.db.PickSalesOrder(e.ctx, meta, so.ID)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := e.db.GetSalesOrder(e.ctx, so.ID)
				if got.Status != store.SalesOrderPicked || got.PickedAt == nil || r.Value.Status != store.SalesOrderPicked {
					t.Errorf("after pick: %+v", got)
				}
				return r.EventIDs, so.ID
			},
			wantType: store.EventPickConfirmed, wantWH: 1,
			wantData: `{"lines":[{"qty":2,"sku":"WIDGET-1"},{"qty":1,"sku":"GADGET-9"}],"order_number":"SO-1"}`,
		},
		{
			name: "pack",
			run: func(t *testing.T, e *whEnv, meta store.OpMeta) ([]int64, string) {
				so := e.order("SO-2", e.wh1, line("GADGET-9", 3))
				e.advance(so, store.SalesOrderPicked)
				r, err := e.db.PackSalesOrder(e.ctx, meta, so.ID)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := e.db.GetSalesOrder(e.ctx, so.ID)
				if got.Status != store.SalesOrderPacked || got.PackedAt == nil {
					t.Errorf("after pack: %+v", got)
				}
				return r.EventIDs, so.ID
			},
			wantType: store.EventPackConfirmed, wantWH: 1,
			wantData: `{"lines":[{"qty":3,"sku":"GADGET-9"}],"order_number":"SO-2"}`,
		},
		{
			name: "ship takes stock",
			run: func(t *testing.T, e *whEnv, meta store.OpMeta) ([]int64, string) {
				e.stock(e.wh1, "WIDGET-1", 5)
				e.stock(e.wh1, "GADGET-9", 1)
				e.stock(e.wh2, "WIDGET-1", 9)
				so := e.order("SO-1001", e.wh1, line("WIDGET-1", 2), line("GADGET-9", 1))
				e.advance(so, store.SalesOrderPacked)
				r, err := e.db.ShipSalesOrder(e.ctx, meta, so.ID,
					store.ShipInput{Carrier: "UPS", Tracking: "1Z999AA10123456784"})
				if err != nil {
					t.Fatal(err)
				}
				got, _ := e.db.GetSalesOrder(e.ctx, so.ID)
				if got.Status != store.SalesOrderShipped || got.ShippedAt == nil ||
					got.Carrier != "UPS" || got.Tracking != "1Z999AA10123456784" {
					t.Errorf("after ship: %+v", got)
				}
				return r.EventIDs, so.ID
			},
			wantType: store.EventShipConfirmed, wantWH: 1,
			// The contract's example envelope's data, byte for byte.
			wantData:  `{"carrier":"UPS","lines":[{"qty":2,"sku":"WIDGET-1"},{"qty":1,"sku":"GADGET-9"}],"order_number":"SO-1001","tracking":"1Z999AA10123456784"}`,
			wantStock: []stockWant{{1, "WIDGET-1", 3}, {1, "GADGET-9", 0}, {2, "WIDGET-1", 9}},
		},
		{
			name: "ship escapes non-ASCII data",
			run: func(t *testing.T, e *whEnv, meta store.OpMeta) ([]int64, string) {
				e.stock(e.wh2, "BÜGEL-7", 4)
				so := e.order("SO-Zürich-€", e.wh2, line("BÜGEL-7", 4))
				e.advance(so, store.SalesOrderPacked)
				r, err := e.db.ShipSalesOrder(e.ctx, meta, so.ID, store.ShipInput{Carrier: "Post 🚚"})
				if err != nil {
					t.Fatal(err)
				}
				return r.EventIDs, so.ID
			},
			wantType: store.EventShipConfirmed, wantWH: 2,
			wantData:  `{"carrier":"Post \ud83d\ude9a","lines":[{"qty":4,"sku":"B\u00dcGEL-7"}],"order_number":"SO-Z\u00fcrich-\u20ac","tracking":""}`,
			wantStock: []stockWant{{2, "BÜGEL-7", 0}},
		},
		{
			name: "partial receipt",
			run: func(t *testing.T, e *whEnv, meta store.OpMeta) ([]int64, string) {
				e.stock(e.wh1, "WIDGET-1", 1)
				po := e.purchaseOrder("PO-1", e.wh1, line("WIDGET-1", 10), line("GADGET-9", 4))
				r, err := e.db.ReceivePurchaseOrder(e.ctx, meta, po.ID,
					store.ReceiptInput{Lines: []store.OrderLine{line("WIDGET-1", 6)}})
				if err != nil {
					t.Fatal(err)
				}
				got, _ := e.db.GetPurchaseOrder(e.ctx, po.ID)
				if got.Status != store.PurchaseOrderPartiallyReceived || got.Lines[0].QtyReceived != 6 ||
					got.Lines[1].QtyReceived != 0 {
					t.Errorf("after receipt: %+v", got)
				}
				return r.EventIDs, po.ID
			},
			wantType: store.EventReceiptCompleted, wantWH: 1,
			wantData:  `{"lines":[{"qty":6,"sku":"WIDGET-1"}],"po_number":"PO-1","status":"partially_received"}`,
			wantStock: []stockWant{{1, "WIDGET-1", 7}, {1, "GADGET-9", 0}},
		},
		{
			name: "final receipt",
			run: func(t *testing.T, e *whEnv, meta store.OpMeta) ([]int64, string) {
				po := e.purchaseOrder("PO-2", e.wh2, line("WIDGET-1", 10), line("GADGET-9", 4))
				if _, err := e.db.ReceivePurchaseOrder(e.ctx, e.meta(), po.ID,
					store.ReceiptInput{Lines: []store.OrderLine{line("WIDGET-1", 6)}}); err != nil {
					t.Fatal(err)
				}
				r, err := e.db.ReceivePurchaseOrder(e.ctx, meta, po.ID,
					store.ReceiptInput{Lines: []store.OrderLine{line("GADGET-9", 4), line("WIDGET-1", 4)}})
				if err != nil {
					t.Fatal(err)
				}
				if r.Value.Status != store.PurchaseOrderReceived {
					t.Errorf("status %s, want received", r.Value.Status)
				}
				return r.EventIDs, po.ID
			},
			wantType: store.EventReceiptCompleted, wantWH: 2,
			wantData:  `{"lines":[{"qty":4,"sku":"GADGET-9"},{"qty":4,"sku":"WIDGET-1"}],"po_number":"PO-2","status":"received"}`,
			wantStock: []stockWant{{2, "WIDGET-1", 10}, {2, "GADGET-9", 4}},
		},
		{
			name: "adjustment",
			run: func(t *testing.T, e *whEnv, meta store.OpMeta) ([]int64, string) {
				e.stock(e.wh1, "GADGET-9", 5)
				r, err := e.db.ApplyAdjustment(e.ctx, meta, store.AdjustmentInput{
					WarehouseID: e.wh1, SKU: "GADGET-9", Delta: -2, Reason: "damaged"})
				if err != nil {
					t.Fatal(err)
				}
				ls, _ := e.db.ListInventory(e.ctx, store.InventoryFilter{WarehouseID: e.wh1, SKU: "GADGET-9"})
				if r.Value.OnHand != 3 || len(ls) != 1 || ls[0].ID != r.Value.ID {
					t.Errorf("level %+v, listed %+v", r.Value, ls)
				}
				// The level's id is the aggregate of every adjustment of it.
				prev := e.event(r.EventIDs[0] - 1)
				if prev.AggregateID != r.Value.ID {
					t.Errorf("setup adjustment aggregate %s, want %s", prev.AggregateID, r.Value.ID)
				}
				return r.EventIDs, r.Value.ID
			},
			wantType: store.EventAdjustmentApplied, wantWH: 1,
			wantData:  `{"delta":-2,"on_hand":3,"reason":"damaged","sku":"GADGET-9"}`,
			wantStock: []stockWant{{1, "GADGET-9", 3}},
		},
		{
			name: "cycle count that differs",
			run: func(t *testing.T, e *whEnv, meta store.OpMeta) ([]int64, string) {
				e.stock(e.wh2, "WIDGET-1", 5)
				n := int64(3)
				r, err := e.db.RecordCycleCount(e.ctx, meta, store.CycleCountInput{
					WarehouseID: e.wh2, SKU: "WIDGET-1", CountedQty: &n})
				if err != nil {
					t.Fatal(err)
				}
				if !r.Value.Adjusted || r.Value.Delta != -2 || r.Value.PreviousOnHand != 5 {
					t.Errorf("count %+v", r.Value)
				}
				got, err := e.db.GetCycleCount(e.ctx, r.Value.ID)
				if err != nil || got != r.Value {
					t.Errorf("GetCycleCount = %+v, %v; want %+v", got, err, r.Value)
				}
				return r.EventIDs, r.Value.ID
			},
			wantType: store.EventCycleCountAdjusted, wantWH: 2,
			wantData:  `{"counted_qty":3,"delta":-2,"previous_on_hand":5,"sku":"WIDGET-1"}`,
			wantStock: []stockWant{{2, "WIDGET-1", 3}},
		},
		{
			name: "cycle count of a never-stocked sku",
			run: func(t *testing.T, e *whEnv, meta store.OpMeta) ([]int64, string) {
				n := int64(12)
				r, err := e.db.RecordCycleCount(e.ctx, meta, store.CycleCountInput{
					WarehouseID: e.wh1, SKU: "BÜGEL-7", CountedQty: &n})
				if err != nil {
					t.Fatal(err)
				}
				return r.EventIDs, r.Value.ID
			},
			wantType: store.EventCycleCountAdjusted, wantWH: 1,
			wantData:  `{"counted_qty":12,"delta":12,"previous_on_hand":0,"sku":"B\u00dcGEL-7"}`,
			wantStock: []stockWant{{1, "BÜGEL-7", 12}},
		},
		{
			name: "transfer moves stock",
			run: func(t *testing.T, e *whEnv, meta store.OpMeta) ([]int64, string) {
				e.stock(e.wh1, "WIDGET-1", 5)
				e.stock(e.wh1, "GADGET-9", 2)
				tr := e.transfer(e.wh1, e.wh2, line("WIDGET-1", 2), line("GADGET-9", 2))
				if e.onHand(e.wh1, "WIDGET-1") != 5 {
					t.Error("creating a transfer moved stock")
				}
				r, err := e.db.CompleteTransfer(e.ctx, meta, tr.ID)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := e.db.GetTransfer(e.ctx, tr.ID)
				if got.Status != store.TransferCompleted || got.CompletedAt == nil {
					t.Errorf("after complete: %+v", got)
				}
				return r.EventIDs, tr.ID
			},
			wantType: store.EventTransferCompleted, wantWH: 1,
			wantData: `{"from_warehouse_id":1,"lines":[{"qty":2,"sku":"WIDGET-1"},{"qty":2,"sku":"GADGET-9"}],"to_warehouse_id":2}`,
			wantStock: []stockWant{{1, "WIDGET-1", 3}, {1, "GADGET-9", 0},
				{2, "WIDGET-1", 2}, {2, "GADGET-9", 2}},
		},
		{
			name: "sales order from a source",
			run: func(t *testing.T, e *whEnv, meta store.OpMeta) ([]int64, string) {
				r, err := e.db.CreateSalesOrder(e.ctx, meta, store.SalesOrderInput{OrderNumber: "WEB-1", WarehouseID: e.wh1,
					ShipTo: json.RawMessage(`{"city":"Lyon"}`), Lines: []store.OrderLine{line("WIDGET-1", 2)},
					Source: &store.SourceRef{Name: "erp", ID: "41"}})
				if err != nil || !r.Created {
					t.Fatal(r, err)
				}
				return r.EventIDs, r.Value.ID
			},
			wantType: store.EventSalesOrderCreated, wantWH: 1,
			wantData: `{"lines":[{"qty":2,"sku":"WIDGET-1"}],"order_number":"WEB-1","ship_to":{"city":"Lyon"},"source":{"id":"41","name":"erp"},"status":"open"}`,
		},
		{
			name: "sales order changed at its source",
			run: func(t *testing.T, e *whEnv, meta store.OpMeta) ([]int64, string) {
				in := store.SalesOrderInput{OrderNumber: "WEB-2", WarehouseID: e.wh1, ShipTo: json.RawMessage(`{"city":"Lyon"}`),
					Lines: []store.OrderLine{line("WIDGET-1", 2)}, Source: &store.SourceRef{Name: "erp", ID: "42"}}
				if _, err := e.db.CreateSalesOrder(e.ctx, e.meta(), in); err != nil {
					t.Fatal(err)
				}
				in.Lines = []store.OrderLine{line("WIDGET-1", 3)}
				r, err := e.db.CreateSalesOrder(e.ctx, meta, in)
				if err != nil || r.Created {
					t.Fatal(r, err)
				}
				return r.EventIDs, r.Value.ID
			},
			wantType: store.EventSalesOrderUpdated, wantWH: 1,
			wantData: `{"lines":[{"qty":3,"sku":"WIDGET-1"}],"order_number":"WEB-2","ship_to":{"city":"Lyon"},"source":{"id":"42","name":"erp"},"status":"open"}`,
		},
		{
			name: "purchase order from a source",
			run: func(t *testing.T, e *whEnv, meta store.OpMeta) ([]int64, string) {
				r, err := e.db.CreatePurchaseOrder(e.ctx, meta, store.PurchaseOrderInput{PONumber: "PO-7", WarehouseID: e.wh2,
					Supplier: "Acme", Lines: []store.OrderLine{line("GADGET-9", 5)}, Source: &store.SourceRef{Name: "erp", ID: "P7"}})
				if err != nil || !r.Created {
					t.Fatal(r, err)
				}
				return r.EventIDs, r.Value.ID
			},
			wantType: store.EventPurchaseOrderCreated, wantWH: 2,
			wantData: `{"lines":[{"qty":5,"sku":"GADGET-9"}],"po_number":"PO-7","source":{"id":"P7","name":"erp"},"status":"open","supplier":"Acme"}`,
		},
		{
			name: "purchase order changed at its source",
			run: func(t *testing.T, e *whEnv, meta store.OpMeta) ([]int64, string) {
				in := store.PurchaseOrderInput{PONumber: "PO-8", WarehouseID: e.wh2, Lines: []store.OrderLine{line("GADGET-9", 5)},
					Source: &store.SourceRef{Name: "erp", ID: "P8"}}
				if _, err := e.db.CreatePurchaseOrder(e.ctx, e.meta(), in); err != nil {
					t.Fatal(err)
				}
				in.Supplier = "Acme"
				r, err := e.db.CreatePurchaseOrder(e.ctx, meta, in)
				if err != nil || r.Created {
					t.Fatal(r, err)
				}
				return r.EventIDs, r.Value.ID
			},
			wantType: store.EventPurchaseOrderUpdated, wantWH: 2,
			wantData: `{"lines":[{"qty":5,"sku":"GADGET-9"}],"po_number":"PO-8","source":{"id":"P8","name":"erp"},"status":"open","supplier":"Acme"}`,
		},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newWHEnv(t)
			meta := e.meta()
			ids, aggID := tt.run(t, e, meta)
			if len(ids) != 1 {
				t.Fatalf("event ids %v, want one", ids)
			}
			if latest := e.latestEventID(); latest != ids[0] {
				t.Fatalf("latest event %d, want the operation's %d", latest, ids[0])
			}
			ev := e.event(ids[0])
			if ev.EventType != tt.wantType || ev.EventVersion != 1 || ev.AggregateType != aggs[tt.wantType] ||
				ev.AggregateID != aggID || ev.WarehouseID != tt.wantWH || ev.SourceTxnID != meta.RequestID {
				t.Errorf("event %+v\nwant type %s, aggregate %s/%s, warehouse %d, source_txn_id %s",
					ev, tt.wantType, aggs[tt.wantType], aggID, tt.wantWH, meta.RequestID)
			}
			if string(ev.Data) != tt.wantData {
				t.Errorf("data\n got %s\nwant %s", ev.Data, tt.wantData)
			}
			validateData(t, schemas, ev.EventType, ev.Data)
			if ev.Timestamp.Before(whEpoch) || ev.Timestamp.Nanosecond()%1e6 != 0 || !ev.VisibleAt.Equal(ev.Timestamp) {
				t.Errorf("event_timestamp %v, visible_at %v", ev.Timestamp, ev.VisibleAt)
			}
			for _, s := range tt.wantStock {
				if got := e.onHand(s.wh, s.sku); got != s.qty {
					t.Errorf("warehouse %d %s on hand %d, want %d", s.wh, s.sku, got, s.qty)
				}
			}
			seen[tt.wantType] = true
		})
	}
	for typ := range aggs {
		if !seen[typ] {
			t.Errorf("no test emits %s", typ)
		}
	}
}

func TestCycleCountThatMatchesAppendsNoEvent(t *testing.T) {
	e := newWHEnv(t)
	e.stock(e.wh1, "WIDGET-1", 4)
	before := e.latestEventID()
	n := int64(4)
	r, err := e.db.RecordCycleCount(e.ctx, e.meta(), store.CycleCountInput{WarehouseID: e.wh1, SKU: "WIDGET-1", CountedQty: &n})
	if err != nil {
		t.Fatal(err)
	}
	if r.Value.Adjusted || r.Value.Delta != 0 || len(r.EventIDs) != 0 || e.latestEventID() != before {
		t.Errorf("matching count: %+v, events %v", r, r.EventIDs)
	}
	if countRows(t, e.db, "cycle_counts") != 1 {
		t.Error("matching count was not recorded")
	}
}

// TestRefusedOperationsChangeNothing checks that every refused transition
// returns the right kind of error, names the problem, and leaves every
// table (events, stock, idempotency records) exactly as it was.
func TestRefusedOperationsChangeNothing(t *testing.T) {
	ten := int64(10)
	neg := int64(-1)
	tests := []struct {
		name      string
		setup     func(e *whEnv) string // returns the id the operation targets
		op        func(e *whEnv, meta store.OpMeta, id string) error
		wantErr   error
		wantField string
	}{
		{
			name:  "ship an open order",
			setup: func(e *whEnv) string { return e.order("SO-1", e.wh1, line("WIDGET-1", 1)).ID },
			op:    ship, wantErr: store.ErrConflict, wantField: "status",
		},
		{
			name: "ship a picked order",
			setup: func(e *whEnv) string {
				so := e.order("SO-1", e.wh1, line("WIDGET-1", 1))
				e.advance(so, store.SalesOrderPicked)
				return so.ID
			},
			op: ship, wantErr: store.ErrConflict, wantField: "status",
		},
		{
			name: "ship twice",
			setup: func(e *whEnv) string {
				e.stock(e.wh1, "WIDGET-1", 5)
				so := e.order("SO-1", e.wh1, line("WIDGET-1", 1))
				e.advance(so, store.SalesOrderShipped)
				return so.ID
			},
			op: ship, wantErr: store.ErrConflict, wantField: "status",
		},
		{
			name: "ship without enough stock",
			setup: func(e *whEnv) string {
				e.stock(e.wh1, "WIDGET-1", 5)
				e.stock(e.wh1, "GADGET-9", 1)
				so := e.order("SO-1", e.wh1, line("WIDGET-1", 5), line("GADGET-9", 2))
				e.advance(so, store.SalesOrderPacked)
				return so.ID
			},
			op: ship, wantErr: store.ErrConflict, wantField: "lines[1].qty",
		},
		{
			name: "ship stock that is in another warehouse",
			setup: func(e *whEnv) string {
				e.stock(e.wh2, "WIDGET-1", 5)
				so := e.order("SO-1", e.wh1, line("WIDGET-1", 1))
				e.advance(so, store.SalesOrderPacked)
				return so.ID
			},
			op: ship, wantErr: store.ErrConflict, wantField: "lines[0].qty",
		},
		{
			name: "ship without a carrier",
			setup: func(e *whEnv) string {
				so := e.order("SO-1", e.wh1, line("WIDGET-1", 1))
				e.advance(so, store.SalesOrderPacked)
				return so.ID
			},
			op: func(e *whEnv, meta store.OpMeta, id string) error {
				_, err := e.db.ShipSalesOrder(e.ctx, meta, id, store.ShipInput{Carrier: " "})
				return err
			},
			wantErr: store.ErrInvalid, wantField: "carrier",
		},
		{
			name:  "ship an unknown order",
			setup: func(e *whEnv) string { return uuid.NewString() },
			op:    ship, wantErr: store.ErrNotFound,
		},
		{
			name:  "ship a malformed id",
			setup: func(e *whEnv) string { return "not-a-uuid" },
			op:    ship, wantErr: store.ErrNotFound,
		},
		{
			name:  "pack an open order",
			setup: func(e *whEnv) string { return e.order("SO-1", e.wh1, line("WIDGET-1", 1)).ID },
			op: func(e *whEnv, meta store.OpMeta, id string) error {
				_, err := e.db.PackSalesOrder(e.ctx, meta, id)
				return err
			},
			wantErr: store.ErrConflict, wantField: "status",
		},
		{
			name: "pick a picked order",
			setup: func(e *whEnv) string {
				so := e.order("SO-1", e.wh1, line("WIDGET-1", 1))
				e.advance(so, store.SalesOrderPicked)
				return so.ID
			},
			op: func(e *whEnv, meta store.OpMeta, id string) error {
				_, err := e.db.PickSalesOrder(e.ctx, meta, id)
				return err
			},
			wantErr: store.ErrConflict, wantField: "status",
		},
		{
			name: "order an unknown sku",
			op: createOrder(store.SalesOrderInput{OrderNumber: "SO-9", WarehouseID: 1,
				ShipTo: json.RawMessage(`{}`), Lines: []store.OrderLine{line("WIDGET-1", 1), line("NOPE", 1)}}),
			wantErr: store.ErrInvalid, wantField: "lines[1].sku",
		},
		{
			name: "order from an unknown warehouse",
			op: createOrder(store.SalesOrderInput{OrderNumber: "SO-9", WarehouseID: 99,
				ShipTo: json.RawMessage(`{}`), Lines: []store.OrderLine{line("WIDGET-1", 1)}}),
			wantErr: store.ErrInvalid, wantField: "warehouse_id",
		},
		{
			name: "order a zero quantity",
			op: createOrder(store.SalesOrderInput{OrderNumber: "SO-9", WarehouseID: 1,
				ShipTo: json.RawMessage(`{}`), Lines: []store.OrderLine{line("WIDGET-1", 0)}}),
			wantErr: store.ErrInvalid, wantField: "lines[0].qty",
		},
		{
			name: "order a sku twice",
			op: createOrder(store.SalesOrderInput{OrderNumber: "SO-9", WarehouseID: 1,
				ShipTo: json.RawMessage(`{}`), Lines: []store.OrderLine{line("WIDGET-1", 1), line("WIDGET-1", 2)}}),
			wantErr: store.ErrInvalid, wantField: "lines[1].sku",
		},
		{
			name: "order without lines",
			op: createOrder(store.SalesOrderInput{OrderNumber: "SO-9", WarehouseID: 1,
				ShipTo: json.RawMessage(`{}`)}),
			wantErr: store.ErrInvalid, wantField: "lines",
		},
		{
			name: "order with ship_to not an object",
			op: createOrder(store.SalesOrderInput{OrderNumber: "SO-9", WarehouseID: 1,
				ShipTo: json.RawMessage(`["x"]`), Lines: []store.OrderLine{line("WIDGET-1", 1)}}),
			wantErr: store.ErrInvalid, wantField: "ship_to",
		},
		{
			name:  "order a taken order number",
			setup: func(e *whEnv) string { return e.order("SO-1", e.wh1, line("WIDGET-1", 1)).ID },
			op: createOrder(store.SalesOrderInput{OrderNumber: "SO-1", WarehouseID: 1,
				ShipTo: json.RawMessage(`{}`), Lines: []store.OrderLine{line("WIDGET-1", 1)}}),
			wantErr: store.ErrConflict, wantField: "order_number",
		},
		{
			name: "receive more than ordered",
			setup: func(e *whEnv) string {
				po := e.purchaseOrder("PO-1", e.wh1, line("WIDGET-1", 10), line("GADGET-9", 2))
				if _, err := e.db.ReceivePurchaseOrder(e.ctx, e.meta(), po.ID,
					store.ReceiptInput{Lines: []store.OrderLine{line("WIDGET-1", 8)}}); err != nil {
					e.tb.Fatal(err)
				}
				return po.ID
			},
			op:      receive(line("GADGET-9", 1), line("WIDGET-1", 3)),
			wantErr: store.ErrConflict, wantField: "lines[1].qty",
		},
		{
			name:    "receive a sku not on the order",
			setup:   func(e *whEnv) string { return e.purchaseOrder("PO-1", e.wh1, line("WIDGET-1", 10)).ID },
			op:      receive(line("GADGET-9", 1)),
			wantErr: store.ErrInvalid, wantField: "lines[0].sku",
		},
		{
			name: "receive a received order",
			setup: func(e *whEnv) string {
				po := e.purchaseOrder("PO-1", e.wh1, line("WIDGET-1", 1))
				if _, err := e.db.ReceivePurchaseOrder(e.ctx, e.meta(), po.ID,
					store.ReceiptInput{Lines: []store.OrderLine{line("WIDGET-1", 1)}}); err != nil {
					e.tb.Fatal(err)
				}
				return po.ID
			},
			op:      receive(line("WIDGET-1", 1)),
			wantErr: store.ErrConflict, wantField: "status",
		},
		{
			name:    "receive an unknown order",
			setup:   func(e *whEnv) string { return uuid.NewString() },
			op:      receive(line("WIDGET-1", 1)),
			wantErr: store.ErrNotFound,
		},
		{
			name:    "adjust below zero",
			setup:   func(e *whEnv) string { e.stock(e.wh1, "WIDGET-1", 2); return "" },
			op:      adjust(store.AdjustmentInput{WarehouseID: 1, SKU: "WIDGET-1", Delta: -3, Reason: "lost"}),
			wantErr: store.ErrConflict, wantField: "delta",
		},
		{
			name:    "adjust a never-stocked level below zero",
			op:      adjust(store.AdjustmentInput{WarehouseID: 1, SKU: "GADGET-9", Delta: -1, Reason: "lost"}),
			wantErr: store.ErrConflict, wantField: "delta",
		},
		{
			name:    "adjust an unknown sku",
			op:      adjust(store.AdjustmentInput{WarehouseID: 1, SKU: "NOPE", Delta: 1, Reason: "found"}),
			wantErr: store.ErrInvalid, wantField: "sku",
		},
		{
			name:    "adjust in an unknown warehouse",
			op:      adjust(store.AdjustmentInput{WarehouseID: 7, SKU: "WIDGET-1", Delta: 1, Reason: "found"}),
			wantErr: store.ErrInvalid, wantField: "warehouse_id",
		},
		{
			name:    "adjust by zero",
			op:      adjust(store.AdjustmentInput{WarehouseID: 1, SKU: "WIDGET-1", Delta: 0, Reason: "noop"}),
			wantErr: store.ErrInvalid, wantField: "delta",
		},
		{
			name:    "adjust without a reason",
			op:      adjust(store.AdjustmentInput{WarehouseID: 1, SKU: "WIDGET-1", Delta: 1}),
			wantErr: store.ErrInvalid, wantField: "reason",
		},
		{
			name:    "count without a quantity",
			op:      count(store.CycleCountInput{WarehouseID: 1, SKU: "WIDGET-1"}),
			wantErr: store.ErrInvalid, wantField: "counted_qty",
		},
		{
			name:    "count a negative quantity",
			op:      count(store.CycleCountInput{WarehouseID: 1, SKU: "WIDGET-1", CountedQty: &neg}),
			wantErr: store.ErrInvalid, wantField: "counted_qty",
		},
		{
			name:    "count an unknown sku",
			op:      count(store.CycleCountInput{WarehouseID: 1, SKU: "NOPE", CountedQty: &ten}),
			wantErr: store.ErrInvalid, wantField: "sku",
		},
		{
			name: "transfer without enough stock",
			setup: func(e *whEnv) string {
				e.stock(e.wh1, "WIDGET-1", 5)
				e.stock(e.wh1, "GADGET-9", 1)
				return e.transfer(e.wh1, e.wh2, line("WIDGET-1", 5), line("GADGET-9", 2)).ID
			},
			op: completeTransfer, wantErr: store.ErrConflict, wantField: "lines[1].qty",
		},
		{
			name: "complete a transfer twice",
			setup: func(e *whEnv) string {
				e.stock(e.wh1, "WIDGET-1", 5)
				tr := e.transfer(e.wh1, e.wh2, line("WIDGET-1", 1))
				if _, err := e.db.CompleteTransfer(e.ctx, e.meta(), tr.ID); err != nil {
					e.tb.Fatal(err)
				}
				return tr.ID
			},
			op: completeTransfer, wantErr: store.ErrConflict, wantField: "status",
		},
		{
			name: "transfer to the same warehouse",
			op: func(e *whEnv, meta store.OpMeta, _ string) error {
				_, err := e.db.CreateTransfer(e.ctx, meta, store.TransferInput{
					FromWarehouseID: 1, ToWarehouseID: 1, Lines: []store.OrderLine{line("WIDGET-1", 1)}})
				return err
			},
			wantErr: store.ErrInvalid, wantField: "to_warehouse_id",
		},
		{
			name: "transfer to an unknown warehouse",
			op: func(e *whEnv, meta store.OpMeta, _ string) error {
				_, err := e.db.CreateTransfer(e.ctx, meta, store.TransferInput{
					FromWarehouseID: 1, ToWarehouseID: 3, Lines: []store.OrderLine{line("WIDGET-1", 1)}})
				return err
			},
			wantErr: store.ErrInvalid, wantField: "to_warehouse_id",
		},
		{
			name: "warehouse with a taken code",
			op: func(e *whEnv, meta store.OpMeta, _ string) error {
				_, err := e.db.CreateWarehouse(e.ctx, meta, store.WarehouseInput{Code: "W1", Name: "again"})
				return err
			},
			wantErr: store.ErrConflict, wantField: "code",
		},
		{
			name: "item with padded sku",
			op: func(e *whEnv, meta store.OpMeta, _ string) error {
				_, err := e.db.UpsertItem(e.ctx, meta, store.ItemInput{SKU: " X", Name: "x"})
				return err
			},
			wantErr: store.ErrInvalid, wantField: "sku",
		},
		{
			name: "request id that is not a UUID",
			op: func(e *whEnv, meta store.OpMeta, _ string) error {
				_, err := e.db.ApplyAdjustment(e.ctx, store.OpMeta{RequestID: "req-1"},
					store.AdjustmentInput{WarehouseID: 1, SKU: "WIDGET-1", Delta: 1, Reason: "found"})
				return err
			},
			wantErr: store.ErrInvalid, wantField: "request_id",
		},
		{
			name: "request id reused for a different request",
			setup: func(e *whEnv) string {
				id := uuid.NewString()
				if _, err := e.db.ApplyAdjustment(e.ctx, store.OpMeta{RequestID: id},
					store.AdjustmentInput{WarehouseID: 1, SKU: "WIDGET-1", Delta: 1, Reason: "found"}); err != nil {
					e.tb.Fatal(err)
				}
				return id
			},
			op: func(e *whEnv, _ store.OpMeta, id string) error {
				_, err := e.db.ApplyAdjustment(e.ctx, store.OpMeta{RequestID: id},
					store.AdjustmentInput{WarehouseID: 1, SKU: "WIDGET-1", Delta: 2, Reason: "found"})
				var ie *store.IdempotencyConflictError
				if !errors.As(err, &ie) {
					e.tb.Errorf("error %v, want an *IdempotencyConflictError", err)
				}
				return err
			},
			wantErr: store.ErrConflict,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newWHEnv(t)
			var id string
			if tt.setup != nil {
				id = tt.setup(e)
			}
			before := e.dump()
			err := tt.op(e, e.meta(), id)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if tt.wantField != "" {
				fields := errFields(err)
				if _, ok := fields[tt.wantField]; !ok {
					t.Errorf("error fields %v, want %s", fields, tt.wantField)
				}
			}
			if after := e.dump(); after != before {
				t.Errorf("refused operation changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

func ship(e *whEnv, meta store.OpMeta, id string) error {
	_, err := e.db.ShipSalesOrder(e.ctx, meta, id, store.ShipInput{Carrier: "UPS", Tracking: "1Z"})
	return err
}

func completeTransfer(e *whEnv, meta store.OpMeta, id string) error {
	_, err := e.db.CompleteTransfer(e.ctx, meta, id)
	return err
}

func createOrder(in store.SalesOrderInput) func(*whEnv, store.OpMeta, string) error {
	return func(e *whEnv, meta store.OpMeta, _ string) error {
		_, err := e.db.CreateSalesOrder(e.ctx, meta, in)
		return err
	}
}

func receive(lines ...store.OrderLine) func(*whEnv, store.OpMeta, string) error {
	return func(e *whEnv, meta store.OpMeta, id string) error {
		_, err := e.db.ReceivePurchaseOrder(e.ctx, meta, id, store.ReceiptInput{Lines: lines})
		return err
	}
}

func adjust(in store.AdjustmentInput) func(*whEnv, store.OpMeta, string) error {
	return func(e *whEnv, meta store.OpMeta, _ string) error {
		_, err := e.db.ApplyAdjustment(e.ctx, meta, in)
		return err
	}
}

func count(in store.CycleCountInput) func(*whEnv, store.OpMeta, string) error {
	return func(e *whEnv, meta store.OpMeta, _ string) error {
		_, err := e.db.RecordCycleCount(e.ctx, meta, in)
		return err
	}
}

// opOutcome is a Result with its value as JSON, so results of different
// operations compare alike.
type opOutcome struct {
	value    string
	eventIDs []int64
	created  bool
	replayed bool
	txnID    string
}

func outcome[T any](tb testing.TB, r store.Result[T], err error) opOutcome {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
	b, err := json.Marshal(r.Value)
	if err != nil {
		tb.Fatal(err)
	}
	return opOutcome{string(b), r.EventIDs, r.Created, r.Replayed, r.SourceTxnID}
}

// TestIdempotentReplay repeats each operation with the same request id: the
// repeat returns the first result, marked Replayed, and writes nothing.
func TestIdempotentReplay(t *testing.T) {
	tests := []struct {
		name string
		// prepare returns the operation to repeat.
		prepare    func(e *whEnv) func(meta store.OpMeta) opOutcome
		wantEvents int
	}{
		{"create warehouse", func(e *whEnv) func(store.OpMeta) opOutcome {
			return func(m store.OpMeta) opOutcome {
				r, err := e.db.CreateWarehouse(e.ctx, m, store.WarehouseInput{Code: "W9", Name: "Nine"})
				return outcome(e.tb, r, err)
			}
		}, 0},
		{"upsert item", func(e *whEnv) func(store.OpMeta) opOutcome {
			return func(m store.OpMeta) opOutcome {
				r, err := e.db.UpsertItem(e.ctx, m, store.ItemInput{SKU: "NEW-1", Name: "New"})
				return outcome(e.tb, r, err)
			}
		}, 0},
		{"create sales order", func(e *whEnv) func(store.OpMeta) opOutcome {
			return func(m store.OpMeta) opOutcome {
				r, err := e.db.CreateSalesOrder(e.ctx, m, store.SalesOrderInput{OrderNumber: "SO-7", WarehouseID: 1,
					ShipTo: json.RawMessage(`{"name":"<Ada & Co>"}`), Lines: []store.OrderLine{line("WIDGET-1", 1)}})
				return outcome(e.tb, r, err)
			}
		}, 0},
		{"pick", func(e *whEnv) func(store.OpMeta) opOutcome {
			so := e.order("SO-1", e.wh1, line("WIDGET-1", 1))
			return func(m store.OpMeta) opOutcome {
				r, err := e.db.PickSalesOrder(e.ctx, m, so.ID)
				return outcome(e.tb, r, err)
			}
		}, 1},
		{"ship", func(e *whEnv) func(store.OpMeta) opOutcome {
			e.stock(e.wh1, "WIDGET-1", 3)
			so := e.order("SO-1", e.wh1, line("WIDGET-1", 1))
			e.advance(so, store.SalesOrderPacked)
			return func(m store.OpMeta) opOutcome {
				r, err := e.db.ShipSalesOrder(e.ctx, m, so.ID, store.ShipInput{Carrier: "DHL", Tracking: "JD0"})
				return outcome(e.tb, r, err)
			}
		}, 1},
		{"receive", func(e *whEnv) func(store.OpMeta) opOutcome {
			po := e.purchaseOrder("PO-1", e.wh1, line("WIDGET-1", 5))
			return func(m store.OpMeta) opOutcome {
				r, err := e.db.ReceivePurchaseOrder(e.ctx, m, po.ID, store.ReceiptInput{Lines: []store.OrderLine{line("WIDGET-1", 2)}})
				return outcome(e.tb, r, err)
			}
		}, 1},
		{"adjust", func(e *whEnv) func(store.OpMeta) opOutcome {
			return func(m store.OpMeta) opOutcome {
				r, err := e.db.ApplyAdjustment(e.ctx, m, store.AdjustmentInput{WarehouseID: 1, SKU: "WIDGET-1", Delta: 4, Reason: "found"})
				return outcome(e.tb, r, err)
			}
		}, 1},
		{"count", func(e *whEnv) func(store.OpMeta) opOutcome {
			n := int64(6)
			return func(m store.OpMeta) opOutcome {
				r, err := e.db.RecordCycleCount(e.ctx, m, store.CycleCountInput{WarehouseID: 1, SKU: "WIDGET-1", CountedQty: &n})
				return outcome(e.tb, r, err)
			}
		}, 1},
		{"complete transfer", func(e *whEnv) func(store.OpMeta) opOutcome {
			e.stock(e.wh2, "GADGET-9", 3)
			tr := e.transfer(e.wh2, e.wh1, line("GADGET-9", 3))
			return func(m store.OpMeta) opOutcome {
				r, err := e.db.CompleteTransfer(e.ctx, m, tr.ID)
				return outcome(e.tb, r, err)
			}
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newWHEnv(t)
			do := tt.prepare(e)
			meta := e.meta()
			first := do(meta)
			if first.replayed || len(first.eventIDs) != tt.wantEvents || first.txnID != meta.RequestID {
				t.Fatalf("first: %+v", first)
			}
			before := e.dump()
			// The same id in upper case is the same UUID.
			again := do(store.OpMeta{RequestID: strings.ToUpper(meta.RequestID), Actor: "someone else"})
			if !again.replayed {
				t.Error("repeat not marked replayed")
			}
			again.replayed = false
			if again.value != first.value || again.created != first.created || again.txnID != first.txnID ||
				len(again.eventIDs) != len(first.eventIDs) || (len(first.eventIDs) > 0 && again.eventIDs[0] != first.eventIDs[0]) {
				t.Errorf("replay differs:\nfirst %+v\nagain %+v", first, again)
			}
			if after := e.dump(); after != before {
				t.Errorf("replay wrote:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// TestReplayReturnsTheFirstResultAfterStateMovesOn replays a pick after the
// order was packed: the caller sees the picked order it saw the first time,
// not a conflict.
func TestReplayReturnsTheFirstResultAfterStateMovesOn(t *testing.T) {
	e := newWHEnv(t)
	so := e.order("SO-1", e.wh1, line("WIDGET-1", 1))
	meta := e.meta()
	first, err := e.db.PickSalesOrder(e.ctx, meta, so.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The pick's request id cannot drive the pack: a key is for one request.
	if _, err := e.db.PackSalesOrder(e.ctx, meta, so.ID); !errors.As(err, new(*store.IdempotencyConflictError)) {
		t.Fatalf("pack with the pick's request id: %v, want an *IdempotencyConflictError", err)
	}
	packMeta := e.meta()
	packed, err := e.db.PackSalesOrder(e.ctx, packMeta, so.ID)
	if err != nil || packed.Replayed || e.event(packed.EventIDs[0]).SourceTxnID != packMeta.RequestID {
		t.Fatalf("pack: %+v, %v", packed, err)
	}
	again, err := e.db.PickSalesOrder(e.ctx, meta, so.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || again.Value.Status != store.SalesOrderPicked || again.EventIDs[0] != first.EventIDs[0] {
		t.Errorf("replayed pick: %+v", again)
	}
	if e.latestEventID() != packed.EventIDs[0] {
		t.Error("replay appended an event")
	}
}

func TestUpsertBySourceDoesNotDuplicate(t *testing.T) {
	t.Run("sales order", func(t *testing.T) {
		e := newWHEnv(t)
		src := &store.SourceRef{Name: "shopify", ID: "gid://shopify/Order/1"}
		in := store.SalesOrderInput{OrderNumber: "#1001", WarehouseID: 1, Source: src,
			ShipTo: json.RawMessage(`{"city": "Paris"}`), Lines: []store.OrderLine{line("WIDGET-1", 1)}}
		first, err := e.db.CreateSalesOrder(e.ctx, e.meta(), in)
		if err != nil || !first.Created {
			t.Fatalf("first sync: %+v, %v", first, err)
		}
		in.Lines = []store.OrderLine{line("WIDGET-1", 2), line("GADGET-9", 1)}
		in.ShipTo = json.RawMessage(`{"city":"Lyon"}`)
		second, err := e.db.CreateSalesOrder(e.ctx, e.meta(), in)
		if err != nil || second.Created || second.Value.ID != first.Value.ID {
			t.Fatalf("second sync: %+v, %v", second, err)
		}
		got, _ := e.db.GetSalesOrder(e.ctx, first.Value.ID)
		if len(got.Lines) != 2 || string(got.ShipTo) != `{"city":"Lyon"}` || *got.Source != *src {
			t.Errorf("after re-sync: %+v", got)
		}
		if n := countRows(t, e.db, "sales_orders"); n != 1 {
			t.Errorf("%d sales orders, want 1", n)
		}
		// Once picked, an identical re-sync is a no-op and a changed one is refused.
		e.advance(got, store.SalesOrderPicked)
		same, err := e.db.CreateSalesOrder(e.ctx, e.meta(), in)
		if err != nil || same.Created || same.Value.Status != store.SalesOrderPicked {
			t.Errorf("identical re-sync of a picked order: %+v, %v", same, err)
		}
		in.Lines = []store.OrderLine{line("WIDGET-1", 3)}
		if _, err := e.db.CreateSalesOrder(e.ctx, e.meta(), in); !errors.Is(err, store.ErrConflict) {
			t.Errorf("changed re-sync of a picked order: %v, want conflict", err)
		}
		// Another source's order cannot take the number.
		in.Source = &store.SourceRef{Name: "bigcommerce", ID: "1"}
		if _, err := e.db.CreateSalesOrder(e.ctx, e.meta(), in); !errors.Is(err, store.ErrConflict) {
			t.Errorf("order number clash across sources: %v, want conflict", err)
		}
	})
	t.Run("purchase order", func(t *testing.T) {
		e := newWHEnv(t)
		src := &store.SourceRef{Name: "netsuite", ID: "PO-77"}
		in := store.PurchaseOrderInput{PONumber: "PO-77", WarehouseID: 1, Source: src,
			Lines: []store.OrderLine{line("WIDGET-1", 5)}}
		first, err := e.db.CreatePurchaseOrder(e.ctx, e.meta(), in)
		if err != nil || !first.Created {
			t.Fatal(first, err)
		}
		in.Supplier = "Acme"
		second, err := e.db.CreatePurchaseOrder(e.ctx, e.meta(), in)
		if err != nil || second.Created || second.Value.ID != first.Value.ID || second.Value.Supplier != "Acme" {
			t.Fatal(second, err)
		}
		if n := countRows(t, e.db, "purchase_orders"); n != 1 {
			t.Errorf("%d purchase orders, want 1", n)
		}
	})
	t.Run("item", func(t *testing.T) {
		e := newWHEnv(t)
		src := store.SourceRef{Name: "shopify", ID: "variant-1"}
		first, err := e.db.UpsertItemBySource(e.ctx, e.meta(), src, store.ItemInput{SKU: "TEE-S", Name: "Tee"})
		if err != nil || !first.Created {
			t.Fatal(first, err)
		}
		second, err := e.db.UpsertItemBySource(e.ctx, e.meta(), src, store.ItemInput{SKU: "TEE-S", Name: "Tee, small"})
		if err != nil || second.Created || second.Value.ID != first.Value.ID {
			t.Fatal(second, err)
		}
		got, err := e.db.GetItem(e.ctx, "TEE-S")
		if err != nil || got.Name != "Tee, small" || got.Source == nil || *got.Source != src {
			t.Errorf("item %+v, %v", got, err)
		}
		// A hand-made item with the sku is adopted, not duplicated.
		adopted, err := e.db.UpsertItemBySource(e.ctx, e.meta(), store.SourceRef{Name: "shopify", ID: "variant-2"},
			store.ItemInput{SKU: "WIDGET-1", Name: "Widget"})
		if err != nil || adopted.Created {
			t.Fatal(adopted, err)
		}
		// A sku cannot move to another source's item, nor change.
		if _, err := e.db.UpsertItemBySource(e.ctx, e.meta(), store.SourceRef{Name: "netsuite", ID: "9"},
			store.ItemInput{SKU: "TEE-S", Name: "Tee"}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("sku of another source: %v", err)
		}
		if _, err := e.db.UpsertItemBySource(e.ctx, e.meta(), src,
			store.ItemInput{SKU: "TEE-M", Name: "Tee"}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("sku change: %v", err)
		}
		if n := countRows(t, e.db, "items"); n != 4 {
			t.Errorf("%d items, want 4", n)
		}
		if _, err := e.db.GetItem(e.ctx, "NOPE"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown item: %v", err)
		}
	})
}

func TestListWarehousesAndInventory(t *testing.T) {
	e := newWHEnv(t)
	ws, err := e.db.ListWarehouses(e.ctx)
	if err != nil || len(ws) != 2 || ws[0].ID != 1 || ws[0].Code != "W1" || ws[1].ID != 2 {
		t.Fatalf("warehouses %+v, %v", ws, err)
	}
	e.stock(e.wh1, "WIDGET-1", 1)
	e.stock(e.wh1, "GADGET-9", 2)
	e.stock(e.wh2, "WIDGET-1", 3)
	for _, tt := range []struct {
		f    store.InventoryFilter
		want []int64
	}{
		{store.InventoryFilter{}, []int64{2, 1, 3}}, // by warehouse, then sku
		{store.InventoryFilter{WarehouseID: 1}, []int64{2, 1}},
		{store.InventoryFilter{SKU: "WIDGET-1"}, []int64{1, 3}},
		{store.InventoryFilter{WarehouseID: 2, SKU: "GADGET-9"}, nil},
	} {
		ls, err := e.db.ListInventory(e.ctx, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, l := range ls {
			got = append(got, l.OnHand)
		}
		if !slicesEqual(got, tt.want) {
			t.Errorf("ListInventory(%+v) on hand %v, want %v", tt.f, got, tt.want)
		}
	}
}

func slicesEqual(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
