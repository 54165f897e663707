package store_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/google/uuid"

	"sentryhub/store"
)

// BenchmarkSyncPageProgress compares writing a page of 25 new orders (a
// Shopify orders page) with and without counting it into the running
// sync's progress: the cost of the one UPDATE per page.
func BenchmarkSyncPageProgress(b *testing.B) {
	for _, counted := range []bool{false, true} {
		name := "UpsertRecords"
		if counted {
			name = "UpsertSyncPage"
		}
		b.Run(name, func(b *testing.B) {
			e := newWHEnv(b)
			k := store.SyncKey{Connector: "shop", WarehouseID: e.wh1, SyncType: "orders"}
			run := uuid.NewString()
			if _, err := e.db.ClaimSync(e.ctx, k, store.ClaimOptions{RunID: run}); err != nil {
				b.Fatal(err)
			}
			const page = 25
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				recs := make([]store.SourceRecord, page)
				for i := range recs {
					n++
					id := strconv.Itoa(n)
					recs[i] = store.SourceRecord{Source: store.SourceRef{Name: "shop", ID: id}, SalesOrder: &store.SalesOrderInput{
						OrderNumber: "#" + id, WarehouseID: e.wh1, ShipTo: json.RawMessage(`{"name":"Customer"}`),
						Lines: []store.OrderLine{{SKU: "WIDGET-1", Qty: 2}}}}
				}
				b.StartTimer()
				var err error
				if counted {
					_, err = e.db.UpsertSyncPage(e.ctx, store.OpMeta{}, k, run, recs)
				} else {
					_, err = e.db.UpsertRecords(e.ctx, store.OpMeta{}, recs)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			if counted {
				st, _ := e.db.GetSyncState(e.ctx, k)
				if st.Progress.RecordsSynced != n {
					b.Fatalf("counted %d of %d", st.Progress.RecordsSynced, n)
				}
			}
		})
	}
}
