package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sentryhub/store"
)

// whConsumer is the webhook endpoint of the browser test: it records
// every request and answers with a settable status (200 when zero);
// requests to /slow always fail with 500.
type whConsumer struct {
	srv    *httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	reqs   []whRequest
	// arrived is signalled, without blocking, after each request is
	// recorded, so tests wait for requests without polling.
	arrived chan struct{}
}

type whRequest struct {
	path   string
	header http.Header
	body   []byte
	at     time.Time
}

func newWhConsumer(t *testing.T) *whConsumer {
	c := &whConsumer{arrived: make(chan struct{}, 1)}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.reqs = append(c.reqs, whRequest{path: r.URL.Path, header: r.Header.Clone(), body: b, at: time.Now()})
		c.mu.Unlock()
		select {
		case c.arrived <- struct{}{}:
		default: // a signal is already pending
		}
		switch s := c.status.Load(); {
		case r.URL.Path == "/slow":
			w.WriteHeader(http.StatusInternalServerError)
		case s != 0:
			w.WriteHeader(int(s))
		}
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// requests returns the requests made to path, in arrival order.
func (c *whConsumer) requests(path string) []whRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []whRequest
	for _, r := range c.reqs {
		if r.path == path {
			out = append(out, r)
		}
	}
	return out
}

// waitRequests waits until path has had at least n requests and returns
// them.
func (c *whConsumer) waitRequests(t *testing.T, path string, n int, timeout time.Duration) []whRequest {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if reqs := c.requests(path); len(reqs) >= n {
			return reqs
		}
		select {
		case <-c.arrived:
		case <-deadline:
			t.Fatalf("%s got %d requests in %s, want %d", path, len(c.requests(path)), timeout, n)
		}
	}
}

// verifies checks a request the way the consumer contract's reference
// verifiers do: hex HMAC-SHA256 over "<X-Sentry-Timestamp>.<raw body>"
// keyed with the secret's UTF-8 bytes, generation 1, timestamp within 5
// minutes.
func (r whRequest) verifies(secret string) bool {
	ts := r.header.Get("X-Sentry-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || r.header.Get("X-Sentry-Signature-Generation") != "1" {
		return false
	}
	if d := r.at.Unix() - sec; d > 300 || d < -300 {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(r.body)
	return hmac.Equal([]byte(r.header.Get("X-Sentry-Signature")), []byte("sha256="+hex.EncodeToString(m.Sum(nil))))
}

func (r whRequest) eventID(t *testing.T) int64 {
	t.Helper()
	var env struct {
		EventID   int64  `json:"event_id"`
		EventType string `json:"event_type"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil || env.EventID == 0 || env.EventType != r.header.Get("X-Sentry-Event-Type") {
		t.Fatalf("request body is not an event envelope: %s", r.body)
	}
	return env.EventID
}

func whText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func whPresent(t *testing.T, ctx context.Context, sel string) bool {
	t.Helper()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector(`+strconv.Quote(sel)+`) !== null`))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestBrowserWebhooks drives the webhook pages in headless Chromium
// against the real server and a real consumer: create a subscription
// through the form, see its secret once, watch a delivery succeed, then
// fail with its kind and triage hint, rotate the secret, and delete; the
// consumer checks every request's signature with the secrets the pages
// showed.
func TestBrowserWebhooks(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	getenv := adminHub(t)
	consumer := newWhConsumer(t)
	base := startServe(t, getenv)
	wtok := strings.TrimSpace(run(t, getenv, "", "token", "create", "--name", "wms", "--scope", "warehouse:write").stdout)
	call(t, "POST", base+"/api/v1/warehouses", wtok, `{"code":"MAIN","name":"Main"}`, 201)
	for _, sku := range []string{"WIDGET-1", "WIDGET-2"} {
		call(t, "PUT", base+"/api/v1/items/"+sku, wtok, `{"name":"Widget"}`, 201)
	}
	adjust := func(sku string) {
		call(t, "POST", base+"/api/v1/inventory/adjustments", wtok, `{"warehouse_id":1,"sku":"`+sku+`","delta":1,"reason":"count"}`, 200)
	}

	// Log in; the empty list explains what a subscription is.
	loginAt(t, ctx, base, "/webhooks", "#webhooks-empty")
	if txt := whText(t, ctx, "#webhooks-empty"); !strings.Contains(txt, "docs/webhooks.md") {
		t.Fatalf("empty state %q", txt)
	}
	screenshot(t, ctx, "webhooks-empty")

	// A refused URL comes back with the error next to the field and the
	// form as typed; fixing it creates the subscription.
	if err := chromedp.Do(ctx,
		typeText("#new-name", "erp"),
		typeText("#new-url", "http://10.0.0.1/hook"),
		chromedp.Click(`#new-event-types input[value="adjustment.applied"]`),
		chromedp.Click("#create-subscription"),
		chromedp.WaitVisible("#create-error"),
	); err != nil {
		t.Fatal(err)
	}
	if txt := whText(t, ctx, "#new-url-error"); !strings.Contains(txt, "not an allowed destination") {
		t.Fatalf("URL error %q", txt)
	}
	// Post/redirect/get: the address bar holds the list's URL, not the POST.
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasSuffix(loc, "/webhooks#new-subscription") {
		t.Fatalf("after a refused create at %q (%v), want the list page", loc, err)
	}
	screenshot(t, ctx, "webhook-create-refused")
	if err := chromedp.Do(ctx,
		chromedp.Clear("#new-url"),
		typeText("#new-url", consumer.srv.URL+"/hook"),
		// Per-aggregate ordering: the delivery after the rotation (another
		// aggregate) is not held behind WIDGET-1's retries (1 s, then 4 s).
		chromedp.SetValue("#new-ordering", store.OrderingAggregate),
		chromedp.Click("#create-subscription"),
		chromedp.WaitVisible("#new-secret-value"),
	); err != nil {
		t.Fatal(err)
	}
	secret := whText(t, ctx, "#new-secret-value")
	if len(secret) != 43 {
		t.Fatalf("secret %q", secret)
	}
	detail, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasSuffix(detail, "/webhooks/1") {
		t.Fatalf("after create at %q %v", detail, err)
	}
	if ord, err := chromedp.Run(ctx, chromedp.Value("#set-ordering")); err != nil || ord != store.OrderingAggregate {
		t.Fatalf("ordering after create %q %v", ord, err)
	}
	if txt := whText(t, ctx, "#new-secret"); !strings.Contains(txt, "HMAC-SHA256") || !strings.Contains(txt, "X-Sentry-Timestamp") {
		t.Fatalf("secret card does not say how to verify: %q", txt)
	}
	screenshot(t, ctx, "webhook-created")

	// Reloading does not show the secret again.
	if err := chromedp.Do(ctx, chromedp.Navigate(detail), chromedp.WaitVisible("#sub-name")); err != nil {
		t.Fatal(err)
	}
	if whPresent(t, ctx, "#new-secret-value") {
		t.Fatal("secret shown again after a reload")
	}
	if txt := whText(t, ctx, "#deliveries-empty"); !strings.Contains(txt, "No deliveries yet") {
		t.Fatalf("deliveries empty state %q", txt)
	}

	// An event: the delivery succeeds and the page shows it.
	adjust("WIDGET-1")
	reloadUntil(t, ctx, detail, "#sub-name", `document.querySelectorAll('#deliveries tr[data-status="succeeded"]').length === 1`, "a succeeded delivery")
	if txt := whText(t, ctx, "#deliveries"); !strings.Contains(txt, "adjustment.applied") || !strings.Contains(txt, "UTC") {
		t.Fatalf("deliveries %q", txt)
	}
	screenshot(t, ctx, "webhook-delivered")

	// The consumer fails: the page shows the kind, message and hint.
	consumer.status.Store(500)
	adjust("WIDGET-1")
	reloadUntil(t, ctx, detail, "#sub-name", `document.querySelector('#deliveries tr[data-status="pending"] .failure') !== null`, "a failed attempt")
	failure := whText(t, ctx, `#deliveries tr[data-status="pending"] .failure`)
	entry := store.Kind5xx.Entry()
	for _, want := range []string{"5xx", "HTTP 500", entry.Message, entry.Hint} {
		if !strings.Contains(failure, want) {
			t.Errorf("failure cell lacks %q: %s", want, failure)
		}
	}
	screenshot(t, ctx, "webhook-failing")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/webhooks"), chromedp.WaitVisible("#sub-1")); err != nil {
		t.Fatal(err)
	}
	if txt := whText(t, ctx, "#sub-1"); !strings.Contains(txt, "5xx") || !strings.Contains(txt, "active") {
		t.Fatalf("list row %q", txt)
	}
	screenshot(t, ctx, "webhooks-list")
	if err := chromedp.Do(ctx, chromedp.Click("#view-errors"), chromedp.WaitVisible("#errors")); err != nil {
		t.Fatal(err)
	}
	if txt := whText(t, ctx, "#errors"); !strings.Contains(txt, entry.Hint) {
		t.Fatalf("errors page %q", txt)
	}
	screenshot(t, ctx, "webhook-errors")

	// Pause and resume with the buttons.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(detail), chromedp.WaitVisible("#pause"),
		chromedp.Click("#pause"), chromedp.WaitVisible("#resume"),
	); err != nil {
		t.Fatal(err)
	}
	if txt := whText(t, ctx, "#status-explain"); !strings.Contains(txt, "Paused by an admin") {
		t.Fatalf("paused status %q", txt)
	}
	screenshot(t, ctx, "webhook-paused")
	if err := chromedp.Do(ctx, chromedp.Click("#resume"), chromedp.WaitVisible("#pause")); err != nil {
		t.Fatal(err)
	}

	// Rotate: the new secret is shown once, and signs what follows.
	// The page asks in a dialog first (app.js).
	if err := chromedp.Do(ctx, jsReady(), chromedp.Click("#rotate-secret"), chromedp.WaitVisible("#confirm-dialog"),
		chromedp.Click("#dialog-ok"), chromedp.WaitVisible("#new-secret-value")); err != nil {
		t.Fatal(err)
	}
	rotated := whText(t, ctx, "#new-secret-value")
	if len(rotated) != 43 || rotated == secret {
		t.Fatalf("rotated secret %q", rotated)
	}
	if txt := whText(t, ctx, "#previous-secret"); !strings.Contains(txt, "generation 2") {
		t.Fatalf("previous secret %q", txt)
	}
	screenshot(t, ctx, "webhook-rotated")
	consumer.status.Store(0)
	adjust("WIDGET-2") // another aggregate: not held behind WIDGET-1's retries
	reloadUntil(t, ctx, detail, "#sub-name", `document.querySelectorAll('#deliveries tr[data-status="succeeded"]').length >= 2`, "the delivery after rotation")

	// Every request the consumer got verifies with a secret the UI showed;
	// the newest event's with the rotated one only.
	reqs := consumer.requests("/hook")
	if len(reqs) < 3 {
		t.Fatalf("consumer got %d requests, want at least 3", len(reqs))
	}
	var newest whRequest
	for _, r := range reqs {
		if !r.verifies(secret) && !r.verifies(rotated) {
			t.Fatalf("request for event %d is not signed with a secret the UI showed", r.eventID(t))
		}
		if newest.body == nil || r.eventID(t) > newest.eventID(t) {
			newest = r
		}
	}
	if !newest.verifies(rotated) || newest.verifies(secret) {
		t.Fatal("the delivery after rotation is not signed with the new secret")
	}
	if !reqs[0].verifies(secret) {
		t.Fatal("the first delivery is not signed with the secret shown at creation")
	}

	// A second subscription to an endpoint that always fails, with a
	// pending ceiling of 1: the hub pauses it and the page says why;
	// lifting the ceiling keeps it paused and shows the API's hint.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/webhooks"), chromedp.WaitVisible("#create-form"),
		typeText("#new-name", "slow"),
		typeText("#new-url", consumer.srv.URL+"/slow"),
		chromedp.Click(`#new-event-types input[value="adjustment.applied"]`),
		chromedp.Clear("#new-pending"),
		typeText("#new-pending", "1"),
		chromedp.Click("#create-subscription"),
		chromedp.WaitVisible("#new-secret-value"),
	); err != nil {
		t.Fatal(err)
	}
	slowSecret := whText(t, ctx, "#new-secret-value")
	slow, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasSuffix(slow, "/webhooks/2") {
		t.Fatalf("second subscription at %q %v", slow, err)
	}
	adjust("WIDGET-2")
	reloadUntil(t, ctx, slow, "#sub-name", `document.querySelector('#ceiling-hint') !== null`, "the pending-ceiling pause")
	if txt := whText(t, ctx, "#status-explain"); !strings.Contains(txt, "reached the pending ceiling") || !strings.Contains(txt, "ceiling 1") {
		t.Fatalf("ceiling pause explained as %q", txt)
	}
	screenshot(t, ctx, "webhook-ceiling-paused")
	if err := chromedp.Do(ctx,
		chromedp.Clear("#set-pending"),
		typeText("#set-pending", "100"),
		chromedp.Click("#save-settings"),
		chromedp.WaitVisible("div.flash.ok"),
	); err != nil {
		t.Fatal(err)
	}
	if txt := whText(t, ctx, "div.flash.warn"); !strings.Contains(txt, "lifting a ceiling never resumes it") {
		t.Fatalf("hint after lifting the ceiling: %q", txt)
	}
	if !whPresent(t, ctx, "#resume") {
		t.Fatal("lifting the ceiling resumed the subscription")
	}
	screenshot(t, ctx, "webhook-ceiling-lifted")
	for _, r := range consumer.requests("/slow") {
		if !r.verifies(slowSecret) {
			t.Fatal("a request to the second subscription is not signed with its secret")
		}
	}

	// Delete needs the typed name.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(detail), chromedp.WaitVisible("#delete-link"),
		chromedp.Click("#delete-link"), chromedp.WaitVisible("#confirm-name"),
	); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "webhook-delete-confirm")
	if err := chromedp.Do(ctx,
		typeText("#confirm-name", "erp"),
		chromedp.Click("#confirm-delete"),
		chromedp.WaitVisible("div.flash.ok"),
	); err != nil {
		t.Fatal(err)
	}
	if txt := whText(t, ctx, "div.flash.ok"); !strings.Contains(txt, "Subscription “erp” deleted") {
		t.Fatalf("after delete %q", txt)
	}
	if whPresent(t, ctx, "#sub-1") || !whPresent(t, ctx, "#sub-2") {
		t.Fatal("the list does not reflect the deletion")
	}
	screenshot(t, ctx, "webhook-deleted")
}
