package store_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"sentryhub/migrations"
	"sentryhub/store"
)

// Keys older than the retention window are pruned; younger ones still make
// a retried request return its first result.
func TestPruneIdempotencyKeys(t *testing.T) {
	e := newWHEnv(t)
	now := whEpoch
	e.db.Now = func() time.Time { return now }
	adjust := func(id string) store.Result[store.InventoryLevel] {
		t.Helper()
		r, err := e.db.ApplyAdjustment(e.ctx, store.OpMeta{RequestID: id, Actor: "test"},
			store.AdjustmentInput{WarehouseID: e.wh1, SKU: "WIDGET-1", Delta: 5, Reason: "count"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	old, young := uuid.NewString(), uuid.NewString()
	adjust(old)
	now = now.Add(store.IdempotencyRetention - time.Hour)
	adjust(young)
	now = now.Add(2 * time.Hour) // old is now past the window, young is not

	n, err := e.db.PruneIdempotencyKeys(e.ctx, now.Add(-store.IdempotencyRetention))
	if err != nil {
		t.Fatal(err)
	}
	// newWHEnv's setup operations are older still: everything but young goes.
	if n < 1 {
		t.Fatalf("pruned %d keys", n)
	}
	if r := adjust(young); !r.Replayed {
		t.Fatal("a key inside the window was forgotten")
	}
	if r := adjust(old); r.Replayed {
		t.Fatal("a key past the window still replays")
	}
	// Nothing left to prune before the cutoff.
	if n, err := e.db.PruneIdempotencyKeys(e.ctx, now.Add(-store.IdempotencyRetention)); err != nil || n != 0 {
		t.Fatalf("second prune: %d, %v", n, err)
	}
}

// TestIdempotencyKeysAreScoped: a key belongs to its scope (the caller). The
// same caller retrying the identical request gets the first result; the
// same caller sending another request (other operation, body or path id)
// under the key is refused; another caller's identical key is a new key and
// never sees the first caller's result.
func TestIdempotencyKeysAreScoped(t *testing.T) {
	e := newWHEnv(t)
	so1 := e.order("SO-1", e.wh1, line("WIDGET-1", 1))
	so2 := e.order("SO-2", e.wh1, line("WIDGET-1", 1))
	key := uuid.NewString()
	alice := store.OpMeta{RequestID: key, Scope: "token:1", Actor: "token:1:alice"}
	bob := store.OpMeta{RequestID: key, Scope: "token:2", Actor: "token:2:bob"}
	adjust := func(m store.OpMeta, delta int64) (store.Result[store.InventoryLevel], error) {
		return e.db.ApplyAdjustment(e.ctx, m, store.AdjustmentInput{WarehouseID: e.wh1, SKU: "WIDGET-1", Delta: delta, Reason: "count"})
	}
	first, err := adjust(alice, 5)
	if err != nil || first.Replayed {
		t.Fatalf("first: %+v, %v", first, err)
	}
	if again, err := adjust(alice, 5); err != nil || !again.Replayed || again.EventIDs[0] != first.EventIDs[0] {
		t.Fatalf("retry: %+v, %v", again, err)
	}
	for _, tc := range []struct {
		name, first string
		op          func() error
	}{
		{"other body", "inventory.adjust", func() error { _, err := adjust(alice, 6); return err }},
		{"other operation", "inventory.adjust", func() error {
			_, err := e.db.PickSalesOrder(e.ctx, alice, so1.ID)
			return err
		}},
		{"same operation, other path id", "sales_order.pick", func() error {
			pick := store.OpMeta{RequestID: uuid.NewString(), Scope: "token:1"}
			if _, err := e.db.PickSalesOrder(e.ctx, pick, so1.ID); err != nil {
				t.Fatal(err)
			}
			_, err := e.db.PickSalesOrder(e.ctx, pick, so2.ID)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.dump()
			err := tc.op()
			var ie *store.IdempotencyConflictError
			if !errors.As(err, &ie) || !errors.Is(err, store.ErrConflict) || ie.FirstOperation != tc.first {
				t.Fatalf("error %v, want an *IdempotencyConflictError naming %s", err, tc.first)
			}
			if !strings.Contains(err.Error(), "already used with a different request") {
				t.Fatalf("message does not name the conflict: %v", err)
			}
			if tc.name != "same operation, other path id" && e.dump() != before {
				t.Fatal("a refused request changed the database")
			}
		})
	}
	// Bob's identical key is his own: it applies (a new event, his
	// adjustment), and a retry of it replays his result, not Alice's.
	onHand := e.onHand(e.wh1, "WIDGET-1")
	theirs, err := adjust(bob, 2)
	if err != nil || theirs.Replayed || theirs.EventIDs[0] == first.EventIDs[0] || e.onHand(e.wh1, "WIDGET-1") != onHand+2 {
		t.Fatalf("another caller's key: %+v, %v", theirs, err)
	}
	if again, err := adjust(bob, 2); err != nil || !again.Replayed || again.EventIDs[0] != theirs.EventIDs[0] {
		t.Fatalf("another caller's retry: %+v, %v", again, err)
	}
	// The hub's own writes (no scope) are a scope of their own too.
	if own, err := adjust(store.OpMeta{RequestID: key}, 5); err != nil || own.Replayed {
		t.Fatalf("unscoped key: %+v, %v", own, err)
	}
}

// TestMigrationScopesExistingKeys upgrades a database holding keys written
// before 00009: each keeps working for the caller recorded as its actor.
func TestMigrationScopesExistingKeys(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sentryhub.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	p, err := goose.NewProvider(goose.DialectSQLite3, raw, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 8); err != nil {
		t.Fatal(err)
	}
	k1, k2 := uuid.NewString(), uuid.NewString()
	for _, q := range []string{
		`INSERT INTO users (id, email, password_hash, role, created_at) VALUES (7, 'Ada@example.com', 'x', 'admin', '2026-01-01T00:00:00.000Z')`,
		`INSERT INTO idempotency_keys (request_id, operation, request_hash, result, actor, created_at) VALUES
			('` + k1 + `', 'inventory.adjust', 'h1', '{}', 'token:12:warehouse bot', '2026-01-01T00:00:00.000Z'),
			('` + k1 + `', 'sales_order.pick', 'h2', '{}', 'token:12:warehouse bot', '2026-01-01T00:00:01.000Z'),
			('` + k1 + `', 'sales_order.pack', 'h3', '{}', 'user:ada@example.com', '2026-01-01T00:00:02.000Z'),
			('` + k2 + `', 'item.upsert', 'h4', '{}', 'user:gone@example.com', '2026-01-01T00:00:03.000Z'),
			('` + k2 + `', 'item.upsert_by_source', 'h5', '{}', 'connector:shopify', '2026-01-01T00:00:04.000Z')`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Writer().QueryContext(ctx, `SELECT scope, request_id, operation, fingerprint FROM idempotency_keys ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var scope, id, op, fp string
		if err := rows.Scan(&scope, &id, &op, &fp); err != nil {
			t.Fatal(err)
		}
		got = append(got, scope+" "+map[string]string{k1: "k1", k2: "k2"}[id]+" "+op+" "+fp)
	}
	want := []string{
		"token:12 k1 inventory.adjust h1", // the second token:12 row collided with it and was dropped
		"user:7 k1 sales_order.pack h3",   // matched by email, whatever its case
		"gone:user:gone@example.com k2 item.upsert h4",
		" k2 item.upsert_by_source h5",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("migrated keys:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := db.Writer().ExecContext(ctx, `INSERT INTO idempotency_keys (scope, request_id, operation, fingerprint, result, actor, created_at)
		VALUES ('token:12', ?, 'x', 'h', '{}', 'a', '2026-01-01T00:00:00.000Z')`, k1); err == nil {
		t.Fatal("two keys with one scope and request id were accepted")
	}
	// The migration reverses and reapplies.
	p, err = goose.NewProvider(goose.DialectSQLite3, db.Writer(), migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 8); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.Writer().QueryRowContext(ctx, `SELECT count(*) FROM idempotency_keys`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("after down and up: %d keys, %v", n, err)
	}
}
