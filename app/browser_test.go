package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromiumPath is the browser the tests drive: $CHROMIUM or Debian's.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// sharedBrowser is one headless Chromium shared by the package's browser
// tests: starting it costs more than most of them take. Its tabs are
// pooled too, since opening one costs Chromium about 0.4 s of CPU: each
// pooled tab has a browser context of its own (cookies and storage apart
// from every other tab's), a test takes an idle one or opens one, and gives
// it back cleaned. So tests can run in parallel. TestMain closes it.
type sharedBrowser struct {
	once   sync.Once
	ctx    context.Context
	err    error
	cancel func()

	mu   sync.Mutex
	idle []pooledTab
}

// pooledTab is an open tab and the function that closes it.
type pooledTab struct {
	ctx   context.Context
	close context.CancelFunc
}

var browser sharedBrowser

func (b *sharedBrowser) get() (context.Context, error) {
	b.once.Do(func() {
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(chromiumPath()),
			chromedp.UserDataDir(filepath.Join(binDir, "chromium-profile")),
			chromedp.Flag("headless", true),
			chromedp.Flag("no-sandbox", true),
			chromedp.Flag("disable-gpu", true),
			chromedp.Flag("no-first-run", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.Flag("disable-background-timer-throttling", true),
			chromedp.Flag("disable-renderer-backgrounding", true),
			chromedp.Flag("disable-backgrounding-occluded-windows", true),
			// Measured on the whole browser suite (2 cores): these three
			// take about 14% off Chromium's CPU. The tests never go back
			// in history, and one renderer serves all their tabs.
			chromedp.Flag("enable-low-end-device-mode", true),
			chromedp.Flag("renderer-process-limit", "1"),
			chromedp.Flag("disable-features", "BackForwardCache"),
			chromedp.WindowSize(1280, 900),
		}
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(actx)
		b.cancel = func() { cancelCtx(); cancelAlloc() }
		if err := chromedp.Do(ctx); err != nil { // starts the browser
			b.err = err
			return
		}
		b.ctx = ctx
	})
	return b.ctx, b.err
}

// tab hands out an idle tab, or opens one in a new browser context.
func (b *sharedBrowser) tab() (pooledTab, error) {
	bctx, err := b.get()
	if err != nil {
		return pooledTab{}, err
	}
	b.mu.Lock()
	if n := len(b.idle); n > 0 {
		tab := b.idle[n-1]
		b.idle = b.idle[:n-1]
		b.mu.Unlock()
		return tab, nil
	}
	b.mu.Unlock()
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		return pooledTab{}, err
	}
	return pooledTab{ctx, cancel}, nil
}

// release cleans a tab of what a test may have left (its page, cookies,
// JavaScript switched off, a phone viewport) and makes it idle; a tab that
// cannot be cleaned is closed instead.
func (b *sharedBrowser) release(tab pooledTab) {
	ctx, cancel := context.WithTimeout(tab.ctx, 10*time.Second)
	defer cancel()
	err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, tg, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: false}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
		return err
	}))
	if err != nil {
		tab.close()
		return
	}
	b.mu.Lock()
	b.idle = append(b.idle, tab)
	b.mu.Unlock()
}

// close stops the browser if a test started it.
func (b *sharedBrowser) close() {
	if b.cancel != nil {
		b.cancel()
	}
}

// newBrowser gives a test a clean tab of its own in the shared Chromium.
// Without Chromium the test skips locally but fails under CI=true, where
// .ci/run installs it.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium not found at %s; CI must run browser tests", chromiumPath())
		}
		t.Skipf("chromium not found at %s (set CHROMIUM or install it)", chromiumPath())
	}
	tab, err := browser.tab()
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// The test's context ends with the test, and with it anything the test
	// started in the tab; the tab itself goes back to the pool.
	ctx, cancel := context.WithTimeout(tab.ctx, 90*time.Second)
	t.Cleanup(func() { cancel(); browser.release(tab) })
	return ctx
}

// hubPassword is the password of every user the browser tests' hubs have.
const hubPassword = "correct horse battery"

// adminHub is the environment of a browser test's hub: a fresh data
// directory and key, loopback targets allowed (test consumers and fakes
// listen there), extra settings as key-value pairs (they override these),
// and an admin ops@example.com with hubPassword.
func adminHub(t *testing.T, kv ...string) func(string) string {
	t.Helper()
	getenv := env(append([]string{"SENTRY_ENCRYPTION_KEY", testKey(t), "SENTRY_DATA_DIR", t.TempDir(),
		"SENTRY_LOG_LEVEL", "warn", "SENTRY_ALLOW_PRIVATE_TARGETS", "127.0.0.0/8"}, kv...)...)
	if r := run(t, getenv, hubPassword+"\n", "admin", "create", "--email", "ops@example.com"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	return getenv
}

// viewerHub is adminHub with a viewer too, view@example.com.
func viewerHub(t *testing.T) func(string) string {
	t.Helper()
	getenv := adminHub(t)
	if r := run(t, getenv, hubPassword+"\n", "admin", "create", "--email", "view@example.com", "--role", "viewer"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	return getenv
}

// loginAt logs ops@example.com in (sessionLogin), opens path and waits
// for sel.
func loginAt(t *testing.T, ctx context.Context, base, path, sel string) {
	t.Helper()
	sessionLogin(t, ctx, base, "ops@example.com")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+path), chromedp.WaitVisible(sel)); err != nil {
		t.Fatal(err)
	}
}

// sessionLogin logs email in (with hubPassword) by the
// same POST the login form sends, made from Go, and gives the tab the
// session cookie the hub answers with. The form itself is driven by
// TestBrowserLogin and, without JavaScript, TestBrowserWithoutJavaScript;
// every other test starts logged in this way, because typing into the form
// costs Chromium more CPU than most of a test's steps.
func sessionLogin(t *testing.T, ctx context.Context, base, email string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(base+"/login", url.Values{"email": {email}, "password": {hubPassword}})
	if err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) == 0 {
		t.Fatalf("login %s: %s with cookies %v: %s", email, resp.Status, resp.Cookies(), body)
	}
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for _, c := range resp.Cookies() {
			p := network.SetCookieParams{Name: c.Name, Value: c.Value, URL: base, Path: c.Path, HTTPOnly: &c.HttpOnly}
			switch c.SameSite {
			case http.SameSiteLaxMode:
				p.SameSite = network.CookieSameSiteLax
			case http.SameSiteStrictMode:
				p.SameSite = network.CookieSameSiteStrict
			}
			if _, err := cdp.Call(ctx, tg, network.SetCookie, p); err != nil {
				return fmt.Errorf("set cookie %s: %w", c.Name, err)
			}
		}
		return nil
	})); err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
}

// typeText enters text into the focused, empty field sel in one insertion,
// as a paste or an input method does: the field gets the input event a
// typed value gives, for one call instead of three key events a character.
// Tests use chromedp.SendKeys where the keys themselves matter.
func typeText(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.Focus(sel), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: text})
		return err
	}))
}

// waitLive waits for sel to appear on a page that refreshes itself
// (data-refresh, every 2 or 3 s). It looks every 50 ms, not every 5 ms as
// chromedp does by default: those seconds of waiting would otherwise cost
// Chromium some 200 queries each.
func waitLive(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(sel, chromedp.RetryInterval(50*time.Millisecond))
}

// reloadUntil opens page (waiting for waitSel) until the JavaScript
// condition cond, written about document, holds there. Between loads the
// page itself asks: it fetches its URL every 100 ms and tests cond against the
// parsed answer, and only then does the tab load it again, because a
// navigation costs Chromium about twenty times a fetch. The test goes on
// with the real page on which cond held.
func reloadUntil(t *testing.T, ctx context.Context, page, waitSel, cond, what string) {
	t.Helper()
	const timeout = 30 * time.Second
	deadline := time.Now().Add(timeout)
	wait := fmt.Sprintf(`(async () => {
		const stop = Date.now() + 10000;
		for (;;) {
			const r = await fetch(%q, {credentials: "same-origin", headers: {"Accept": "text/html"}});
			const document = new DOMParser().parseFromString(await r.text(), "text/html");
			if (%s) { return true; }
			if (Date.now() > stop) { return false; }
			await new Promise((done) => setTimeout(done, 100));
		}
	})()`, page, cond)
	for {
		if err := chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitVisible(waitSel)); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](wait, chromedp.EvalAwaitPromise)); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
}

// jsReady waits until app.js has set the page up (it marks <html
// class="js">). A click on a confirmed button before that would take the
// no-JavaScript path (a confirmation page) instead of the dialog.
func jsReady() chromedp.Action[chromedp.Void] { return chromedp.WaitReady("html.js") }

// screenshot saves a PNG when SCREENSHOT_DIR is set, for a person to look at.
func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	_ = os.WriteFile(dir+"/"+name+".png", png, 0o644)
}

func TestBrowserLogin(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	getenv := adminHub(t)
	base := startServe(t, getenv)

	// An anonymous visit lands on the login form.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/tokens"), chromedp.WaitVisible("#email")); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "login")

	// A wrong password shows an error and stays on the form.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys("#email", "ops@example.com"),
		chromedp.SendKeys("#password", "wrong password"),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#login-error"),
	); err != nil {
		t.Fatal(err)
	}
	msg, err := chromedp.Run(ctx, chromedp.Text("#login-error"))
	if err != nil || !strings.Contains(msg, "Invalid email or password") {
		t.Fatalf("login error %q %v", msg, err)
	}

	// The right password logs in and returns to the page asked for.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys("#password", hubPassword),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#who"),
	); err != nil {
		t.Fatal(err)
	}
	who, err := chromedp.Run(ctx, chromedp.Text("#who"))
	if err != nil || !strings.Contains(who, "ops@example.com") {
		t.Fatalf("who %q %v", who, err)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.HasSuffix(loc, "/tokens") {
		t.Fatalf("after login at %s, want /tokens", loc)
	}

	// Create a token through the form (a real same-origin POST through the
	// cross-origin protection) and see it exactly once.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys("#token-name", "browser-made"),
		chromedp.Click(`input[value="events:read"]`),
		chromedp.Click("#create-token"),
		chromedp.WaitVisible("#new-token-value"),
	); err != nil {
		t.Fatal(err)
	}
	tok, err := chromedp.Run(ctx, chromedp.Text("#new-token-value"))
	if err != nil || !strings.HasPrefix(tok, "shub_") {
		t.Fatalf("token %q %v", tok, err)
	}
	screenshot(t, ctx, "tokens")
	if code, _ := getJSON(t, "GET", base+"/api/admin/audit", tok, nil); code != 403 {
		t.Fatalf("events:read token on admin API: %d", code)
	}

	// Log out: the session is gone.
	if err := chromedp.Do(ctx, chromedp.Click("#logout"), chromedp.WaitVisible("#email")); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible("#email")); err != nil {
		t.Fatal(err)
	}
}
