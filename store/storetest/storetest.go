// Package storetest opens migrated databases for tests. Migrating a fresh
// file runs every migration's DDL, about a fifth of a web test's CPU; a
// package's tests open hundreds of databases, so the first call migrates
// one and every call starts from a copy of its file. The copy is a real
// SQLite file in the test's directory, migrated again (a no-op) by the
// same Migrate production runs.
package storetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"sentryhub/store"
)

// schema is the bytes of a database file with every migration applied,
// made once per test process (immutable afterwards).
var schema = sync.OnceValues(func() ([]byte, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "storetest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, store.FileName)
	db, err := store.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := db.MigrateSchema(ctx); err != nil {
		db.Close()
		return nil, err
	}
	// Fold the WAL into the file so the file alone is the database.
	if _, err := db.Writer().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("checkpoint the migrated template: %w", err)
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
})

// Open opens the database at path with opts and migrates it, closing it
// when tb ends. A missing file starts as a copy of a freshly migrated one;
// an existing file (a test reopening its database) is opened as it is.
func Open(tb testing.TB, path string, opts ...store.Option) *store.DB {
	tb.Helper()
	ctx := context.Background()
	if _, err := os.Stat(path); os.IsNotExist(err) {
		b, err := schema()
		if err != nil {
			tb.Fatalf("migrated template database: %v", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	db, err := store.Open(ctx, path, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return db
}
