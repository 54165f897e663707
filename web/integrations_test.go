package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"sentryhub/dispatcher"
	"sentryhub/integrations"
	"sentryhub/ssrf"
	"sentryhub/store"
	"sentryhub/store/vault"
)

// integrationEnv is the web test env with every area registered (the
// connector framework, a real dispatcher, the integration platform), with
// handles on the dispatcher and the integration service.
type integrationEnv struct {
	*connectorEnv
	d   *dispatcher.Dispatcher
	svc *integrations.Service
}

func newIntegrationEnv(t *testing.T) *integrationEnv {
	t.Helper()
	e := newConnectorEnv(t)
	key, err := vault.ParseKey(vault.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	v := vault.New(e.db, key)
	d, err := dispatcher.New(dispatcher.Config{
		DB: e.db, Vault: v, Clock: e.clock, AllowHTTP: true,
		Guard: ssrf.New(ssrf.Config{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.s.SetWebhooks(d)
	svc := integrations.NewService(e.db, v, d, true, slog.New(slog.DiscardHandler))
	e.s.SetIntegrations(svc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return &integrationEnv{connectorEnv: e, d: d, svc: svc}
}

// internal creates an internal integration holding perms and returns its
// token.
func (e *integrationEnv) internal(name string, perms integrations.Permissions) string {
	e.t.Helper()
	c, err := e.svc.Create(context.Background(), "user:test", integrations.Spec{Kind: store.IntegrationInternal, Name: name, Permissions: perms})
	if err != nil {
		e.t.Fatal(err)
	}
	return c.Token
}

func (e *integrationEnv) bearer(token, method, path, body string) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	resp := e.do(nil, method, path, map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}, rd)
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestIntegrationRouteTable holds every API route to the permission table:
// a route without an entry fails, and for each one an integration holding
// exactly the required level gets past authorization while one a level
// below (or, for routes closed to integrations, one holding admin on
// everything) gets 403.
func TestIntegrationRouteTable(t *testing.T) {
	e := newIntegrationEnv(t)
	tokens := map[string]string{}
	token := func(perms integrations.Permissions) string {
		k := fmt.Sprint(perms)
		if tokens[k] == "" {
			tokens[k] = e.internal(fmt.Sprintf("perm %d", len(tokens)), perms)
		}
		return tokens[k]
	}
	all := integrations.Permissions{}
	for _, r := range integrations.Resources {
		all[r] = "admin"
	}
	wildcard := regexp.MustCompile(`\{[^}]+\}`)
	checked := 0
	for _, pattern := range e.s.mux.registered() {
		method, path, _ := strings.Cut(pattern, " ")
		if !strings.HasPrefix(path, "/api/") && !strings.HasPrefix(pattern, "/api/") {
			continue
		}
		req, ok := integrationRequirement(pattern)
		if !ok {
			t.Errorf("route %s has no entry in integrationRequirement: decide what an integration needs for it", pattern)
			continue
		}
		if req.Resource == publicRoute {
			continue
		}
		concrete := wildcard.ReplaceAllString(path, "999999")
		try := func(perms integrations.Permissions) (int, []byte) {
			return e.bearer(token(perms), method, concrete, "")
		}
		checked++
		if req == integrations.Never {
			if code, b := try(all); code != http.StatusForbidden || !strings.Contains(string(b), "integrations may not use") {
				t.Errorf("%s is closed to integrations, but one with admin everywhere got %d %s", pattern, code, b)
			}
			continue
		}
		if req == integrations.Self {
			if code, b := try(integrations.Permissions{}); code == http.StatusUnauthorized || code == http.StatusForbidden {
				t.Errorf("%s with no permissions: %d %s", pattern, code, b)
			}
			continue
		}
		if code, b := try(integrations.Permissions{req.Resource: req.Level.String()}); code == http.StatusUnauthorized || code == http.StatusForbidden {
			t.Errorf("%s with %s: %d %s", pattern, req.Describe(), code, b)
		}
		if req.Level > integrations.LevelNone {
			lower := integrations.Permissions{}
			for _, r := range integrations.Resources {
				lower[r] = "admin"
			}
			lower[req.Resource] = (req.Level - 1).String()
			if code, b := try(lower); code != http.StatusForbidden || !strings.Contains(string(b), "lacks the "+req.Describe()) {
				t.Errorf("%s with %s one level short: %d %s", pattern, req.Resource, code, b)
			}
		}
	}
	if checked < 60 {
		t.Errorf("only %d routes checked: the test server lacks an area", checked)
	}
}

// TestIntegrationActsAsItself: an internal integration's token works as
// Bearer, its actions are audited under its own name, and revoking the
// token ends it.
func TestIntegrationActsAsItself(t *testing.T) {
	e := newIntegrationEnv(t)
	ctx := context.Background()
	tok := e.internal("ERP Sync", integrations.Permissions{"warehouses": "write", "webhooks": "write"})
	if code, b := e.bearer(tok, "POST", "/api/v1/warehouses", `{"code":"MAIN","name":"Main"}`); code != http.StatusCreated {
		t.Fatalf("create warehouse: %d %s", code, b)
	}
	code, b := e.bearer(tok, "POST", "/api/admin/webhooks", `{"name":"erp","url":"http://127.0.0.1:9/hook"}`)
	if code != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", code, b)
	}
	entries, err := e.db.ListAudit(ctx, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range entries {
		if a.Action == "webhook.create" {
			found = a.Actor == "integration:erp-sync"
			if !found {
				t.Errorf("webhook.create audited as %q", a.Actor)
			}
		}
	}
	if !found {
		t.Fatal("no webhook.create audit entry")
	}
	// Tokens: listed with created and last-used times, revocable.
	var list struct{ Tokens []store.IntegrationToken }
	e.adminJSON("GET", "/api/admin/integrations/erp-sync/tokens", "", http.StatusOK, &list)
	if len(list.Tokens) != 1 || list.Tokens[0].LastUsedAt == nil || list.Tokens[0].ExpiresAt != nil {
		t.Fatalf("tokens: %+v", list.Tokens)
	}
	e.adminJSON("DELETE", fmt.Sprintf("/api/admin/integrations/erp-sync/tokens/%d", list.Tokens[0].ID), "", http.StatusNoContent, nil)
	if code, _ := e.bearer(tok, "GET", "/api/v1/warehouses", ""); code != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d", code)
	}
}

func (e *integrationEnv) adminJSON(method, path, body string, want int, out any) []byte {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	resp := e.do(nil, method, path, map[string]string{"X-WMS-Token": e.admin, "Content-Type": "application/json"}, rd)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return b
}

// TestInternalTokenCapAPI: the 21st active token is refused with a 409
// that says why.
func TestInternalTokenCapAPI(t *testing.T) {
	e := newIntegrationEnv(t)
	var created struct {
		Token string
	}
	e.adminJSON("POST", "/api/admin/integrations", `{"kind":"internal","name":"Cap"}`, http.StatusCreated, &created)
	if !strings.HasPrefix(created.Token, store.IntegrationTokenPrefix) {
		t.Fatalf("first token: %q", created.Token)
	}
	for i := 2; i <= 20; i++ {
		e.adminJSON("POST", "/api/admin/integrations/cap/tokens", "", http.StatusCreated, nil)
	}
	b := e.adminJSON("POST", "/api/admin/integrations/cap/tokens", "", http.StatusConflict, nil)
	if !strings.Contains(string(b), "at most 20 active tokens") {
		t.Fatalf("21st: %s", b)
	}
}
