package vault

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fernet/fernet-go"

	"sentryhub/store"
)

// seedRotation stores 5 credential rows and 3 webhook secret rows (one an
// expired generation 2) and returns their plaintexts by row label.
func seedRotation(t *testing.T, v *Vault) map[string]string {
	t.Helper()
	putCreds(t, v, "shopify", 1, "api_key", "shpat_AAA", "api_secret", "shpss_BBB")
	putCreds(t, v, "shopify", 2, "api_key", "shpat_CCC")
	putCreds(t, v, "netsuite", 1, "token_id", "ns_DDD", "token_secret", "ns_EEE")
	past := t0.Add(-time.Hour)
	putWebhook(t, v, v.db, 1, 1, "whsec_FFF", nil)
	putWebhook(t, v, v.db, 1, 2, "whsec_GGG", &past)
	putWebhook(t, v, v.db, 3, 1, "whsec_HHH", nil)
	return map[string]string{
		TableCredentials + " connector=shopify warehouse=1 key=api_key":       "shpat_AAA",
		TableCredentials + " connector=shopify warehouse=1 key=api_secret":    "shpss_BBB",
		TableCredentials + " connector=shopify warehouse=2 key=api_key":       "shpat_CCC",
		TableCredentials + " connector=netsuite warehouse=1 key=token_id":     "ns_DDD",
		TableCredentials + " connector=netsuite warehouse=1 key=token_secret": "ns_EEE",
		TableWebhookSecrets + " subscription=1 generation=1":                  "whsec_FFF",
		TableWebhookSecrets + " subscription=1 generation=2":                  "whsec_GGG",
		TableWebhookSecrets + " subscription=3 generation=1":                  "whsec_HHH",
	}
}

// checkOpens asserts that k opens every stored row to its plaintext.
func checkOpens(t *testing.T, cts map[string][]byte, plain map[string]string, k *fernet.Key) {
	t.Helper()
	if len(cts) != len(plain) {
		t.Fatalf("%d rows stored, want %d", len(cts), len(plain))
	}
	for label, tok := range cts {
		s, err := decrypt(k, tok)
		if err != nil {
			t.Errorf("%s does not open: %v", label, err)
			continue
		}
		if string(s.Reveal()) != plain[label] {
			t.Errorf("%s opens to the wrong value", label)
		}
	}
}

func checkOpensNone(t *testing.T, cts map[string][]byte, k *fernet.Key) {
	t.Helper()
	for label, tok := range cts {
		if _, err := decrypt(k, tok); err == nil {
			t.Errorf("%s still opens under the old key", label)
		}
	}
}

func TestRotate(t *testing.T) {
	ctx := context.Background()
	v, db, _, oldKey := newTestVault(t)
	plain := seedRotation(t, v)
	before := ciphertexts(t, db)
	audits := len(auditEntries(t, db))
	newKey := mustKey(t)

	res, err := v.Rotate(ctx, "cli:rotate-key", newKey)
	if err != nil {
		t.Fatal(err)
	}
	if res != (RotateResult{Credentials: 5, WebhookSecrets: 3}) {
		t.Fatalf("result = %+v", res)
	}
	after := ciphertexts(t, db)
	for label := range before {
		if string(before[label]) == string(after[label]) {
			t.Errorf("%s was not re-encrypted", label)
		}
	}
	checkOpens(t, after, plain, newKey)
	checkOpensNone(t, after, oldKey)

	// The vault itself moved to the new key; a vault on the new key (the
	// next process) reads everything; one on the old key reads nothing.
	for _, vv := range []*Vault{v, New(db, newKey)} {
		c, err := vv.Credentials(ctx, "shopify", 1)
		if err != nil || string(c["api_key"].Reveal()) != "shpat_AAA" {
			t.Fatalf("Credentials after rotation: %v", err)
		}
		g1, _, err := vv.WebhookSecrets(ctx, 3)
		if err != nil || string(g1.Reveal()) != "whsec_HHH" {
			t.Fatalf("WebhookSecrets after rotation: %v", err)
		}
	}
	if _, err := New(db, oldKey).Credentials(ctx, "shopify", 1); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("old key after rotation: err = %v, want ErrDecrypt", err)
	}

	// One row for the secrets, one for the audit chain re-sealed under the
	// new key; the chain verifies here and from a handle on the new key.
	es := auditEntries(t, db)
	if len(es) != audits+2 {
		t.Fatalf("audit rows %d -> %d, want two more", audits, len(es))
	}
	last := es[1]
	if last.Action != "vault.rotate_key" || last.Actor != "cli:rotate-key" || last.Target != "vault" ||
		string(last.Diff) != `{"credentials":5,"webhook_secrets":3}` {
		t.Fatalf("audit row = %+v diff %s", last, last.Diff)
	}
	if es[0].Action != store.ActionAuditRekey || es[0].Actor != "cli:rotate-key" {
		t.Fatalf("audit row = %+v", es[0])
	}
	if _, err := db.VerifyAudit(ctx); err != nil {
		t.Fatalf("verify after rotation: %v", err)
	}
	next, err := store.Open(ctx, db.Path, store.WithAuditKey(store.DeriveAuditKey(newKey[:])))
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if _, err := next.VerifyAudit(ctx); err != nil {
		t.Fatalf("verify with the new key: %v", err)
	}

	// Rotating again to the key in use is refused and changes nothing.
	if _, err := v.Rotate(ctx, "cli", newKey); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("rotate to current key: err = %v, want ErrInvalid", err)
	}
	if !maps.EqualFunc(after, ciphertexts(t, db), func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Fatal("refused rotation changed ciphertexts")
	}
}

func TestRotateEmpty(t *testing.T) {
	v, db, _, _ := newTestVault(t)
	res, err := v.Rotate(context.Background(), "cli", mustKey(t))
	if err != nil || res != (RotateResult{}) {
		t.Fatalf("Rotate on empty stores = %+v, %v", res, err)
	}
	if es := auditEntries(t, db); len(es) != 2 || es[1].Action != "vault.rotate_key" || es[0].Action != store.ActionAuditRekey {
		t.Fatalf("audit = %+v", es)
	}
}

// checkUnchanged asserts the state after a failed rotation is the state
// before it: ciphertexts byte-identical, the old key opens all of them, the
// vault still uses the old key, no audit row.
func checkUnchanged(t *testing.T, v *Vault, before map[string][]byte, plain map[string]string, oldKey *fernet.Key, audits int) {
	t.Helper()
	after := ciphertexts(t, v.db)
	if !maps.EqualFunc(before, after, func(a, b []byte) bool { return string(a) == string(b) }) {
		for label := range before {
			if string(before[label]) != string(after[label]) {
				t.Errorf("%s changed", label)
			}
		}
		t.Fatal("ciphertexts changed after a failed rotation")
	}
	checkOpens(t, after, plain, oldKey)
	if _, err := v.Credentials(context.Background(), "shopify", 1); err != nil {
		t.Fatalf("vault no longer reads with its key: %v", err)
	}
	if n := len(auditEntries(t, v.db)); n != audits {
		t.Fatalf("audit rows %d -> %d after a failed rotation", audits, n)
	}
	if _, err := v.db.VerifyAudit(context.Background()); err != nil {
		t.Fatalf("audit chain after a failed rotation: %v", err)
	}
}

func TestRotateFailureHalfWayChangesNothing(t *testing.T) {
	injected := errors.New("injected failure")
	for _, tc := range []struct {
		name      string
		failAt    int // fail after this many rows were re-encrypted (1-based)
		wantTable string
		wantRow   string
	}{
		{"mid credentials", 3, TableCredentials, "connector=shopify warehouse=2 key=api_key"},
		{"first webhook row, after every credential", 6, TableWebhookSecrets, "subscription=1 generation=1"},
		{"last row, before the audit", 8, TableWebhookSecrets, "subscription=3 generation=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			v, db, _, oldKey := newTestVault(t)
			plain := seedRotation(t, v)
			before := ciphertexts(t, db)
			audits := len(auditEntries(t, db))

			var done int
			v.afterRotateRow = func(table, row string) error {
				done++
				if done == tc.failAt {
					return injected
				}
				return nil
			}
			_, err := v.Rotate(ctx, "cli", mustKey(t))
			var re *RotateError
			if !errors.As(err, &re) || !errors.Is(err, injected) {
				t.Fatalf("err = %v, want a *RotateError wrapping the injected failure", err)
			}
			if re.Table != tc.wantTable || re.Row != tc.wantRow {
				t.Fatalf("RotateError names %s / %s, want %s / %s", re.Table, re.Row, tc.wantTable, tc.wantRow)
			}
			if done != tc.failAt {
				t.Fatalf("hook ran %d times", done)
			}
			checkUnchanged(t, v, before, plain, oldKey, audits)
		})
	}
}

func TestRotateForeignRowChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name      string
		plant     func(t *testing.T, foreign *Vault)
		wantTable string
		wantRow   string
	}{
		{
			"credential",
			func(t *testing.T, f *Vault) { putCreds(t, f, "bigcommerce", 7, "client_secret", "bc_FOREIGN_CANARY") },
			TableCredentials, "connector=bigcommerce warehouse=7 key=client_secret",
		},
		{
			// Every credential row is re-encrypted before this one is
			// reached, so this also shows both tables roll back together.
			"webhook secret",
			func(t *testing.T, f *Vault) { putWebhook(t, f, f.db, 9, 1, "whsec_FOREIGN_CANARY", nil) },
			TableWebhookSecrets, "subscription=9 generation=1",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			v, db, _, oldKey := newTestVault(t)
			plain := seedRotation(t, v)
			foreignKey := mustKey(t)
			tc.plant(t, New(db, foreignKey))
			before := ciphertexts(t, db)
			audits := len(auditEntries(t, db))

			var rotated int
			v.afterRotateRow = func(string, string) error { rotated++; return nil }
			_, err := v.Rotate(ctx, "cli", mustKey(t))
			var re *RotateError
			if !errors.As(err, &re) || !errors.Is(err, ErrDecrypt) {
				t.Fatalf("err = %v, want a *RotateError wrapping ErrDecrypt", err)
			}
			if re.Table != tc.wantTable || re.Row != tc.wantRow {
				t.Fatalf("RotateError names %s / %s, want %s / %s", re.Table, re.Row, tc.wantTable, tc.wantRow)
			}
			if rotated == 0 {
				t.Fatal("no row was re-encrypted before the foreign one; the test proves less than it claims")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.wantTable) || !strings.Contains(msg, tc.wantRow) || strings.Contains(msg, "CANARY") {
				t.Fatalf("error text %q should name table and row and no value", msg)
			}

			// Everything except the foreign row still opens under the old key;
			// the foreign row is byte-identical too.
			foreign := map[string][]byte{}
			for label, tok := range before {
				if _, ok := plain[label]; !ok {
					foreign[label] = tok
					delete(before, label)
				}
			}
			after := ciphertexts(t, db)
			for label, tok := range foreign {
				if string(after[label]) != string(tok) {
					t.Fatalf("foreign row %s changed", label)
				}
				delete(after, label)
			}
			if len(foreign) != 1 {
				t.Fatalf("%d foreign rows", len(foreign))
			}
			if !maps.EqualFunc(before, after, func(a, b []byte) bool { return string(a) == string(b) }) {
				t.Fatal("ciphertexts changed after a failed rotation")
			}
			checkOpens(t, after, plain, oldKey)
			if n := len(auditEntries(t, db)); n != audits {
				t.Fatalf("audit rows %d -> %d", audits, n)
			}
		})
	}
}

// TestRotateWithConcurrentReaders: callers in the same process reading while
// Rotate runs see either the old state with the old key or the new state
// with the new key, never a mix.
func TestRotateWithConcurrentReaders(t *testing.T) {
	ctx := context.Background()
	v, _, _, _ := newTestVault(t)
	seedRotation(t, v)
	for i := range 50 {
		putCreds(t, v, "bulk", int64(i+1), "k", fmt.Sprintf("v%d", i))
	}
	stop := make(chan struct{})
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := v.Credentials(ctx, "shopify", 1); err != nil {
					errs <- err
					return
				}
				if _, _, err := v.WebhookSecrets(ctx, 1); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range 3 {
		if _, err := v.Rotate(ctx, "cli", mustKey(t)); err != nil {
			t.Error(err)
			break
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("reader failed during rotation: %v", err)
	}
}
