package app

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sentryhub/dispatcher"
)

// TestBrowserDashboardListsDeadDelivery runs the real server with a
// consumer that always answers 500 and a dispatcher schedule shortened
// through Main's test seam (every retry and the dead-letter delay 1 ms;
// attempts still never share a second), so a delivery fails all its
// attempts and goes dead within seconds. The dashboard in Chromium then
// lists it under "Needs attention" with a link to the subscription's
// dead-letter queue, where an admin can replay it.
func TestBrowserDashboardListsDeadDelivery(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	getenv := adminHub(t)
	// The consumer fails every attempt and reports each one's timestamp.
	attempts := make(chan string, 2*dispatcher.MaxAttempts)
	consumer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts <- r.Header.Get("X-Sentry-Timestamp")
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(consumer.Close)
	base := startServeMain(t, getenv, func(m *Main) {
		m.retries = retrySchedule{delay: func(int) time.Duration { return time.Millisecond }, deadLetter: time.Millisecond}
	})
	admin := strings.TrimSpace(run(t, getenv, "", "token", "create", "--name", "ops", "--scope", "admin").stdout)
	wtok := strings.TrimSpace(run(t, getenv, "", "token", "create", "--name", "wms", "--scope", "warehouse:write").stdout)
	var created struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(call(t, "POST", base+"/api/admin/webhooks", admin, `{"name":"erp-dead","url":"`+consumer.URL+`/hook"}`, 201), &created); err != nil || created.ID == 0 {
		t.Fatalf("create subscription: %v", err)
	}
	call(t, "POST", base+"/api/v1/warehouses", wtok, `{"code":"MAIN","name":"Main"}`, 201)
	call(t, "PUT", base+"/api/v1/items/W-1", wtok, `{"name":"Widget"}`, 201)
	call(t, "POST", base+"/api/v1/inventory/adjustments", wtok, `{"warehouse_id":1,"sku":"W-1","delta":1,"reason":"count"}`, 200)

	// All attempts arrive, each in its own second as the contract promises
	// even with the shortened schedule.
	seen := map[string]bool{}
	for n := 1; n <= dispatcher.MaxAttempts; n++ {
		select {
		case ts := <-attempts:
			if seen[ts] {
				t.Fatalf("attempt %d reused X-Sentry-Timestamp %s", n, ts)
			}
			seen[ts] = true
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d of %d attempts arrived", n-1, dispatcher.MaxAttempts)
		}
	}

	// The dead-lettering commits moments after the last failure; the
	// dashboard has no live region, so reload it as an operator would.
	sessionLogin(t, ctx, base, "ops@example.com")
	reloadUntil(t, ctx, base+"/", "h1", `document.querySelector("#attention #dead-subs li a") !== null`, "the dashboard to list the dead delivery")
	if txt := whText(t, ctx, "#attention"); !strings.Contains(txt, "Dead deliveries") {
		t.Fatalf("needs attention %q", txt)
	}
	if txt := whText(t, ctx, "#dead-subs li"); !strings.Contains(txt, "erp-dead") || !strings.Contains(txt, "1 dead delivery") {
		t.Fatalf("dead entry %q", txt)
	}
	screenshot(t, ctx, "dashboard-dead")

	// The link leads to the subscription's dead-letter queue, where the
	// dead delivery waits with its replay button.
	if err := chromedp.Do(ctx, chromedp.Click("#dead-subs li a"), chromedp.WaitVisible("#dlq-section")); err != nil {
		t.Fatal(err)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/webhooks/"+strconv.FormatInt(created.ID, 10)+"#dlq") {
		t.Fatalf("dashboard link went to %s", loc)
	}
	if !whPresent(t, ctx, `#dlq tr[data-status="dead"]`) || !whPresent(t, ctx, "#replay-all-dead") {
		t.Fatalf("dead-letter queue does not show the dead delivery: %q", whText(t, ctx, "#dlq-section"))
	}
}
