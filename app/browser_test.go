package app

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// newBrowser starts headless Chromium for one test. Without Chromium the
// test skips locally but fails under CI=true, where .ci/run installs it.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium not found at %s; CI must run browser tests", path)
		}
		t.Skipf("chromium not found at %s (set CHROMIUM or install it)", path)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

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
	ctx := newBrowser(t)
	dir := t.TempDir()
	getenv := env("SENTRY_ENCRYPTION_KEY", testKey(t), "SENTRY_DATA_DIR", dir, "SENTRY_LOG_LEVEL", "warn")
	if r := run(t, getenv, "correct horse battery\n", "admin", "create", "--email", "ops@example.com"); r.code != 0 {
		t.Fatal(r.stderr)
	}
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
