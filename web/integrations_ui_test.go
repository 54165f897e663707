package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"sentryhub/dispatcher/sink"
	"sentryhub/store"
	"sentryhub/store/vault"
)

// TestIntegrationUIComponentsRenderSafely: an installed integration's link
// is expanded with the order's fields on the order page, and its action
// POSTs the order's context, signed with the client secret; the answer is
// shown as text, never as HTML.
func TestIntegrationUIComponentsRenderSafely(t *testing.T) {
	t.Parallel()
	e := newIntegrationEnv(t)
	var signed struct {
		ok     bool
		record map[string]string
	}
	secret := sink.NewKeyring(vault.NewSecret("unset"))
	desk := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		v, _ := sink.Verify(r.Context(), r.Header, body, secret, e.clock.Now())
		var in struct{ Record map[string]string }
		_ = json.Unmarshal(body, &in)
		signed.ok, signed.record = v.Valid, in.Record
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"message":"<script>alert(1)</script> ticket #42 created"}`))
	}))
	t.Cleanup(desk.Close)
	e.svc.SetActionClient(desk.Client())
	e.svc.SetClock(e.clock.Now)
	hook := newConsumer(t, e.clock.Now)

	ui := `{"elements":[{"type":"link","label":"Open in ERP","uri":"https://erp.example/orders/{order_id}{?external_id}","pages":["sales_order"]},` +
		`{"type":"action","label":"Create ticket","uri":"` + desk.URL + `/tickets","pages":["sales_order","item"]}]}`
	body, _ := json.Marshal(map[string]any{"kind": "internal", "name": "Desk", "webhook_url": hook.srv.URL + "/h", "ui_components": json.RawMessage(ui)})
	var created struct {
		ClientSecret string `json:"client_secret"`
	}
	e.adminJSON("POST", "/api/admin/integrations", string(body), http.StatusCreated, &created)
	secret.Set(1, vault.NewSecret(created.ClientSecret))

	e.seedWarehouse(e.admin)
	so := e.mustAPI(e.admin, "POST", "/api/v1/sales-orders", map[string]any{"order_number": "SO-7", "warehouse_id": 1,
		"ship_to": map[string]any{"name": "A"}, "lines": []map[string]any{{"sku": "WIDGET-1", "qty": 1}}}, 201)
	id := so["id"].(string)

	e.user("admin@example.com", store.RoleAdmin)
	c := e.browser()
	if r := e.login(c, "admin@example.com", "correct horse battery"); r.StatusCode != 303 {
		t.Fatalf("login: %d", r.StatusCode)
	}
	resp := e.do(c, "GET", "/records/sales_order/"+id, nil, nil)
	page, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(page), `href="https://erp.example/orders/`+id+`?external_id=SO-7"`) ||
		!strings.Contains(string(page), "Create ticket") {
		t.Fatalf("order page: %d %s", resp.StatusCode, page)
	}
	// The warehouse page has neither element.
	resp = e.do(c, "GET", "/records/warehouse/1", nil, nil)
	page, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || strings.Contains(string(page), "integration-components") {
		t.Fatalf("warehouse page: %d %s", resp.StatusCode, page)
	}

	// The action runs on the POST; its answer is shown on the record page
	// the redirect leads to, once: a reload neither shows it again nor
	// runs the action again.
	resp = e.do(c, "POST", "/records/sales_order/"+id+"/actions/desk/1",
		map[string]string{"Origin": e.srv.URL, "Content-Type": "application/x-www-form-urlencoded"}, strings.NewReader(url.Values{}.Encode()))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/records/sales_order/"+id {
		t.Fatalf("action: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if !signed.ok || signed.record["order_id"] != id || signed.record["external_id"] != "SO-7" {
		t.Fatalf("action request: signed %v record %v", signed.ok, signed.record)
	}
	resp = e.do(c, "GET", "/records/sales_order/"+id, nil, nil)
	page, _ = io.ReadAll(resp.Body)
	if strings.Contains(string(page), "<script>alert") || !strings.Contains(string(page), "&lt;script&gt;alert(1)&lt;/script&gt; ticket #42 created") {
		t.Fatalf("answer not escaped: %s", page)
	}
	signed.ok = false
	resp = e.do(c, "GET", "/records/sales_order/"+id, nil, nil)
	page, _ = io.ReadAll(resp.Body)
	if strings.Contains(string(page), "ticket #42") || signed.ok {
		t.Fatalf("reload: answer shown again %v, action sent again %v", strings.Contains(string(page), "ticket #42"), signed.ok)
	}
	// A link is not an action, and an unknown index is a 404.
	for _, p := range []string{"/records/sales_order/" + id + "/actions/desk/0", "/records/sales_order/" + id + "/actions/desk/9"} {
		resp = e.do(c, "POST", p, map[string]string{"Origin": e.srv.URL, "Content-Type": "application/x-www-form-urlencoded"}, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}

// TestConsentWebhookVariant: approving an integration without a redirect
// URL lands back on its page, which says the code went by webhook; the
// consent page lists only the permissions asked for.
func TestConsentWebhookVariant(t *testing.T) {
	t.Parallel()
	e := newIntegrationEnv(t)
	hook := newConsumer(t, e.clock.Now)
	var created struct {
		ClientSecret string `json:"client_secret"`
	}
	e.adminJSON("POST", "/api/admin/integrations", `{"kind":"public","name":"Market","overview":"Lists <b>stock</b>.","webhook_url":"`+
		hook.srv.URL+`/h","permissions":{"inventory":"read"}}`, http.StatusCreated, &created)
	hook.secrets.Set(1, vault.NewSecret(created.ClientSecret))
	e.user("admin@example.com", store.RoleAdmin)
	c := e.browser()
	e.login(c, "admin@example.com", "correct horse battery")
	resp := e.do(c, "GET", "/settings/developer/market/install", nil, nil)
	page, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Lists &lt;b&gt;stock&lt;/b&gt;.") ||
		!strings.Contains(string(page), "<td>inventory</td><td>read</td>") || strings.Contains(string(page), "<td>orders</td>") {
		t.Fatalf("consent page: %d %s", resp.StatusCode, page)
	}
	resp = e.do(c, "POST", "/settings/developer/market/install", map[string]string{"Origin": e.srv.URL}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/settings/developer/market" {
		t.Fatalf("approve: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if r := hook.next(t); r.Envelope.EventType != store.EventInstallationCreated || !strings.Contains(string(r.Envelope.Data), `"code":"shing_`) {
		t.Fatalf("webhook: %s %s", r.Envelope.EventType, r.Envelope.Data)
	}
	resp = e.do(c, "GET", "/settings/developer/market", nil, nil)
	page, _ = io.ReadAll(resp.Body)
	if !flashOf(string(page), "ok", "received installation.created") || !strings.Contains(string(page), `id="install-status">installed`) {
		t.Fatalf("page after install: %s", page)
	}
	// The deliveries link opens the owned subscription in the webhooks UI.
	it, err := e.db.IntegrationBySlug(t.Context(), "market")
	if err != nil || it.SubscriptionID == nil || !strings.Contains(string(page), `href="/webhooks/`+itoa(*it.SubscriptionID)+`"`) {
		t.Fatalf("deliveries link: %v", err)
	}
	resp = e.do(c, "GET", "/webhooks/"+itoa(*it.SubscriptionID), nil, nil)
	page, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(page), "integration: Market") {
		t.Fatalf("webhooks page: %d", resp.StatusCode)
	}
	// A second install is refused while one is live, and the page says so.
	resp = e.do(c, "POST", "/settings/developer/market/install", map[string]string{"Origin": e.srv.URL}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/settings/developer/market" {
		t.Fatalf("second install: %d", resp.StatusCode)
	}
	resp = e.do(c, "GET", "/settings/developer/market", nil, nil)
	page, _ = io.ReadAll(resp.Body)
	if !flashOf(string(page), "error", "Not installed") {
		t.Fatalf("page after the second install: %s", page)
	}
}

// TestIntegrationIdempotencyScope: an integration's X-Request-ID belongs
// to its installation, so a retry after a token refresh is still a retry.
func TestIntegrationIdempotencyScope(t *testing.T) {
	t.Parallel()
	e := newIntegrationEnv(t)
	tok := e.internal("ERP", map[string]string{"warehouses": "write"})
	second, _, err := e.db.CreateIntegrationToken(t.Context(), "user:test", "erp")
	if err != nil {
		t.Fatal(err)
	}
	send := func(token string) *http.Response {
		return e.do(nil, "POST", "/api/v1/warehouses", map[string]string{"Authorization": "Bearer " + token,
			"Content-Type": "application/json", "X-Request-ID": "b7f1c9e2-0000-4000-8000-000000000001"}, strings.NewReader(`{"code":"MAIN","name":"Main"}`))
	}
	if r := send(tok); r.StatusCode != http.StatusCreated {
		t.Fatalf("first: %d", r.StatusCode)
	}
	if r := send(second); r.StatusCode != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry with the other token: %d %v", r.StatusCode, r.Header)
	}
}

// TestIntegrationPages walks Developer settings and alert rules with
// plain form posts: every change answers 303 to its page, which says what
// happened once; a refused form comes back with what was typed; secrets
// and tokens are shown once and never on a reload; what cannot be undone
// asks first; a viewer changes nothing.
func TestIntegrationPages(t *testing.T) {
	t.Parallel()
	e := newIntegrationEnv(t)
	hook := newConsumer(t, e.clock.Now)
	admin := e.formSession("admin@example.com", store.RoleAdmin)
	viewer := e.formSession("viewer@example.com", store.RoleViewer)
	const dev, page = "/settings/developer", "/settings/developer/erp-sync"

	// Refused: events need the events permission. The form comes back
	// filled in, once.
	html := admin.submit(dev, url.Values{"kind": {"internal"}, "name": {"ERP Sync"}, "author": {"Ops"},
		"event_types": {"ship.confirmed"}, "webhook_url": {hook.srv.URL + "/h"}}, dev+"#integration-form")
	if !strings.Contains(html, `id="integration-form-refused"`) || !strings.Contains(html, "Integration not created") || !strings.Contains(html, `value="ERP Sync"`) ||
		!strings.Contains(html, `id="problem-event_types"`) || !strings.Contains(html, `value="ship.confirmed" checked`) {
		t.Fatalf("refused create: %s", html)
	}
	if _, again := admin.get(dev); strings.Contains(again, "ERP Sync") {
		t.Fatal("the refused form is shown again on reload")
	}

	// Created: the client secret and the first token are shown once.
	html = admin.submit(dev, url.Values{"kind": {"internal"}, "name": {"ERP Sync"}, "perm_warehouses": {"write"},
		"webhook_url": {hook.srv.URL + "/h"}, "alert_action": {"1"}}, page)
	secret := regexp.MustCompile(`id="client-secret-value">([^<]+)<`).FindStringSubmatch(html)
	tok := regexp.MustCompile(`id="new-token-value">(shint_[^<]+)<`).FindStringSubmatch(html)
	if secret == nil || tok == nil || !flashOf(html, "ok", "created and installed") {
		t.Fatalf("created page: %s", html)
	}
	if _, again := admin.get(page); strings.Contains(again, secret[1]) || strings.Contains(again, tok[1]) || strings.Contains(again, "new-token-value") {
		t.Fatal("a reload shows the secret or token again")
	}
	if code, _ := e.bearer(tok[1], "POST", "/api/v1/warehouses", `{"code":"MAIN","name":"Main"}`); code != http.StatusCreated {
		t.Fatalf("the token shown does not work: %d", code)
	}

	// Another token, then revoke the first after the question.
	html = admin.submit(page+"/tokens", nil, page)
	if !flashOf(html, "ok", "created") || !strings.Contains(html, `id="new-token-value">shint_`) {
		t.Fatalf("new token page: %s", html)
	}
	toks, err := e.db.IntegrationTokens(t.Context(), "erp-sync")
	if err != nil || len(toks) != 2 {
		t.Fatalf("tokens: %v %d", err, len(toks))
	}
	first := toks[len(toks)-1]
	html = admin.confirm(page+"/tokens/"+itoa(first.ID)+"/revoke", nil, revokeIntegrationTokenQuestion(first.Prefix), page)
	if !flashOf(html, "ok", "revoked") || !strings.Contains(html, `<span class="badge bad">revoked</span>`) {
		t.Fatalf("after revoke: %s", html)
	}
	if code, _ := e.bearer(tok[1], "GET", "/api/v1/warehouses", ""); code != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d", code)
	}

	// Settings: refused, then saved.
	html = admin.submit(page, url.Values{"name": {"ERP Sync"}, "webhook_url": {"ftp://erp.example/h"}, "alert_action": {"1"}}, page+"#integration-form")
	if !strings.Contains(html, `id="integration-form-refused"`) || !strings.Contains(html, "Not saved") || !strings.Contains(html, `value="ftp://erp.example/h"`) || !strings.Contains(html, `id="problem-webhook_url"`) {
		t.Fatalf("refused settings: %s", html)
	}
	html = admin.submit(page, url.Values{"name": {"ERP Sync"}, "author": {"Ops team"}, "perm_warehouses": {"write"},
		"webhook_url": {hook.srv.URL + "/h"}, "alert_action": {"1"}}, page)
	if !flashOf(html, "ok", "saved") || !strings.Contains(html, `value="Ops team"`) {
		t.Fatalf("saved settings: %s", html)
	}

	// Alert rules: refused with what was typed, created, deleted after
	// the question.
	html = admin.submit("/settings/alerts", url.Values{"name": {"Widgets low"}, "kind": {store.AlertStockBelow}, "integration": {"erp-sync"},
		"warehouse_id": {"1"}, "threshold": {"5"}}, "/settings/alerts#alert-form")
	if !strings.Contains(html, `id="alert-form-refused"`) || !strings.Contains(html, "Rule not created") || !strings.Contains(html, `value="Widgets low"`) || !strings.Contains(html, `id="problem-alert-sku"`) {
		t.Fatalf("refused rule: %s", html)
	}
	html = admin.submit("/settings/alerts", url.Values{"name": {"Widgets low"}, "kind": {store.AlertStockBelow}, "integration": {"erp-sync"},
		"warehouse_id": {"1"}, "sku": {"WIDGET-1"}, "threshold": {"5"}}, "/settings/alerts")
	if !flashOf(html, "ok", "Rule “Widgets low” created") {
		t.Fatalf("created rule: %s", html)
	}
	rules, _ := e.db.AlertRules(t.Context())
	if len(rules) != 1 {
		t.Fatalf("%d rules", len(rules))
	}

	// A viewer reads and changes nothing: every POST is the HTML 403.
	if code, html := viewer.get(page); code != 200 || strings.Contains(html, "<form method=\"post\" action=\"/settings") {
		t.Fatalf("viewer's page: %d", code)
	}
	if code, html := viewer.get("/settings/alerts"); code != 200 || strings.Contains(html, "/delete") {
		t.Fatalf("viewer's alert rules: %d", code)
	}
	viewer.forbidden(dev, page, page+"/delete", page+"/tokens", page+"/tokens/1/revoke", page+"/install", page+"/uninstall",
		"/settings/alerts", "/settings/alerts/1/delete")

	html = admin.confirm("/settings/alerts/"+itoa(rules[0].ID)+"/delete", nil, deleteAlertQuestion("Widgets low"), "/settings/alerts")
	if !flashOf(html, "ok", "deleted") || strings.Contains(html, "<td>Widgets low</td>") {
		t.Fatalf("after deleting the rule: %s", html)
	}

	// Deleting asks first, then lands on the list, which says so.
	html = admin.confirm(page+"/delete", nil, deleteIntegrationQuestion("ERP Sync"), dev)
	if !flashOf(html, "ok", "Integration “ERP Sync” deleted") || strings.Contains(html, `href="/settings/developer/erp-sync"`) {
		t.Fatalf("after delete: %s", html)
	}
}
