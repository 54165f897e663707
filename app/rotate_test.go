package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sentryhub/store"
	"sentryhub/store/vault"
)

func TestRotateKeyCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	oldKey, newKey := testKey(t), testKey(t)
	ctx := context.Background()
	k, _ := vault.ParseKey(oldKey)
	db, err := store.Open(ctx, filepath.Join(dir, "sentryhub.db"), store.WithAuditKey(store.DeriveAuditKey(k[:])))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := vault.New(db, k).PutCredentials(ctx, "test", "shopify", 1, map[string]vault.Secret{"access_token": vault.NewSecret("shpat_canary")}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	keyFile := filepath.Join(t.TempDir(), "new.key")
	os.WriteFile(keyFile, []byte(newKey+"\n"), 0o600)

	if r := run(t, env("SENTRY_DATA_DIR", dir), "", "rotate-key", "--new-key-file", keyFile); r.code == 0 || !strings.Contains(r.stderr, "SENTRY_ENCRYPTION_KEY") {
		t.Fatalf("rotate without the current key: %d %q", r.code, r.stderr)
	}
	// A key that opens nothing is refused before the rotation starts: the
	// data directory belongs to the key that sealed its secrets.
	wrong := testKey(t)
	if r := run(t, env("SENTRY_DATA_DIR", dir, "SENTRY_ENCRYPTION_KEY", wrong), "", "rotate-key", "--new-key-file", keyFile); r.code == 0 ||
		!strings.Contains(r.stderr, "belongs to a different encryption key") || !strings.Contains(r.stderr, "Nothing was changed") {
		t.Fatalf("rotate with a key that opens nothing: %d %q", r.code, r.stderr)
	}
	r := run(t, env("SENTRY_DATA_DIR", dir, "SENTRY_ENCRYPTION_KEY", oldKey), "", "rotate-key", "--new-key-file", keyFile)
	if r.code != 0 || !strings.Contains(r.stderr, "re-encrypted 1 connector credentials") {
		t.Fatalf("rotate: %d %q", r.code, r.stderr)
	}
	if strings.Contains(r.stderr+r.stdout, newKey) || strings.Contains(r.stderr+r.stdout, oldKey) {
		t.Fatal("a key was printed")
	}

	db, err = store.Open(ctx, filepath.Join(dir, "sentryhub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	nk, _ := vault.ParseKey(newKey)
	creds, err := vault.New(db, nk).Credentials(ctx, "shopify", 1)
	if err != nil || string(creds["access_token"].Reveal()) != "shpat_canary" {
		t.Fatalf("new key cannot read the credential: %v", err)
	}
}
