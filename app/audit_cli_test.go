package app

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"sentryhub/store"
	"sentryhub/store/vault"
)

// rawDB opens the database file without an audit key, for raw SQL on its
// Writer, as someone holding the file would run it.
func rawDB(t *testing.T, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// tamper runs SQL on the database file directly, with the audit triggers
// dropped, as someone holding the file would.
func tamper(t *testing.T, dir string, stmts ...string) {
	t.Helper()
	db := rawDB(t, dir).Writer()
	for _, q := range append([]string{
		`DROP TRIGGER IF EXISTS audit_log_no_delete`,
		`DROP TRIGGER IF EXISTS audit_log_ids_grow`,
	}, stmts...) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestAuditCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := testKey(t)
	getenv := env("SENTRY_DATA_DIR", dir, "SENTRY_ENCRYPTION_KEY", key)
	if r := run(t, getenv, "", "migrate", "up"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := run(t, getenv, "", "audit", "head"); r.code != 1 || !strings.Contains(r.stderr, "empty") {
		t.Fatalf("head of an empty log: %d %q", r.code, r.stderr)
	}
	for range 3 {
		if r := run(t, getenv, "", "token", "create", "--name", "t", "--scope", "events:read"); r.code != 0 {
			t.Fatal(r.stderr)
		}
	}
	h := run(t, getenv, "", "audit", "head")
	anchor := strings.TrimSpace(h.stdout)
	if h.code != 0 || !strings.HasPrefix(anchor, "3:") || len(anchor) != 2+64 || !strings.Contains(h.stderr, "audit verify --head "+anchor) {
		t.Fatalf("audit head: %d %q %q", h.code, h.stdout, h.stderr)
	}
	if r := run(t, getenv, "", "audit", "verify", "--head", anchor); r.code != 0 ||
		!strings.Contains(r.stdout, "3 entries, hash chain intact, head "+anchor) || !strings.Contains(r.stdout, "anchored head 3 holds") {
		t.Fatalf("verify --head: %d %q %q", r.code, r.stdout, r.stderr)
	}
	for _, bad := range []string{"3", "x:" + anchor[2:], "3:abc"} {
		if r := run(t, getenv, "", "audit", "verify", "--head", bad); r.code == 0 || !strings.Contains(r.stderr, "--head") {
			t.Fatalf("verify --head %s: %d %q", bad, r.code, r.stderr)
		}
	}
	// Without the key the chain cannot be checked, and the command says why.
	if r := run(t, env("SENTRY_DATA_DIR", dir), "", "audit", "verify"); r.code != 1 || !strings.Contains(r.stderr, "SENTRY_ENCRYPTION_KEY") {
		t.Fatalf("verify without the key: %d %q", r.code, r.stderr)
	}

	// rotate-key re-seals the chain: verify passes on the new key, the
	// anchor taken before still checks, and the old key no longer verifies.
	keyFile := filepath.Join(t.TempDir(), "new.key")
	newKey := testKey(t)
	os.WriteFile(keyFile, []byte(newKey+"\n"), 0o600)
	rot := run(t, getenv, "", "rotate-key", "--new-key-file", keyFile)
	if rot.code != 0 || !strings.Contains(rot.stderr, "re-sealed the audit log") || !strings.Contains(rot.stderr, "new audit head (store it in place of your previous anchor): 5:") {
		t.Fatalf("rotate-key: %d %q", rot.code, rot.stderr)
	}
	newEnv := env("SENTRY_DATA_DIR", dir, "SENTRY_ENCRYPTION_KEY", newKey)
	if r := run(t, newEnv, "", "audit", "verify", "--head", anchor); r.code != 0 || !strings.Contains(r.stdout, "5 entries") ||
		!strings.Contains(r.stdout, "key rotation recorded at row 5") {
		t.Fatalf("verify after rotation: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := run(t, getenv, "", "audit", "verify"); r.code != 1 || !strings.Contains(r.stderr, "belongs to a different encryption key") {
		t.Fatalf("verify with the old key after rotation: %d %q", r.code, r.stderr)
	}
	newHead := strings.TrimSpace(run(t, newEnv, "", "audit", "head").stdout)

	// Deleting the newest rows is reported as truncation, and the anchor
	// no longer holds.
	tamper(t, dir, `DELETE FROM audit_log WHERE id >= 4`)
	r := run(t, newEnv, "", "audit", "verify")
	if r.code != 1 || !strings.Contains(r.stderr, "audit log truncated: the newest rows, rows 4 to 5 are, are gone") {
		t.Fatalf("verify after truncation: %d %q", r.code, r.stderr)
	}
	tamper(t, dir, `UPDATE sqlite_sequence SET seq = 3 WHERE name = 'audit_log'`)
	if r := run(t, newEnv, "", "audit", "verify", "--head", newHead); r.code != 1 || !strings.Contains(r.stderr, "row 5 is gone") {
		t.Fatalf("verify --head after truncation hidden from the sequence: %d %q %q", r.code, r.stdout, r.stderr)
	}
	tamper(t, dir, `DELETE FROM audit_log`)
	if r := run(t, newEnv, "", "audit", "verify"); r.code != 1 || !strings.Contains(r.stderr, "audit log truncated: every row is gone") {
		t.Fatalf("verify after deleting every row: %d %q", r.code, r.stderr)
	}
}

// TestAuditInsertOrReplaceRefused: the INSERT OR REPLACE of the issue, run
// on the file with the other triggers in place, is refused.
func TestAuditInsertOrReplaceRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	getenv := env("SENTRY_DATA_DIR", dir, "SENTRY_ENCRYPTION_KEY", testKey(t))
	for range 2 {
		if r := run(t, getenv, "", "token", "create", "--name", "t", "--scope", "events:read"); r.code != 0 {
			t.Fatal(r.stderr)
		}
	}
	_, err := rawDB(t, dir).Writer().Exec(`INSERT OR REPLACE INTO audit_log (id, at, actor, action, target, diff, prev_hash, hash)
		SELECT id, at, 'user:mallory', action, target, diff, prev_hash, hash FROM audit_log WHERE id = 1`)
	if err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("INSERT OR REPLACE: %v", err)
	}
	if r := run(t, getenv, "", "audit", "verify"); r.code != 0 {
		t.Fatalf("verify: %q", r.stderr)
	}
}

func TestCLIActor(t *testing.T) {
	t.Parallel()
	osUser := func(name string) func() (*user.User, error) {
		return func() (*user.User, error) { return &user.User{Username: name}, nil }
	}
	noUser := func() (*user.User, error) { return nil, errors.New("unknown userid 1234") }
	for _, tc := range []struct {
		name    string
		env     []string
		current func() (*user.User, error)
		want    string
	}{
		{"USER", []string{"USER", "alice"}, osUser("bob"), "cli:alice"},
		{"no USER: the OS account", nil, osUser("bob"), "cli:bob"},
		{"blank USER: the OS account", []string{"USER", "  "}, osUser("bob"), "cli:bob"},
		{"no USER, no OS account", nil, noUser, "cli"},
		{"no USER, OS account without a name", nil, osUser(""), "cli"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cliActorFrom(env(tc.env...), tc.current); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCLIActorUsesInjectedEnvironment: the actor comes from Main.Getenv,
// not from the process environment.
func TestCLIActorUsesInjectedEnvironment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := testKey(t)
	want := "cli"
	if u, err := user.Current(); err == nil && u.Username != "" {
		want = "cli:" + u.Username
	}
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"USER", "injected-operator"}, "cli:injected-operator"},
		{nil, want},
	} {
		getenv := env(append([]string{"SENTRY_DATA_DIR", dir, "SENTRY_ENCRYPTION_KEY", key}, tc.env...)...)
		if r := run(t, getenv, "", "token", "create", "--name", "t", "--scope", "events:read"); r.code != 0 {
			t.Fatal(r.stderr)
		}
		db, err := store.Open(context.Background(), filepath.Join(dir, store.FileName))
		if err != nil {
			t.Fatal(err)
		}
		es, err := db.ListAudit(context.Background(), 0, 1)
		db.Close()
		if err != nil || len(es) != 1 || es[0].Actor != tc.want {
			t.Fatalf("actor %v %v, want %q", es, err, tc.want)
		}
	}
}

func TestBackupIntoMissingDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	getenv := env("SENTRY_DATA_DIR", dir)
	if r := run(t, getenv, "", "migrate", "up"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	missing := filepath.Join(t.TempDir(), "backups", "daily")
	r := run(t, getenv, "", "backup", "--to", filepath.Join(missing, "hub.db"))
	if r.code != 1 || !strings.Contains(r.stderr, "directory "+missing+" does not exist") {
		t.Fatalf("backup into a missing directory: %d %q", r.code, r.stderr)
	}
	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, nil, 0o600)
	r = run(t, getenv, "", "backup", "--to", filepath.Join(file, "hub.db"))
	if r.code != 1 || !strings.Contains(r.stderr, file+" is not a directory") {
		t.Fatalf("backup under a file: %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("backup created %s: %v", missing, err)
	}
}

// TestRotateKeyErrorReadsOnce: a failed rotation says what failed and that
// nothing changed, once each.
func TestRotateKeyErrorReadsOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	oldKey := testKey(t)
	getenv := env("SENTRY_DATA_DIR", dir, "SENTRY_ENCRYPTION_KEY", oldKey)
	k, _ := parseKey(oldKey)
	db, err := store.Open(ctx, filepath.Join(dir, store.FileName), store.WithAuditKey(store.DeriveAuditKey(k[:])))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// Bound to the key first, as serve does, so the damaged row below is
	// found by the rotation rather than by the key check.
	if err := vault.New(db, k).BindKey(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Writer().Exec(`INSERT INTO connector_credentials (connector_name, warehouse_id, key, encrypted_value, created_at, updated_at)
		VALUES ('shopify', 1, 'access_token', X'00', 't', 't')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	keyFile := filepath.Join(t.TempDir(), "new.key")
	os.WriteFile(keyFile, []byte(testKey(t)), 0o600)
	r := run(t, getenv, "", "rotate-key", "--new-key-file", keyFile)
	want := "sentryhub rotate-key: connector_credentials row connector=shopify warehouse=1 key=access_token does not open with SENTRY_ENCRYPTION_KEY (is it this data directory's key?); rolled back, nothing was changed\n"
	if r.code != 1 || r.stderr != want {
		t.Fatalf("rotate-key error:\n got %q\nwant %q", r.stderr, want)
	}
}
