package vault

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fernet/fernet-go"

	"sentryhub/store"
)

func TestCredentialsRoundTrip(t *testing.T) {
	ctx := context.Background()
	v, db, clk, key := newTestVault(t)
	putCreds(t, v, "shopify", 1, "api_key", canary, "shop_domain", "acme.myshopify.com")

	got, err := v.Credentials(ctx, "shopify", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got["api_key"].Reveal()) != canary || string(got["shop_domain"].Reveal()) != "acme.myshopify.com" {
		t.Fatalf("Credentials = %d values", len(got))
	}
	red, err := v.RedactedCredentials(ctx, "shopify", 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"api_key": "****", "shop_domain": "****"}; !reflect.DeepEqual(red, want) {
		t.Fatalf("RedactedCredentials = %v", red)
	}
	keys, err := v.CredentialKeys(ctx, "shopify", 1)
	if err != nil || !reflect.DeepEqual(keys, []string{"api_key", "shop_domain"}) {
		t.Fatalf("CredentialKeys = %v, %v", keys, err)
	}

	// Scoped per connector and warehouse.
	for _, scope := range []struct {
		c  string
		wh int64
	}{{"shopify", 2}, {"netsuite", 1}} {
		if _, err := v.Credentials(ctx, scope.c, scope.wh); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Credentials(%s, %d): err = %v, want ErrNotFound", scope.c, scope.wh, err)
		}
		if _, err := v.RedactedCredentials(ctx, scope.c, scope.wh); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RedactedCredentials(%s, %d): err = %v, want ErrNotFound", scope.c, scope.wh, err)
		}
		if _, err := v.CredentialKeys(ctx, scope.c, scope.wh); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CredentialKeys(%s, %d): err = %v, want ErrNotFound", scope.c, scope.wh, err)
		}
	}

	// Stored values are standard Fernet tokens under the key, readable by
	// any Fernet implementation, with a fresh IV each time.
	var tok1 []byte
	var created1, updated1 string
	if err := db.Reader().QueryRow(`SELECT encrypted_value, created_at, updated_at FROM connector_credentials
		WHERE connector_name='shopify' AND warehouse_id=1 AND key='api_key'`).Scan(&tok1, &created1, &updated1); err != nil {
		t.Fatal(err)
	}
	if msg := fernet.VerifyAndDecrypt(tok1, 0, []*fernet.Key{key}); string(msg) != canary {
		t.Fatal("stored value is not a Fernet token of the plaintext under the key")
	}

	// Upsert: one key changes, the other stays; created_at survives.
	clk.Advance(time.Hour)
	putCreds(t, v, "shopify", 1, "api_key", "shpat_rotated", "webhook_secret", "whs")
	got, err = v.Credentials(ctx, "shopify", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || string(got["api_key"].Reveal()) != "shpat_rotated" || string(got["shop_domain"].Reveal()) != "acme.myshopify.com" {
		t.Fatal("upsert did not replace api_key and keep shop_domain")
	}
	var tok2 []byte
	var created2, updated2 string
	if err := db.Reader().QueryRow(`SELECT encrypted_value, created_at, updated_at FROM connector_credentials
		WHERE connector_name='shopify' AND warehouse_id=1 AND key='api_key'`).Scan(&tok2, &created2, &updated2); err != nil {
		t.Fatal(err)
	}
	if created2 != created1 || updated2 == updated1 || updated2 != t0.Add(time.Hour).Format(store.TimeFormat) {
		t.Errorf("timestamps: created %s->%s updated %s->%s", created1, created2, updated1, updated2)
	}

	// Same plaintext twice gives different tokens (random IV).
	putCreds(t, v, "other", 1, "k", canary)
	putCreds(t, v, "other", 2, "k", canary)
	var a, b []byte
	db.Reader().QueryRow(`SELECT encrypted_value FROM connector_credentials WHERE connector_name='other' AND warehouse_id=1`).Scan(&a)
	db.Reader().QueryRow(`SELECT encrypted_value FROM connector_credentials WHERE connector_name='other' AND warehouse_id=2`).Scan(&b)
	if string(a) == string(b) {
		t.Error("equal plaintexts produced equal ciphertexts")
	}
}

func TestCredentialsAudit(t *testing.T) {
	ctx := context.Background()
	v, db, _, _ := newTestVault(t)
	putCreds(t, v, "shopify", 1, "api_key", canary, "shop_domain", "acme")
	putCreds(t, v, "shopify", 1, "api_key", canary+"_v2", "api_secret", "sec_CANARY_two")
	if err := v.DeleteCredentials(ctx, "ops@example.com", "shopify", 1); err != nil {
		t.Fatal(err)
	}
	if err := v.DeleteCredentials(ctx, "ops@example.com", "shopify", 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: err = %v, want ErrNotFound", err)
	}
	if _, err := v.Credentials(ctx, "shopify", 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: err = %v, want ErrNotFound", err)
	}

	es := auditEntries(t, db)
	if len(es) != 3 {
		t.Fatalf("audit rows = %d, want 3 (the failed delete writes none)", len(es))
	}
	type row struct{ actor, action, target, diff string }
	var got []row
	for i := len(es) - 1; i >= 0; i-- {
		got = append(got, row{es[i].Actor, es[i].Action, es[i].Target, string(es[i].Diff)})
	}
	want := []row{
		{"admin@example.com", "credentials.put", "connector:shopify/warehouse:1", `{"keys_created":["api_key","shop_domain"],"keys_updated":[]}`},
		{"admin@example.com", "credentials.put", "connector:shopify/warehouse:1", `{"keys_created":["api_secret"],"keys_updated":["api_key"]}`},
		{"ops@example.com", "credentials.delete", "connector:shopify/warehouse:1", `{"keys_deleted":["api_key","api_secret","shop_domain"]}`},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("audit rows\n got %#v\nwant %#v", got, want)
	}
	for _, e := range es {
		if strings.Contains(string(e.Diff), "CANARY") || strings.Contains(string(e.Diff), "acme") {
			t.Errorf("audit diff holds a value: %s", e.Diff)
		}
	}
	if n, err := db.VerifyAudit(ctx); err != nil || n != 3 {
		t.Fatalf("VerifyAudit = %d, %v", n, err)
	}
}

func TestPutCredentialsValidation(t *testing.T) {
	ctx := context.Background()
	v, db, _, _ := newTestVault(t)
	ok := map[string]Secret{"api_key": NewSecret("x")}
	for name, tc := range map[string]struct {
		connector string
		wh        int64
		values    map[string]Secret
		field     string
	}{
		"no connector":     {"", 1, ok, "connector"},
		"long connector":   {strings.Repeat("c", 129), 1, ok, "connector"},
		"warehouse 0":      {"shopify", 0, ok, "warehouse_id"},
		"no values":        {"shopify", 1, nil, "values"},
		"empty key name":   {"shopify", 1, map[string]Secret{"": NewSecret("x")}, "values"},
		"empty value":      {"shopify", 1, map[string]Secret{"api_key": {}}, "values.api_key"},
		"one empty of two": {"shopify", 1, map[string]Secret{"a": NewSecret("x"), "b": NewSecret("")}, "values.b"},
	} {
		err := v.PutCredentials(ctx, "admin", tc.connector, tc.wh, tc.values)
		var ve *store.ValidationError
		if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &ve) || ve.Fields[tc.field] == "" {
			t.Errorf("%s: err = %v (fields %v), want a validation error on %q", name, err, ve, tc.field)
		}
	}
	if got := ciphertexts(t, db); len(got) != 0 {
		t.Errorf("rejected puts stored %d rows", len(got))
	}
	if es := auditEntries(t, db); len(es) != 0 {
		t.Errorf("rejected puts wrote %d audit rows", len(es))
	}
}

func TestCredentialsUnderAnotherKey(t *testing.T) {
	ctx := context.Background()
	v, db, _, _ := newTestVault(t)
	putCreds(t, v, "shopify", 1, "api_key", canary)
	// The deployment restarted with a different SENTRY_ENCRYPTION_KEY.
	other := New(db, mustKey(t))
	_, err := other.Credentials(ctx, "shopify", 1)
	if !errors.Is(err, ErrDecrypt) {
		t.Fatalf("err = %v, want ErrDecrypt", err)
	}
	if !strings.Contains(err.Error(), "connector=shopify warehouse=1 key=api_key") || leaks(err.Error()) {
		t.Fatalf("error should name the row and no value: %v", err)
	}
}

func TestWebhookSecrets(t *testing.T) {
	ctx := context.Background()
	v, db, clk, _ := newTestVault(t)

	if _, _, err := v.WebhookSecrets(ctx, 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no secrets: err = %v, want ErrNotFound", err)
	}
	putWebhook(t, v, db, 1, 1, "whsec_one", nil)
	g1, g2, err := v.WebhookSecrets(ctx, 1)
	if err != nil || string(g1.Reveal()) != "whsec_one" || g2 != nil {
		t.Fatalf("gen1 only: %v, %v, %v", g1, g2, err)
	}

	// Rotation as the dispatcher would do it: the old secret becomes
	// generation 2 with an expiry, a new one takes generation 1.
	exp := t0.Add(24 * time.Hour)
	putWebhook(t, v, db, 1, 2, "whsec_one", &exp)
	putWebhook(t, v, db, 1, 1, "whsec_two", nil)
	g1, g2, err = v.WebhookSecrets(ctx, 1)
	if err != nil || string(g1.Reveal()) != "whsec_two" || g2 == nil || string(g2.Reveal()) != "whsec_one" {
		t.Fatalf("during overlap: %v, %v, %v", g1, g2, err)
	}
	var stored string
	db.Reader().QueryRow(`SELECT expires_at FROM webhook_secrets WHERE subscription_id=1 AND generation=2`).Scan(&stored)
	if stored != "2025-03-02T12:00:00.000Z" {
		t.Errorf("expires_at stored as %q", stored)
	}

	clk.Advance(24 * time.Hour) // exactly at expiry: no longer accepted
	if _, g2, err = v.WebhookSecrets(ctx, 1); err != nil || g2 != nil {
		t.Fatalf("after expiry: gen2 = %v, err = %v", g2, err)
	}

	// A generation 2 without expiry stays; generation 2 alone is not enough.
	putWebhook(t, v, db, 2, 1, "a", nil)
	putWebhook(t, v, db, 2, 2, "b", nil)
	if _, g2, err = v.WebhookSecrets(ctx, 2); err != nil || g2 == nil {
		t.Fatalf("gen2 without expiry: %v, %v", g2, err)
	}
	putWebhook(t, v, db, 3, 2, "c", nil)
	if _, _, err := v.WebhookSecrets(ctx, 3); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("gen2 only: err = %v, want ErrNotFound", err)
	}

	for name, tc := range map[string]struct {
		gen int
		s   Secret
	}{"generation 0": {0, NewSecret("x")}, "generation 3": {3, NewSecret("x")}, "empty": {1, Secret{}}} {
		err := v.PutWebhookSecret(ctx, 9, tc.gen, tc.s, nil)
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}

	// Sealing runs inside the store's transaction: a failure there leaves
	// nothing behind.
	sentinel := errors.New("seal fails")
	err = db.PutWebhookSecret(ctx, 7, 1, func() ([]byte, error) { return nil, sentinel }, nil)
	if !errors.Is(err, sentinel) {
		t.Fatal(err)
	}
	if _, _, err := v.WebhookSecrets(ctx, 7); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rolled-back secret is visible: %v", err)
	}
}

func TestRotateResultJSON(t *testing.T) {
	b, _ := json.Marshal(RotateResult{Credentials: 2, WebhookSecrets: 1})
	if string(b) != `{"credentials":2,"webhook_secrets":1}` {
		t.Fatal(string(b))
	}
}
