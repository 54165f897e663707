package app

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
// tests: starting it costs more than most of them take. Each test gets its
// own browser context (separate cookies and storage, like a fresh profile),
// so they can run in parallel. TestMain closes it.
type sharedBrowser struct {
	once   sync.Once
	ctx    context.Context
	err    error
	cancel func()
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

// close stops the browser if a test started it.
func (b *sharedBrowser) close() {
	if b.cancel != nil {
		b.cancel()
	}
}

// newBrowser gives a test a fresh browser context in the shared Chromium.
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
	bctx, err := browser.get()
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelCtx := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx() })
	return ctx
}

// adminHub is the environment of a browser test's hub: a fresh data
// directory and key, loopback targets allowed (test consumers and fakes
// listen there), extra settings as key-value pairs (they override these),
// and an admin ops@example.com with the password uiLogin types.
func adminHub(t *testing.T, kv ...string) func(string) string {
	t.Helper()
	getenv := env(append([]string{"SENTRY_ENCRYPTION_KEY", testKey(t), "SENTRY_DATA_DIR", t.TempDir(),
		"SENTRY_LOG_LEVEL", "warn", "SENTRY_ALLOW_PRIVATE_TARGETS", "127.0.0.0/8"}, kv...)...)
	if r := run(t, getenv, "correct horse battery\n", "admin", "create", "--email", "ops@example.com"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	return getenv
}

// viewerHub is adminHub with a viewer too, view@example.com.
func viewerHub(t *testing.T) func(string) string {
	t.Helper()
	getenv := adminHub(t)
	if r := run(t, getenv, "correct horse battery\n", "admin", "create", "--email", "view@example.com", "--role", "viewer"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	return getenv
}

// loginAt opens path in the browser, logs in as ops@example.com and waits
// for sel.
func loginAt(t *testing.T, ctx context.Context, base, path, sel string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+path),
		chromedp.WaitVisible("#email"),
		chromedp.SendKeys("#email", "ops@example.com"),
		chromedp.SendKeys("#password", "correct horse battery"),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible(sel),
	); err != nil {
		t.Fatal(err)
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
		chromedp.SendKeys("#password", "correct horse battery"),
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
