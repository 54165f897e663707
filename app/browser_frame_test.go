package app

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// The frame every admin page shares (issue 12, points 1-5), walked in
// Chromium: error pages, post/redirect/get, local times, copy buttons,
// confirmations, phone layout, and all of it again without JavaScript.

// frameHub starts a hub with an admin and a viewer and returns its URL.
func frameHub(t *testing.T) string {
	t.Helper()
	getenv := viewerHub(t)
	return startServe(t, getenv)
}

// uiLogin logs email in through the form and waits for the frame.
func uiLogin(t *testing.T, ctx context.Context, base, email string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible("#email"),
		chromedp.SendKeys("#email", email),
		chromedp.SendKeys("#password", hubPassword),
		chromedp.Click("#login-submit"),
		chromedp.WaitReady("#who"), // in the DOM; folded away at phone width
	); err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
}

// noScript turns JavaScript off in the test's tab.
func noScript(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	})); err != nil {
		t.Fatal(err)
	}
}

func evalBool(t *testing.T, ctx context.Context, js string) bool {
	t.Helper()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return ok
}

// errorStatus is the status the HTML error page on screen reports, or 0.
func errorStatus(t *testing.T, ctx context.Context) int {
	t.Helper()
	if !whPresent(t, ctx, "#error[data-status]") {
		return 0
	}
	v, err := chromedp.Run(ctx, chromedp.AttributeValue("#error", "data-status"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(v.Value)
	return n
}

// createToken fills the token form and waits for the page it leads to.
func createToken(t *testing.T, ctx context.Context, base, name string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/tokens"),
		chromedp.WaitVisible("#token-name"),
		typeText("#token-name", name),
		chromedp.Click(`input[value="events:read"]`),
		chromedp.Click("#create-token"),
		chromedp.WaitVisible("#new-token-value"),
	); err != nil {
		t.Fatal(err)
	}
}

// tokenRows counts the rows of the token list named name.
func tokenRows(t *testing.T, ctx context.Context, name string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('#tokens tbody tr td:first-child')]`+
		`.filter(td => td.textContent.trim() === `+strconv.Quote(name)+`).length`))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBrowserFrame(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	base := frameHub(t)
	sessionLogin(t, ctx, base, "ops@example.com")

	// An unknown page is the HTML 404 inside the frame, not Go's text.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/nope"), chromedp.WaitVisible("#error")); err != nil {
		t.Fatal(err)
	}
	if st := errorStatus(t, ctx); st != 404 || !whPresent(t, ctx, "#who") {
		t.Fatalf("/nope: status %d, frame %v", st, whPresent(t, ctx, "#who"))
	}
	// A bad query value is an HTML 400 naming it.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/audit?before=abc"), chromedp.WaitVisible("#error")); err != nil {
		t.Fatal(err)
	}
	if st := errorStatus(t, ctx); st != 400 || !strings.Contains(whText(t, ctx, "#error"), "before") {
		t.Fatalf("bad query: %d %q", st, whText(t, ctx, "#error"))
	}
	screenshot(t, ctx, "frame-400")

	// Post/redirect/get: the token shows once at /tokens, and reloading
	// neither shows it again nor creates a second one.
	createToken(t, ctx, base, "prg-check")
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.HasSuffix(loc, "/tokens") {
		t.Fatalf("after create at %s, want /tokens", loc)
	}
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible("#tokens")); err != nil {
		t.Fatal(err)
	}
	if whPresent(t, ctx, "#new-token-value") || tokenRows(t, ctx, "prg-check") != 1 {
		t.Fatalf("after reload: token shown %v, %d tokens named prg-check", whPresent(t, ctx, "#new-token-value"), tokenRows(t, ctx, "prg-check"))
	}

	// Times are in the viewer's local zone, with UTC on hover.
	if !evalBool(t, ctx, `(() => { const el = document.querySelector('#tokens time.ts');
		return el !== null && el.dataset.local === '1' && el.title.endsWith('UTC') })()`) {
		t.Fatal("token times not localized with a UTC title")
	}

	// Revoking asks in a dialog; cancelling changes nothing, confirming
	// revokes and says so.
	revoke := `#tokens form[action$="/revoke"] button`
	if err := chromedp.Do(ctx, jsReady(), chromedp.Click(revoke), chromedp.WaitVisible("#confirm-dialog"),
		chromedp.Click("#dialog-cancel"), chromedp.WaitNotVisible("#confirm-dialog")); err != nil {
		t.Fatal(err)
	}
	if whPresent(t, ctx, "#tokens .badge.bad") {
		t.Fatal("cancelled revoke revoked")
	}
	if err := chromedp.Do(ctx, jsReady(), chromedp.Click(revoke), chromedp.WaitVisible("#confirm-dialog"),
		chromedp.Click("#dialog-ok"), chromedp.WaitVisible("div.flash.ok")); err != nil {
		t.Fatal(err)
	}
	if txt := whText(t, ctx, "div.flash.ok"); !strings.Contains(txt, "revoked") || !whPresent(t, ctx, "#tokens .badge.bad") {
		t.Fatalf("after revoke: %q", txt)
	}

	// A copy button copies the new token.
	createToken(t, ctx, base, "copy-check")
	if err := chromedp.Do(ctx, chromedp.Click(`button[data-copy="new-token-value"]`),
		chromedp.WaitVisible(`button[data-copy="new-token-value"][data-copied="1"]`)); err != nil {
		t.Fatal(err)
	}
}

func TestBrowserViewerGetsHTML403(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	base := frameHub(t)
	sessionLogin(t, ctx, base, "view@example.com")
	// Viewers see no forms that change things; a POST made anyway (here a
	// same-origin form the test builds) gets the HTML 403 page.
	for _, path := range []string{"/tokens", "/tokens/1/revoke", "/webhooks", "/connectors/shopify/test", "/users"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/tokens"), chromedp.WaitVisible("#tokens")); err != nil {
			t.Fatal(err)
		}
		if whPresent(t, ctx, "#create-token") {
			t.Fatal("viewer sees the create form")
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const f = document.createElement('form');
			f.method = 'post'; f.action = `+strconv.Quote(path)+`; const i = document.createElement('input');
			i.name = 'name'; i.value = 'x'; f.appendChild(i); document.body.appendChild(f); f.submit(); return true })()`)); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.WaitVisible("#error")); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if st := errorStatus(t, ctx); st != 403 || !strings.Contains(strings.ToLower(whText(t, ctx, "#error")), "viewer") {
			t.Fatalf("viewer POST %s: %d %q", path, st, whText(t, ctx, "#error"))
		}
	}
	screenshot(t, ctx, "viewer-403")
}

// TestBrowserPhoneLayout checks every main page at 390 px: the header
// folds into a menu, and nothing widens the page past the screen.
func TestBrowserPhoneLayout(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	base := frameHub(t)
	// Emulation set on a fresh tab, before the first page, as a phone
	// opens the site.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	sessionLogin(t, ctx, base, "ops@example.com")
	createToken(t, ctx, base, "a-rather-long-token-name-for-a-narrow-screen")
	for _, path := range []string{"/", "/tokens", "/users", "/events", "/webhooks", "/webhooks/errors", "/connectors", "/connectors/shopify", "/sessions", "/audit", "/nope"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+path), chromedp.WaitVisible("body > main")); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if evalBool(t, ctx, `document.documentElement.scrollWidth > window.innerWidth`) {
			w, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
			screenshot(t, ctx, "phone-overflow")
			t.Fatalf("%s: page is %d px wide at 390 px", path, w)
		}
		if !evalBool(t, ctx, `getComputedStyle(document.querySelector('header.top nav')).display === 'none'`) {
			t.Fatalf("%s: the header does not fold at phone width", path)
		}
	}
	// The menu opens the navigation.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/audit"), chromedp.Click("#nav-toggle-label"),
		chromedp.WaitVisible(`header.top nav a[href="/webhooks"]`)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "phone-menu")
}

// TestBrowserWithoutJavaScript walks the same flows with scripts off:
// times read in UTC, the token is selectable text, and revoking asks on
// a page of its own.
func TestBrowserWithoutJavaScript(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	base := frameHub(t)
	noScript(t, ctx)
	uiLogin(t, ctx, base, "ops@example.com")
	for _, path := range []string{"/", "/users", "/events", "/webhooks", "/webhooks/errors", "/connectors", "/connectors/shopify", "/sessions", "/audit"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+path), chromedp.WaitVisible("#who")); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if errorStatus(t, ctx) != 0 {
			t.Fatalf("%s: error page without JavaScript", path)
		}
	}
	createToken(t, ctx, base, "no-js")
	if whPresent(t, ctx, `button[data-copy]:not([hidden])`) {
		t.Fatal("copy button shown without JavaScript")
	}
	if txt := whText(t, ctx, "#tokens time.ts"); !strings.HasSuffix(txt, "UTC") {
		t.Fatalf("time without JavaScript %q, want UTC", txt)
	}
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible("#tokens")); err != nil {
		t.Fatal(err)
	}
	if tokenRows(t, ctx, "no-js") != 1 {
		t.Fatal("reload created a second token")
	}
	if err := chromedp.Do(ctx, chromedp.Click(`#tokens form[action$="/revoke"] button`), chromedp.WaitVisible("#confirm-question-page"),
		chromedp.Click("#confirm-ok"), chromedp.WaitVisible("div.flash.ok")); err != nil {
		t.Fatal(err)
	}
	if !whPresent(t, ctx, "#tokens .badge.bad") {
		t.Fatal("not revoked after the confirmation page")
	}
	screenshot(t, ctx, "nojs-revoked")
}

// TestBrowserLiveRefresh: a retrying delivery keeps the delivery table
// refreshing; when the retry succeeds the row turns succeeded without a
// reload, and the refreshing stops.
func TestBrowserLiveRefresh(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	getenv := adminHub(t)
	consumer := newWhConsumer(t)
	consumer.status.Store(500)
	// Retries n/2 s apart (the contract's are 1 s, 4 s, 15 s, …): the
	// delivery still retries for over ten seconds, but the one after the
	// consumer recovers comes within a second or two.
	base := startServeMain(t, getenv, func(m *Main) {
		m.retries.delay = func(n int) time.Duration { return time.Duration(n) * time.Second / 2 }
	})
	admin := strings.TrimSpace(run(t, getenv, "", "token", "create", "--name", "ops", "--scope", "admin").stdout)
	wtok := strings.TrimSpace(run(t, getenv, "", "token", "create", "--name", "wms", "--scope", "warehouse:write").stdout)
	var created struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(call(t, "POST", base+"/api/admin/webhooks", admin, `{"name":"erp","url":"`+consumer.srv.URL+`/hook"}`, 201), &created); err != nil || created.Secret == "" {
		t.Fatalf("create subscription: %v", err)
	}
	call(t, "POST", base+"/api/v1/warehouses", wtok, `{"code":"MAIN","name":"Main"}`, 201)
	call(t, "PUT", base+"/api/v1/items/W-1", wtok, `{"name":"Widget"}`, 201)
	call(t, "POST", base+"/api/v1/inventory/adjustments", wtok, `{"warehouse_id":1,"sku":"W-1","delta":1,"reason":"count"}`, 200)
	consumer.waitRequests(t, "/hook", 1, 30*time.Second) // the first failed attempt

	sessionLogin(t, ctx, base, "ops@example.com")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/webhooks/1"), chromedp.WaitVisible("#deliveries-live[data-refresh]")); err != nil {
		t.Fatal(err)
	}
	// The consumer recovers; the next retry succeeds and the table
	// updates in place.
	consumer.status.Store(0)
	if err := chromedp.Do(ctx, waitLive(`#deliveries tr[data-status="succeeded"]`),
		chromedp.WaitReady(`#deliveries-live[data-settled="1"]`)); err != nil {
		t.Fatal(err)
	}
	if whPresent(t, ctx, "#deliveries-live[data-refresh]") {
		t.Fatal("still refreshing after every delivery finished")
	}

	// Send test event: a signed webhook.test envelope reaches the
	// consumer and the page says what it answered.
	before := len(consumer.requests("/hook"))
	if err := chromedp.Do(ctx, chromedp.Click("#send-test"), chromedp.WaitVisible(`div.flash[data-flash="ok"]`)); err != nil {
		t.Fatal(err)
	}
	if txt := whText(t, ctx, `div.flash[data-flash="ok"]`); !strings.Contains(txt, "Test event sent") || !strings.Contains(txt, "HTTP 200") {
		t.Fatalf("after send test %q", txt)
	}
	reqs := consumer.requests("/hook")
	if len(reqs) != before+1 {
		t.Fatalf("consumer got %d requests for the test, want 1", len(reqs)-before)
	}
	test := reqs[len(reqs)-1]
	if test.header.Get("X-Sentry-Event-Type") != "webhook.test" || !test.verifies(created.Secret) {
		t.Fatalf("test request %s %s not a signed webhook.test", test.header.Get("X-Sentry-Event-Type"), test.body)
	}
}
