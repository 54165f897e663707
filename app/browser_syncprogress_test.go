package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sentryhub/connectors"
	"sentryhub/connectors/shopify"
	"sentryhub/store"
)

// TestBrowserSyncProgress drives, in headless Chromium with JavaScript on:
//
//   - a refused credentials form: the browser lands on the connector
//     page's own URL (post/redirect/get) with the error beside the field,
//     and a reload shows the page without it (nothing is sent again);
//   - a items sync whose first attempt fails (503) and whose second reads
//     three pages of two items from a fake Shopify that holds pages 2 and 3
//     until the test lets them through: the live-refreshed page shows
//     attempt 2, the first attempt's error, and the records written so far
//     rising from 2 to 4, with the run heading the history while it runs;
//     it ends as a success with 6 records;
//   - five failed connection tests open the circuit: the dashboard lists it
//     under "Needs attention", linking to the connector page.
func TestBrowserSyncProgress(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	const token = "shpat_progress_secret_91c3"
	const loc = "gid://shopify/Location/77"
	fake := shopify.NewFake(shopify.FakeConfig{AccessToken: token})
	fake.AddLocation(loc, "Dock B")
	t0 := time.Now().Add(-time.Hour).UTC()
	for i := range 6 {
		fake.AddVariant(shopify.FakeVariant{SKU: fmt.Sprintf("BOX-%d", i), ProductTitle: "Box", Title: fmt.Sprint(i), UpdatedAt: t0})
	}
	gate := newPageGate(fake)
	shop := httptest.NewServer(gate)
	t.Cleanup(func() { gate.open(); shop.Close() })

	getenv := adminHub(t, "SENTRY_LOG_LEVEL", "error")
	base := startServeWithConnectors(t, getenv, connectorOptions{
		shopify: shopify.Options{BaseURL: func(string) string { return shop.URL }, VariantsPerPage: 2},
		runner:  connectors.RunnerConfig{RetryDelay: 100 * time.Millisecond},
	})
	detail := base + "/connectors/shopify?warehouse_id=1"

	textOf := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.Join(strings.Fields(s), " ")
	}
	// submit clicks sel and waits for the next page to show waitSel.
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
	// waitFor waits for sel to appear, the live refresh bringing it.
	waitFor := func(what, sel string) {
		t.Helper()
		if err := chromedp.Do(ctx, waitLive(sel)); err != nil {
			t.Fatalf("%s (%s): %v", what, sel, err)
		}
	}
	href := func() string {
		t.Helper()
		h, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}

	loginAt(t, ctx, base, "/connectors/shopify?warehouse_id=1", "#credentials-form")

	// A refused form: the address bar holds the page's GET URL.
	if err := chromedp.Do(ctx,
		typeText("#field-shop_domain", "acme.example.com"),
		typeText("#field-access_token", token),
		typeText("#field-location_id", loc),
	); err != nil {
		t.Fatal(err)
	}
	submit("#save-credentials", "#error-shop_domain")
	if h := href(); h != detail+"#credentials" {
		t.Fatalf("after a refused form the address bar holds %q, want %q", h, detail+"#credentials")
	}
	if s := textOf("#error-shop_domain"); !strings.Contains(s, "myshopify.com") {
		t.Fatalf("field error %q", s)
	}
	if s := textOf("#form-errors"); !strings.Contains(s, "type them again") {
		t.Fatalf("no note to retype the secret: %q", s)
	}
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible("#credentials-form")); err != nil {
		t.Fatal(err)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#error-shop_domain, #form-errors").length`)); err != nil || n != 0 {
		t.Fatalf("the refusal shows again after a reload: %d %v", n, err)
	}
	if s := textOf("#credentials-state"); s != "not configured" {
		t.Fatalf("after the reload: %q", s)
	}
	screenshot(t, ctx, "syncprogress-refused-reloaded")

	if err := chromedp.Do(ctx,
		typeText("#field-shop_domain", "acme.myshopify.com"),
		typeText("#field-access_token", token),
		typeText("#field-location_id", loc),
	); err != nil {
		t.Fatal(err)
	}
	submit("#save-credentials", `#credentials div[data-flash="ok"]`)

	// The items sync: the first attempt fails, the second is held between
	// pages while the page refreshes itself.
	fake.FailNext("SentryVariants", 503, 1, "3600")
	submit("#sync-now-items", `#sync-items div[data-flash="ok"]`)
	m := regexp.MustCompile(`run ([0-9a-f-]{36})`).FindStringSubmatch(textOf(`#sync-items div[data-flash="ok"]`))
	if m == nil {
		t.Fatal("the flash names no run")
	}
	runRow := fmt.Sprintf(`#runs tr[data-run=%q]`, m[1])
	if page := gate.next(t); page != 2 {
		t.Fatalf("page %d asked first", page)
	}
	waitFor("attempt 2 shown", `#sync-items dd[data-field="attempt"][data-attempt="2"]`)
	waitFor("the first page counted", `#sync-items dd[data-field="progress"][data-synced="2"]`)
	if s := textOf(`#sync-items dd[data-field="run-error"]`); !strings.Contains(s, "503") {
		t.Fatalf("previous attempt's error %q", s)
	}
	if s := textOf(runRow + `[data-status="running"] td[data-field="records"]`); s != "2 / 0 / 0" {
		t.Fatalf("running row's records %q", s)
	}
	screenshot(t, ctx, "syncprogress-running")
	gate.release()
	if page := gate.next(t); page != 3 {
		t.Fatalf("page %d asked after page 2", page)
	}
	waitFor("the second page counted", `#sync-items dd[data-field="progress"][data-synced="4"]`)
	gate.release()
	waitFor("the run ends as a success", runRow+`[data-status="success"]`)
	if s := textOf(runRow + ` td[data-field="records"]`); s != "6 / 0 / 0" {
		t.Fatalf("finished run's records %q", s)
	}
	waitFor("refreshing stops", `#sync[data-settled]`)
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#sync-items dd[data-field="attempt"]').length`)); err != nil || n != 0 {
		t.Fatalf("progress still shown after the run: %d %v", n, err)
	}

	// Five failed connection tests in a row open the circuit.
	fake.FailNext("SentryShop", 503, 5, "3600")
	for range 5 {
		submit("#test-connection", "#test-result")
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible("#attention")); err != nil {
		t.Fatal(err)
	}
	link := `#open-circuits a[href="/connectors/shopify?warehouse_id=1#sync"]`
	if s := textOf("#open-circuits"); !strings.Contains(s, "circuit open") || !strings.Contains(s, "5 failures in a row") {
		t.Fatalf("open circuits %q", s)
	}
	screenshot(t, ctx, "syncprogress-dashboard-circuit")
	submit(link, "#circuit")
	if s := textOf("#circuit"); s != "open" {
		t.Fatalf("circuit on the connector page %q", s)
	}
}

// pageGate stands in front of the fake shop and holds every request for
// a later page of items (one with an "after" cursor): it reports the page
// number to the test and answers once the test releases it.
type pageGate struct {
	shop     http.Handler
	asked    chan int
	answer   chan struct{}
	done     chan struct{}
	openOnce sync.Once
	mu       sync.Mutex
	pages    int
}

func newPageGate(shop http.Handler) *pageGate {
	return &pageGate{shop: shop, asked: make(chan int), answer: make(chan struct{}), done: make(chan struct{})}
}

func (g *pageGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	var req struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if json.Unmarshal(body, &req) == nil && strings.Contains(req.Query, "SentryVariants") && req.Variables["after"] != nil {
		g.mu.Lock()
		g.pages++
		n := g.pages + 1
		g.mu.Unlock()
		select {
		case g.asked <- n:
		case <-g.done:
		case <-r.Context().Done():
		}
		select {
		case <-g.answer:
		case <-g.done:
		case <-r.Context().Done():
		}
	}
	g.shop.ServeHTTP(w, r)
}

// next waits for the next held page and returns its number.
func (g *pageGate) next(t *testing.T) int {
	t.Helper()
	select {
	case n := <-g.asked:
		return n
	case <-time.After(30 * time.Second):
		t.Fatal("no page of items was asked for")
	}
	return 0
}

// release lets the held page through.
func (g *pageGate) release() { g.answer <- struct{}{} }

// open lets every later request through (cleanup).
func (g *pageGate) open() { g.openOnce.Do(func() { close(g.done) }) }

// startServeWithConnectors runs serve like startServe with the connectors
// configured by o (fakes, runner timings), after creating warehouse 1.
func startServeWithConnectors(t *testing.T, getenv func(string) string, o connectorOptions) string {
	t.Helper()
	ctx := context.Background()
	cfg, err := loadConfig(Main{}.flagSet("serve", "serve"), nil, getenv, loadOptions{requireKey: true})
	if err != nil {
		t.Fatal(err)
	}
	db, err := testMain().openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.CreateWarehouse(ctx, store.OpMeta{}, store.WarehouseInput{Code: "W1", Name: "Main"})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	return startServeMain(t, getenv, func(m *Main) { m.connectors = o })
}
