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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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

// TestIntegrationsOpenAPIResponses runs the integration endpoints and
// checks each answer, and each request that succeeded, against the
// OpenAPI document.
func TestIntegrationsOpenAPIResponses(t *testing.T) {
	t.Parallel()
	s := loadOpenAPI(t)
	e := newIntegrationEnv(t)
	a := oaClient{t, e.connectorEnv, s, e.admin}
	hook := newConsumer(t, e.clock.Now)
	const base = "/api/admin/integrations"
	_, b := a.call("POST", base, base, `{"kind":"public","name":"Carrier","overview":"Books pickups","webhook_url":"`+hook.srv.URL+
		`/h","verify_install":true,"permissions":{"orders":"read","events":"read"},"event_types":["ship.confirmed"],"alert_action":true}`, 201)
	var created struct {
		Integration  store.Integration
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(b, &created); err != nil {
		t.Fatal(err)
	}
	hook.secrets.Set(1, vault.NewSecret(created.ClientSecret))
	a.call("POST", base, base, `{"kind":"internal","name":"ERP","ui_components":{"elements":[{"type":"link","label":"ERP","uri":"https://erp.example/{sku}","pages":["item"]}]}}`, 201)
	a.call("POST", base, base, `{"kind":"internal","name":"x","permissions":{"orders":"owner"}}`, 422)
	a.call("GET", base, base, "", 200)
	a.call("GET", base+"/{slug}", base+"/carrier", "", 200)
	a.call("PUT", base+"/{slug}", base+"/carrier", `{"name":"Carrier Link","webhook_url":"`+hook.srv.URL+`/h","permissions":{"orders":"read","events":"read"},"event_types":["ship.confirmed"],"alert_action":true}`, 200)
	a.call("GET", base+"/{slug}/tokens", base+"/erp/tokens", "", 200)
	a.call("POST", base+"/{slug}/tokens", base+"/erp/tokens", "", 201)
	a.call("POST", base+"/{slug}/tokens", base+"/carrier/tokens", "", 409)
	a.call("DELETE", base+"/{slug}/tokens/{id}", base+"/erp/tokens/1", "", 204)
	_, b = a.call("POST", base+"/{slug}/installation", base+"/carrier/installation", "", 201)
	var inst struct{ Installation store.Installation }
	if err := json.Unmarshal(b, &inst); err != nil {
		t.Fatal(err)
	}
	var data struct{ Installation struct{ Code string } }
	r := hook.next(t)
	_ = json.Unmarshal(r.Envelope.Data, &data)
	path := "/api/v1/integration-installations/" + inst.Installation.UUID
	anon := oaClient{t, e.connectorEnv, s, ""}
	body := `{"grant_type":"authorization_code","code":"` + data.Installation.Code + `","client_id":"` + created.Integration.ClientID +
		`","client_secret":"` + created.ClientSecret + `"}`
	_, b = anon.call("POST", "/api/v1/integration-installations/{id}/authorizations", path+"/authorizations", body, 201)
	anon.call("POST", "/api/v1/integration-installations/{id}/authorizations", path+"/authorizations", body, 400)
	anon.call("POST", "/api/v1/integration-installations/{id}/authorizations", path+"/authorizations", `{"grant_type":"password","client_id":"a","client_secret":"b"}`, 400)
	a.call("PUT", "/api/v1/integration-installations/{id}", path, `{"status":"installed"}`, 200)
	a.call("POST", "/api/admin/alert-rules", "/api/admin/alert-rules", `{"name":"low","kind":"stock_below","integration":"carrier-link","params":{"warehouse_id":1,"sku":"BOLT","threshold":5}}`, 422)
	a.call("POST", "/api/admin/alert-rules", "/api/admin/alert-rules", `{"name":"low","kind":"stock_below","integration":"carrier","params":{"warehouse_id":1,"sku":"BOLT","threshold":5}}`, 201)
	a.call("POST", "/api/admin/alert-rules", "/api/admin/alert-rules", `{"name":"low","kind":"nope","integration":"carrier","params":{}}`, 422)
	a.call("GET", "/api/admin/alert-rules", "/api/admin/alert-rules", "", 200)
	a.call("DELETE", "/api/admin/alert-rules/{id}", "/api/admin/alert-rules/1", "", 204)
	a.call("DELETE", base+"/{slug}/installation", base+"/carrier/installation", "", 204)
	a.call("DELETE", base+"/{slug}", base+"/carrier", "", 204)
	a.call("GET", base+"/{slug}", base+"/carrier", "", 404)
}
