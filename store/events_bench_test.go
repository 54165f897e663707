package store_test

import (
	"encoding/json"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"sentryhub/store"
)

// BenchmarkAppendEventsBatched appends events 1,000 per transaction, the
// way a connector sync or a replay batch does (data canonicalized and every
// field checked, as in production).
func BenchmarkAppendEventsBatched(b *testing.B) {
	e := newWHEnv(b)
	const batch = 1000
	evs := make([]store.NewEvent, batch)
	for i := range evs {
		evs[i] = store.NewEvent{EventType: store.EventShipConfirmed, AggregateType: store.AggregateSalesOrder,
			AggregateID: uuid.NewString(), WarehouseID: int64(1 + i%3), SourceTxnID: uuid.NewString(),
			Data: json.RawMessage(`{"order_number":"SO-1001","carrier":"UPS","tracking":"1Z999AA10123456784",` +
				`"lines":[{"sku":"WIDGET-1","qty":2},{"sku":"GADGET-9","qty":1}]}`)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for done := 0; done < b.N; {
		k := min(batch, b.N-done)
		if _, err := e.db.AppendEvents(e.ctx, evs[:k]); err != nil {
			b.Fatal(err)
		}
		done += k
	}
	reportCPU(b, processCPU()-cpu)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkShipOperation ships packed two-line orders, one write
// transaction each (load order and lines, check and take stock, update the
// order, append ship.confirmed, store the idempotency record, commit).
// Creating, picking and packing the orders is excluded from the timing.
func BenchmarkShipOperation(b *testing.B) {
	e := newWHEnv(b)
	e.stock(e.wh1, "WIDGET-1", 1_000_000_000)
	e.stock(e.wh1, "GADGET-9", 1_000_000_000)
	const chunk = 500
	ids := make([]string, 0, chunk)
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(chunk, b.N-done)
		b.StopTimer()
		ids = ids[:0]
		for range k {
			so := e.order(uuid.NewString(), e.wh1, line("WIDGET-1", 2), line("GADGET-9", 1))
			e.advance(so, store.SalesOrderPacked)
			ids = append(ids, so.ID)
		}
		b.StartTimer()
		start := processCPU()
		for _, id := range ids {
			if _, err := e.db.ShipSalesOrder(e.ctx, e.meta(), id,
				store.ShipInput{Carrier: "UPS", Tracking: "1Z999AA10123456784"}); err != nil {
				b.Fatal(err)
			}
		}
		cpu += processCPU() - start
		done += k
	}
	reportCPU(b, cpu)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkListEvents1M polls pages of 1,000 events at random cursors with
// 1,000,000 events in the outbox. The table is filled by one INSERT ...
// SELECT over a recursive CTE per 250,000 rows (a few seconds), with
// realistic row sizes and seven types over three warehouses.
func BenchmarkListEvents1M(b *testing.B) {
	const total = 1_000_000
	e := newWHEnv(b)
	start := time.Now()
	for from := 0; from < total; from += 250_000 {
		if _, err := e.db.Writer().ExecContext(e.ctx, `
			WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?)
			INSERT INTO integration_events (event_type, event_version, event_timestamp,
				aggregate_type, aggregate_id, warehouse_id, source_txn_id, data, visible_at)
			SELECT CASE i % 7 WHEN 0 THEN 'ship.confirmed' WHEN 1 THEN 'pick.confirmed'
					WHEN 2 THEN 'pack.confirmed' WHEN 3 THEN 'receipt.completed'
					WHEN 4 THEN 'adjustment.applied' WHEN 5 THEN 'cycle_count.adjusted'
					ELSE 'transfer.completed' END,
				1, '2026-05-02T14:22:07.413Z', 'sales_order',
				printf('%08x-5b7c-4d1e-9f3a-%012x', i, i), 1 + i % 3,
				printf('6f9e7c6a-1b2c-4d5e-8f90-%012x', i),
				'{"carrier":"UPS","lines":[{"qty":2,"sku":"WIDGET-1"},{"qty":1,"sku":"GADGET-9"}],"order_number":"SO-' ||
					i || '","tracking":"1Z999AA10123456784"}',
				'2026-05-02T14:22:07.413Z'
			FROM n`, from+1, from+250_000); err != nil {
			b.Fatal(err)
		}
	}
	latest := e.latestEventID()
	if latest < total {
		b.Fatalf("outbox holds %d events", latest)
	}
	b.Logf("filled %d events in %v", total, time.Since(start).Round(time.Millisecond))

	rng := rand.New(rand.NewPCG(1, 2))
	page := func(b *testing.B, q store.EventQuery, envelopes bool) {
		b.ReportAllocs()
		cpu := processCPU()
		for b.Loop() {
			q.After = rng.Int64N(latest - 1000*7*3) // room for a full page under every filter
			evs, more, err := e.db.ListEvents(e.ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			if len(evs) != q.Limit || !more {
				b.Fatalf("page of %d events (more %v)", len(evs), more)
			}
			if envelopes {
				for _, ev := range evs {
					if _, err := ev.Envelope(); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		reportCPU(b, processCPU()-cpu)
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
	}
	b.Run("page", func(b *testing.B) { page(b, store.EventQuery{Limit: 1000}, false) })
	b.Run("page+envelopes", func(b *testing.B) { page(b, store.EventQuery{Limit: 1000}, true) })
	b.Run("page_by_type", func(b *testing.B) {
		page(b, store.EventQuery{Limit: 1000, EventType: store.EventShipConfirmed}, false)
	})
	b.Run("page_by_warehouse", func(b *testing.B) { page(b, store.EventQuery{Limit: 1000, WarehouseID: 2}, false) })
	b.Run("page_by_type_and_warehouse", func(b *testing.B) {
		page(b, store.EventQuery{Limit: 1000, EventType: store.EventPackConfirmed, WarehouseID: 3}, false)
	})
}

// reportCPU reports the process CPU time per operation (all goroutines,
// user and system): on a shared machine, wall time per operation includes
// waiting for a core, CPU time does not.
func reportCPU(b *testing.B, cpu time.Duration) {
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
	}
}

// BenchmarkShipOperationParallel ships from 8 goroutines, as concurrent HTTP
// requests do, so concurrent operations can share a commit (groupcommit.go).
func BenchmarkShipOperationParallel(b *testing.B) {
	e := newWHEnv(b)
	e.stock(e.wh1, "WIDGET-1", 1_000_000_000)
	e.stock(e.wh1, "GADGET-9", 1_000_000_000)
	ids := make([]string, b.N)
	for i := range ids {
		so := e.order(uuid.NewString(), e.wh1, line("WIDGET-1", 2), line("GADGET-9", 1))
		e.advance(so, store.SalesOrderPacked)
		ids[i] = so.ID
	}
	var next atomic.Int64
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	start := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := ids[next.Add(1)-1]
			if _, err := e.db.ShipSalesOrder(e.ctx, e.meta(), id,
				store.ShipInput{Carrier: "UPS", Tracking: "1Z999AA10123456784"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportCPU(b, processCPU()-start)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
