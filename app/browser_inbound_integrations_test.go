package app

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The inbound and integration pages on the shared frame, in Chromium:
// what is shown once (a push token, a client secret) stays shown once
// across a reload, revoking asks first, phone width does not overflow,
// and the same flows work with JavaScript off.

// ioHub starts a hub with an admin (ops@) and a viewer (view@) and
// returns its URL and an admin API token.
func ioHub(t *testing.T) (string, string) {
	t.Helper()
	getenv := viewerHub(t)
	base := startServe(t, getenv)
	return base, strings.TrimSpace(run(t, getenv, "", "token", "create", "--name", "ops", "--scope", "admin").stdout)
}

// createSourceAndToken adds the source "erp" on the Inbound page and a
// push token named name for it, and waits for the token shown once.
func createSourceAndToken(t *testing.T, ctx context.Context, base, name string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/inbound"),
		chromedp.WaitVisible("#source-name"),
		typeText("#source-name", "erp"),
		chromedp.Click("#create-source"),
		chromedp.WaitVisible("#source-erp"),
		typeText("#token-erp", name),
		chromedp.Click("#create-token-erp"),
		chromedp.WaitVisible("#new-token-value"),
	); err != nil {
		t.Fatal(err)
	}
}

// rowsNamed counts the rows of table sel whose first cell is name.
func rowsNamed(t *testing.T, ctx context.Context, sel, name string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll(`+strconv.Quote(sel+` tbody tr td:first-child`)+`)]`+
		`.filter(td => td.textContent.trim() === `+strconv.Quote(name)+`).length`))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// at fails unless the browser is at path.
func at(t *testing.T, ctx context.Context, base, path string) {
	t.Helper()
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc != base+path {
		t.Fatalf("at %s, want %s", loc, base+path)
	}
}

// confirmInDialog clicks button, cancels the dialog it opens, then clicks
// again and confirms, and waits for the flash that says what happened;
// cancelled checks the page after the cancel.
func confirmInDialog(t *testing.T, ctx context.Context, button string, cancelled func()) {
	t.Helper()
	if err := chromedp.Do(ctx, jsReady(), chromedp.Click(button), chromedp.WaitVisible("#confirm-dialog"),
		chromedp.Click("#dialog-cancel"), chromedp.WaitNotVisible("#confirm-dialog")); err != nil {
		t.Fatal(err)
	}
	cancelled()
	if err := chromedp.Do(ctx, jsReady(), chromedp.Click(button), chromedp.WaitVisible("#confirm-dialog"),
		chromedp.Click("#dialog-ok"), chromedp.WaitVisible(`div.flash[data-flash="ok"]`)); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserPushTokenOnce: a push token made on /inbound shows once with
// a working copy button; a reload neither shows it again nor makes a
// second one; revoking asks in a dialog, and the token stops working.
func TestBrowserPushTokenOnce(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	base, _ := ioHub(t)
	sessionLogin(t, ctx, base, "ops@example.com")
	createSourceAndToken(t, ctx, base, "erp export")
	at(t, ctx, base, "/inbound")
	tok := whText(t, ctx, "#new-token-value")
	if !strings.HasPrefix(tok, "shub_") || !strings.Contains(whText(t, ctx, `div.flash[data-flash="ok"]`), "erp export") {
		t.Fatalf("token %q, flash %q", tok, whText(t, ctx, `div.flash[data-flash="ok"]`))
	}
	if err := chromedp.Do(ctx, chromedp.Click(`button[data-copy="new-token-value"]`),
		chromedp.WaitVisible(`button[data-copy="new-token-value"][data-copied="1"]`)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "inbound-push-token")

	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible("#tokens-erp")); err != nil {
		t.Fatal(err)
	}
	if whPresent(t, ctx, "#new-token-value") || strings.Contains(whText(t, ctx, "main"), tok) || rowsNamed(t, ctx, "#tokens-erp", "erp export") != 1 {
		t.Fatalf("after reload: token shown %v, %d tokens named erp export", whPresent(t, ctx, "#new-token-value"), rowsNamed(t, ctx, "#tokens-erp", "erp export"))
	}
	// The token authenticates: an empty batch gets past it to the 400.
	call(t, "POST", base+"/api/v1/inbound/sales_orders", tok, `[]`, 400)

	revoke := `#tokens-erp form[action$="/revoke"] button`
	confirmInDialog(t, ctx, revoke, func() {
		if whPresent(t, ctx, "#tokens-erp .badge.bad") {
			t.Fatal("a cancelled revoke revoked")
		}
	})
	if txt := whText(t, ctx, `div.flash[data-flash="ok"]`); !strings.Contains(txt, "revoked") || !whPresent(t, ctx, "#tokens-erp .badge.bad") {
		t.Fatalf("after revoke %q", txt)
	}
	call(t, "POST", base+"/api/v1/inbound/sales_orders", tok, `[]`, 401)
}

// TestBrowserIntegrationSecretOnce: a new integration's client secret
// and token show once, on the integration's page the form redirects to;
// a reload shows neither and makes no second integration; revoking its
// token asks in a dialog first.
func TestBrowserIntegrationSecretOnce(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	base, _ := ioHub(t)
	sessionLogin(t, ctx, base, "ops@example.com")
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/settings/developer"),
		chromedp.WaitVisible("#integration-form"),
		typeText("#name", "ERP Sync"),
		chromedp.SetValue("#perm-warehouses", "read"),
		chromedp.Click("#save-integration"),
		chromedp.WaitVisible("#client-secret-value"),
	); err != nil {
		t.Fatal(err)
	}
	at(t, ctx, base, "/settings/developer/erp-sync")
	secret, tok := whText(t, ctx, "#client-secret-value"), whText(t, ctx, "#new-token-value")
	if secret == "" || !strings.HasPrefix(tok, "shint_") {
		t.Fatalf("secret %q token %q", secret, tok)
	}
	call(t, "GET", base+"/api/v1/warehouses", tok, "", 200)
	if err := chromedp.Do(ctx, chromedp.Click(`button[data-copy="client-secret-value"]`),
		chromedp.WaitVisible(`button[data-copy="client-secret-value"][data-copied="1"]`)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "integration-secret-once")

	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible("#integration-tokens")); err != nil {
		t.Fatal(err)
	}
	if whPresent(t, ctx, "#client-secret-value") || whPresent(t, ctx, "#new-token-value") || strings.Contains(whText(t, ctx, "main"), secret) {
		t.Fatal("a reload shows the secret or the token again")
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/settings/developer"), chromedp.WaitVisible("#integrations")); err != nil {
		t.Fatal(err)
	}
	if n := rowsNamed(t, ctx, "#integrations", "ERP Sync"); n != 1 {
		t.Fatalf("%d integrations named ERP Sync", n)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/settings/developer/erp-sync"), chromedp.WaitVisible("#integration-tokens")); err != nil {
		t.Fatal(err)
	}
	confirmInDialog(t, ctx, `#integration-tokens form[action$="/revoke"] button`, func() {
		if whPresent(t, ctx, "#integration-tokens .badge.bad") {
			t.Fatal("a cancelled revoke revoked")
		}
	})
	if txt := whText(t, ctx, `div.flash[data-flash="ok"]`); !strings.Contains(txt, "revoked") || !whPresent(t, ctx, "#integration-tokens .badge.bad") {
		t.Fatalf("after revoke %q", txt)
	}
	call(t, "GET", base+"/api/v1/warehouses", tok, "", 401)
}

// TestBrowserInboundIntegrationsPhone: at 390 px the inbound and
// integration pages, filled with long names and wide tables, do not
// widen the page: their tables scroll inside their box.
func TestBrowserInboundIntegrationsPhone(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	base, admin := ioHub(t)
	const src = "erp-with-a-rather-long-source-name-for-a-phone"
	call(t, "POST", base+"/api/v1/warehouses", admin, `{"code":"ZL","name":"Zentrallager"}`, 201)
	call(t, "PUT", base+"/api/v1/items/WIDGET-1", admin, `{"name":"Widget"}`, 201)
	call(t, "POST", base+"/api/admin/inbound/sources", admin, `{"name":"`+src+`"}`, 201)
	var tok struct{ Token string }
	if err := json.Unmarshal(call(t, "POST", base+"/api/admin/inbound/sources/"+src+"/tokens", admin,
		`{"name":"a-push-token-with-an-unbroken-name-longer-than-a-phone-is-wide"}`, 201), &tok); err != nil {
		t.Fatal(err)
	}
	m, _ := json.Marshal(map[string]string{"mapping": erpOrders})
	call(t, "PUT", base+"/api/admin/inbound/mappings/"+src+"/sales_orders", admin, string(m), 201)
	batch, _ := json.Marshal([]any{erpOrder("4711", "Köln", "2"), erpOrder("4712", "", "1")})
	call(t, "POST", base+"/api/v1/inbound/sales_orders", tok.Token, string(batch), 200)
	call(t, "POST", base+"/api/admin/integrations", admin, `{"kind":"internal","name":"An integration with a name that runs on and on",`+
		`"author":"Operations-and-logistics-integration-team","permissions":{"warehouses":"read","items":"read","orders":"read"}}`, 201)

	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	sessionLogin(t, ctx, base, "ops@example.com")
	for _, path := range []string{"/inbound", "/inbound/" + src + "/sales_orders", "/settings/developer",
		"/settings/developer/an-integration-with-a-name-that-runs-on-and-on", "/settings/alerts"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+path), chromedp.WaitVisible("body > main")); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if errorStatus(t, ctx) != 0 {
			t.Fatalf("%s: error page %d", path, errorStatus(t, ctx))
		}
		if evalBool(t, ctx, `document.documentElement.scrollWidth > window.innerWidth`) {
			w, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
			screenshot(t, ctx, "phone-overflow-inbound-integrations")
			t.Fatalf("%s: page is %d px wide at 390 px", path, w)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/inbound"), chromedp.WaitVisible(".pushes")); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "phone-inbound")
}

// TestBrowserInboundIntegrationsWithoutJavaScript walks the flows with
// scripts off: the token and secret are selectable text without a copy
// button, a reload shows them no more, confirmations are pages of their
// own, and a viewer's POST is the HTML 403 page.
func TestBrowserInboundIntegrationsWithoutJavaScript(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	base, _ := ioHub(t)
	noScript(t, ctx)
	sessionLogin(t, ctx, base, "ops@example.com")
	createSourceAndToken(t, ctx, base, "no-js")
	if whPresent(t, ctx, `button[data-copy]:not([hidden])`) || !strings.HasSuffix(whText(t, ctx, "#tokens-erp time.ts"), "UTC") {
		t.Fatal("copy button shown, or a time not in UTC, without JavaScript")
	}
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible("#tokens-erp")); err != nil {
		t.Fatal(err)
	}
	if whPresent(t, ctx, "#new-token-value") || rowsNamed(t, ctx, "#tokens-erp", "no-js") != 1 {
		t.Fatal("a reload showed the token again or made another")
	}
	if err := chromedp.Do(ctx, chromedp.Click(`#tokens-erp form[action$="/revoke"] button`), chromedp.WaitVisible("#confirm-question-page"),
		chromedp.Click("#confirm-ok"), chromedp.WaitVisible(`div.flash[data-flash="ok"]`)); err != nil {
		t.Fatal(err)
	}
	at(t, ctx, base, "/inbound")
	if !whPresent(t, ctx, "#tokens-erp .badge.bad") {
		t.Fatal("not revoked after the confirmation page")
	}

	// A refused form comes back at the page's own URL with what was typed
	// (events need the events permission); a reload shows it no more.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/settings/developer"),
		chromedp.WaitVisible("#integration-form"),
		typeText("#name", "ERP"),
		chromedp.Click(`input[name="event_types"][value="ship.confirmed"]`),
		chromedp.Click("#save-integration"),
		chromedp.WaitVisible("#integration-form-refused"),
	); err != nil {
		t.Fatal(err)
	}
	at(t, ctx, base, "/settings/developer#integration-form")
	if v, err := chromedp.Run(ctx, chromedp.Value("#name")); err != nil || v != "ERP" || !whPresent(t, ctx, "#problem-event_types") {
		t.Fatalf("refused form: name %q %v, problem shown %v", v, err, whPresent(t, ctx, "#problem-event_types"))
	}
	screenshot(t, ctx, "nojs-integration-refused")
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible("#integration-form")); err != nil {
		t.Fatal(err)
	}
	if whPresent(t, ctx, "#integration-form-refused") {
		t.Fatal("a reload shows the refused form again")
	}
	if err := chromedp.Do(ctx,
		chromedp.SetValue("#name", "ERP"),
		chromedp.Click("#save-integration"),
		chromedp.WaitVisible("#client-secret-value"),
		chromedp.Reload(),
		chromedp.WaitVisible("#install-status"),
	); err != nil {
		t.Fatal(err)
	}
	if whPresent(t, ctx, "#client-secret-value") {
		t.Fatal("a reload showed the secret again")
	}
	if err := chromedp.Do(ctx, chromedp.Click("#delete-integration"), chromedp.WaitVisible("#confirm-question-page"),
		chromedp.Click("#confirm-ok"), chromedp.WaitVisible(`div.flash[data-flash="ok"]`)); err != nil {
		t.Fatal(err)
	}
	at(t, ctx, base, "/settings/developer")
	if txt := whText(t, ctx, `div.flash[data-flash="ok"]`); !strings.Contains(txt, "“ERP” deleted") || rowsNamed(t, ctx, "#integrations", "ERP") != 0 {
		t.Fatalf("after delete %q", txt)
	}
	screenshot(t, ctx, "nojs-integration-deleted")

	// A viewer's POST, here a plain form on the sources page, is refused
	// with the HTML 403 page.
	vctx := newBrowser(t)
	sessionLogin(t, vctx, base, "view@example.com")
	if err := chromedp.Do(vctx, chromedp.Navigate(base+"/inbound"), chromedp.WaitVisible("#source-erp")); err != nil {
		t.Fatal(err)
	}
	if whPresent(t, vctx, "#create-source") || whPresent(t, vctx, "#create-token-erp") || whPresent(t, vctx, `form[action$="/revoke"]`) {
		t.Fatal("a viewer sees forms that change things")
	}
	for _, path := range []string{"/inbound/sources", "/inbound/sources/erp/tokens", "/settings/developer", "/settings/alerts"} {
		if _, err := chromedp.Run(vctx, chromedp.Evaluate[bool](`(() => { const f = document.createElement('form');
			f.method = 'post'; f.action = `+strconv.Quote(path)+`; const i = document.createElement('input');
			i.name = 'name'; i.value = 'x'; f.appendChild(i); document.body.appendChild(f); f.submit(); return true })()`)); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(vctx, chromedp.WaitVisible("#error")); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if st := errorStatus(t, vctx); st != 403 {
			t.Fatalf("viewer POST %s: %d", path, st)
		}
	}
}
