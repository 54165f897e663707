package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestOrderingDefault: a subscription created without an ordering is
// "global" (the consumer contract's commit order), whatever the column's
// DEFAULT says, while rows that exist before the upgrade keep theirs:
// those from before migration 00006 (filled in as "aggregate") and those
// created later with an explicit "aggregate".
func TestOrderingDefault(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p, err := db.provider()
	if err != nil {
		t.Fatal(err)
	}
	insert := func(name, orderingCol, orderingVal string) int64 {
		t.Helper()
		var id int64
		err := db.w.QueryRowContext(ctx, `INSERT INTO webhook_subscriptions
			(name, url, filter, status, pending_ceiling, dlq_ceiling, rate_limit_per_sec, max_in_flight,
			 standard_webhooks, cursor, created_at, updated_at`+orderingCol+`)
			VALUES (?, 'https://x.example/h', '{"event_types":[],"warehouse_ids":[],"aggregate_external_id_allowlist":[]}',
			 'active', 10000, 1000, 0, 16, 0, 0, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'`+orderingVal+`)
			RETURNING id`, name).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	if _, err := p.UpTo(ctx, 5); err != nil {
		t.Fatal(err)
	}
	before := insert("before-ordering", "", "")
	if _, err := p.UpTo(ctx, 6); err != nil {
		t.Fatal(err)
	}
	explicit := insert("explicit-aggregate", ", ordering", ", 'aggregate'")
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{before, explicit} {
		s, err := db.Subscription(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if s.Ordering != OrderingAggregate {
			t.Fatalf("existing subscription %q has ordering %q after the upgrade, want aggregate", s.Name, s.Ordering)
		}
	}

	in, err := SubscriptionCreate{Name: "new", URL: "https://x.example/h"}.Normalize(false)
	if err != nil {
		t.Fatal(err)
	}
	if in.Ordering != OrderingGlobal || DefaultOrdering != OrderingGlobal {
		t.Fatalf("Normalize without ordering: %q, want global", in.Ordering)
	}
	agg := OrderingAggregate
	opt, err := SubscriptionCreate{Name: "opt-in", URL: "https://x.example/h", Ordering: &agg}.Normalize(false)
	if err != nil || opt.Ordering != OrderingAggregate {
		t.Fatalf("explicit aggregate: %q %v", opt.Ordering, err)
	}
	bare := in
	bare.Ordering = "" // a caller that skipped Normalize: still never the column DEFAULT
	for _, s := range []Subscription{in, opt, bare} {
		var got Subscription
		err := db.withTx(ctx, func(tx *sql.Tx) error {
			var err error
			got, err = db.insertSubscription(ctx, tx, s)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		want := s.Ordering
		if want == "" {
			want = OrderingGlobal
		}
		if got.Ordering != want {
			t.Fatalf("inserted %q with ordering %q, stored %q", s.Name, s.Ordering, got.Ordering)
		}
	}
}
