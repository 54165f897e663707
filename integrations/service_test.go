package integrations

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sentryhub/clock"
	"sentryhub/store"
	"sentryhub/store/storetest"
	"sentryhub/store/vault"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

type testEnv struct {
	db    *store.DB
	clock *clock.Fake
	svc   *Service
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	db := storetest.Open(t, filepath.Join(t.TempDir(), "hub.db"), store.WithAuditKey(store.DeriveAuditKey([]byte("test"))), store.WithPasswordHashing(store.PasswordHashing{MemoryKiB: 8, Threads: 1}))
	clk := clock.NewFake(t0)
	db.Now = clk.Now
	key, err := vault.ParseKey(vault.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{db: db, clock: clk, svc: NewService(db, vault.New(db, key), nil, true, slog.New(slog.NewTextHandler(io.Discard, nil)))}
}

func (e *testEnv) create(t *testing.T, spec Spec) Created {
	t.Helper()
	c, err := e.svc.Create(context.Background(), "user:admin@example.com", spec)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func internalSpec(name string) Spec {
	return Spec{Kind: store.IntegrationInternal, Name: name, Permissions: Permissions{ResourceOrders: "write", ResourceItems: "read"}}
}

func publicSpec(name string) Spec {
	return Spec{Kind: store.IntegrationPublic, Name: name, Author: "Carrier Co", Overview: "Books shipments.",
		RedirectURL: "https://carrier.example/setup", VerifyInstall: true,
		Permissions: Permissions{ResourceOrders: "read"}}
}

func TestInternalTokenCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.create(t, internalSpec("ERP sync"))
	if !strings.HasPrefix(c.Token, store.IntegrationTokenPrefix) || c.Integration.Installation == nil ||
		c.Integration.Installation.Status != store.InstallationInstalled {
		t.Fatalf("internal integration not installed with a token: %+v", c.Integration)
	}
	a, err := e.db.LookupIntegrationToken(ctx, c.Token)
	if err != nil || a.Slug != "erp-sync" || a.Actor() != "integration:erp-sync" || Permissions(a.Permissions).Level(ResourceOrders) != LevelWrite {
		t.Fatalf("lookup: %+v %v", a, err)
	}
	var last store.IntegrationToken
	for i := 2; i <= store.MaxInternalTokens; i++ {
		if _, last, err = e.db.CreateIntegrationToken(ctx, "user:a", "erp-sync"); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
	}
	_, _, err = e.db.CreateIntegrationToken(ctx, "user:a", "erp-sync")
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "at most 20 active tokens") {
		t.Fatalf("21st token: %v", err)
	}
	// Tokens never expire.
	e.clock.Advance(24 * 365 * time.Hour)
	if _, err := e.db.LookupIntegrationToken(ctx, c.Token); err != nil {
		t.Fatalf("internal token expired: %v", err)
	}
	// Revoking one makes room for one more, and the revoked one stops working.
	if err := e.db.RevokeIntegrationToken(ctx, "user:a", "erp-sync", last.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.db.CreateIntegrationToken(ctx, "user:a", "erp-sync"); err != nil {
		t.Fatalf("after a revoke: %v", err)
	}
	toks, err := e.db.IntegrationTokens(ctx, "erp-sync")
	if err != nil || len(toks) != 21 {
		t.Fatalf("tokens: %d %v", len(toks), err)
	}
}

func secretOf(c Created) string { return string(c.ClientSecret.Reveal()) }

func TestOAuthFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.create(t, publicSpec("Carrier"))
	id, secret := c.Integration.ClientID, secretOf(c)
	inst, err := e.svc.Install(ctx, "user:admin", "carrier")
	if err != nil {
		t.Fatal(err)
	}
	if inst.Installation.Status != store.InstallationPending ||
		!strings.HasPrefix(inst.RedirectTo, "https://carrier.example/setup?code=") ||
		!strings.Contains(inst.RedirectTo, "installationId="+inst.Installation.UUID) {
		t.Fatalf("install: %+v", inst)
	}
	n := inst.Installation.UUID

	// Wrong client secret, wrong installation: refused, code not spent.
	for _, tc := range []struct{ inst, id, secret, want string }{
		{n, id, "nope", "invalid_client"},
		{n, "nobody", secret, "invalid_client"},
		{"0b0e5b5e-0000-4000-8000-000000000000", id, secret, "invalid_grant"},
	} {
		_, err := e.db.ExchangeGrant(ctx, tc.inst, tc.id, tc.secret, inst.Code)
		var oe *store.OAuthError
		if !errors.As(err, &oe) || oe.Code != tc.want {
			t.Fatalf("%+v: %v", tc, err)
		}
	}
	pair, err := e.db.ExchangeGrant(ctx, n, id, secret, inst.Code)
	if err != nil {
		t.Fatal(err)
	}
	if !pair.ExpiresAt.Equal(t0.Add(8 * time.Hour)) {
		t.Fatalf("expires %v", pair.ExpiresAt)
	}
	a, err := e.db.LookupIntegrationToken(ctx, pair.Token)
	if err != nil || a.InstallationStatus != store.InstallationPending {
		t.Fatalf("lookup: %+v %v", a, err)
	}
	// Verify install.
	if got, err := e.db.VerifyInstallation(ctx, a.Actor(), a.IntegrationID, n); err != nil || got.Status != store.InstallationInstalled {
		t.Fatalf("verify: %+v %v", got, err)
	}
	// Expiry after eight hours, on the clock.
	e.clock.Advance(8*time.Hour - time.Millisecond)
	if _, err := e.db.LookupIntegrationToken(ctx, pair.Token); err != nil {
		t.Fatalf("token dead before 8h: %v", err)
	}
	e.clock.Advance(time.Millisecond)
	if _, err := e.db.LookupIntegrationToken(ctx, pair.Token); !errors.Is(err, store.ErrBadToken) {
		t.Fatalf("token alive at 8h: %v", err)
	}
	// Refresh rotates both.
	p2, err := e.db.RefreshIntegrationToken(ctx, n, id, secret, pair.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if p2.Token == pair.Token || p2.RefreshToken == pair.RefreshToken {
		t.Fatal("refresh did not rotate")
	}
	p3, err := e.db.RefreshIntegrationToken(ctx, n, id, secret, p2.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.LookupIntegrationToken(ctx, p2.Token); !errors.Is(err, store.ErrBadToken) {
		t.Fatalf("refreshed-away token still works: %v", err)
	}
	if _, err := e.db.LookupIntegrationToken(ctx, p3.Token); err != nil {
		t.Fatal(err)
	}
	// Reusing a spent refresh token revokes everything of the installation.
	_, err = e.db.RefreshIntegrationToken(ctx, n, id, secret, p2.RefreshToken)
	var oe *store.OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_grant" {
		t.Fatalf("reuse: %v", err)
	}
	if _, err := e.db.LookupIntegrationToken(ctx, p3.Token); !errors.Is(err, store.ErrBadToken) {
		t.Fatalf("token survived refresh-token reuse: %v", err)
	}
	if _, err := e.db.RefreshIntegrationToken(ctx, n, id, secret, p3.RefreshToken); err == nil {
		t.Fatal("revoked refresh token still refreshes")
	}
	// Reusing the grant code revokes everything too.
	p4, err := e.db.ExchangeGrant(ctx, n, id, secret, inst.Code)
	if err == nil || p4.Token != "" {
		t.Fatalf("grant code reused: %v", err)
	}
	audit := e.auditActions(t)
	if !strings.Contains(audit, "integration.credential_reuse") || !strings.Contains(audit, "integration.verify_install") {
		t.Fatalf("audit: %s", audit)
	}
}

func (e *testEnv) auditActions(t *testing.T) string {
	t.Helper()
	rows, err := e.db.ListAudit(context.Background(), 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(r.Actor + " " + r.Action + "\n")
	}
	return b.String()
}

func TestGrantReuseAndExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.create(t, publicSpec("Carrier"))
	inst, err := e.svc.Install(ctx, "user:admin", "carrier")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := e.db.ExchangeGrant(ctx, "", c.Integration.ClientID, secretOf(c), inst.Code)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.ExchangeGrant(ctx, inst.Installation.UUID, c.Integration.ClientID, secretOf(c), inst.Code); err == nil {
		t.Fatal("code worked twice")
	}
	if _, err := e.db.LookupIntegrationToken(ctx, pair.Token); !errors.Is(err, store.ErrBadToken) {
		t.Fatalf("token survived grant code reuse: %v", err)
	}
	// A fresh install's code expires after ten minutes.
	if err := e.svc.Uninstall(ctx, "user:admin", "carrier"); err != nil {
		t.Fatal(err)
	}
	inst, err = e.svc.Install(ctx, "user:admin", "carrier")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10 * time.Minute)
	_, err = e.db.ExchangeGrant(ctx, inst.Installation.UUID, c.Integration.ClientID, secretOf(c), inst.Code)
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired code: %v", err)
	}
}

func TestUninstallRevokes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.create(t, publicSpec("Carrier"))
	inst, err := e.svc.Install(ctx, "user:admin", "carrier")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := e.db.ExchangeGrant(ctx, inst.Installation.UUID, c.Integration.ClientID, secretOf(c), inst.Code)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Uninstall(ctx, "user:admin", "carrier"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.LookupIntegrationToken(ctx, pair.Token); !errors.Is(err, store.ErrBadToken) {
		t.Fatalf("token survived uninstall: %v", err)
	}
	if _, err := e.db.RefreshIntegrationToken(ctx, inst.Installation.UUID, c.Integration.ClientID, secretOf(c), pair.RefreshToken); err == nil {
		t.Fatal("refresh after uninstall")
	}
	it, err := e.db.IntegrationBySlug(ctx, "carrier")
	if err != nil || it.Installation != nil {
		t.Fatalf("still installed: %+v %v", it.Installation, err)
	}
	if err := e.svc.Uninstall(ctx, "user:admin", "carrier"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second uninstall: %v", err)
	}
}

func TestSpecValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		spec  Spec
		field string
	}{
		{"no kind", Spec{Name: "x"}, "kind"},
		{"no name", Spec{Kind: "internal"}, "name"},
		{"bad level", Spec{Kind: "internal", Name: "x", Permissions: Permissions{"orders": "owner"}}, "permissions.orders"},
		{"bad resource", Spec{Kind: "internal", Name: "x", Permissions: Permissions{"users": "read"}}, "permissions.users"},
		{"unknown event", Spec{Kind: "internal", Name: "x", WebhookURL: "https://a.example/h", EventTypes: []string{"order.made"},
			Permissions: Permissions{"events": "read"}}, "event_types"},
		{"events without permission", Spec{Kind: "internal", Name: "x", WebhookURL: "https://a.example/h", EventTypes: []string{"ship.confirmed"}}, "event_types"},
		{"events without url", Spec{Kind: "internal", Name: "x", EventTypes: []string{"ship.confirmed"}, Permissions: Permissions{"events": "read"}}, "webhook_url"},
		{"public without a way to get the code", Spec{Kind: "public", Name: "x"}, "webhook_url"},
		{"redirect carries code", Spec{Kind: "public", Name: "x", RedirectURL: "https://a.example/?code=1"}, "redirect_url"},
		{"bad slug", Spec{Kind: "internal", Name: "x", Slug: "Not A Slug"}, "slug"},
		{"bad ui", Spec{Kind: "internal", Name: "x", UIComponents: []byte(`{"elements":[{"type":"iframe"}]}`)}, "ui_components"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.spec.Normalize(false, true)
			var ve *store.ValidationError
			if !errors.As(err, &ve) || ve.Fields[tc.field] == "" {
				t.Fatalf("want a problem with %s, got %v (%+v)", tc.field, err, ve)
			}
		})
	}
	s, err := Spec{Kind: "internal", Name: "  ERP  Sync! "}.Normalize(false, true)
	if err != nil || s.Slug != "erp-sync" || s.Permissions["webhooks"] != "none" {
		t.Fatalf("%+v %v", s, err)
	}
}

// TestClientSecretSealedAndRotated: the client secret is kept sealed by the
// vault, opens to what was shown, and survives a key rotation.
func TestClientSecretSealedAndRotated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.create(t, publicSpec("Carrier"))
	sealed, err := e.db.SealedClientSecret(ctx, "carrier")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), secretOf(c)) {
		t.Fatal("client secret stored in plaintext")
	}
	newKey, err := vault.ParseKey(vault.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.vault.Rotate(ctx, "test", newKey)
	if err != nil || res.IntegrationSecrets != 1 {
		t.Fatalf("rotate: %+v %v", res, err)
	}
	rotated, err := e.db.SealedClientSecret(ctx, "carrier")
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.vault.Open(rotated)
	if err != nil || string(got.Reveal()) != secretOf(c) {
		t.Fatalf("after rotation: %v", err)
	}
}

// TestWebhookURLAddedLater: an integration created without a webhook URL
// gains its subscription, signed with its client secret, when one is set;
// a set URL cannot be removed.
func TestWebhookURLAddedLater(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.create(t, internalSpec("ERP"))
	if c.Integration.SubscriptionID != nil {
		t.Fatal("subscription without a URL")
	}
	spec := internalSpec("ERP")
	spec.WebhookURL = "https://erp.example/hook"
	spec.EventTypes = []string{store.EventShipConfirmed}
	spec.Permissions[ResourceEvents] = "read"
	it, err := e.svc.Update(ctx, "user:admin", "erp", spec)
	if err != nil {
		t.Fatal(err)
	}
	if it.SubscriptionID == nil {
		t.Fatal("no subscription after adding a URL")
	}
	sub, err := e.db.Subscription(ctx, *it.SubscriptionID)
	if err != nil || sub.Owner != it.UUID || sub.URL != spec.WebhookURL || strings.Join(sub.Filter.EventTypes, ",") != store.EventShipConfirmed {
		t.Fatalf("subscription: %+v %v", sub, err)
	}
	gen1, _, err := e.svc.vault.WebhookSecrets(ctx, sub.ID)
	if err != nil || string(gen1.Reveal()) != secretOf(c) {
		t.Fatalf("signing secret is not the client secret: %v", err)
	}
	spec.WebhookURL = ""
	spec.EventTypes = nil
	_, err = e.svc.Update(ctx, "user:admin", "erp", spec)
	var ve *store.ValidationError
	if !errors.As(err, &ve) || ve.Fields["webhook_url"] == "" {
		t.Fatalf("removing the URL: %v", err)
	}
}
