package app

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"sentryhub/clock"
	"sentryhub/store"
	"sentryhub/store/storetest"
)

func TestJanitorPrunesAndStops(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t, filepath.Join(t.TempDir(), store.FileName), store.WithAuditKey(store.DeriveAuditKey([]byte("test"))), store.WithPasswordHashing(store.PasswordHashing{MemoryKiB: 8, Threads: 1}))
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	fc := clock.NewFake(start)
	insert := func(age time.Duration, id string) {
		t.Helper()
		if _, err := db.Writer().ExecContext(ctx, `INSERT INTO idempotency_keys (scope, request_id, operation, fingerprint, result, actor, created_at)
				VALUES ('', ?, 'adjustment', 'h', '{}', 'test', ?)`, id, start.Add(-age).Format(store.TimeFormat)); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		t.Helper()
		var n int
		if err := db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM idempotency_keys`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	insert(8*24*time.Hour, "old")
	insert(time.Hour, "young")
	ts := func(age time.Duration) string { return start.Add(-age).Format(store.TimeFormat) }
	if _, err := db.Writer().ExecContext(ctx, `INSERT INTO webhook_subscriptions (id, name, url, filter, status,
			pending_ceiling, dlq_ceiling, rate_limit_per_sec, max_in_flight, cursor, created_at, updated_at)
			VALUES (1, 's', 'https://example.com/h', '{}', 'active', 10, 10, 0, 1, 0, ?, ?)`, ts(0), ts(0)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Writer().ExecContext(ctx, `INSERT INTO webhook_deliveries (subscription_id, event_id, status, created_at)
			VALUES (1, 1, 'succeeded', ?), (1, 2, 'succeeded', ?)`, ts(31*24*time.Hour), ts(time.Hour)); err != nil {
		t.Fatal(err)
	}
	deliveries := func() int {
		t.Helper()
		var n int
		if err := db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM webhook_deliveries`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// Login sessions: one revoked 13 h ago and one absolutely expired 13 h
	// ago go; one revoked an hour ago and an active one stay.
	u, err := db.CreateUser(ctx, "test", "a@example.com", store.RoleAdmin, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Writer().ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, idle_seconds, revoked_at) VALUES
			('h1', ?1, ?2, ?2, ?3, 7200, ?4), ('h2', ?1, ?5, ?5, ?4, 7200, NULL),
			('h3', ?1, ?2, ?2, ?3, 7200, ?6), ('h4', ?1, ?6, ?6, ?3, 7200, NULL)`,
		u.ID, ts(14*time.Hour), ts(-10*time.Hour), ts(13*time.Hour), ts(25*time.Hour), ts(time.Hour)); err != nil {
		t.Fatal(err)
	}
	sessions := func() int {
		t.Helper()
		var n int
		if err := db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM sessions`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	run, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- janitor(db, fc, slog.New(slog.NewTextHandler(io.Discard, nil)))(run) }()

	// The first pass runs at start; the janitor then waits for its tick.
	<-fc.WaiterAdded()
	if n := count(); n != 1 {
		t.Fatalf("after the first pass %d keys remain, want 1", n)
	}
	if n := deliveries(); n != 1 {
		t.Fatalf("after the first pass %d deliveries remain, want the recent one", n)
	}
	if n := sessions(); n != 2 {
		t.Fatalf("after the first pass %d sessions remain, want the 2 recent ones", n)
	}
	// Seven days on, the young key is past the window too.
	fc.Advance(7 * 24 * time.Hour)
	<-fc.WaiterAdded()
	if n := count(); n != 0 {
		t.Fatalf("after a week %d keys remain, want 0", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("janitor stopped with %v", err)
	}
}
