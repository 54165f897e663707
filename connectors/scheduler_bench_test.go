package connectors

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"sentryhub/clock"
	"sentryhub/store"
	"sentryhub/store/storetest"
)

// benchStreams is a connector made of three streams with own schedules.
type benchStreams struct{}

func (benchStreams) TestConnection(context.Context) (ConnectionResult, error) {
	return NewConnectionResult(true, ""), nil
}
func (benchStreams) SyncOrders(context.Context, time.Time) (SyncResult, error) {
	return SyncResult{}, nil
}
func (benchStreams) SyncItems(context.Context, time.Time) (SyncResult, error) {
	return SyncResult{}, nil
}
func (benchStreams) SyncInventory(context.Context, time.Time) (SyncResult, error) {
	return SyncResult{}, nil
}
func (benchStreams) PushFulfillment(context.Context, FulfillmentRequest) (PushResult, error) {
	return PushResult{}, nil
}
func (benchStreams) ConfigSchema() Schema { return Schema{} }
func (benchStreams) Capabilities() []Capability {
	return []Capability{CapSyncOrders, CapSyncItems, CapSyncInventory}
}
func (benchStreams) Streams() []StreamInfo {
	return []StreamInfo{{Key: "o", SyncType: SyncOrders, Schedule: "5m"}, {Key: "i", SyncType: SyncItems, Schedule: "15m"},
		{Key: "s", SyncType: SyncInventory, Schedule: "*/30 * * * *"}}
}

// BenchmarkSchedulerPass is one scheduler pass with nothing due over 50
// configured connections of a connector with three scheduled streams:
// what every store commit costs the scheduler.
func BenchmarkSchedulerPass(b *testing.B) {
	ctx := context.Background()
	db := storetest.Open(b, filepath.Join(b.TempDir(), store.FileName), store.WithAuditKey(store.DeriveAuditKey([]byte("b"))))
	fc := clock.NewFake(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	db.Now = fc.Now
	reg := NewRegistry()
	if err := reg.Register("bench", func(Env) Connector { return benchStreams{} }); err != nil {
		b.Fatal(err)
	}
	runner, err := NewRunner(RunnerConfig{}, RunnerDeps{Registry: reg, DB: db, Clock: fc})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 50 {
		w, err := db.CreateWarehouse(ctx, store.OpMeta{}, store.WarehouseInput{Code: fmt.Sprintf("W%d", i), Name: "W"})
		if err != nil {
			b.Fatal(err)
		}
		if err := db.PutConnectorSettings(ctx, "b", "bench", w.Value.ID, map[string]string{"x": "1"}); err != nil {
			b.Fatal(err)
		}
	}
	s := NewScheduler(SchedulerConfig{Rand: func() float64 { return 0 }}, db, runner, fc, slog.New(slog.DiscardHandler))
	if _, err := s.tick(ctx); err != nil { // first sight: rows stored
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.tick(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
