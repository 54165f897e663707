package dispatcher_test

import (
	"context"
	"testing"

	"sentryhub/dispatcher/dispatchbench"
	"sentryhub/store"
)

// runBench runs the end-to-end harness once per benchmark iteration and
// reports its figures as custom metrics (ns/op is one whole run).
func runBench(b *testing.B, o dispatchbench.Options) {
	b.Helper()
	var rate, p95, stmts float64
	var n int
	for b.Loop() {
		r, err := dispatchbench.Run(context.Background(), o)
		if err != nil {
			b.Fatal(err)
		}
		if r.Duplicates != 0 || r.OutOfOrder != 0 || r.BadSignatures != 0 {
			b.Fatalf("dups %d, out of order %d, bad signatures %d", r.Duplicates, r.OutOfOrder, r.BadSignatures)
		}
		rate += r.DeliveriesPerSec
		p95 += r.CommitToPOST.P95
		stmts += r.StatementsPerDelivery
		n++
	}
	b.ReportMetric(rate/float64(n), "deliveries/s")
	b.ReportMetric(1e9/(rate/float64(n)), "ns/delivery")
	b.ReportMetric(p95/float64(n), "p95-commit-to-POST-ms")
	b.ReportMetric(stmts/float64(n), "stmts/delivery")
}

// BenchmarkThroughput: verified deliveries per second with one
// subscription and with ten, each receiving every event, under each
// ordering (global: one request at a time per subscription; aggregate:
// lanes in parallel).
func BenchmarkThroughput(b *testing.B) {
	for _, ordering := range []string{store.OrderingGlobal, store.OrderingAggregate} {
		b.Run("ordering="+ordering+"/subscriptions=1", func(b *testing.B) {
			runBench(b, dispatchbench.Options{Events: 20000, Subscriptions: 1, Aggregates: 1000, Ordering: ordering})
		})
		b.Run("ordering="+ordering+"/subscriptions=10", func(b *testing.B) {
			runBench(b, dispatchbench.Options{Events: 5000, Subscriptions: 10, Aggregates: 1000, Ordering: ordering})
		})
	}
}

// BenchmarkCeilingBacklog: a backlog twenty times the pending ceiling,
// drained through it (fan-out tops the open deliveries up as they finish).
func BenchmarkCeilingBacklog(b *testing.B) {
	for _, ordering := range []string{store.OrderingGlobal, store.OrderingAggregate} {
		b.Run("ordering="+ordering, func(b *testing.B) {
			runBench(b, dispatchbench.Options{Events: 20000, Subscriptions: 1, Aggregates: 1000, PendingCeiling: 1000, Ordering: ordering})
		})
	}
}

// BenchmarkTableSize: dispatch cost with 10,000 and with 1,000,000 rows
// already in webhook_deliveries (it must stay within 2x). Ordering
// aggregate, so the database rather than the round trip is the limit.
func BenchmarkTableSize(b *testing.B) {
	for _, rows := range []struct {
		name string
		n    int
	}{{"rows=10k", 10_000}, {"rows=1M", 1_000_000}} {
		b.Run(rows.name, func(b *testing.B) {
			runBench(b, dispatchbench.Options{Events: 20000, Subscriptions: 1, Aggregates: 1000, Preload: rows.n,
				Ordering: store.OrderingAggregate})
		})
	}
}

// BenchmarkLatency: commit-to-POST at a steady 50 events per second, under
// each ordering.
func BenchmarkLatency(b *testing.B) {
	for _, ordering := range []string{store.OrderingGlobal, store.OrderingAggregate} {
		b.Run("ordering="+ordering, func(b *testing.B) {
			runBench(b, dispatchbench.Options{Events: 500, Subscriptions: 1, Aggregates: 100, Rate: 50, Ordering: ordering})
		})
	}
}
