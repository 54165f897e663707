package connectors_test

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"

	"sentryhub/connectors"
	"sentryhub/store"
)

func newService(h *harness) *connectors.Service {
	return connectors.NewService(connectors.ServiceConfig{Registry: h.reg, DB: h.db, Vault: h.vault, HTTP: h.pool, Runner: h.runner, Clock: h.clock})
}

func raw(t *testing.T, s string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// settingsConnector has secret and non-secret fields and a cross-field rule.
type settingsConnector struct{ stub }

func (settingsConnector) ValidateSettings(v connectors.Values, secrets map[string]bool) map[string]string {
	if v.String("mode") == "oauth" && !secrets["client_secret"] {
		return map[string]string{"client_secret": "is required for oauth"}
	}
	return nil
}

func TestCredentials(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	schema := connectors.Schema{Fields: []connectors.Field{
		{Name: "shop", Type: connectors.TypeString, Required: true, Label: "Shop"},
		{Name: "mode", Type: connectors.TypeEnum, Options: []string{"token", "oauth"}, Default: "token", Label: "Mode"},
		{Name: "token", Type: connectors.TypeString, Secret: true, Label: "Token"},
		{Name: "client_secret", Type: connectors.TypeString, Secret: true, Label: "Client secret"},
	}}
	if err := h.reg.Register("settingsy", func(connectors.Env) connectors.Connector {
		return &settingsConnector{stub{caps: []connectors.Capability{connectors.CapSyncItems}, schema: schema}}
	}); err != nil {
		t.Fatal(err)
	}
	svc := newService(h)
	ctx := h.ctx
	if _, err := svc.GetCredentials(ctx, "settingsy", h.wh); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("before any put: %v", err)
	}
	for _, tc := range []struct {
		name   string
		body   string
		wh     int64
		fields []string
	}{
		{"unknown field", `{"shop":"a","tokn":"x"}`, h.wh, []string{"tokn"}},
		{"missing required", `{"token":"x"}`, h.wh, []string{"shop"}},
		{"wrong type", `{"shop":7}`, h.wh, []string{"shop"}},
		{"bad enum", `{"shop":"a","mode":"magic"}`, h.wh, []string{"mode"}},
		{"cross-field rule", `{"shop":"a","mode":"oauth"}`, h.wh, []string{"client_secret"}},
		{"placeholder as a secret", `{"shop":"a","token":"****"}`, h.wh, []string{"token"}},
		{"unknown warehouse", `{"shop":"a"}`, 999, []string{"warehouse_id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.PutCredentials(ctx, "user:a", "settingsy", tc.wh, raw(t, tc.body))
			var ve *store.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%v", err)
			}
			for _, f := range tc.fields {
				if ve.Fields[f] == "" {
					t.Fatalf("%s not named: %v", f, ve.Fields)
				}
			}
		})
	}
	if _, err := svc.PutCredentials(ctx, "user:a", "nope", h.wh, raw(t, `{}`)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown connector: %v", err)
	}

	v, err := svc.PutCredentials(ctx, "user:a", "settingsy", h.wh, raw(t, `{"shop":"acme","token":"tok_0123456789"}`))
	if err != nil {
		t.Fatal(err)
	}
	if v.Values["shop"] != "acme" || v.Values["mode"] != "token" || v.Values["token"] != "****" {
		t.Fatalf("view %+v", v)
	}
	// Leaving a stored secret out keeps it; sending **** back is refused.
	if _, err := svc.PutCredentials(ctx, "user:a", "settingsy", h.wh, raw(t, `{"shop":"acme2"}`)); err != nil {
		t.Fatal(err)
	}
	secrets, _ := h.vault.Credentials(ctx, "settingsy", h.wh)
	if string(secrets["token"].Reveal()) != "tok_0123456789" {
		t.Fatal("stored secret lost")
	}
	got, _ := svc.GetCredentials(ctx, "settingsy", h.wh)
	if got.Values["shop"] != "acme2" || got.Values["token"] != "****" || got.UpdatedAt == nil {
		t.Fatalf("get %+v", got)
	}
	b, _ := json.Marshal(got)
	if strings.Contains(string(b), "tok_0123456789") {
		t.Fatal("secret in the view")
	}
	entries, _ := h.db.ListAudit(ctx, 0, 100)
	for _, e := range entries {
		if strings.Contains(string(e.Diff), "tok_0123456789") || strings.Contains(string(e.Diff), "acme") {
			t.Fatalf("audit carries a value: %+v", e)
		}
	}
	if err := svc.DeleteCredentials(ctx, "user:a", "settingsy", h.wh); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteCredentials(ctx, "user:a", "settingsy", h.wh); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestServiceTestConnection(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	svc := newService(h)
	res, err := svc.Test(h.ctx, "scripted", h.wh)
	if err != nil || !res.OK {
		t.Fatalf("%+v %v", res, err)
	}
	w2, _ := h.db.CreateWarehouse(h.ctx, store.OpMeta{}, store.WarehouseInput{Code: "W2", Name: "Two"})
	res, err = svc.Test(h.ctx, "scripted", w2.Value.ID)
	if err != nil || res.OK || !strings.Contains(res.Message, "api_key") {
		t.Fatalf("unconfigured: %+v %v", res, err)
	}
	if _, err := svc.Test(h.ctx, "nope", h.wh); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown connector: %v", err)
	}
}

func TestTriggerSync(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	svc := newService(h)
	if _, err := svc.TriggerSync(h.ctx, "user:a", "scripted", h.wh, "orders", false); !errors.Is(err, connectors.ErrNotRunning) {
		t.Fatalf("before Serve: %v", err)
	}
	if st := h.state("orders"); st.Status != store.SyncIdle {
		t.Fatalf("claim not released: %+v", st)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	served := make(chan error)
	go func() { served <- svc.Serve(ctx) }()
	release := make(chan struct{})
	h.s.sync = func(context.Context, connectors.Env, int) (connectors.SyncResult, error) {
		<-release
		return connectors.SyncResult{RecordsSynced: 2}, nil
	}
	var ticket connectors.RunTicket
	var err error
	for { // Serve starts in its goroutine: yield until it has
		ticket, err = svc.TriggerSync(h.ctx, "user:a", "scripted", h.wh, "orders", false)
		if !errors.Is(err, connectors.ErrNotRunning) {
			break
		}
		runtime.Gosched()
	}
	if err != nil || ticket.Status != "running" || ticket.RunID == "" {
		t.Fatalf("%+v %v", ticket, err)
	}
	if _, err := svc.TriggerSync(h.ctx, "user:a", "scripted", h.wh, "orders", false); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("while running: %v", err)
	}
	close(release)
	if o := <-h.done; o.RunID != ticket.RunID || o.Status != store.RunSuccess {
		t.Fatalf("%+v", o)
	}
	status, err := svc.SyncStatus(h.ctx, "scripted", h.wh)
	if err != nil || len(status.States) != 4 || status.Runs[0].RunID != ticket.RunID || status.Circuit.State != connectors.BreakerClosed {
		t.Fatalf("status %+v %v", status, err)
	}
	cancel()
	<-served
}

// A credentials form is stored whole or not at all: when the settings write
// fails after the secrets were written, the secrets roll back with it.
func TestCredentialsAllOrNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	schema := connectors.Schema{Fields: []connectors.Field{
		{Name: "shop", Type: connectors.TypeString, Required: true, Label: "Shop"},
		{Name: "token", Type: connectors.TypeString, Secret: true, Label: "Token"},
	}}
	if err := h.reg.Register("atomic", func(connectors.Env) connectors.Connector {
		return &stub{caps: []connectors.Capability{connectors.CapSyncItems}, schema: schema}
	}); err != nil {
		t.Fatal(err)
	}
	svc := newService(h)
	ctx := h.ctx
	if _, err := svc.PutCredentials(ctx, "user:a", "atomic", h.wh, raw(t, `{"shop":"acme","token":"tok_first"}`)); err != nil {
		t.Fatal(err)
	}
	before, err := h.db.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	// Make the settings write fail inside the transaction, after the vault
	// has already written the new secret.
	if _, err := h.db.Writer().ExecContext(ctx, `CREATE TRIGGER fail_settings BEFORE UPDATE ON connector_settings
			BEGIN SELECT RAISE(ABORT, 'injected settings failure'); END`); err != nil {
		t.Fatal(err)
	}
	_, err = svc.PutCredentials(ctx, "user:a", "atomic", h.wh, raw(t, `{"shop":"acme2","token":"tok_second"}`))
	if err == nil || !strings.Contains(err.Error(), "injected settings failure") {
		t.Fatalf("put with failing settings: %v", err)
	}
	if strings.Contains(err.Error(), "tok_second") {
		t.Fatalf("secret in error: %v", err)
	}
	secrets, err := h.vault.Credentials(ctx, "atomic", h.wh)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(secrets["token"].Reveal()); got != "tok_first" {
		t.Fatalf("token after failed put = %q, want the first value kept", got)
	}
	view, err := svc.GetCredentials(ctx, "atomic", h.wh)
	if err != nil || view.Values["shop"] != "acme" {
		t.Fatalf("settings after failed put: %+v %v", view, err)
	}
	after, err := h.db.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("audit rows %d -> %d: a failed put left an audit entry", len(before), len(after))
	}
}

// Deleting credentials is all or nothing too: when the settings delete
// fails, the secrets stay.
func TestDeleteCredentialsAllOrNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	schema := connectors.Schema{Fields: []connectors.Field{
		{Name: "shop", Type: connectors.TypeString, Required: true, Label: "Shop"},
		{Name: "token", Type: connectors.TypeString, Secret: true, Label: "Token"},
	}}
	if err := h.reg.Register("atomic", func(connectors.Env) connectors.Connector {
		return &stub{caps: []connectors.Capability{connectors.CapSyncItems}, schema: schema}
	}); err != nil {
		t.Fatal(err)
	}
	svc := newService(h)
	ctx := h.ctx
	if _, err := svc.PutCredentials(ctx, "user:a", "atomic", h.wh, raw(t, `{"shop":"acme","token":"tok_keep"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.db.Writer().ExecContext(ctx, `CREATE TRIGGER fail_settings_delete BEFORE DELETE ON connector_settings
			BEGIN SELECT RAISE(ABORT, 'injected delete failure'); END`); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteCredentials(ctx, "user:a", "atomic", h.wh); err == nil || !strings.Contains(err.Error(), "injected delete failure") {
		t.Fatalf("delete with failing settings: %v", err)
	}
	secrets, err := h.vault.Credentials(ctx, "atomic", h.wh)
	if err != nil || string(secrets["token"].Reveal()) != "tok_keep" {
		t.Fatalf("secrets after failed delete: %v", err)
	}
	// Without the fault it deletes both, and a second delete is not found.
	if _, err := h.db.Writer().ExecContext(ctx, `DROP TRIGGER fail_settings_delete`); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteCredentials(ctx, "user:a", "atomic", h.wh); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteCredentials(ctx, "user:a", "atomic", h.wh); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}
