package store_test

import (
	"errors"
	"testing"
	"time"

	"sentryhub/store"
)

// TestStreamSchedules: configured connections are those with settings or
// credentials; a stream schedule row is replaced when its schedule
// changes (keeping its cursor), advances by compare-and-set, and its
// cursor only moves forward.
func TestStreamSchedules(t *testing.T) {
	e, fc := syncEnv(t)
	if conns, err := e.db.ConfiguredConnections(e.ctx); err != nil || len(conns) != 0 {
		t.Fatalf("none configured: %v %v", conns, err)
	}
	if err := e.db.PutConnectorSettings(e.ctx, "admin:ops", "tinyshop", e.wh1, map[string]string{"api_url": "https://x"}); err != nil {
		t.Fatal(err)
	}
	conns, err := e.db.ConfiguredConnections(e.ctx)
	if err != nil || len(conns) != 1 || conns[0] != (store.ConnectionKey{Connector: "tinyshop", WarehouseID: e.wh1}) {
		t.Fatalf("configured %v %v", conns, err)
	}
	k := conns[0]
	t0 := fc.Now()
	var ve *store.ValidationError
	if err := e.db.PutStreamSchedule(e.ctx, store.StreamSchedule{ConnectionKey: k, Stream: "orders"}); !errors.As(err, &ve) ||
		ve.Fields["sync_type"] == "" || ve.Fields["schedule"] == "" || ve.Fields["next_run_at"] == "" {
		t.Fatalf("invalid row: %v", err)
	}
	row := store.StreamSchedule{ConnectionKey: k, Stream: "orders", SyncType: "orders", Schedule: "5m", NextRunAt: t0.Add(5 * time.Minute)}
	if err := e.db.PutStreamSchedule(e.ctx, row); err != nil {
		t.Fatal(err)
	}
	won, err := e.db.AdvanceStreamSchedule(e.ctx, k, "orders", t0.Add(5*time.Minute), t0.Add(10*time.Minute))
	if err != nil || !won {
		t.Fatalf("advance: %v %v", won, err)
	}
	if won, _ := e.db.AdvanceStreamSchedule(e.ctx, k, "orders", t0.Add(5*time.Minute), t0.Add(10*time.Minute)); won {
		t.Fatal("the same slot advanced twice")
	}
	if err := e.db.AdvanceStreamCursors(e.ctx, k, []string{"orders"}, t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := e.db.AdvanceStreamCursors(e.ctx, k, []string{"orders"}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	row.Schedule, row.NextRunAt = "*/15 * * * *", t0.Add(15*time.Minute)
	if err := e.db.PutStreamSchedule(e.ctx, row); err != nil {
		t.Fatal(err)
	}
	rows, err := e.db.ListStreamSchedules(e.ctx, "tinyshop", e.wh1)
	if err != nil || len(rows) != 1 {
		t.Fatalf("rows %+v %v", rows, err)
	}
	r := rows[0]
	if r.Schedule != "*/15 * * * *" || !r.NextRunAt.Equal(t0.Add(15*time.Minute)) || r.LastRunAt == nil ||
		r.Cursor == nil || !r.Cursor.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("row %+v", r)
	}
	if other, err := e.db.ListStreamSchedules(e.ctx, "tinyshop", e.wh1+1); err != nil || len(other) != 0 {
		t.Fatalf("other warehouse %+v %v", other, err)
	}
}
