package vault

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fernet/fernet-go"

	"sentryhub/clock"
	"sentryhub/store"
	"sentryhub/store/storetest"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// newTestDB opens a migrated store in a fresh temp dir on a fake clock.
func newTestDB(t *testing.T) (*store.DB, *clock.Fake) {
	t.Helper()
	db := storetest.Open(t, filepath.Join(t.TempDir(), store.FileName), store.WithAuditKey(store.DeriveAuditKey([]byte("test"))))
	clk := clock.NewFake(t0)
	db.Now = clk.Now
	return db, clk
}

func mustKey(t *testing.T) *fernet.Key {
	t.Helper()
	k, err := ParseKey(GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newTestVault(t *testing.T) (*Vault, *store.DB, *clock.Fake, *fernet.Key) {
	t.Helper()
	db, clk := newTestDB(t)
	k := mustKey(t)
	return New(db, k), db, clk, k
}

func putCreds(t *testing.T, v *Vault, connector string, wh int64, kv ...string) {
	t.Helper()
	m := map[string]Secret{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = NewSecret(kv[i+1])
	}
	if err := v.PutCredentials(context.Background(), "admin@example.com", connector, wh, m); err != nil {
		t.Fatal(err)
	}
}

func putWebhook(t *testing.T, v *Vault, db *store.DB, sub int64, gen int, secret string, exp *time.Time) {
	t.Helper()
	if err := v.PutWebhookSecret(context.Background(), sub, gen, NewSecret(secret), exp); err != nil {
		t.Fatal(err)
	}
}

// ciphertexts returns every stored ciphertext keyed by its row label, read
// straight from the tables.
func ciphertexts(t *testing.T, db *store.DB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	rows, err := db.Reader().Query(`SELECT connector_name, warehouse_id, key, encrypted_value FROM connector_credentials`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c, k string
		var wh int64
		var tok []byte
		if err := rows.Scan(&c, &wh, &k, &tok); err != nil {
			t.Fatal(err)
		}
		out[TableCredentials+" "+credentialRow(c, wh, k)] = tok
	}
	rows.Close()
	rows, err = db.Reader().Query(`SELECT subscription_id, generation, secret_ciphertext FROM webhook_secrets`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var sub, gen int64
		var tok []byte
		if err := rows.Scan(&sub, &gen, &tok); err != nil {
			t.Fatal(err)
		}
		out[TableWebhookSecrets+" subscription="+itoa(sub)+" generation="+itoa(gen)] = tok
	}
	rows.Close()
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func auditEntries(t *testing.T, db *store.DB) []store.AuditEntry {
	t.Helper()
	es, err := db.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return es
}
