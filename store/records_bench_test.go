package store_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"sentryhub/store"
)

// BenchmarkUpsertRecords writes pages of 250 new two-line sales orders
// from a source, one transaction per page with an event per order: the
// store's share of a connector sync or an inbound push.
func BenchmarkUpsertRecords(b *testing.B) {
	e := newWHEnv(b)
	const page = 250
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		recs := make([]store.SourceRecord, page)
		for i := range recs {
			n++
			id := strconv.Itoa(n)
			recs[i] = store.SourceRecord{Source: store.SourceRef{Name: "shop", ID: id}, SalesOrder: &store.SalesOrderInput{
				OrderNumber: "#" + id, WarehouseID: 1, ShipTo: json.RawMessage(`{"name":"Customer","city":"Springfield","country":"US"}`),
				Lines: []store.OrderLine{{SKU: "WIDGET-1", Qty: 2}, {SKU: "GADGET-9", Qty: 1}}}}
		}
		b.StartTimer()
		res, err := e.db.UpsertRecords(e.ctx, store.OpMeta{}, recs)
		if err != nil || res[page-1].Outcome != store.OutcomeCreated {
			b.Fatal(res[page-1], err)
		}
	}
	b.ReportMetric(float64(b.N*page)/b.Elapsed().Seconds(), "records/s")
}
