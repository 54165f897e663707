package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"sentryhub/migrations"
)

// FileName is the database file inside the data directory.
const FileName = "sentryhub.db"

// DB is the hub's database: a single writer connection, so write
// transactions never contend for the lock (SQLite allows one writer anyway,
// and a single pooled writer avoids SQLITE_BUSY under load), plus a pool of
// read-only connections that WAL lets run beside the writer.
type DB struct {
	Path string
	w    *sql.DB
	r    *sql.DB
	// Now is the clock used for timestamps written by store methods.
	Now func() time.Time

	outbox outbox      // change broadcast and prepared write statements (events.go)
	group  groupCommit // batches concurrent operations into one commit (groupcommit.go)
	audit  auditKey    // the audit chain's MAC key (audit.go)

	passwords PasswordHashing // cost of new password hashes (users.go)
}

// Option configures Open.
type Option func(*options)

type options struct {
	auditKey  []byte
	passwords PasswordHashing
}

// WithAuditKey sets the key that seals the audit log's chain (an
// HMAC-SHA256 key of at least 32 bytes; derive it from the encryption key
// with DeriveAuditKey). Without it the database reads the audit log but can
// neither append to it nor verify it.
func WithAuditKey(key []byte) Option {
	return func(o *options) { o.auditKey = key }
}

// The pragmas go in the DSN because modernc applies each _pragma on every new
// connection; a one-off PRAGMA statement would only reach one pooled
// connection. busy_timeout comes first so the others can wait for a lock.
func dsn(path string, extra string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)" + extra
}

// Open opens (creating if needed) the database at path. It does not migrate;
// call Migrate.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.auditKey != nil && len(o.auditKey) < minAuditKeyLen {
		return nil, fmt.Errorf("open database: the audit key must be at least %d bytes (see DeriveAuditKey)", minAuditKeyLen)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// _txlock=immediate makes every write transaction BEGIN IMMEDIATE, so a
	// transaction never fails upgrading a read lock to a write lock.
	// temp_store(MEMORY) keeps savepoint sub-journals (group commit, batch
	// upserts: one savepoint per record) in memory instead of a temp file
	// written page by page.
	w, err := sql.Open("sqlite", dsn(path, "&_txlock=immediate&_pragma=temp_store(MEMORY)"))
	if err != nil {
		return nil, fmt.Errorf("open database writer: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(path, "&_pragma=query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open database readers: %w", err)
	}
	n := max(4, runtime.NumCPU())
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := os.Chmod(path, 0o600); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("restrict database file mode: %w", err)
	}
	db := &DB{Path: path, w: w, r: r, Now: time.Now, passwords: o.passwords.withDefaults()}
	db.audit.key = bytes.Clone(o.auditKey)
	return db, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	return errors.Join(db.r.Close(), db.w.Close())
}

// Writer returns the single writer pool, for packages that keep their own
// prepared statements on it. Everything else goes through typed methods.
func (db *DB) Writer() *sql.DB { return db.w }

// Reader returns the read-only pool.
func (db *DB) Reader() *sql.DB { return db.r }

// now returns the store clock in UTC.
func (db *DB) now() time.Time { return db.Now().UTC() }

// TimeFormat is how timestamps are stored: RFC 3339 with fixed millisecond
// precision in UTC, so text order is time order.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse stored time %q: %w", s, err)
	}
	return t, nil
}

// withTx runs fn in one write transaction (BEGIN IMMEDIATE on the writer),
// committing when fn returns nil and rolling back otherwise. The commit
// fires Changed.
func (db *DB) withTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", interpretError(err))
	}
	db.committed(0)
	return nil
}

func (db *DB) provider() (*goose.Provider, error) {
	p, err := goose.NewProvider(goose.DialectSQLite3, db.w, migrations.FS)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, nil
}

// Migrate applies every pending embedded migration. With an audit key it
// then seals an audit chain still on the unkeyed form of before migration
// 00008 with that key (see keyLegacyAudit).
func (db *DB) Migrate(ctx context.Context) error {
	if err := db.MigrateSchema(ctx); err != nil {
		return err
	}
	return db.keyLegacyAudit(ctx)
}

// MigrateSchema applies pending migrations only, without the data step of
// Migrate that seals an unkeyed audit log under the audit key. A caller that
// must first check the key belongs to this database (app does, through the
// key check value of migration 00010) calls it, checks, then Migrate.
func (db *DB) MigrateSchema(ctx context.Context) error {
	p, err := db.provider()
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// MigrationStatus is one migration's state.
type MigrationStatus struct {
	Version   int64
	Source    string
	Applied   bool
	AppliedAt time.Time
}

// MigrationStatuses lists every embedded migration and whether it is applied.
func (db *DB) MigrationStatuses(ctx context.Context) ([]MigrationStatus, error) {
	p, err := db.provider()
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]MigrationStatus, 0, len(st))
	for _, s := range st {
		out = append(out, MigrationStatus{
			Version:   s.Source.Version,
			Source:    filepath.Base(s.Source.Path),
			Applied:   s.State == goose.StateApplied,
			AppliedAt: s.AppliedAt,
		})
	}
	return out, nil
}

// Ready reports whether the database answers and every migration is applied.
func (db *DB) Ready(ctx context.Context) error {
	if err := db.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	p, err := db.provider()
	if err != nil {
		return err
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("check migrations: %w", err)
	}
	if pending {
		return errors.New("migrations pending")
	}
	return nil
}

// Backup writes a consistent copy of the database to path with VACUUM INTO,
// which reads inside one transaction, so it is safe while serve writes.
// The target must not exist.
func (db *DB) Backup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("backup: %s already exists", path)
	}
	if _, err := db.w.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("backup: restrict file mode: %w", err)
	}
	return nil
}
