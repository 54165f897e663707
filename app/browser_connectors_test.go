package app

import (
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sentryhub/connectors/shopify"
)

// TestBrowserConnectors drives the connector pages in headless Chromium
// against the real serve lifecycle and a fake Shopify shop (Shopify's
// documented GraphQL shapes, on a loopback httptest server that the SSRF
// guard reaches because SENTRY_ALLOW_PRIVATE_TARGETS exempts 127.0.0.0/8):
// log in, fill the form generated from Shopify's schema, test the
// connection, sync items and then orders, and see the orders run succeed
// with its record count. The access token never appears in any page.
func TestBrowserConnectors(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	const token = "shpat_browser_secret_4f2a9c0e7d"
	const loc = "gid://shopify/Location/4242"
	fake := shopify.NewFake(shopify.FakeConfig{AccessToken: token})
	fake.AddLocation(loc, "Dock A")
	t0 := time.Now().Add(-time.Hour).UTC()
	for _, sku := range []string{"MUG-1", "MUG-2"} {
		fake.AddVariant(shopify.FakeVariant{SKU: sku, ProductTitle: "Mug " + sku, Title: "Default Title", UpdatedAt: t0})
		fake.SetLevel(shopify.FakeLevel{LocationID: loc, SKU: sku, Tracked: true, OnHand: 12, UpdatedAt: t0})
	}
	fake.AddOrder(shopify.FakeOrder{Name: "#1001", UpdatedAt: t0, LocationID: loc,
		Lines: []shopify.FakeLine{{SKU: "MUG-1", Qty: 2, RequiresShipping: true}}, Address: map[string]string{"name": "Ada"}})
	fake.AddOrder(shopify.FakeOrder{Name: "#1002", UpdatedAt: t0, LocationID: loc,
		Lines: []shopify.FakeLine{{SKU: "MUG-2", Qty: 1, RequiresShipping: true}}, Address: map[string]string{"name": "Grace"}})
	shop := httptest.NewServer(fake)
	t.Cleanup(shop.Close)

	getenv := adminHub(t)
	base := startServeWithShop(t, getenv, shop.URL)

	// noSecret fails when the current page's HTML holds the token.
	noSecret := func(where string) {
		t.Helper()
		page, err := chromedp.Run(ctx, chromedp.OuterHTML("html"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(page, token) {
			t.Fatalf("%s: the page HTML contains the access token", where)
		}
	}
	textOf := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	// submit clicks sel (a button or link that loads a page) and waits for
	// the new page to show waitSel. The old page is marked first, so an
	// element it already had cannot satisfy the wait.
	submit := func(sel, waitSel string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.body.dataset.stale = "yes", true)`)); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx,
			chromedp.Click(sel),
			chromedp.WaitNotPresent("body[data-stale]"),
			chromedp.WaitVisible(waitSel),
		); err != nil {
			t.Fatalf("click %s, wait for %s: %v", sel, waitSel, err)
		}
	}

	// Log in on the way to the connectors list.
	loginAt(t, ctx, base, "/connectors", "#connector-shopify")
	if s := textOf("#health-shopify-1"); !strings.Contains(s, "not configured") || !strings.Contains(s, "never succeeded") {
		t.Fatalf("health before setup: %q", s)
	}
	screenshot(t, ctx, "connectors-list-before")

	// The Shopify page: a form generated from the schema.
	submit("#connector-shopify h2 a", "#credentials-form")
	for _, sel := range []string{`#field-shop_domain[type="text"][required]`, `#field-access_token[type="password"]`,
		`#field-client_secret[type="password"]`, `select#field-auth_mode`, `select#field-api_version`,
		`#field-notify_customer[type="checkbox"]`} {
		if _, err := chromedp.Run(ctx, chromedp.Nodes(sel, chromedp.AtLeast(1))); err != nil {
			t.Fatalf("form lacks %s: %v", sel, err)
		}
	}
	screenshot(t, ctx, "connector-form-empty")

	// A refused form comes back with the error beside the field, the typed
	// settings kept and the typed secret gone.
	if err := chromedp.Do(ctx,
		typeText("#field-shop_domain", "acme.example.com"),
		typeText("#field-access_token", token),
		typeText("#field-location_id", loc),
	); err != nil {
		t.Fatal(err)
	}
	submit("#save-credentials", "#error-shop_domain")
	if s := textOf("#error-shop_domain"); !strings.Contains(s, "myshopify.com domain") {
		t.Fatalf("shop domain error %q", s)
	}
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#field-location_id").value`)); err != nil || v != loc {
		t.Fatalf("typed location not kept: %q %v", v, err)
	}
	screenshot(t, ctx, "connector-form-refused")
	noSecret("refused form")

	// Fix it and save.
	if err := chromedp.Do(ctx,
		chromedp.Clear("#field-shop_domain"),
		typeText("#field-shop_domain", "acme.myshopify.com"),
		typeText("#field-access_token", token),
	); err != nil {
		t.Fatal(err)
	}
	submit("#save-credentials", `#credentials div[data-flash="ok"]`)
	if s := textOf(`div[data-flash="ok"]`); !strings.Contains(s, "Credentials saved") {
		t.Fatalf("flash %q", s)
	}
	if s := textOf("#help-access_token"); !strings.Contains(s, "Stored — leave blank to keep") {
		t.Fatalf("secret state %q", s)
	}
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#field-access_token").value`)); err != nil || v != "" {
		t.Fatalf("secret input value %q %v", v, err)
	}
	noSecret("after save")

	// Test connection: the fake shop answers with its name and the location.
	submit("#test-connection", "#test-result")
	if s := textOf("#test-result"); !strings.Contains(s, "Connection OK") || !strings.Contains(s, "Acme Test Shop") {
		t.Fatalf("test result %q", s)
	}
	screenshot(t, ctx, "connector-credentials-tested")
	noSecret("after test")

	// Items first (orders name their SKUs), then orders.
	detail := base + "/connectors/shopify?warehouse_id=1"
	syncNow := func(syncType string) string {
		t.Helper()
		flash := "#sync-" + syncType + ` div[data-flash="ok"]`
		submit("#sync-now-"+syncType, flash)
		msg := textOf(flash)
		m := regexp.MustCompile(`run ([0-9a-f-]{36})`).FindStringSubmatch(msg)
		if m == nil {
			t.Fatalf("sync flash names no run: %q", msg)
		}
		// The run finishes in the background; reload until the history has
		// it (the page needs no JavaScript, so this is what an operator does).
		row := fmt.Sprintf(`tr[data-run=%q]`, m[1])
		reloadUntil(t, ctx, detail, "#runs",
			fmt.Sprintf(`(() => { const r = document.querySelector(%q); return !!r && r.dataset.status !== "running"; })()`, row),
			fmt.Sprintf("%s run %s to finish", syncType, m[1]))
		if st, err := chromedp.Run(ctx, chromedp.AttributeValue(row, "data-status")); err != nil || st.Value != "success" {
			t.Fatalf("%s run: %+v %v (%s)", syncType, st, err, textOf(row))
		}
		return row
	}
	syncNow("items")
	row := syncNow("orders")
	if s := textOf(row + ` td[data-field="records"]`); s != "2 / 0 / 0" {
		t.Fatalf("orders records %q", s)
	}
	if s := textOf(`#sync-orders dd[data-field="last-success"]`); !strings.Contains(s, "UTC") {
		t.Fatalf("orders last success %q", s)
	}

	// A failing upstream shows as a failed run with its (scrubbed) error.
	fake.FailNext("SentryInventory", 403, 1, "")
	if err := chromedp.Do(ctx, chromedp.Navigate(detail), chromedp.WaitVisible("#sync-now-inventory")); err != nil {
		t.Fatal(err)
	}
	submit("#sync-now-inventory", `#sync-inventory div[data-flash="ok"]`)
	reloadUntil(t, ctx, detail, "#runs", `!!document.querySelector('#runs tr[data-sync-type="inventory"][data-status="error"]')`, "the failed inventory run shown")
	if s := textOf(`#sync-inventory dd[data-field="errors"]`); s != "1" {
		t.Fatalf("consecutive errors %q", s)
	}
	if s := textOf(`#sync-inventory dd[data-field="last-error"]`); !strings.Contains(s, "403") {
		t.Fatalf("last error %q", s)
	}

	// Schedule orders every 30 minutes with the editor (a <details>, no
	// JavaScript needed).
	if err := chromedp.Do(ctx,
		chromedp.Click("#sync-orders details summary"),
		chromedp.WaitVisible("#mode-orders"),
		chromedp.SetValue("#mode-orders", "interval"),
		chromedp.Clear("#interval-orders"),
		typeText("#interval-orders", "30"),
	); err != nil {
		t.Fatal(err)
	}
	submit("#save-schedule-orders", `#sync-orders div[data-flash="ok"]`)
	if s := textOf(`#sync-orders dd[data-field="schedule"]`); !strings.Contains(s, "every 30 minutes") || !strings.Contains(s, "next run") {
		t.Fatalf("schedule %q", s)
	}
	screenshot(t, ctx, "connector-synced")
	noSecret("after sync")

	// The list shows the health per warehouse.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/connectors"), chromedp.WaitVisible("#health-shopify-1")); err != nil {
		t.Fatal(err)
	}
	if s := textOf(`#health-shopify-1 td[data-sync-type="orders"]`); !strings.Contains(s, "last success") {
		t.Fatalf("orders health %q", s)
	}
	if s := textOf("#health-shopify-1"); !strings.Contains(s, "configured") {
		t.Fatalf("credentials health %q", s)
	}
	screenshot(t, ctx, "connectors-list-after")
	noSecret("list")

	// Delete asks first; Cancel keeps everything.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(detail),
		chromedp.WaitVisible("#delete-credentials"),
	); err != nil {
		t.Fatal(err)
	}
	submit("#delete-credentials", "#confirm-delete")
	screenshot(t, ctx, "connector-delete-confirm")
	submit("#cancel-delete", "#delete-credentials")
	if s := textOf("#credentials-state"); s != "configured" {
		t.Fatalf("after cancel: %q", s)
	}
}

// startServeWithShop runs serve like startServe with the Shopify connector
// aimed at shopURL instead of https://<shop>.myshopify.com, after creating
// warehouse 1.
func startServeWithShop(t *testing.T, getenv func(string) string, shopURL string) string {
	t.Helper()
	return startServeWithConnectors(t, getenv, connectorOptions{shopify: shopify.Options{BaseURL: func(string) string { return shopURL }}})
}
