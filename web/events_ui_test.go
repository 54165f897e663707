package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/html"

	"sentryhub/store"
)

// TestEventsPages: the browser filters the outbox, and an event's page
// shows the envelope byte for byte as the consumer received it, with its
// delivery under the subscription.
func TestEventsPages(t *testing.T) {
	t.Parallel()
	e := newWebhookEnv(t, true)
	e.user("ops@example.com", store.RoleAdmin)
	var mu sync.Mutex
	got := map[string]string{} // event type header -> last body
	consumer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[r.Header.Get("X-Sentry-Event-Type")] = string(b)
		got["delivery-id"] = r.Header.Get("X-Sentry-Delivery-Id")
		mu.Unlock()
	}))
	t.Cleanup(consumer.Close)
	var created struct {
		Secret string `json:"secret"`
	}
	e.callJSON("POST", "/api/admin/webhooks", `{"name":"erp","url":"`+consumer.URL+`/hook","subscription_filter":{"event_types":["adjustment.applied"]}}`, 201, &created)
	e.seedWarehouse(e.token(store.ScopeWarehouseWrite))
	succeeded := func() []store.Delivery {
		ds, _, err := e.d.Deliveries(context.Background(), 1, store.DeliveryQuery{Status: store.DeliverySucceeded, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	waitFor(t, "the adjustments delivered", func() bool { return len(succeeded()) == 2 })
	c := e.browser()
	e.login(c, "ops@example.com", "correct horse battery")

	all := parse(t, e.do(c, "GET", "/events", nil, nil))
	if n := strings.Count(text(find(all, "table", "id", "events")), "adjustment.applied"); n != 2 {
		t.Fatalf("%d adjustments listed, want 2", n)
	}
	only := parse(t, e.do(c, "GET", "/events?type=adjustment.applied&warehouse=1", nil, nil))
	rows := text(find(only, "table", "id", "events"))
	if strings.Contains(rows, "item.") || strings.Count(rows, "adjustment.applied") != 2 {
		t.Fatalf("filtered events %q", rows)
	}
	if find(parse(t, e.do(c, "GET", "/events?warehouse=2", nil, nil)), "p", "id", "events-empty") == nil {
		t.Fatal("another warehouse's filter lists events")
	}
	if r := e.do(c, "GET", "/events?from=abc", nil, nil); r.StatusCode != 400 {
		t.Fatalf("bad from: %d", r.StatusCode)
	}

	ds := succeeded()
	last := ds[0]
	for _, d := range ds {
		if d.EventID > last.EventID {
			last = d
		}
	}
	page := parse(t, e.do(c, "GET", "/events/"+itoa(last.EventID), nil, nil))
	mu.Lock()
	sent := got["adjustment.applied"]
	mu.Unlock()
	if env := text(find(page, "pre", "id", "envelope")); env != sent {
		t.Fatalf("envelope on the page\n%s\ndiffers from the bytes sent\n%s", env, sent)
	}
	if row := find(page, "tr", "id", "event-sub-1-"+itoa(last.ID)); row == nil || !strings.Contains(text(row), "succeeded") {
		t.Fatal("the event's delivery is not listed under its subscription")
	}
	// The delivery's page: the request as sent, without the secret, and
	// its attempt.
	dr := e.do(c, "GET", "/webhooks/1/deliveries/"+itoa(last.ID), nil, nil)
	raw, _ := io.ReadAll(dr.Body)
	if dr.StatusCode != 200 || strings.Contains(string(raw), created.Secret) {
		t.Fatalf("delivery page: %d, shows the secret: %v", dr.StatusCode, strings.Contains(string(raw), created.Secret))
	}
	dp, _ := html.Parse(strings.NewReader(string(raw)))
	mu.Lock()
	deliveryID := got["delivery-id"]
	mu.Unlock()
	if body := text(find(dp, "pre", "id", "request-body")); body != sent {
		t.Fatalf("request body on the page differs from the bytes sent")
	}
	if hdrs := text(find(dp, "table", "id", "request-headers")); !strings.Contains(hdrs, deliveryID) {
		t.Fatalf("headers %q lack the delivery id sent, %s", hdrs, deliveryID)
	}
	if att := text(find(dp, "table", "id", "attempts")); !strings.Contains(att, "200") {
		t.Fatalf("attempts %q", att)
	}
	if r := e.do(c, "GET", "/webhooks/1/deliveries/99999", nil, nil); r.StatusCode != 404 {
		t.Fatalf("unknown delivery: %d", r.StatusCode)
	}
	if r := e.do(c, "GET", "/events/99999", nil, nil); r.StatusCode != 404 {
		t.Fatalf("unknown event: %d", r.StatusCode)
	}
}
