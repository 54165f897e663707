package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/html"

	"sentryhub/store"
)

// whUIEnv is the webhook env with an admin and a viewer logged in to the UI.
type whUIEnv struct {
	*webhookEnv
	adminC, viewerC *http.Client
}

const (
	whAdminEmail  = "admin@example.com"
	whViewerEmail = "viewer@example.com"
	whPassword    = "correct horse battery"
)

func newWhUIEnv(t *testing.T) *whUIEnv {
	t.Helper()
	e := &whUIEnv{webhookEnv: newWebhookEnv(t, true)}
	e.user(whAdminEmail, store.RoleAdmin)
	e.user(whViewerEmail, store.RoleViewer)
	e.adminC, e.viewerC = e.browser(), e.browser()
	e.relogin()
	if r := e.login(e.viewerC, whViewerEmail, whPassword); r.StatusCode != 303 {
		t.Fatalf("viewer login: %d", r.StatusCode)
	}
	return e
}

// relogin starts a fresh admin session (after the fake clock has moved
// past the session lifetime).
func (e *whUIEnv) relogin() {
	e.t.Helper()
	e.adminC = e.browser()
	if r := e.login(e.adminC, whAdminEmail, whPassword); r.StatusCode != 303 {
		e.t.Fatalf("admin login: %d", r.StatusCode)
	}
}

// page GETs path and parses the HTML, checking the status.
func (e *whUIEnv) page(c *http.Client, path string, want int) *html.Node {
	e.t.Helper()
	r := e.do(c, "GET", path, nil, nil)
	if r.StatusCode != want {
		b, _ := io.ReadAll(r.Body)
		e.t.Fatalf("GET %s: %d, want %d: %s", path, r.StatusCode, want, b)
	}
	return whParse(e.t, r)
}

// submit POSTs a form the way a browser on this site does.
func (e *whUIEnv) submit(c *http.Client, path string, form url.Values) *http.Response {
	e.t.Helper()
	return e.do(c, "POST", path, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": e.srv.URL},
		strings.NewReader(form.Encode()))
}

// submitOK POSTs a form, expects the redirect of a successful action to
// want (a path), follows it and returns the page.
func (e *whUIEnv) submitOK(c *http.Client, path string, form url.Values, want string) *html.Node {
	e.t.Helper()
	r := e.submit(c, path, form)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != want {
		b, _ := io.ReadAll(r.Body)
		e.t.Fatalf("POST %s: %d to %q, want 303 to %q: %s", path, r.StatusCode, r.Header.Get("Location"), want, b)
	}
	return e.page(c, want, 200)
}

func whParse(t testing.TB, r *http.Response) *html.Node {
	t.Helper()
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("not HTML: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	n, err := html.Parse(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// byID finds the element with id, whatever its tag.
func whByID(n *html.Node, id string) *html.Node {
	var found *html.Node
	whWalk(n, func(n *html.Node) bool {
		if whAttr(n, "id") == id {
			found = n
			return false
		}
		return true
	})
	return found
}

// all returns the elements with tag (and, if attr is set, that attribute
// equal to val).
func whAll(n *html.Node, tag, attr, val string) []*html.Node {
	var out []*html.Node
	whWalk(n, func(n *html.Node) bool {
		if n.Data == tag && (attr == "" || whAttr(n, attr) == val) {
			out = append(out, n)
		}
		return true
	})
	return out
}

func whWalk(n *html.Node, fn func(*html.Node) bool) bool {
	if n == nil {
		return true
	}
	if n.Type == html.ElementNode && !fn(n) {
		return false
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if !whWalk(c, fn) {
			return false
		}
	}
	return true
}

func whAttr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func whHasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

// flashes returns the flash messages on a page by kind.
func whFlashesOf(n *html.Node) map[string][]string {
	out := map[string][]string{}
	whWalk(n, func(n *html.Node) bool {
		if n.Data == "div" {
			cls := strings.Fields(whAttr(n, "class"))
			if len(cls) == 2 && cls[0] == "flash" {
				out[cls[1]] = append(out[cls[1]], text(n))
			}
		}
		return true
	})
	return out
}

func whHasFlash(n *html.Node, kind, substr string) bool {
	for _, f := range whFlashesOf(n)[kind] {
		if strings.Contains(f, substr) {
			return true
		}
	}
	return false
}

// whRecorder is a webhook consumer that records every request and answers
// with a settable status (200 when zero).
type whRecorder struct {
	srv    *httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	reqs   []whRequest
}

type whRequest struct {
	header http.Header
	body   []byte
}

func newWhRecorder(t *testing.T) *whRecorder {
	rec := &whRecorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, whRequest{r.Header.Clone(), b})
		rec.mu.Unlock()
		if s := rec.status.Load(); s != 0 {
			w.WriteHeader(int(s))
		}
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *whRecorder) requests() []whRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]whRequest(nil), rec.reqs...)
}

// signedWith reports whether req carries the contract's signature made
// with secret: hex HMAC-SHA256 of "<X-Sentry-Timestamp>.<body>".
func whSignedWith(req whRequest, secret string) bool {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(req.header.Get("X-Sentry-Timestamp") + "."))
	m.Write(req.body)
	return hmac.Equal([]byte(req.header.Get("X-Sentry-Signature")), []byte("sha256="+hex.EncodeToString(m.Sum(nil))))
}

func (e *whUIEnv) subs() []store.Subscription {
	e.t.Helper()
	subs, err := e.d.Subscriptions(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return subs
}

func (e *whUIEnv) sub(id int64) store.Subscription {
	e.t.Helper()
	s, err := e.d.Subscription(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *whUIEnv) deliveries(id int64, status store.DeliveryStatus) []store.Delivery {
	e.t.Helper()
	ds, _, err := e.d.Deliveries(context.Background(), id, store.DeliveryQuery{Status: status, Limit: 500})
	if err != nil {
		e.t.Fatal(err)
	}
	return ds
}

// auditBy returns the audit actions recorded for target, in order.
func (e *whUIEnv) auditActions(target string) []string {
	e.t.Helper()
	entries, err := e.db.ListAudit(context.Background(), 0, 500)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Target == target {
			out = append(out, entries[i].Action+" by "+entries[i].Actor)
		}
	}
	return out
}

func (e *whUIEnv) createViaAPI(body string) createdSub {
	e.t.Helper()
	var c createdSub
	e.callJSON("POST", "/api/admin/webhooks", body, 201, &c)
	return c
}

func whSubPath(id int64) string { return "/webhooks/" + strconv.FormatInt(id, 10) }

func TestWebhookUIListEmptyState(t *testing.T) {
	t.Parallel()
	e := newWhUIEnv(t)
	if r := e.do(e.browser(), "GET", "/webhooks", nil, nil); r.StatusCode != 303 || !strings.HasPrefix(r.Header.Get("Location"), "/login?next=") {
		t.Fatalf("anonymous: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	for _, tc := range []struct {
		name     string
		client   *http.Client
		canWrite bool
	}{
		{"admin", e.adminC, true},
		{"viewer", e.viewerC, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := e.page(tc.client, "/webhooks", 200)
			empty := whByID(doc, "webhooks-empty")
			if empty == nil || !strings.Contains(text(empty), "docs/webhooks.md") || !strings.Contains(text(empty), "No webhook subscriptions yet") {
				t.Fatalf("empty state %q", text(empty))
			}
			if whByID(doc, "subscriptions") != nil {
				t.Fatal("a table without subscriptions")
			}
			form := whByID(doc, "create-form")
			if (form != nil) != tc.canWrite {
				t.Fatalf("create form present=%v for %s", form != nil, tc.name)
			}
			if !tc.canWrite {
				if !strings.Contains(text(empty), "read-only") {
					t.Fatalf("the viewer's empty state does not say why there is no form: %q", text(empty))
				}
				return
			}
			boxes := whAll(form, "input", "name", "event_type")
			if len(boxes) != 11 {
				t.Fatalf("%d event type checkboxes, want the 11 of the catalog", len(boxes))
			}
			for id, want := range map[string]string{"new-pending": "10000", "new-dlq": "1000", "new-rate": "0", "new-inflight": "16"} {
				if got := whAttr(whByID(form, id), "value"); got != want {
					t.Errorf("%s defaults to %q, want %q", id, got, want)
				}
			}
			// Every field explains itself.
			if n := len(whAll(form, "p", "class", "hint")); n < 9 {
				t.Errorf("only %d hints in the create form", n)
			}
		})
	}
}

func TestWebhookUICreateShowsSecretOnce(t *testing.T) {
	t.Parallel()
	e := newWhUIEnv(t)
	rec := newWhRecorder(t)
	form := url.Values{"name": {"erp"}, "url": {rec.srv.URL + "/hook"}, "event_type": {"ship.confirmed"},
		"warehouse_ids": {"1"}, "pending_ceiling": {"10000"}, "dlq_ceiling": {"1000"}, "rate_limit_per_sec": {"0"},
		"max_in_flight": {"4"}}
	subs := e.subs()
	doc := e.submitOK(e.adminC, "/webhooks", form, "/webhooks/1")
	if len(e.subs()) != len(subs)+1 {
		t.Fatal("no subscription created")
	}
	secretNode := whByID(doc, "new-secret-value")
	secret := text(secretNode)
	if len(secret) != 43 {
		t.Fatalf("secret %q is not the 43-character generation-1 secret", secret)
	}
	card := text(whByID(doc, "new-secret"))
	for _, want := range []string{"shown this once", "X-Sentry-Timestamp", "HMAC-SHA256", "docs/webhooks.md"} {
		if !strings.Contains(card, want) {
			t.Errorf("secret card lacks %q: %s", want, card)
		}
	}
	if !whHasFlash(doc, "ok", "created") {
		t.Errorf("no success flash: %v", whFlashesOf(doc))
	}
	if whByID(doc, "new-secret-standard") != nil {
		t.Error("whsec_ form shown for a plain subscription")
	}
	s := e.sub(1)
	if s.Name != "erp" || s.MaxInFlight != 4 || s.PendingCeiling != 10000 || len(s.Filter.EventTypes) != 1 ||
		s.Filter.EventTypes[0] != "ship.confirmed" || len(s.Filter.WarehouseIDs) != 1 || s.Filter.WarehouseIDs[0] != 1 {
		t.Fatalf("created %+v", s)
	}

	// Reloading the page, or the list, never shows it again.
	for _, p := range []string{"/webhooks/1", "/webhooks", "/webhooks/1"} {
		r := e.do(e.adminC, "GET", p, nil, nil)
		b, _ := io.ReadAll(r.Body)
		if r.StatusCode != 200 || strings.Contains(string(b), secret) || strings.Contains(string(b), `id="new-secret"`) {
			t.Fatalf("GET %s after the reveal: %d, secret shown again", p, r.StatusCode)
		}
	}

	// The secret shown is the one deliveries are signed with.
	appendOne(t, e.db, 1)
	waitFor(t, "a delivery", func() bool { return len(rec.requests()) == 1 })
	if req := rec.requests()[0]; !whSignedWith(req, secret) || req.header.Get("X-Sentry-Signature-Generation") != "1" {
		t.Fatalf("delivery not signed with the secret the page showed: %v", req.header)
	}

	if got := e.auditActions("webhook:1"); len(got) != 1 || got[0] != "webhook.create by user:"+whAdminEmail {
		t.Fatalf("audit %v", got)
	}
	// The list shows it.
	list := e.page(e.adminC, "/webhooks", 200)
	row := whByID(list, "sub-1")
	if row == nil || !strings.Contains(text(row), "erp") || !strings.Contains(text(row), "active") || !strings.Contains(text(row), "of 10000") {
		t.Fatalf("list row %q", text(row))
	}

	// A Standard Webhooks subscription also shows the whsec_ form, once.
	form.Set("name", "std")
	form.Set("standard_webhooks", "1")
	doc = e.submitOK(e.adminC, "/webhooks", form, "/webhooks/2")
	if std := text(whByID(doc, "new-secret-standard")); !strings.HasPrefix(std, "whsec_") {
		t.Fatalf("standard secret %q", std)
	}
	if !e.sub(2).StandardWebhooks {
		t.Fatal("standard_webhooks not set")
	}
}

func TestWebhookUICreateValidation(t *testing.T) {
	t.Parallel()
	e := newWhUIEnv(t)
	ok := "http://127.0.0.1:9/hook"
	base := func(kv ...string) url.Values {
		v := url.Values{"name": {"x"}, "url": {ok}, "pending_ceiling": {"10000"}, "dlq_ceiling": {"1000"},
			"rate_limit_per_sec": {"0"}, "max_in_flight": {"16"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		errIDs []string // the per-field error elements
		labels []string // what the summary names
	}{
		{"missing name and URL", base("name", "", "url", ""), []string{"new-name-error", "new-url-error"}, []string{"Name:", "URL:"}},
		{"not a URL scheme we send to", base("url", "ftp://127.0.0.1/x"), []string{"new-url-error"}, []string{"URL:"}},
		{"credentials in the URL", base("url", "http://u:p@127.0.0.1/x"), []string{"new-url-error"}, []string{"URL:"}},
		{"private address", base("url", "http://10.1.2.3/x"), []string{"new-url-error"}, []string{"URL:"}},
		{"ceiling not a number, name missing too", base("pending_ceiling", "ten", "name", ""), []string{"new-pending_ceiling-error", "new-name-error"},
			[]string{"Pending ceiling:", "Name:"}},
		{"ceilings out of range", base("pending_ceiling", "0", "dlq_ceiling", "2000000"), []string{"new-pending_ceiling-error", "new-dlq_ceiling-error"},
			[]string{"Pending ceiling:", "DLQ ceiling:"}},
		{"negative rate", base("rate_limit_per_sec", "-1"), []string{"new-rate_limit_per_sec-error"}, []string{"Rate limit:"}},
		{"too many in flight", base("max_in_flight", "1000"), []string{"new-max_in_flight-error"}, []string{"Max in flight:"}},
		{"unknown ordering", base("ordering", "fifo"), []string{"new-ordering-error"}, []string{"Ordering:"}},
		{"warehouse id not a number", base("warehouse_ids", "1, main"), []string{"new-warehouse_ids-error"}, []string{"Warehouse ids:"}},
		{"warehouse id not positive", base("warehouse_ids", "0"), []string{"new-warehouse_ids-error"}, []string{"Warehouse ids:"}},
		{"aggregate not a UUID", base("aggregate_ids", "SO-1"), []string{"new-aggregates-error"}, []string{"Aggregate id allowlist:"}},
		{"unknown event type", base("event_type", "ship.teleported"), []string{"new-event_types-error"}, []string{"Event types:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Post/redirect/get: the refusal comes back on the list page.
			r := e.submit(e.adminC, "/webhooks", tc.form)
			if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/webhooks#new-subscription" {
				t.Fatalf("refused form: %d to %q, want 303 to the list", r.StatusCode, r.Header.Get("Location"))
			}
			doc := e.page(e.adminC, "/webhooks", 200)
			summary := text(whByID(doc, "create-error"))
			for _, l := range tc.labels {
				if !strings.Contains(summary, l) {
					t.Errorf("summary %q does not name %s", summary, l)
				}
			}
			for _, id := range tc.errIDs {
				if n := whByID(doc, id); n == nil || text(n) == "" {
					t.Errorf("no error next to the field (%s)", id)
				}
			}
			// The form comes back as typed.
			if got := whAttr(whByID(doc, "new-name"), "value"); got != tc.form.Get("name") {
				t.Errorf("name came back as %q", got)
			}
			if got := whAttr(whByID(doc, "new-url"), "value"); got != tc.form.Get("url") {
				t.Errorf("url came back as %q", got)
			}
			if len(e.subs()) != 0 {
				t.Fatal("a refused form created a subscription")
			}
			// A reload shows the empty form, not the refusal again.
			doc = e.page(e.adminC, "/webhooks", 200)
			if whByID(doc, "create-error") != nil || whAttr(whByID(doc, "new-url"), "value") != "" {
				t.Fatal("the refusal shows again on reload")
			}
		})
	}
	if n := len(e.auditActions("webhook:1")); n != 0 {
		t.Fatalf("refused forms were audited: %d", n)
	}
}

func TestWebhookUIViewerIsReadOnly(t *testing.T) {
	t.Parallel()
	e := newWhUIEnv(t)
	srv := okServer(t, nil)
	c := e.createViaAPI(`{"name":"erp","url":"` + srv.URL + `/hook?token=qs"}`)
	p := whSubPath(c.ID)
	// Viewers never see query values, where consumers put tokens.
	for _, path := range []string{"/webhooks", p, p + "/delete"} {
		r := e.do(e.viewerC, "GET", path, nil, nil)
		if b, _ := io.ReadAll(r.Body); r.StatusCode != 200 || strings.Contains(string(b), "token=qs") || !strings.Contains(string(b), "token=REDACTED") {
			t.Fatalf("viewer GET %s: %d, URL not redacted", path, r.StatusCode)
		}
	}
	doc := e.page(e.viewerC, p, 200)
	for _, id := range []string{"pause", "resume", "rotate-secret", "save-settings", "delete-link", "replay-batch", "settings-form"} {
		if whByID(doc, id) != nil {
			t.Errorf("viewer sees #%s", id)
		}
	}
	for _, f := range whAll(doc, "form", "method", "post") {
		if whAttr(f, "action") != "/logout" {
			t.Errorf("viewer page has a POST form to %s", whAttr(f, "action"))
		}
	}
	if !strings.Contains(text(whByID(doc, "settings")), "Read-only") {
		t.Error("the viewer's settings do not say they are read-only")
	}
	for _, path := range []string{"/webhooks", p, p + "/pause", p + "/resume", p + "/rotate-secret", p + "/deliveries/1/replay",
		p + "/replay-batch", p + "/delete"} {
		form := url.Values{"name": {"hijack"}, "url": {srv.URL}, "confirm_name": {"erp"}, "mode": {"dead"}}
		if r := e.submit(e.viewerC, path, form); r.StatusCode != http.StatusForbidden {
			t.Errorf("viewer POST %s: %d, want 403", path, r.StatusCode)
		}
	}
	if s := e.sub(c.ID); s.Name != "erp" || s.Status != store.SubscriptionActive || len(e.subs()) != 1 {
		t.Fatalf("a viewer changed the subscription: %+v", s)
	}
	if got := e.auditActions("webhook:" + strconv.FormatInt(c.ID, 10)); len(got) != 1 {
		t.Fatalf("audit after viewer POSTs: %v", got)
	}
	// A viewer also cannot reach the delete form.
	if whByID(e.page(e.viewerC, p+"/delete", 200), "confirm-name") != nil {
		t.Error("viewer sees the delete confirmation form")
	}
}

func TestWebhookUIPauseResumeRotateSettingsDelete(t *testing.T) {
	t.Parallel()
	e := newWhUIEnv(t)
	srv := okServer(t, nil)
	c := e.createViaAPI(`{"name":"erp","url":"` + srv.URL + `/hook?token=qs"}`)
	p := whSubPath(c.ID)
	target := "webhook:" + strconv.FormatInt(c.ID, 10)

	doc := e.page(e.adminC, p, 200)
	if txt := text(whByID(doc, "status")); !strings.Contains(txt, "active") {
		t.Fatalf("status %q", txt)
	}
	for _, id := range []string{"deliveries-empty", "dlq-empty"} {
		if n := whByID(doc, id); n == nil || len(text(n)) < 40 {
			t.Errorf("empty state #%s does not explain itself: %q", id, text(n))
		}
	}
	if txt := text(whByID(doc, "previous-secret")); !strings.Contains(txt, "none") {
		t.Errorf("previous secret before any rotation: %q", txt)
	}

	t.Run("pause and resume", func(t *testing.T) {
		doc := e.submitOK(e.adminC, p+"/pause", nil, p)
		if !whHasFlash(doc, "ok", "Paused") || e.sub(c.ID).Status != store.SubscriptionPaused {
			t.Fatalf("pause: %v", whFlashesOf(doc))
		}
		if !strings.Contains(text(whByID(doc, "status-explain")), "Paused by an admin") || text(whByID(doc, "pause-reason")) != "manual" {
			t.Fatalf("pause not explained: %q", text(whByID(doc, "status")))
		}
		if whByID(doc, "resume") == nil || whByID(doc, "pause") != nil || whByID(doc, "ceiling-hint") != nil {
			t.Fatal("paused page offers the wrong buttons")
		}
		doc = e.submitOK(e.adminC, p+"/pause", nil, p)
		if !whHasFlash(doc, "warn", "already paused") {
			t.Fatalf("second pause: %v", whFlashesOf(doc))
		}
		doc = e.submitOK(e.adminC, p+"/resume", nil, p)
		if !whHasFlash(doc, "ok", "Resumed") || e.sub(c.ID).Status != store.SubscriptionActive || whByID(doc, "pause") == nil {
			t.Fatalf("resume: %v", whFlashesOf(doc))
		}
		// Flash messages are shown once.
		if len(whFlashesOf(e.page(e.adminC, p, 200))) != 0 {
			t.Fatal("flash shown twice")
		}
	})

	t.Run("rotate", func(t *testing.T) {
		// Without confirm=yes the hub asks first and changes nothing.
		ask := whParse(t, e.submit(e.adminC, p+"/rotate-secret", nil))
		if whByID(ask, "confirm-ok") == nil || !strings.Contains(text(whByID(ask, "confirm")), "Rotate the signing secret") {
			t.Fatalf("rotate without confirmation: %s", text(ask))
		}
		doc := e.submitOK(e.adminC, p+"/rotate-secret", url.Values{"confirm": {"yes"}}, p)
		secret := text(whByID(doc, "new-secret-value"))
		if len(secret) != 43 || secret == c.Secret {
			t.Fatalf("rotated secret %q", secret)
		}
		card := text(whByID(doc, "new-secret"))
		want := e.clock.Now().Add(24 * time.Hour).UTC().Format("2006-01-02 15:04:05")
		if !strings.Contains(card, "generation 2") || !strings.Contains(card, want) {
			t.Fatalf("rotation card does not explain the overlap until %s: %s", want, card)
		}
		if txt := text(whByID(doc, "previous-secret")); !strings.Contains(txt, want) || !strings.Contains(txt, "in 24 h") {
			t.Fatalf("previous secret %q", txt)
		}
		again := e.do(e.adminC, "GET", p, nil, nil)
		if b, _ := io.ReadAll(again.Body); strings.Contains(string(b), secret) {
			t.Fatal("rotated secret shown twice")
		}
	})

	t.Run("settings", func(t *testing.T) {
		form := url.Values{"name": {"erp2"}, "url": {srv.URL + "/hook?token=qs"}, "event_type": {"ship.confirmed", "pick.confirmed"},
			"warehouse_ids": {"2, 1"}, "pending_ceiling": {"500"}, "dlq_ceiling": {"1000"}, "rate_limit_per_sec": {"2.5"},
			"max_in_flight": {"16"}}
		doc := e.submitOK(e.adminC, p, form, p)
		if !whHasFlash(doc, "ok", "Settings saved") || !whHasFlash(doc, "ok", "from now on") {
			t.Fatalf("save: %v", whFlashesOf(doc))
		}
		s := e.sub(c.ID)
		if s.Name != "erp2" || s.PendingCeiling != 500 || s.RateLimitPerSec != 2.5 || len(s.Filter.WarehouseIDs) != 2 ||
			s.Filter.WarehouseIDs[0] != 1 || len(s.Filter.EventTypes) != 2 {
			t.Fatalf("saved %+v", s)
		}
		// The form shows the saved values.
		if whAttr(whByID(doc, "set-pending"), "value") != "500" || whAttr(whByID(doc, "set-warehouses"), "value") != "1, 2" {
			t.Fatal("settings form does not show the saved values")
		}
		checked := 0
		for _, b := range whAll(whByID(doc, "set-event-types"), "input", "name", "event_type") {
			if whHasAttr(b, "checked") {
				checked++
			}
		}
		if checked != 2 {
			t.Fatalf("%d event types checked, want 2", checked)
		}
		// The same form again changes nothing.
		form.Set("warehouse_ids", "1,2")
		if doc := e.submitOK(e.adminC, p, form, p); !whHasFlash(doc, "ok", "Nothing to save") {
			t.Fatalf("unchanged save: %v", whFlashesOf(doc))
		}
		// Invalid input: back to the page (post/redirect/get) with the form
		// as typed, errors per field, nothing saved.
		bad := url.Values{"name": {"erp3"}, "url": {"http://u:p@127.0.0.1/"}, "pending_ceiling": {"0"}, "dlq_ceiling": {""},
			"rate_limit_per_sec": {"fast"}, "max_in_flight": {"16"}}
		doc = e.submitOK(e.adminC, p, bad, p+"#settings")
		summary := text(whByID(doc, "settings-error"))
		for _, l := range []string{"DLQ ceiling: is required", "Rate limit:", "Pending ceiling:"} {
			if !strings.Contains(summary, l) {
				t.Errorf("settings error %q lacks %q", summary, l)
			}
		}
		if whByID(doc, "set-rate_limit_per_sec-error") == nil || whAttr(whByID(doc, "set-name"), "value") != "erp3" {
			t.Fatal("settings form not re-rendered as typed")
		}
		// Validation by the API itself (the URL), once the numbers parse.
		bad = url.Values{"name": {"erp3"}, "url": {"http://u:p@127.0.0.1/"}, "pending_ceiling": {"0"}, "dlq_ceiling": {"1000"},
			"rate_limit_per_sec": {"0"}, "max_in_flight": {"16"}}
		doc = e.submitOK(e.adminC, p, bad, p+"#settings")
		if whByID(doc, "set-url-error") == nil || whByID(doc, "set-pending_ceiling-error") == nil {
			t.Fatalf("API validation not shown per field: %q", text(whByID(doc, "settings-error")))
		}
		if s := e.sub(c.ID); s.Name != "erp2" || s.PendingCeiling != 500 {
			t.Fatalf("a refused form changed the subscription: %+v", s)
		}
	})

	t.Run("delete", func(t *testing.T) {
		doc := e.page(e.adminC, p+"/delete", 200)
		if whByID(doc, "confirm-name") == nil || !strings.Contains(text(doc), "cannot be undone") {
			t.Fatal("no confirmation step")
		}
		r := e.submit(e.adminC, p+"/delete", url.Values{"confirm_name": {"erp"}})
		if r.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("wrong name: %d", r.StatusCode)
		}
		doc = whParse(t, r)
		if !strings.Contains(text(whByID(doc, "delete-error")), "erp2") || whAttr(whByID(doc, "confirm-name"), "value") != "erp" {
			t.Fatalf("wrong-name error %q", text(whByID(doc, "delete-error")))
		}
		if len(e.subs()) != 1 {
			t.Fatal("deleted without confirmation")
		}
		doc = e.submitOK(e.adminC, p+"/delete", url.Values{"confirm_name": {" erp2 "}}, "/webhooks")
		if !whHasFlash(doc, "ok", "deleted") || len(e.subs()) != 0 || whByID(doc, "webhooks-empty") == nil {
			t.Fatalf("delete: %v", whFlashesOf(doc))
		}
		nf := e.page(e.adminC, p, http.StatusNotFound)
		if !strings.Contains(text(nf), "no webhook subscription "+strconv.FormatInt(c.ID, 10)) {
			t.Fatalf("not-found page %q", text(nf))
		}
		// Acting on a deleted subscription lands on the list with an error.
		if doc := e.submitOK(e.adminC, p+"/pause", nil, "/webhooks"); !whHasFlash(doc, "error", "no longer exists") {
			t.Fatalf("pause after delete: %v", whFlashesOf(doc))
		}
	})

	got := strings.Join(e.auditActions(target), "\n")
	for _, want := range []string{"webhook.create", "webhook.pause by user:" + whAdminEmail, "webhook.resume by user:" + whAdminEmail,
		"webhook.rotate_secret by user:" + whAdminEmail, "webhook.update by user:" + whAdminEmail, "webhook.delete by user:" + whAdminEmail} {
		if !strings.Contains(got, want) {
			t.Errorf("audit lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "webhook.update"); n != 1 {
		t.Errorf("%d update entries, want 1 (the unchanged save and refused forms write none)", n)
	}
}

// TestWebhookUICeilingHint: a subscription paused by its pending ceiling
// explains itself; lifting the ceiling through the form keeps it paused and
// shows the API's hint; Resume resumes.
func TestWebhookUICeilingHint(t *testing.T) {
	t.Parallel()
	e := newWhUIEnv(t)
	var status atomic.Int32
	status.Store(500)
	srv := okServer(t, &status)
	c := e.createViaAPI(`{"name":"x","url":"` + srv.URL + `","pending_ceiling":2}`)
	p := whSubPath(c.ID)
	appendOne(t, e.db, 3)
	waitFor(t, "auto-pause", func() bool { return e.sub(c.ID).PauseReason == store.PausePendingCeiling })

	doc := e.page(e.adminC, p, 200)
	if txt := text(whByID(doc, "status-explain")); !strings.Contains(txt, "reached the pending ceiling") || !strings.Contains(txt, "ceiling 2") {
		t.Fatalf("auto-pause not explained: %q", txt)
	}
	if txt := text(whByID(doc, "ceiling-hint")); !strings.Contains(txt, "does not resume") || !strings.Contains(txt, `{"status": "active"}`) {
		t.Fatalf("ceiling hint %q", txt)
	}
	list := e.page(e.adminC, "/webhooks", 200)
	if txt := text(whByID(list, "sub-"+strconv.FormatInt(c.ID, 10))); !strings.Contains(txt, "pending ceiling reached") || !strings.Contains(txt, "2 of 2") {
		t.Fatalf("list row does not explain the pause: %q", txt)
	}

	form := url.Values{"name": {"x"}, "url": {srv.URL}, "pending_ceiling": {"100"}, "dlq_ceiling": {"1000"},
		"rate_limit_per_sec": {"0"}, "max_in_flight": {"16"}}
	doc = e.submitOK(e.adminC, p, form, p)
	if !whHasFlash(doc, "warn", "lifting a ceiling never resumes it") || !whHasFlash(doc, "warn", "/api/admin/webhooks/"+strconv.FormatInt(c.ID, 10)) {
		t.Fatalf("hint not shown: %v", whFlashesOf(doc))
	}
	if s := e.sub(c.ID); s.Status != store.SubscriptionPaused || s.PendingCeiling != 100 {
		t.Fatalf("after lifting the ceiling %+v", s)
	}
	status.Store(0)
	doc = e.submitOK(e.adminC, p+"/resume", nil, p)
	if !whHasFlash(doc, "ok", "Resumed") || e.sub(c.ID).Status != store.SubscriptionActive {
		t.Fatalf("resume: %v", whFlashesOf(doc))
	}
	// The failed deliveries retry on the fake clock's schedule.
	waitFor(t, "the backlog delivered", func() bool {
		e.clock.Advance(5 * time.Second)
		return len(e.deliveries(c.ID, store.DeliverySucceeded)) == 3
	})
	// The list shows the 24-hour success rate of finished deliveries.
	row := whByID(e.page(e.adminC, "/webhooks", 200), "sub-"+strconv.FormatInt(c.ID, 10))
	if cell := whAll(row, "td", "class", "rate"); len(cell) != 1 || whAttr(cell[0], "data-rate") != "100.0%" ||
		!strings.Contains(text(cell[0]), "of 3 finished deliveries") {
		t.Fatalf("24-hour success rate: %q", text(row))
	}
}

// driveToDead moves the fake clock along the retry schedule (whenever
// every failing delivery waits for its next attempt) until n deliveries of
// sub are dead.
func (e *whUIEnv) driveToDead(sub int64, n int) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(e.deliveries(sub, store.DeliveryDead)) < n {
		if time.Now().After(deadline) {
			for _, d := range e.deliveries(sub, "") {
				e.t.Logf("delivery %d %s attempts=%d next=%v now=%v", d.ID, d.Status, d.Attempts, d.NextAttemptAt, e.clock.Now())
			}
			e.t.Fatalf("timed out driving %d deliveries to the DLQ", n)
		}
		var next time.Time
		ready := true
		for _, d := range e.deliveries(sub, "") {
			switch {
			case d.Status == store.DeliveryInFlight, d.Status == store.DeliveryPending && (d.Attempts == 0 || d.NextAttemptAt == nil):
				ready = false
			case d.Status == store.DeliveryPending:
				at := d.NextAttemptAt.Time
				if next.IsZero() || at.Before(next) {
					next = at
				}
			}
		}
		if ready && !next.IsZero() {
			// Past the due time with room to spare: an actor that read the
			// clock just before this advance arms its timer relative to
			// the new time, so landing exactly on next could miss it.
			e.clock.Advance(max(next.Sub(e.clock.Now()), 0) + 3*time.Hour)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestWebhookUIDeliveriesDLQAndReplay(t *testing.T) {
	t.Parallel()
	e := newWhUIEnv(t)
	var status atomic.Int32
	srv := okServer(t, &status)
	// Per aggregate: both failing events are attempted side by side.
	c := e.createViaAPI(`{"name":"erp","url":"` + srv.URL + `","ordering":"aggregate"}`)
	p := whSubPath(c.ID)

	appendOne(t, e.db, 2)
	waitFor(t, "2 deliveries", func() bool { return len(e.deliveries(c.ID, store.DeliverySucceeded)) == 2 })
	doc := e.page(e.adminC, p, 200)
	rows := whAll(whByID(doc, "deliveries"), "tr", "data-status", string(store.DeliverySucceeded))
	if len(rows) != 2 || text(whByID(doc, "stat-succeeded")) != "2" || text(whByID(doc, "stat-success-rate")) != "100.0%" {
		t.Fatalf("%d succeeded rows, stats %q", len(rows), text(whByID(doc, "stats")))
	}
	if !strings.Contains(text(rows[0]), "UTC") || !strings.Contains(text(rows[0]), "ship.confirmed") {
		t.Fatalf("delivery row %q", text(rows[0]))
	}

	// Replay one succeeded delivery.
	first := e.deliveries(c.ID, store.DeliverySucceeded)[1]
	doc = e.submitOK(e.adminC, fmt.Sprintf("%s/deliveries/%d/replay", p, first.ID), nil, p)
	if !whHasFlash(doc, "ok", "queued again as delivery") {
		t.Fatalf("replay: %v", whFlashesOf(doc))
	}
	waitFor(t, "the replay delivered", func() bool { return len(e.deliveries(c.ID, store.DeliverySucceeded)) == 3 })

	// A failing consumer: the page shows the kind, the catalog message and
	// the triage hint, and no replay for a delivery still retrying.
	status.Store(500)
	appendOne(t, e.db, 2)
	waitFor(t, "2 failed attempts", func() bool {
		n := 0
		for _, d := range e.deliveries(c.ID, store.DeliveryPending) {
			if d.LastErrorKind != nil {
				n++
			}
		}
		return n == 2
	})
	entry := store.Kind5xx.Entry()
	doc = e.page(e.adminC, p, 200)
	retrying := whAll(whByID(doc, "deliveries"), "tr", "data-status", string(store.DeliveryPending))
	if len(retrying) != 2 {
		t.Fatalf("%d pending rows", len(retrying))
	}
	for _, row := range retrying {
		txt := text(row)
		for _, want := range []string{"5xx", "HTTP 500", entry.Message, entry.Hint, "retrying"} {
			if !strings.Contains(txt, want) {
				t.Errorf("failing row lacks %q: %s", want, txt)
			}
		}
		if len(whAll(row, "button", "", "")) != 0 {
			t.Error("a delivery still retrying offers Replay")
		}
	}
	if txt := text(whByID(doc, "last-failure")); !strings.Contains(txt, "5xx") || !strings.Contains(txt, entry.Hint) {
		t.Errorf("last failure %q", txt)
	}
	errs := e.page(e.adminC, "/webhooks/errors", 200)
	if txt := text(whByID(errs, "errors")); !strings.Contains(txt, entry.Hint) || !strings.Contains(txt, "erp") {
		t.Fatalf("errors page %q", txt)
	}
	if txt := text(whByID(errs, "error-summary")); !strings.Contains(txt, "2") || !strings.Contains(txt, entry.Message) {
		t.Fatalf("errors summary %q", txt)
	}
	if txt := text(whByID(e.page(e.adminC, "/webhooks/errors?kind=timeout", 200), "errors-empty")); !strings.Contains(txt, "timeout") {
		t.Fatalf("filtered errors %q", txt)
	}
	if txt := text(whByID(e.page(e.adminC, "/webhooks", 200), "view-errors")); !strings.Contains(txt, "(2)") {
		t.Fatalf("list link %q", txt)
	}
	// Replaying a delivery that is still open is refused with a flash.
	open := e.deliveries(c.ID, store.DeliveryPending)[0]
	doc = e.submitOK(e.adminC, fmt.Sprintf("%s/deliveries/%d/replay", p, open.ID), nil, p)
	if !whHasFlash(doc, "error", "still pending") {
		t.Fatalf("replay of an open delivery: %v", whFlashesOf(doc))
	}

	// Run the retry schedule out: both land in the DLQ. (The fake clock
	// passes the session lifetime, so log in again.)
	e.driveToDead(c.ID, 2)
	e.relogin()
	doc = e.page(e.adminC, p, 200)
	dlq := whAll(whByID(doc, "dlq"), "tr", "data-status", string(store.DeliveryDead))
	if len(dlq) != 2 || text(whByID(doc, "stat-dead")) != "2" || whByID(doc, "replay-all-dead") == nil {
		t.Fatalf("DLQ rows %d, dead stat %q", len(dlq), text(whByID(doc, "stat-dead")))
	}
	if txt := text(dlq[0]); !strings.Contains(txt, entry.Hint) || !strings.Contains(txt, "8") {
		t.Fatalf("DLQ row %q", txt)
	}
	// The errors page filters by subscription and day, and replays a dead
	// delivery (to a consumer that works again), coming back to the page
	// as filtered.
	status.Store(0)
	firstDead := e.deliveries(c.ID, store.DeliveryDead)[0]
	here := fmt.Sprintf("/webhooks/errors?subscription=%d&since=%s", c.ID, firstDead.LastAttemptAt.AddDate(0, 0, -1).UTC().Format(time.DateOnly))
	errs = e.page(e.adminC, here, 200)
	if n := len(whAll(whByID(errs, "errors"), "button", "", "")); n != 2 {
		t.Fatalf("%d replay buttons on the filtered errors page, want 2", n)
	}
	if whByID(e.page(e.adminC, fmt.Sprintf("/webhooks/errors?subscription=%d", c.ID+100), 200), "errors-empty") == nil {
		t.Fatal("another subscription's filter shows these failures")
	}
	if whByID(e.page(e.adminC, "/webhooks/errors?since=2100-01-01", 200), "errors-empty") == nil {
		t.Fatal("a day after the failures still lists them")
	}
	e.page(e.adminC, "/webhooks/errors?until=soon", http.StatusBadRequest)
	back := e.submitOK(e.adminC, fmt.Sprintf("%s/deliveries/%d/replay", p, firstDead.ID), url.Values{"back": {here}}, here)
	if !whHasFlash(back, "ok", "queued again") || len(e.deliveries(c.ID, store.DeliveryDead)) != 1 {
		t.Fatalf("replay from the errors page: %v", whFlashesOf(back))
	}
	// The dashboard lists them under "Needs attention", linking to the
	// DLQ.
	dash := e.page(e.adminC, "/", 200)
	if txt := text(whByID(dash, "dead-subs")); !strings.Contains(txt, "erp") || !strings.Contains(txt, "1 dead delivery") {
		t.Fatalf("dashboard dead deliveries %q", txt)
	}
	status.Store(0)
	// The single replay from the errors page above left one in the DLQ.
	doc = e.page(e.adminC, p, 200)
	if n := len(whAll(whByID(doc, "dlq"), "tr", "data-status", string(store.DeliveryDead))); n != 1 {
		t.Fatalf("after a single DLQ replay %d dead rows, want 1", n)
	}
	doc = e.submitOK(e.adminC, p+"/replay-batch", url.Values{"mode": {"dead"}}, p)
	if !whHasFlash(doc, "ok", "Queued 1 delivery again") || whByID(doc, "dlq-empty") == nil {
		t.Fatalf("replay all: %v", whFlashesOf(doc))
	}
	if doc := e.submitOK(e.adminC, p+"/replay-batch", url.Values{"mode": {"dead"}}, p); !whHasFlash(doc, "warn", "Nothing queued") {
		t.Fatalf("replay of an empty DLQ: %v", whFlashesOf(doc))
	}
	waitFor(t, "replays delivered", func() bool { return len(e.deliveries(c.ID, store.DeliverySucceeded)) == 5 })

	// Backfill by range, and its validation.
	doc = e.submitOK(e.adminC, p+"/replay-batch", url.Values{"mode": {"range"}}, p+"#replay-batch")
	if !strings.Contains(text(whByID(doc, "batch-error")), "From event id") || whByID(doc, "batch-from-error") == nil {
		t.Fatalf("backfill error %q", text(whByID(doc, "batch-error")))
	}
	doc = e.submitOK(e.adminC, p+"/replay-batch", url.Values{"mode": {"range"}, "from_event_id": {"one"}}, p+"#replay-batch")
	if whByID(doc, "batch-from-error") == nil || whAttr(whByID(doc, "batch-from"), "value") != "one" {
		t.Fatal("non-numeric bound not reported beside the field as typed")
	}
	doc = e.submitOK(e.adminC, p+"/replay-batch", url.Values{"mode": {"range"}, "from_event_id": {"1"}, "to_event_id": {"2"},
		"event_type": {"ship.confirmed"}}, p)
	if !whHasFlash(doc, "ok", "Queued 2 deliveries") {
		t.Fatalf("backfill: %v", whFlashesOf(doc))
	}
	waitFor(t, "backfill delivered", func() bool { return len(e.deliveries(c.ID, store.DeliverySucceeded)) == 7 })

	// Paging and filtering the history.
	doc = e.page(e.adminC, p+"?status=replayed", 200)
	if n := len(whAll(whByID(doc, "deliveries"), "tr", "data-status", string(store.DeliveryReplayed))); n != 2 {
		t.Fatalf("%d replayed rows", n)
	}
	if doc := e.page(e.adminC, p+"?status=dead", 200); !strings.Contains(text(whByID(doc, "deliveries-empty")), "No deliveries with status dead") {
		t.Fatal("empty filtered history does not say so")
	}
	if r := e.do(e.adminC, "GET", p+"?status=lost", nil, nil); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown status filter: %d", r.StatusCode)
	}

	got := strings.Join(e.auditActions("webhook:"+strconv.FormatInt(c.ID, 10)), "\n")
	if strings.Count(got, "webhook.replay by user:"+whAdminEmail) != 2 || strings.Count(got, "webhook.replay_batch by user:"+whAdminEmail) != 2 {
		t.Fatalf("replay audit:\n%s", got)
	}
}

func TestWebhookUINotFound(t *testing.T) {
	t.Parallel()
	e := newWhUIEnv(t)
	if doc := e.page(e.adminC, "/webhooks/999", http.StatusNotFound); !strings.Contains(text(doc), "no webhook subscription 999") {
		t.Fatalf("not found page %q", text(doc))
	}
	e.page(e.adminC, "/webhooks/999/delete", http.StatusNotFound)
	if r := e.do(e.adminC, "GET", "/webhooks/abc", nil, nil); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("non-numeric id: %d", r.StatusCode)
	}
	if doc := e.submitOK(e.adminC, "/webhooks/999/rotate-secret", url.Values{"confirm": {"yes"}}, "/webhooks"); !whHasFlash(doc, "error", "999 no longer exists") {
		t.Fatalf("rotate unknown: %v", whFlashesOf(doc))
	}
}

// whSelected returns the value of the selected option of the select with
// id (the first option when none is marked, as a browser does).
func whSelected(t *testing.T, doc *html.Node, id string) string {
	t.Helper()
	opts := whAll(whByID(doc, id), "option", "", "")
	if len(opts) == 0 {
		t.Fatalf("no options in #%s", id)
	}
	for _, o := range opts {
		if whHasAttr(o, "selected") {
			return whAttr(o, "value")
		}
	}
	return whAttr(opts[0], "value")
}

// TestWebhookUIOrdering: the create and settings forms offer both orderings
// (global, the contract's commit order, preselected on create) with a hint
// on the trade-off; the choice is saved, shown, and changed.
func TestWebhookUIOrdering(t *testing.T) {
	t.Parallel()
	e := newWhUIEnv(t)
	rec := newWhRecorder(t)
	doc := e.page(e.adminC, "/webhooks", 200)
	var values []string
	for _, o := range whAll(whByID(doc, "new-ordering"), "option", "", "") {
		values = append(values, whAttr(o, "value"))
	}
	if strings.Join(values, ",") != "global,aggregate" || whSelected(t, doc, "new-ordering") != store.OrderingGlobal {
		t.Fatalf("create form ordering options %v (selected %q)", values, whSelected(t, doc, "new-ordering"))
	}
	hint := text(whByID(doc, "new-subscription"))
	for _, want := range []string{"Ordering", "set of", "watermark", "one request at a time", "blocks everything after it"} {
		if !strings.Contains(hint, want) {
			t.Errorf("create form does not explain the ordering trade-off: lacks %q", want)
		}
	}
	form := url.Values{"name": {"ledger"}, "url": {rec.srv.URL + "/hook"}, "pending_ceiling": {"10000"}, "dlq_ceiling": {"1000"},
		"rate_limit_per_sec": {"0"}, "max_in_flight": {"16"}, "ordering": {"global"}}
	doc = e.submitOK(e.adminC, "/webhooks", form, "/webhooks/1")
	if s := e.sub(1); s.Ordering != store.OrderingGlobal {
		t.Fatalf("created with ordering %q", s.Ordering)
	}
	if whSelected(t, doc, "set-ordering") != store.OrderingGlobal {
		t.Fatal("settings form does not show the saved ordering")
	}
	if !strings.Contains(text(doc), "one at a time (global ordering)") {
		t.Error("the detail page does not say a global subscription sends one at a time")
	}
	// Saving the settings without the field (an older form) keeps it.
	delete(form, "ordering")
	if doc := e.submitOK(e.adminC, "/webhooks/1", form, "/webhooks/1"); !whHasFlash(doc, "ok", "Nothing to save") {
		t.Fatalf("save without ordering: %v", whFlashesOf(doc))
	}
	form.Set("ordering", "aggregate")
	doc = e.submitOK(e.adminC, "/webhooks/1", form, "/webhooks/1")
	if s := e.sub(1); s.Ordering != store.OrderingAggregate {
		t.Fatalf("saved ordering %q", s.Ordering)
	}
	if whSelected(t, doc, "set-ordering") != store.OrderingAggregate {
		t.Fatal("settings form does not show the changed ordering")
	}
	form.Set("ordering", "sideways")
	doc = e.submitOK(e.adminC, "/webhooks/1", form, "/webhooks/1#settings")
	if whByID(doc, "set-ordering-error") == nil || !strings.Contains(text(whByID(doc, "settings-error")), "Ordering:") {
		t.Fatal("bad ordering not reported on the field")
	}
	if s := e.sub(1); s.Ordering != store.OrderingAggregate {
		t.Fatalf("a refused form changed the ordering: %q", s.Ordering)
	}
	// Viewers read it.
	if !strings.Contains(text(e.page(e.viewerC, "/webhooks/1", 200)), "per aggregate: in order per aggregate") {
		t.Error("viewer does not see the ordering")
	}
}
