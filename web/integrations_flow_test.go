package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"sentryhub/dispatcher/sink"
	"sentryhub/integrations"
	"sentryhub/store"
	"sentryhub/store/vault"
)

// received is one webhook delivery an httptest consumer accepted.
type received struct {
	Valid    bool
	Reason   string
	Envelope struct {
		EventType     string          `json:"event_type"`
		AggregateType string          `json:"aggregate_type"`
		AggregateID   string          `json:"aggregate_id"`
		Data          json.RawMessage `json:"data"`
	}
}

// consumer is an integration's webhook endpoint: it checks each delivery's
// signature with the secret it is given (once known) and hands the
// delivery to the test.
type consumer struct {
	srv     *httptest.Server
	got     chan received
	secrets *sink.Keyring
}

func newConsumer(t *testing.T, now func() time.Time) *consumer {
	t.Helper()
	c := &consumer{got: make(chan received, 64), secrets: sink.NewKeyring(vault.NewSecret("unset"))}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		v, err := sink.Verify(r.Context(), r.Header, body, c.secrets, now())
		rc := received{Valid: v.Valid && err == nil, Reason: v.Reason}
		_ = json.Unmarshal(body, &rc.Envelope)
		c.got <- rc
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *consumer) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-c.got:
		if !r.Valid {
			t.Fatalf("delivery of %s failed verification: %s", r.Envelope.EventType, r.Reason)
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook delivery arrived")
	}
	return received{}
}

func (c *consumer) none(t *testing.T) {
	t.Helper()
	select {
	case r := <-c.got:
		t.Fatalf("unexpected delivery: %s %s", r.Envelope.EventType, r.Envelope.Data)
	default:
	}
}

// TestIntegrationInstallFlowWebhooks runs a public integration without a
// redirect URL through install (the grant code arrives in the signed
// installation.created webhook), the seed's token exchange, verify-install,
// a selected catalog event from the warehouse, and uninstall
// (installation.deleted, tokens dead). An ordinary subscription sees none
// of the integration's private events.
func TestIntegrationInstallFlowWebhooks(t *testing.T) {
	t.Parallel()
	e := newIntegrationEnv(t)
	app := newConsumer(t, e.clock.Now)
	other := newConsumer(t, e.clock.Now)
	var otherSub struct{ Secret string }
	e.adminJSON("POST", "/api/admin/webhooks", `{"name":"all","url":"`+other.srv.URL+`/h"}`, http.StatusCreated, &otherSub)
	other.secrets.Set(1, vault.NewSecret(otherSub.Secret))

	var created struct {
		Integration  store.Integration
		ClientSecret string `json:"client_secret"`
	}
	e.adminJSON("POST", "/api/admin/integrations", `{"kind":"public","name":"Carrier","overview":"Books shipments",
		"webhook_url":"`+app.srv.URL+`/hook","verify_install":true,
		"permissions":{"events":"read","warehouses":"read"},"event_types":["adjustment.applied"]}`, http.StatusCreated, &created)
	app.secrets.Set(1, vault.NewSecret(created.ClientSecret))
	if created.Integration.Installation != nil || created.Integration.SubscriptionID == nil {
		t.Fatalf("public integration: %+v", created.Integration)
	}
	// Before installing, warehouse events do not reach it.
	e.seedWarehouse(e.admin)
	for range 2 {
		if r := other.next(t); r.Envelope.EventType != store.EventAdjustmentApplied {
			t.Fatalf("other got %s", r.Envelope.EventType)
		}
	}

	var inst struct{ Installation store.Installation }
	e.adminJSON("POST", "/api/admin/integrations/carrier/installation", "", http.StatusCreated, &inst)
	if inst.Installation.Status != store.InstallationPending {
		t.Fatalf("installation: %+v", inst.Installation)
	}
	r := app.next(t)
	var data struct {
		Installation struct{ UUID, Code, Status string }
	}
	if err := json.Unmarshal(r.Envelope.Data, &data); err != nil {
		t.Fatal(err)
	}
	if r.Envelope.EventType != store.EventInstallationCreated || data.Installation.UUID != inst.Installation.UUID ||
		!strings.HasPrefix(data.Installation.Code, store.IntegrationCodePrefix) {
		t.Fatalf("installation.created: %s %s", r.Envelope.EventType, r.Envelope.Data)
	}

	// The seed's exchange, to the letter.
	body := `{"grant_type":"authorization_code","code":"` + data.Installation.Code + `","client_id":"` +
		created.Integration.ClientID + `","client_secret":"` + created.ClientSecret + `"}`
	resp := e.do(nil, "POST", "/api/v1/integration-installations/"+inst.Installation.UUID+"/authorizations",
		map[string]string{"Content-Type": "application/json"}, strings.NewReader(body))
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("exchange: %d %s", resp.StatusCode, raw)
	}
	var answer map[string]any
	if err := json.Unmarshal(raw, &answer); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "token", "refreshToken", "dateCreated", "expiresAt", "state", "application"} {
		if _, ok := answer[k]; !ok {
			t.Errorf("answer lacks %s: %s", k, raw)
		}
	}
	if answer["state"] != nil || answer["application"] != nil || answer["dateCreated"] != "2026-11-26T12:00:00.000Z" ||
		answer["expiresAt"] != "2026-11-26T20:00:00.000Z" || len(answer) != 7 {
		t.Fatalf("answer: %s", raw)
	}
	token := answer["token"].(string)

	// Verify install with the integration's own token.
	code, b := e.bearer(token, "PUT", "/api/v1/integration-installations/"+inst.Installation.UUID, `{"status":"installed"}`)
	if code != http.StatusOK || !strings.Contains(string(b), `"status":"installed"`) {
		t.Fatalf("verify: %d %s", code, b)
	}
	if code, b := e.bearer(token, "PUT", "/api/v1/integration-installations/"+inst.Installation.UUID, `{"status":"pending"}`); code != http.StatusUnprocessableEntity {
		t.Fatalf("verify with a bad status: %d %s", code, b)
	}
	// Polling never serves the private events.
	code, b = e.bearer(token, "GET", "/api/v1/events?limit=100", "")
	if code != http.StatusOK || strings.Contains(string(b), "installation.") {
		t.Fatalf("events: %d %s", code, b)
	}

	// A selected catalog event, from any warehouse, arrives; others do not.
	e.mustAPI(e.admin, "POST", "/api/v1/inventory/adjustments", map[string]any{"warehouse_id": 1, "sku": "WIDGET-1", "delta": 2, "reason": "found"}, 200)
	if r := app.next(t); r.Envelope.EventType != store.EventAdjustmentApplied {
		t.Fatalf("app got %s", r.Envelope.EventType)
	}
	other.next(t)

	e.adminJSON("DELETE", "/api/admin/integrations/carrier/installation", "", http.StatusNoContent, nil)
	if r := app.next(t); r.Envelope.EventType != store.EventInstallationDeleted {
		t.Fatalf("app got %s", r.Envelope.EventType)
	}
	if code, _ := e.bearer(token, "GET", "/api/v1/events", ""); code != http.StatusUnauthorized {
		t.Fatalf("token after uninstall: %d", code)
	}
	// After uninstall the integration no longer receives catalog events.
	e.mustAPI(e.admin, "POST", "/api/v1/inventory/adjustments", map[string]any{"warehouse_id": 1, "sku": "WIDGET-1", "delta": 1, "reason": "found"}, 200)
	other.next(t)
	app.none(t)
	other.none(t)
	// Its deliveries are the webhook API's like any other: replaying one
	// sends it again, signed with the client secret.
	var page struct {
		Deliveries []struct {
			ID      int64 `json:"id"`
			EventID int64 `json:"event_id"`
		}
	}
	sub := jsonInt(*created.Integration.SubscriptionID)
	e.adminJSON("GET", "/api/admin/webhooks/"+sub+"/deliveries", "", http.StatusOK, &page)
	if len(page.Deliveries) != 3 {
		t.Fatalf("owned subscription deliveries: %+v", page.Deliveries)
	}
	e.adminJSON("POST", "/api/admin/webhooks/"+sub+"/deliveries/"+jsonInt(page.Deliveries[len(page.Deliveries)-1].ID)+"/replay", "", http.StatusAccepted, nil)
	if r := app.next(t); r.Envelope.EventType != store.EventInstallationCreated {
		t.Fatalf("replayed %s", r.Envelope.EventType)
	}
	// The owned subscription is the integration's: the webhook API refuses
	// to delete it.
	e.adminJSON("DELETE", "/api/admin/webhooks/"+jsonInt(*created.Integration.SubscriptionID), "", http.StatusConflict, nil)
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestOAuthStandardClient drives the standard token endpoint with
// golang.org/x/oauth2: code exchange, expiry after 8 h on the hub's clock,
// refresh rotation, RFC 6749 errors and RFC 7009 revocation.
func TestOAuthStandardClient(t *testing.T) {
	t.Parallel()
	e := newIntegrationEnv(t)
	ctx := context.Background()
	var created struct {
		Integration  store.Integration
		ClientSecret string `json:"client_secret"`
	}
	e.adminJSON("POST", "/api/admin/integrations", `{"kind":"public","name":"Market","redirect_url":"https://market.example/setup?x=1",
		"permissions":{"warehouses":"read"}}`, http.StatusCreated, &created)
	var inst struct {
		Installation store.Installation
		RedirectTo   string `json:"redirect_to"`
	}
	e.adminJSON("POST", "/api/admin/integrations/market/installation", "", http.StatusCreated, &inst)
	u, err := url.Parse(inst.RedirectTo)
	if err != nil || u.Host != "market.example" || u.Query().Get("x") != "1" || u.Query().Get("installationId") != inst.Installation.UUID {
		t.Fatalf("redirect: %s", inst.RedirectTo)
	}
	conf := &oauth2.Config{ClientID: created.Integration.ClientID, ClientSecret: created.ClientSecret,
		Endpoint: oauth2.Endpoint{TokenURL: e.srv.URL + "/oauth/token"}}
	var re *oauth2.RetrieveError
	if _, err := conf.Exchange(ctx, "shing_nope"); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || re.Response.StatusCode != 400 {
		t.Fatalf("bad code: %v", err)
	}
	bad := *conf
	bad.ClientSecret = "wrong"
	if _, err := bad.Exchange(ctx, u.Query().Get("code")); !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Fatalf("bad secret: %v", err)
	}
	tok, err := conf.Exchange(ctx, u.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.ExpiresIn != 8*3600 {
		t.Fatalf("token: %+v", tok)
	}
	if code, b := e.bearer(tok.AccessToken, "GET", "/api/v1/warehouses", ""); code != http.StatusOK {
		t.Fatalf("use: %d %s", code, b)
	}
	e.clock.Advance(8 * time.Hour)
	if code, _ := e.bearer(tok.AccessToken, "GET", "/api/v1/warehouses", ""); code != http.StatusUnauthorized {
		t.Fatalf("after 8h: %d", code)
	}
	// The client refreshes (its own clock does not know the token expired
	// on the hub's, so hand it only the refresh token).
	fresh, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
		t.Fatal("refresh did not rotate both tokens")
	}
	if code, _ := e.bearer(fresh.AccessToken, "GET", "/api/v1/warehouses", ""); code != http.StatusOK {
		t.Fatalf("refreshed token: %d", code)
	}
	// RFC 7009: revoke the new access token with HTTP Basic client auth.
	req, _ := http.NewRequest("POST", e.srv.URL+"/oauth/revoke", strings.NewReader(url.Values{"token": {fresh.AccessToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(conf.ClientID), url.QueryEscape(conf.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	if code, _ := e.bearer(fresh.AccessToken, "GET", "/api/v1/warehouses", ""); code != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d", code)
	}
	// Reusing the first, spent refresh token revokes the installation's
	// tokens, including the live refresh token.
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("reuse: %v", err)
	}
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token(); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("refresh after reuse: %v", err)
	}
	// Unsupported grant type, form required.
	resp, err = http.PostForm(e.srv.URL+"/oauth/token", url.Values{"grant_type": {"password"}, "client_id": {conf.ClientID}, "client_secret": {conf.ClientSecret}})
	if err != nil {
		t.Fatal(err)
	}
	var oe struct{ Error, ErrorDescription string }
	_ = json.NewDecoder(resp.Body).Decode(&oe)
	if resp.StatusCode != 400 || oe.Error != "unsupported_grant_type" {
		t.Fatalf("password grant: %d %+v", resp.StatusCode, oe)
	}
}

// TestAlertWebhookAndDashboard: a firing rule reaches its integration as a
// signed alert.triggered webhook, shows on the dashboard, and resolves.
func TestAlertWebhookAndDashboard(t *testing.T) {
	t.Parallel()
	e := newIntegrationEnv(t)
	pager := newConsumer(t, e.clock.Now)
	var created struct {
		ClientSecret string `json:"client_secret"`
	}
	e.adminJSON("POST", "/api/admin/integrations", `{"kind":"internal","name":"Pager","webhook_url":"`+pager.srv.URL+`/h","alert_action":true}`,
		http.StatusCreated, &created)
	pager.secrets.Set(1, vault.NewSecret(created.ClientSecret))
	e.seedWarehouse(e.admin) // WIDGET-1: 10 on hand
	e.adminJSON("POST", "/api/admin/alert-rules", `{"name":"Widgets low","kind":"stock_below","integration":"pager",
		"params":{"warehouse_id":1,"sku":"WIDGET-1","threshold":5}}`, http.StatusCreated, nil)
	alerts := integrations.NewAlerts(e.db, e.clock, 0, slog.New(slog.DiscardHandler))
	if n, err := alerts.Evaluate(context.Background()); err != nil || n != 0 {
		t.Fatalf("healthy pass: %d %v", n, err)
	}
	e.mustAPI(e.admin, "POST", "/api/v1/inventory/adjustments", map[string]any{"warehouse_id": 1, "sku": "WIDGET-1", "delta": -8, "reason": "damaged"}, 200)
	if n, err := alerts.Evaluate(context.Background()); err != nil || n != 1 {
		t.Fatalf("firing pass: %d %v", n, err)
	}
	r := pager.next(t)
	if r.Envelope.EventType != store.EventAlertTriggered || !strings.Contains(string(r.Envelope.Data), "2 on hand") {
		t.Fatalf("pager got %s %s", r.Envelope.EventType, r.Envelope.Data)
	}
	e.user("admin@example.com", store.RoleAdmin)
	c := e.browser()
	e.login(c, "admin@example.com", "correct horse battery")
	resp := e.do(c, "GET", "/", nil, nil)
	page, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(page), `id="firing-alerts"`) || !strings.Contains(string(page), "Widgets low") {
		t.Fatalf("dashboard: %s", page)
	}
	e.mustAPI(e.admin, "POST", "/api/v1/inventory/adjustments", map[string]any{"warehouse_id": 1, "sku": "WIDGET-1", "delta": 8, "reason": "found"}, 200)
	if n, err := alerts.Evaluate(context.Background()); err != nil || n != 1 {
		t.Fatalf("resolving pass: %d %v", n, err)
	}
	if r := pager.next(t); r.Envelope.EventType != store.EventAlertResolved {
		t.Fatalf("pager got %s", r.Envelope.EventType)
	}
	resp = e.do(c, "GET", "/", nil, nil)
	page, _ = io.ReadAll(resp.Body)
	if strings.Contains(string(page), `id="firing-alerts"`) {
		t.Fatal("resolved alert still on the dashboard")
	}
}
