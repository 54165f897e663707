package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"regexp"
	"testing"
	"time"
)

// The engine's batch statements read every field of their JSON rows by
// name: each column lands where it belongs, absent fields leave the
// last-attempt columns, the log, the cursor and the last failure alone, and
// the parameters carry no positional arrays.
func TestEngineBatchStatements(t *testing.T) {
	db := whTestDB(t)
	ctx := context.Background()
	at := time.Date(2026, 5, 2, 14, 22, 7, 413e6, time.UTC)
	if _, err := db.w.ExecContext(ctx, `INSERT INTO webhook_subscriptions (id, name, url, filter, status,
		pending_ceiling, dlq_ceiling, rate_limit_per_sec, max_in_flight, cursor, created_at, updated_at)
		VALUES (1, 's', 'https://example.com/h', '{}', 'active', 10, 10, 0, 1, 5, ?, ?)`,
		formatTime(at), formatTime(at)); err != nil {
		t.Fatal(err)
	}
	ev := NewEvent{EventType: EventShipConfirmed, AggregateType: AggregateSalesOrder,
		AggregateID: "0b5f7d1e-4a8e-4c4f-9a53-6f1f8f0c2d11", WarehouseID: 1,
		SourceTxnID: "5f0c4b0a-2d63-4b8e-8f6e-0c1a9d2b7e44", Data: json.RawMessage(`{"n":1}`)}
	evIDs, err := db.AppendEvents(ctx, []NewEvent{ev, ev})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := db.NewWebhookEngine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	update := func(fn func(t *EngineTx) error) {
		t.Helper()
		if err := eng.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	type row struct {
		status, log                 string
		attempts                    int
		replayOf, code              sql.NullInt64
		next, last, kind, completed sql.NullString
	}
	read := func(id int64) row {
		t.Helper()
		var r row
		if err := db.r.QueryRowContext(ctx, `SELECT status, attempt_log, attempts, replay_of, last_status_code,
			next_attempt_at, last_attempt_at, last_error_kind, completed_at FROM webhook_deliveries WHERE id = ?`, id).
			Scan(&r.status, &r.log, &r.attempts, &r.replayOf, &r.code, &r.next, &r.last, &r.kind, &r.completed); err != nil {
			t.Fatal(err)
		}
		return r
	}

	var ids []int64
	update(func(tx *EngineTx) (err error) {
		ids, err = tx.InsertDeliveries(1, evIDs, []int64{0, 0}, at)
		return err
	})
	var replay []int64
	update(func(tx *EngineTx) (err error) {
		replay, err = tx.InsertDeliveries(1, evIDs[:1], []int64{ids[0]}, at)
		return err
	})
	if r := read(ids[0]); r.status != "pending" || r.replayOf.Valid {
		t.Fatalf("inserted: %+v", r)
	}
	if r := read(replay[0]); r.replayOf.Int64 != ids[0] {
		t.Fatalf("replay_of: %+v, want %d", r, ids[0])
	}

	// An in-flight mark (no attempt), then a failed attempt with a retry
	// due, then a mark again, then success.
	next := at.Add(time.Minute)
	steps := []struct {
		upd  DeliveryUpdate
		want row
	}{
		{DeliveryUpdate{ID: ids[0], Status: DeliveryInFlight},
			row{status: "in_flight", log: "[]"}},
		{DeliveryUpdate{ID: ids[0], Status: DeliveryPending, Attempts: 1, NextAttemptAt: next,
			Attempt: &Attempt{At: TimeOf(at), DurationMS: 12, StatusCode: 503, ErrorKind: "http_5xx"}},
			row{status: "pending", attempts: 1, next: sql.NullString{String: formatTime(next), Valid: true},
				last: sql.NullString{String: formatTime(at), Valid: true}, code: sql.NullInt64{Int64: 503, Valid: true},
				kind: sql.NullString{String: "http_5xx", Valid: true},
				log:  `[{"t":"` + formatTime(at) + `","ms":12,"c":503,"k":"http_5xx"}]`}},
		{DeliveryUpdate{ID: ids[0], Status: DeliveryInFlight, Attempts: 1},
			row{status: "in_flight", attempts: 1, last: sql.NullString{String: formatTime(at), Valid: true},
				code: sql.NullInt64{Int64: 503, Valid: true}, kind: sql.NullString{String: "http_5xx", Valid: true},
				log: `[{"t":"` + formatTime(at) + `","ms":12,"c":503,"k":"http_5xx"}]`}},
		{DeliveryUpdate{ID: ids[0], Status: DeliverySucceeded, Attempts: 2, CompletedAt: next,
			Attempt: &Attempt{At: TimeOf(next), DurationMS: 3, StatusCode: 200}},
			row{status: "succeeded", attempts: 2, last: sql.NullString{String: formatTime(next), Valid: true},
				code: sql.NullInt64{Int64: 200, Valid: true}, completed: sql.NullString{String: formatTime(next), Valid: true},
				log: `[{"t":"` + formatTime(at) + `","ms":12,"c":503,"k":"http_5xx"},{"t":"` + formatTime(next) + `","ms":3,"c":200}]`}},
		// Terminal rows are left alone.
		{DeliveryUpdate{ID: ids[0], Status: DeliveryPending, Attempts: 9},
			row{status: "succeeded", attempts: 2, last: sql.NullString{String: formatTime(next), Valid: true},
				code: sql.NullInt64{Int64: 200, Valid: true}, completed: sql.NullString{String: formatTime(next), Valid: true},
				log: `[{"t":"` + formatTime(at) + `","ms":12,"c":503,"k":"http_5xx"},{"t":"` + formatTime(next) + `","ms":3,"c":200}]`}},
	}
	for i, s := range steps {
		update(func(tx *EngineTx) error {
			return tx.ApplyDeliveryUpdates([]DeliveryUpdate{s.upd, {ID: ids[1], Status: DeliveryInFlight}})
		})
		got := read(ids[0])
		var gl, wl any
		if err := json.Unmarshal([]byte(got.log), &gl); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(s.want.log), &wl); err != nil {
			t.Fatal(err)
		}
		if gb, wb := mustJSON(t, gl), mustJSON(t, wl); gb != wb {
			t.Errorf("step %d: attempt_log %s, want %s", i, gb, wb)
		}
		got.log, s.want.log = "", ""
		if got != s.want {
			t.Errorf("step %d:\n got %+v\nwant %+v", i, got, s.want)
		}
	}
	if r := read(ids[1]); r.status != "in_flight" {
		t.Errorf("second row of the batch: %+v", r)
	}

	// Progress: cursors only move forward; a row without a failure keeps
	// the last one.
	type sub struct {
		cursor       int64
		failAt, kind sql.NullString
		status       sql.NullInt64
	}
	readSub := func() sub {
		t.Helper()
		var s sub
		if err := db.r.QueryRowContext(ctx, `SELECT cursor, last_failure_at, last_failure_kind, last_failure_status
			FROM webhook_subscriptions WHERE id = 1`).Scan(&s.cursor, &s.failAt, &s.kind, &s.status); err != nil {
			t.Fatal(err)
		}
		return s
	}
	failed := sub{cursor: 9, failAt: sql.NullString{String: formatTime(at), Valid: true},
		kind: sql.NullString{String: "timeout", Valid: true}}
	for i, s := range []struct {
		p    SubscriptionProgress
		want sub
	}{
		{SubscriptionProgress{ID: 1, Cursor: 9}, sub{cursor: 9}},
		{SubscriptionProgress{ID: 1, Cursor: 7}, sub{cursor: 9}},
		{SubscriptionProgress{ID: 1, LastFailureAt: at, FailureKind: "timeout"}, failed},
		{SubscriptionProgress{ID: 1}, failed},
		{SubscriptionProgress{ID: 1, Cursor: 12, LastFailureAt: next, FailureKind: "http_5xx", FailureStatus: 502},
			sub{cursor: 12, failAt: sql.NullString{String: formatTime(next), Valid: true},
				kind: sql.NullString{String: "http_5xx", Valid: true}, status: sql.NullInt64{Int64: 502, Valid: true}}},
	} {
		update(func(tx *EngineTx) error { return tx.UpdateProgress([]SubscriptionProgress{s.p}) })
		if got := readSub(); got != s.want {
			t.Errorf("progress %d:\n got %+v\nwant %+v", i, got, s.want)
		}
	}

	positional := regexp.MustCompile(`->>? *(\d|'\$\[\d)`)
	for name, q := range EngineStatements() {
		if positional.MatchString(q) {
			t.Errorf("%s reads positional fields:\n%s", name, q)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
