package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// browserHub starts the real server with an admin user and returns its URL.
func browserHub(t *testing.T) string {
	t.Helper()
	getenv := adminHub(t)
	return startServe(t, getenv)
}

// TestBrowserInternalIntegration creates an internal integration in
// Developer settings, copies the token shown once and uses it: it may do
// what its permissions allow and nothing else.
func TestBrowserInternalIntegration(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	base := browserHub(t)
	loginAt(t, ctx, base, "/settings/developer", "#integration-form")
	if err := chromedp.Do(ctx,
		typeText("#name", "ERP Sync"),
		typeText("#author", "Ops team"),
		chromedp.SetValue("#perm-warehouses", "write"),
		chromedp.Click("#save-integration"),
		chromedp.WaitVisible("#new-token-value"),
	); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "integration-internal-created")
	tok := whText(t, ctx, "#new-token-value")
	if !strings.HasPrefix(tok, "shint_") || !whPresent(t, ctx, "#client-secret-value") {
		t.Fatalf("token %q", tok)
	}
	if s := whText(t, ctx, "#install-status"); s != "installed" {
		t.Fatalf("status %q", s)
	}
	call(t, "POST", base+"/api/v1/warehouses", tok, `{"code":"MAIN","name":"Main"}`, 201)
	call(t, "GET", base+"/api/v1/events", tok, "", 403)
	call(t, "GET", base+"/api/admin/audit", tok, "", 403)
	// The page lists the token, used; a reload no longer shows it.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/settings/developer/erp-sync"), chromedp.WaitVisible("#integration-tokens")); err != nil {
		t.Fatal(err)
	}
	if whPresent(t, ctx, "#new-token-value") || strings.Contains(whText(t, ctx, "#integration-tokens"), "never") {
		t.Fatalf("tokens table: %s", whText(t, ctx, "#integration-tokens"))
	}
}

// integrationApp is a public integration's own server: its /setup page
// receives the browser after consent, trades the grant code for tokens
// with the seed's JSON exchange and confirms the installation, as the
// platform's walk-through describes.
type integrationApp struct {
	srv                  *httptest.Server
	mu                   sync.Mutex
	hub, id, secret, tok string
}

func newIntegrationApp(t *testing.T) *integrationApp {
	a := &integrationApp{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		hub, id, secret := a.hub, a.id, a.secret
		a.mu.Unlock()
		code, inst := r.URL.Query().Get("code"), r.URL.Query().Get("installationId")
		body, _ := json.Marshal(map[string]string{"grant_type": "authorization_code", "code": code, "client_id": id, "client_secret": secret})
		resp, err := http.Post(hub+"/api/v1/integration-installations/"+inst+"/authorizations", "application/json", strings.NewReader(string(body)))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		var out struct{ Token string }
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 || json.Unmarshal(raw, &out) != nil {
			http.Error(w, "exchange failed: "+string(raw), 500)
			return
		}
		req, _ := http.NewRequest("PUT", hub+"/api/v1/integration-installations/"+inst, strings.NewReader(`{"status":"installed"}`))
		req.Header.Set("Authorization", "Bearer "+out.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err = http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			http.Error(w, fmt.Sprintf("verify failed: %v %v", resp, err), 500)
			return
		}
		resp.Body.Close()
		a.mu.Lock()
		a.tok = out.Token
		a.mu.Unlock()
		fmt.Fprint(w, `<!DOCTYPE html><title>Carrier</title><p id="connected">Connected to the hub.</p>`)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// TestBrowserInstallFlow creates a public integration, installs it through
// the consent page and follows the redirect to the integration, which
// exchanges the code and confirms the installation.
func TestBrowserInstallFlow(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	base := browserHub(t)
	app := newIntegrationApp(t)
	loginAt(t, ctx, base, "/settings/developer", "#integration-form")
	if err := chromedp.Do(ctx,
		chromedp.SetValue("#kind", "public"),
		typeText("#name", "Carrier Link"),
		typeText("#author", "Carrier Co"),
		typeText("#overview", "Books pickups for packed orders."),
		typeText("#redirect_url", app.srv.URL+"/setup"),
		chromedp.Click(`input[name="verify_install"]`),
		chromedp.SetValue("#perm-orders", "read"),
		chromedp.Click("#save-integration"),
		chromedp.WaitVisible("#client-secret-value"),
	); err != nil {
		t.Fatal(err)
	}
	app.mu.Lock()
	app.hub, app.id, app.secret = base, whText(t, ctx, "#client-id"), whText(t, ctx, "#client-secret-value")
	app.mu.Unlock()
	if s := whText(t, ctx, "#install-status"); s != "not installed" {
		t.Fatalf("status %q", s)
	}
	if err := chromedp.Do(ctx, chromedp.Click("#install"), chromedp.WaitVisible("#approve")); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "integration-consent")
	if txt := whText(t, ctx, "#overview"); !strings.Contains(txt, "Books pickups") {
		t.Fatalf("overview %q", txt)
	}
	if txt := whText(t, ctx, "#requested-permissions"); !strings.Contains(txt, "orders") || !strings.Contains(txt, "read") || strings.Contains(txt, "webhooks") {
		t.Fatalf("permissions %q", txt)
	}
	if err := chromedp.Do(ctx, chromedp.Click("#approve"), chromedp.WaitVisible("#connected")); err != nil {
		t.Fatal(err)
	}
	app.mu.Lock()
	tok := app.tok
	app.mu.Unlock()
	call(t, "GET", base+"/api/v1/sales-orders/00000000-0000-4000-8000-000000000000", tok, "", 404)
	call(t, "POST", base+"/api/v1/warehouses", tok, `{"code":"X","name":"X"}`, 403)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/settings/developer/carrier-link"), chromedp.WaitVisible("#install-status")); err != nil {
		t.Fatal(err)
	}
	if s := whText(t, ctx, "#install-status"); s != "installed" {
		t.Fatalf("status after verify %q", s)
	}
	// Uninstall, after the question: the token dies and the page says so.
	if err := chromedp.Do(ctx, jsReady(), chromedp.Click("#uninstall"), chromedp.WaitVisible("#confirm-dialog"),
		chromedp.Click("#dialog-ok"), chromedp.WaitVisible(`div.flash[data-flash="ok"]`)); err != nil {
		t.Fatal(err)
	}
	if txt := whText(t, ctx, `div.flash[data-flash="ok"]`); !strings.Contains(txt, "Uninstalled") {
		t.Fatalf("after uninstall %q", txt)
	}
	call(t, "GET", base+"/api/v1/sales-orders/00000000-0000-4000-8000-000000000000", tok, "", 401)
}

// TestBrowserOrderComponent shows an installed integration's link on a
// sales order page, expanded with the order's fields.
func TestBrowserOrderComponent(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	base := browserHub(t)
	loginAt(t, ctx, base, "/settings/developer", "#integration-form")
	ui := `{"elements":[{"type":"link","label":"Open in ERP","uri":"https://erp.example/orders/{external_id}","pages":["sales_order"]}]}`
	if err := chromedp.Do(ctx,
		typeText("#name", "ERP"),
		chromedp.SetValue("#perm-warehouses", "write"),
		chromedp.SetValue("#perm-items", "write"),
		chromedp.SetValue("#perm-inventory", "write"),
		chromedp.SetValue("#perm-orders", "write"),
		chromedp.SetValue("#ui_components", ui),
		chromedp.Click("#save-integration"),
		chromedp.WaitVisible("#new-token-value"),
	); err != nil {
		t.Fatal(err)
	}
	tok := whText(t, ctx, "#new-token-value")
	call(t, "POST", base+"/api/v1/warehouses", tok, `{"code":"MAIN","name":"Main"}`, 201)
	call(t, "PUT", base+"/api/v1/items/BOLT", tok, `{"name":"Bolt"}`, 201)
	call(t, "POST", base+"/api/v1/inventory/adjustments", tok, `{"warehouse_id":1,"sku":"BOLT","delta":3,"reason":"count"}`, 200)
	var so struct{ ID string }
	if err := json.Unmarshal(call(t, "POST", base+"/api/v1/sales-orders", tok,
		`{"order_number":"SO 9/A","warehouse_id":1,"ship_to":{"name":"A"},"lines":[{"sku":"BOLT","qty":1}]}`, 201), &so); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/records/sales_order/"+so.ID), chromedp.WaitVisible("a.integration-link")); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "order-component")
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue("a.integration-link", "href"))
	if err != nil {
		t.Fatal(err)
	}
	if href := attr.Value; href != "https://erp.example/orders/SO%209%2FA" || whText(t, ctx, "a.integration-link") != "Open in ERP" {
		t.Fatalf("link %q", attr.Value)
	}
}
