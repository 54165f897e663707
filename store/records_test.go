package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"sentryhub/store"
)

func soRecord(id, number string, lines ...store.OrderLine) store.SourceRecord {
	return store.SourceRecord{Source: store.SourceRef{Name: "erp", ID: id}, SalesOrder: &store.SalesOrderInput{
		OrderNumber: number, WarehouseID: 1, ShipTo: json.RawMessage(`{"city": "Lyon"}`), Lines: lines}}
}

func outcomes(res []store.RecordResult) []store.Outcome {
	out := make([]store.Outcome, len(res))
	for i, r := range res {
		out[i] = r.Outcome
	}
	return out
}

// TestUpsertRecordsBatch writes a batch where some records are refused at
// different stages (own checks, unknown sku, a taken order number found
// by SQLite mid-write, an order that can no longer change): the others
// are written with their events, the refused ones leave nothing, and a
// second identical batch is unchanged with no event.
func TestUpsertRecordsBatch(t *testing.T) {
	e := newWHEnv(t)
	shipped := e.order("HAND-1", e.wh1, line("WIDGET-1", 1))
	_ = shipped
	batch := func() []store.SourceRecord {
		return []store.SourceRecord{
			soRecord("1", "WEB-1", line("WIDGET-1", 2)),
			soRecord("2", "WEB-2", line("NOPE", 1)),                          // unknown sku
			soRecord("3", "", line("WIDGET-1", 1)),                           // own checks
			soRecord("4", "HAND-1", line("WIDGET-1", 1)),                     // order number taken: found by the insert
			soRecord("5", "WEB-5", line("GADGET-9", 1), line("WIDGET-1", 3)), // fine
			{Source: store.SourceRef{Name: "erp", ID: "I1"}, Item: &store.ItemInput{SKU: "NEW-1", Name: "New"}},
		}
	}
	before := e.latestEventID()
	orders := countRows(t, e.db, "sales_orders")
	res, err := e.db.UpsertRecords(e.ctx, e.meta(), batch())
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Outcome{store.OutcomeCreated, store.OutcomeRefused, store.OutcomeRefused, store.OutcomeRefused,
		store.OutcomeCreated, store.OutcomeCreated}
	if fmt.Sprint(outcomes(res)) != fmt.Sprint(want) {
		t.Fatalf("outcomes %v, want %v", outcomes(res), want)
	}
	if res[1].Fields["lines[0].sku"] == "" || res[2].Fields["order_number"] == "" || res[3].Fields["order_number"] != "is taken" {
		t.Errorf("refusals do not name their fields: %+v %+v %+v", res[1], res[2], res[3])
	}
	var ce *store.ConflictError
	if !errors.As(res[3].Err, &ce) {
		t.Errorf("taken order number: %v, want a *ConflictError", res[3].Err)
	}
	if n := countRows(t, e.db, "sales_orders"); n != orders+2 {
		t.Errorf("%d sales orders, want %d", n, orders+2)
	}
	if len(res[0].EventIDs) != 1 || len(res[4].EventIDs) != 1 || len(res[5].EventIDs) != 0 || e.latestEventID() != res[4].EventIDs[0] {
		t.Fatalf("event ids %v %v %v, latest %d", res[0].EventIDs, res[4].EventIDs, res[5].EventIDs, e.latestEventID())
	}
	if res[0].EventIDs[0] != before+1 {
		t.Errorf("first event %d, want %d: refused records left events", res[0].EventIDs[0], before+1)
	}
	if ev := e.event(res[4].EventIDs[0]); ev.EventType != store.EventSalesOrderCreated || ev.AggregateID != res[4].ID {
		t.Errorf("event %+v", ev)
	}

	// The same batch again: unchanged, nothing written.
	dump := e.dump()
	res, err = e.db.UpsertRecords(e.ctx, e.meta(), batch())
	if err != nil {
		t.Fatal(err)
	}
	want = []store.Outcome{store.OutcomeUnchanged, store.OutcomeRefused, store.OutcomeRefused, store.OutcomeRefused,
		store.OutcomeUnchanged, store.OutcomeUnchanged}
	if fmt.Sprint(outcomes(res)) != fmt.Sprint(want) {
		t.Fatalf("repeat outcomes %v, want %v", outcomes(res), want)
	}
	if got := e.dump(); got != dump {
		t.Errorf("an unchanged batch wrote:\n%s", got)
	}

	// A change to one order updates it alone; a picked order can no longer
	// change and is refused.
	so, _ := e.db.GetSalesOrder(e.ctx, res[4].ID)
	e.advance(so, store.SalesOrderPicked)
	b := batch()
	b[0].SalesOrder.Lines = []store.OrderLine{line("WIDGET-1", 5)}
	b[4].SalesOrder.Lines = []store.OrderLine{line("GADGET-9", 2)}
	res, err = e.db.UpsertRecords(e.ctx, e.meta(), b)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Outcome != store.OutcomeUpdated || e.event(res[0].EventIDs[0]).EventType != store.EventSalesOrderUpdated ||
		res[4].Outcome != store.OutcomeRefused {
		t.Fatalf("change: %+v / %+v", res[0], res[4])
	}
}

// TestUpsertRecordsAdjustmentsOnce applies a pushed adjustment once: the
// same document again is unchanged, with other values refused.
func TestUpsertRecordsAdjustmentsOnce(t *testing.T) {
	e := newWHEnv(t)
	adj := func(delta int64) []store.SourceRecord {
		return []store.SourceRecord{{Source: store.SourceRef{Name: "scanner", ID: "M-1"},
			Adjustment: &store.AdjustmentInput{WarehouseID: e.wh1, SKU: "WIDGET-1", Delta: delta, Reason: "found"}}}
	}
	for i, tc := range []struct {
		delta  int64
		want   store.Outcome
		onHand int64
		events int
	}{
		{4, store.OutcomeCreated, 4, 1},
		{4, store.OutcomeUnchanged, 4, 0},
		{5, store.OutcomeRefused, 4, 0},
	} {
		res, err := e.db.UpsertRecords(e.ctx, e.meta(), adj(tc.delta))
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Outcome != tc.want || len(res[0].EventIDs) != tc.events || e.onHand(e.wh1, "WIDGET-1") != tc.onHand {
			t.Errorf("push %d: %+v, on hand %d", i, res[0], e.onHand(e.wh1, "WIDGET-1"))
		}
	}
}

// TestUpsertRecordsIdempotencyKey replays a record whose source key was
// seen, even when the record changed since, and refuses the key for
// another document.
func TestUpsertRecordsIdempotencyKey(t *testing.T) {
	e := newWHEnv(t)
	rec := soRecord("1", "WEB-1", line("WIDGET-1", 2))
	rec.IdempotencyKey = "evt-1"
	first, err := e.db.UpsertRecords(e.ctx, e.meta(), []store.SourceRecord{rec})
	if err != nil || first[0].Outcome != store.OutcomeCreated {
		t.Fatal(first, err)
	}
	again, err := e.db.UpsertRecords(e.ctx, e.meta(), []store.SourceRecord{soRecord("1", "WEB-1", line("WIDGET-1", 2))})
	if err != nil || again[0].Outcome != store.OutcomeUnchanged {
		t.Fatal(again, err)
	}
	rec = soRecord("1", "WEB-1", line("WIDGET-1", 2))
	rec.IdempotencyKey = "evt-1"
	replay, err := e.db.UpsertRecords(e.ctx, e.meta(), []store.SourceRecord{rec})
	if err != nil || !replay[0].Replayed || replay[0].Outcome != store.OutcomeCreated || replay[0].EventIDs[0] != first[0].EventIDs[0] {
		t.Fatalf("replay %+v %v", replay, err)
	}
	other := soRecord("2", "WEB-2", line("WIDGET-1", 2))
	other.IdempotencyKey = "evt-1"
	res, err := e.db.UpsertRecords(e.ctx, e.meta(), []store.SourceRecord{other})
	if err != nil || res[0].Outcome != store.OutcomeRefused || res[0].Fields["idempotency_key"] == "" {
		t.Fatalf("reused key: %+v %v", res, err)
	}
}

// TestMappingVersions keeps every saved version and audits each save.
func TestMappingVersions(t *testing.T) {
	e := newWHEnv(t)
	if _, err := e.db.SaveMapping(e.ctx, "admin", "erp", "items", "v: 1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("mapping of an unknown source: %v", err)
	}
	if _, err := e.db.CreateInboundSource(e.ctx, "admin", "Bad Name"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad source name: %v", err)
	}
	if _, err := e.db.CreateInboundSource(e.ctx, "admin", "erp"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.CreateInboundSource(e.ctx, "admin", "erp"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("taken source name: %v", err)
	}
	for i, y := range []string{"first", "second", "third"} {
		mv, err := e.db.SaveMapping(e.ctx, "admin", "erp", "items", y)
		if err != nil || mv.Version != i+1 {
			t.Fatalf("save %d: %+v %v", i, mv, err)
		}
	}
	cur, err := e.db.GetMapping(e.ctx, "erp", "items", 0)
	if err != nil || cur.Version != 3 || cur.YAML != "third" {
		t.Fatalf("current %+v %v", cur, err)
	}
	v1, err := e.db.GetMapping(e.ctx, "erp", "items", 1)
	if err != nil || v1.YAML != "first" {
		t.Fatalf("version 1 %+v %v", v1, err)
	}
	vs, err := e.db.ListMappingVersions(e.ctx, "erp", "items")
	if err != nil || len(vs) != 3 || vs[0].Version != 3 || vs[2].YAML != "first" {
		t.Fatalf("versions %+v %v", vs, err)
	}
	list, err := e.db.ListMappings(e.ctx)
	if err != nil || len(list) != 1 || list[0].Version != 3 {
		t.Fatalf("list %+v %v", list, err)
	}
	if _, err := e.db.GetMapping(e.ctx, "erp", "sales_orders", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing mapping: %v", err)
	}
	audit, err := e.db.ListAudit(e.ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	saves := 0
	for _, a := range audit {
		if a.Action == "inbound.mapping.save" {
			saves++
		}
	}
	if saves != 3 {
		t.Errorf("%d audited saves, want 3", saves)
	}

	// A token bound to the source carries it.
	plain, tok, err := e.db.CreateSourceToken(e.ctx, "admin", "erp", "erp push")
	if err != nil || tok.InboundSource != "erp" || !tok.HasScope(store.ScopeInboundWrite) {
		t.Fatalf("source token %+v %v", tok, err)
	}
	got, err := e.db.LookupToken(e.ctx, plain)
	if err != nil || got.InboundSource != "erp" {
		t.Fatalf("lookup %+v %v", got, err)
	}
	if _, _, err := e.db.CreateSourceToken(e.ctx, "admin", "nope", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("token for an unknown source: %v", err)
	}
}

// TestPruneInboundPushes deletes push log rows older than the cutoff only.
func TestPruneInboundPushes(t *testing.T) {
	e := newWHEnv(t)
	if _, err := e.db.CreateInboundSource(e.ctx, "admin", "erp"); err != nil {
		t.Fatal(err)
	}
	push := func() {
		r := store.Refused("does not map", nil)
		if _, err := e.db.Push(e.ctx, store.PushInput{Source: "erp", Resource: "items", MappingVersion: 1, Actor: "t",
			Docs: []store.PushDoc{{Refused: &r}}}); err != nil {
			t.Fatal(err)
		}
	}
	push()
	push()
	cutoff := e.db.Now()
	push()
	n, err := e.db.PruneInboundPushes(e.ctx, cutoff)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want 2", n, err)
	}
	if left, _ := e.db.ListPushes(e.ctx, "erp", 10); len(left) != 1 {
		t.Fatalf("%d pushes left", len(left))
	}
}

// TestUpsertRecordsSameSourceTwice sends one order twice in a batch, the
// second time changed, and a third record repeating the first's order
// number under another id: the batch's own creations are seen by the
// records after them.
func TestUpsertRecordsSameSourceTwice(t *testing.T) {
	e := newWHEnv(t)
	res, err := e.db.UpsertRecords(e.ctx, e.meta(), []store.SourceRecord{
		soRecord("1", "WEB-1", line("WIDGET-1", 1)),
		soRecord("1", "WEB-1", line("WIDGET-1", 3)),
		soRecord("2", "WEB-1", line("WIDGET-1", 1)),
		soRecord("1", "WEB-1", line("WIDGET-1", 3)),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Outcome{store.OutcomeCreated, store.OutcomeUpdated, store.OutcomeRefused, store.OutcomeUnchanged}
	if fmt.Sprint(outcomes(res)) != fmt.Sprint(want) || res[0].ID != res[1].ID || res[3].ID != res[0].ID {
		t.Fatalf("outcomes %v: %+v", outcomes(res), res)
	}
	so, _ := e.db.GetSalesOrder(e.ctx, res[0].ID)
	if so.Lines[0].Qty != 3 || countRows(t, e.db, "sales_orders") != 1 {
		t.Fatalf("order %+v", so)
	}
}
