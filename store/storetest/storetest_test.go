package storetest

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"sentryhub/store"
)

// A copy of the template has exactly the schema and migration versions of
// a database migrated from scratch, and reopening an existing file keeps
// its rows.
func TestCopyMatchesFreshMigration(t *testing.T) {
	ctx := context.Background()
	fresh, err := store.Open(ctx, filepath.Join(t.TempDir(), store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if err := fresh.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), store.FileName)
	copied := Open(t, path)

	describe := func(db *store.DB) []string {
		var out []string
		for _, q := range []string{
			`SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_schema ORDER BY type, name`,
			`SELECT 'version ' || version_id || ' ' || is_applied FROM goose_db_version ORDER BY id`,
		} {
			rows, err := db.Reader().QueryContext(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				out = append(out, s)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			rows.Close()
		}
		return out
	}
	want, got := describe(fresh), describe(copied)
	if len(want) < 10 || !slices.Equal(got, want) {
		t.Fatalf("copied schema differs from a fresh migration:\n got %q\nwant %q", got, want)
	}

	if _, err := copied.CreateWarehouse(ctx, store.OpMeta{}, store.WarehouseInput{Code: "W1", Name: "Main"}); err != nil {
		t.Fatal(err)
	}
	copied.Close()
	again := Open(t, path)
	whs, err := again.ListWarehouses(ctx)
	if err != nil || len(whs) != 1 {
		t.Fatalf("reopened database lost its rows: %v %v", whs, err)
	}
}
