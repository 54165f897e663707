package web

import (
	"context"
	"strings"
	"testing"

	"github.com/fernet/fernet-go"
	"github.com/google/uuid"
	"golang.org/x/net/html"

	"sentryhub/store"
	"sentryhub/store/vault"
)

// The dashboard leads with what needs attention: paused subscriptions (and
// why) and failing syncs, each linking to its page.
func TestDashboardAttention(t *testing.T) {
	t.Parallel()
	e := newWebhookEnv(t, true)
	e.user("ops@example.com", store.RoleAdmin)
	c := e.browser()
	e.login(c, "ops@example.com", "correct horse battery")

	calm := parse(t, e.do(c, "GET", "/", nil, nil))
	if find(calm, "div", "id", "attention") != nil {
		t.Fatal("attention card on a healthy hub")
	}
	if got := text(find(calm, "div", "id", "stat-last-event")); got != "0" {
		t.Fatalf("events on an empty hub: %q", got)
	}

	tok := e.token(store.ScopeWarehouseWrite)
	e.seedWarehouse(tok)
	var sub struct {
		ID int64 `json:"id"`
	}
	e.callJSON("POST", "/api/admin/webhooks", `{"name":"erp","url":"http://127.0.0.1:9/hook"}`, 201, &sub)
	e.callJSON("PATCH", "/api/admin/webhooks/"+itoa(sub.ID), `{"status":"paused"}`, 200, nil)

	ctx := context.Background()
	key := store.SyncKey{Connector: "shopify", WarehouseID: 1, SyncType: "orders"}
	for range store.DefaultSyncErrorThreshold {
		run := uuid.NewString()
		if _, err := e.db.ClaimSync(ctx, key, store.ClaimOptions{RunID: run}); err != nil {
			t.Fatal(err)
		}
		if err := e.db.FinishSync(ctx, key, run, store.SyncRunRecord{Status: store.RunFailed, Error: "401 Unauthorized: check the access token"}); err != nil {
			t.Fatal(err)
		}
	}

	dash := parse(t, e.do(c, "GET", "/", nil, nil))
	att := find(dash, "div", "id", "attention")
	if att == nil {
		t.Fatal("no attention card")
	}
	paused := text(find(dash, "ul", "id", "paused-subs"))
	if !strings.Contains(paused, "erp") || !strings.Contains(paused, "paused by an admin") {
		t.Fatalf("paused list %q", paused)
	}
	failing := text(find(dash, "table", "id", "failing-syncs"))
	for _, want := range []string{"shopify", "orders", "error", "3 failed in a row", "check the access token"} {
		if !strings.Contains(failing, want) {
			t.Fatalf("failing syncs %q lack %q", failing, want)
		}
	}
	// The 24-hour chart counts the seeded events, one bar per hour.
	if got := text(find(dash, "p", "id", "activity-totals")); !strings.HasPrefix(got, count(int64(e.eventCount()), "event", "events")+";") {
		t.Fatalf("activity totals %q, want %d events", got, e.eventCount())
	}
	if n := strings.Count(renderNode(find(dash, "div", "id", "activity")), "<g class=\"bar\">"); n != 24 {
		t.Fatalf("%d hour bars, want 24", n)
	}
	if got := text(find(dash, "div", "id", "stat-warehouses")); got != "1" {
		t.Fatalf("warehouses %q", got)
	}
	if got := text(find(dash, "div", "id", "stat-last-event")); got == "0" || got == "" {
		t.Fatalf("latest event id %q after seeding", got)
	}
	if got := text(find(dash, "div", "id", "stat-syncs")); got != "0/1" {
		t.Fatalf("sync health %q", got)
	}
}

// A subscription whose secret the hub's key cannot open is not dispatched;
// the dashboard, the list and the detail page say so instead of "active".
func TestUnreadableSecretNeedsAttention(t *testing.T) {
	t.Parallel()
	e := newWebhookEnv(t, true)
	e.user("ops@example.com", store.RoleAdmin)
	c := e.browser()
	e.login(c, "ops@example.com", "correct horse battery")

	var sub struct {
		ID int64 `json:"id"`
	}
	e.callJSON("POST", "/api/admin/webhooks", `{"name":"erp","url":"http://127.0.0.1:9/hook"}`, 201, &sub)
	id := itoa(sub.ID)
	if strings.Contains(text(parse(t, e.do(c, "GET", "/webhooks", nil, nil))), "secret unreadable") {
		t.Fatal("readable secret shown as unreadable")
	}

	// Reseal the secret under another key, as a data directory started with
	// the wrong SENTRY_ENCRYPTION_KEY would hold it.
	var other fernet.Key
	if err := other.Generate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := vault.New(e.db, &other).PutWebhookSecret(ctx, sub.ID, 1, vault.NewSecret("whsec_elsewhere"), nil); err != nil {
		t.Fatal(err)
	}

	dash := parse(t, e.do(c, "GET", "/", nil, nil))
	if got := text(find(dash, "ul", "id", "unreadable-subs")); !strings.Contains(got, "erp") || !strings.Contains(got, "secret unreadable") {
		t.Fatalf("dashboard attention: %q", got)
	}
	row := text(find(parse(t, e.do(c, "GET", "/webhooks", nil, nil)), "tr", "id", "sub-"+id))
	if !strings.Contains(row, "secret unreadable") || strings.Contains(row, "active") {
		t.Fatalf("list row: %q", row)
	}
	detail := parse(t, e.do(c, "GET", "/webhooks/"+id, nil, nil))
	if got := text(find(detail, "div", "id", "status")); !strings.Contains(got, "secret unreadable") || !strings.Contains(got, "rotate the secret") {
		t.Fatalf("detail status: %q", got)
	}

	// Rotating is the way out: the unreadable secret becomes the previous
	// generation for the rotation window, which must not keep the
	// subscription held (it is never used to sign).
	e.callJSON("POST", "/api/admin/webhooks/"+id+"/rotate-secret", ``, 200, nil)
	if got := text(find(parse(t, e.do(c, "GET", "/webhooks", nil, nil)), "tr", "id", "sub-"+id)); strings.Contains(got, "secret unreadable") {
		t.Fatalf("still unreadable after rotating: %q", got)
	}
	if find(parse(t, e.do(c, "GET", "/", nil, nil)), "ul", "id", "unreadable-subs") != nil {
		t.Fatal("dashboard still lists it after rotating")
	}
}

// renderNode writes n back as HTML, for counting elements in it.
func renderNode(n *html.Node) string {
	var b strings.Builder
	if n != nil {
		_ = html.Render(&b, n)
	}
	return b.String()
}
