package app

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sentryhub/connectors/fakes/fakekit"
	"sentryhub/connectors/fakes/quickbooks"
	"sentryhub/connectors/manifest"
	"sentryhub/store"
)

// TestBrowserSetupPanel drives the setup panel of manifest connectors in
// headless Chromium against the real serve lifecycle:
//
//   - QuickBooks (OAuth 2.0 authorization code, aimed at the fake Intuit):
//     the provider's docs link and setup instructions, "not connected",
//     then save the client id and secret, press Connect, consent at the
//     fake authorization server, and come back connected;
//   - a webhook-only connector loaded from the operator manifest directory
//     (SENTRY_CONNECTOR_MANIFEST_DIR): listed with the others, "calls
//     nothing", its per-connection webhook URL with the provider's steps;
//     a delivery signed with the saved secret to exactly that URL is
//     accepted, a forged one refused.
func TestBrowserSetupPanel(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	fake := quickbooks.New(quickbooks.Config{Seed: 3, Items: 2, Orders: 2})
	up := fakekit.Serve(t, fake)

	// The hub's public URL must be known before it listens: the webhook
	// URLs and the OAuth redirect URI are built on it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	hooksDir, err := filepath.Abs(filepath.Join("..", "connectors", "manifest", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	getenv := adminHub(t, "SENTRY_BASE_URL", "http://"+addr, "SENTRY_CONNECTOR_MANIFEST_DIR", hooksDir)
	cfg, err := loadConfig(Main{}.flagSet("serve", "serve"), nil, getenv, loadOptions{requireKey: true})
	if err != nil {
		t.Fatal(err)
	}
	db, err := testMain().openStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.CreateWarehouse(context.Background(), store.OpMeta{}, store.WarehouseInput{Code: "W1", Name: "Main"})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	base := startServeMain(t, getenv, func(m *Main) {
		m.connectors = connectorOptions{manifest: manifest.Options{BaseURL: map[string]string{"quickbooks": up.URL}}}
	}, "--addr", addr)

	textOf := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	submit := func(sel, waitSel string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.body.dataset.stale = "yes", true)`)); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(wctx, chromedp.Click(sel), chromedp.WaitNotPresent("body[data-stale]"), chromedp.WaitVisible(waitSel)); err != nil {
			where, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + " " + document.body.innerText.slice(0, 600)`))
			t.Fatalf("click %s, wait for %s: %v; at %s", sel, waitSel, err, where)
		}
	}

	// Log in on the way to the catalogue: both connectors are listed.
	loginAt(t, ctx, base, "/connectors", "#connector-quickbooks")
	if err := chromedp.Do(ctx, chromedp.WaitVisible("#connector-pimhooks")); err != nil {
		t.Fatal(err)
	}

	// QuickBooks: docs link, setup instructions, not connected yet.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/connectors/quickbooks?warehouse_id=1"), chromedp.WaitVisible("#setup")); err != nil {
		t.Fatal(err)
	}
	docs, err := chromedp.Run(ctx, chromedp.AttributeValue(`#setup a[rel~="noopener"]`, "href"))
	if err != nil || docs.Value != "https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/item" {
		t.Fatalf("docs link %+v %v", docs, err)
	}
	if s := textOf("#setup"); !strings.Contains(s, "Intuit developer portal") || !strings.Contains(s, "press Connect") ||
		!strings.Contains(s, "quickbooks.api.intuit.com") {
		t.Fatalf("setup text %q", s)
	}
	if s := textOf("#oauth-not-connected"); !strings.Contains(s, "Not connected yet") {
		t.Fatalf("connection %q", s)
	}
	screenshot(t, ctx, "setup-panel-quickbooks")

	// Save the app's credentials, then Connect: consent at the fake Intuit,
	// back through the callback, tokens exchanged and sealed.
	if err := chromedp.Do(ctx,
		typeText("#field-realm_id", "9130350000000000"),
		typeText("#field-client_id", "qb-client"),
		typeText("#field-client_secret", "qb-secret"),
	); err != nil {
		t.Fatal(err)
	}
	submit("#save-credentials", `#credentials div[data-flash="ok"]`)
	submit("#oauth-connect", "#oauth-connected")
	if s := textOf(`div[data-flash="ok"]`); !strings.Contains(s, "Connected") {
		t.Fatalf("flash after consent %q", s)
	}
	screenshot(t, ctx, "setup-panel-quickbooks-connected")
	// Each sync lists its streams with their own schedules.
	if s := textOf("#stream-sales_receipts"); !strings.Contains(s, "own schedule: cron */10 * * * * (UTC)") {
		t.Fatalf("orders stream %q", s)
	}
	if s := textOf("#streams-items"); !strings.Contains(s, "items own schedule: every 15m") {
		t.Fatalf("items streams %q", s)
	}

	// The webhook-only connector: nothing to call, one webhook stream with
	// its URL for this warehouse and the provider's steps; no syncs.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/connectors/pimhooks?warehouse_id=1"), chromedp.WaitVisible("#webhooks")); err != nil {
		t.Fatal(err)
	}
	if s := textOf("#setup"); !strings.Contains(s, "only listens") || !strings.Contains(textOf("#calls-nothing"), "calls nothing") {
		t.Fatalf("setup text %q", s)
	}
	hookURL := textOf("#webhook-url-product_events")
	if want := "http://" + addr + "/hooks/connectors/pimhooks/1/product_events"; hookURL != want {
		t.Fatalf("webhook URL %q, want %q", hookURL, want)
	}
	if s := textOf("#webhooks"); !strings.Contains(s, "Integrations > Webhooks") || !strings.Contains(s, "product.changed") {
		t.Fatalf("webhook steps %q", s)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("[id^=sync-now-]").length`)); err != nil || n != 0 {
		t.Fatalf("%d sync buttons on a webhook-only connector: %v", n, err)
	}
	const secret = "pim_whsec_browser_91c2"
	if err := chromedp.Do(ctx, typeText("#field-webhook_secret", secret)); err != nil {
		t.Fatal(err)
	}
	submit("#save-credentials", `#credentials div[data-flash="ok"]`)
	screenshot(t, ctx, "setup-panel-webhook-only")

	body := []byte(`{"event_id":"ev_b1","kind":"product.changed","product":{"id":"p1","sku":"PIM-1","title":"Desk lamp"}}`)
	deliver := func(key string) int {
		t.Helper()
		m := hmac.New(sha256.New, []byte(key))
		m.Write(body)
		req, err := http.NewRequest(http.MethodPost, hookURL, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Pim-Signature", "sha256="+hex.EncodeToString(m.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := deliver("forged"); code != http.StatusUnauthorized {
		t.Fatalf("forged delivery: %d", code)
	}
	if code := deliver(secret); code != http.StatusAccepted {
		t.Fatalf("signed delivery: %d", code)
	}
	if code := deliver(secret); code != http.StatusOK {
		t.Fatalf("redelivery: %d, want 200 (duplicate)", code)
	}
}
