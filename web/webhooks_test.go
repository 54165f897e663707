package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fernet/fernet-go"
	"github.com/google/uuid"

	"sentryhub/dispatcher"
	"sentryhub/ssrf"
	"sentryhub/store"
	"sentryhub/store/vault"
)

// webhookEnv is the web test env with a real dispatcher behind the webhook
// admin API.
type webhookEnv struct {
	*testEnv
	d     *dispatcher.Dispatcher
	admin string
}

func newWebhookEnv(t *testing.T, allowHTTP bool) *webhookEnv {
	t.Helper()
	e := newTestEnv(t)
	var key fernet.Key
	if err := key.Generate(); err != nil {
		t.Fatal(err)
	}
	d, err := dispatcher.New(dispatcher.Config{
		DB: e.db, Vault: vault.New(e.db, &key), Clock: e.clock, AllowHTTP: allowHTTP,
		Guard: ssrf.New(ssrf.Config{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.s.SetWebhooks(d)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return &webhookEnv{testEnv: e, d: d, admin: e.token(store.ScopeAdmin)}
}

func (e *webhookEnv) call(method, path, body string) (*http.Response, []byte) {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	resp := e.do(nil, method, path, map[string]string{"X-WMS-Token": e.admin, "Content-Type": "application/json"}, r)
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

func (e *webhookEnv) callJSON(method, path, body string, want int, out any) []byte {
	e.t.Helper()
	resp, b := e.call(method, path, body)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return b
}

type createdSub struct {
	store.Subscription
	Secret           string `json:"secret"`
	SecretGeneration int    `json:"secret_generation"`
	SecretStandard   string `json:"secret_standard"`
}

func okServer(t *testing.T, status *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status != nil && status.Load() != 0 {
			w.WriteHeader(int(status.Load()))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func appendOne(t *testing.T, db *store.DB, n int) {
	t.Helper()
	var evs []store.NewEvent
	for i := range n {
		evs = append(evs, store.NewEvent{EventType: store.EventShipConfirmed, AggregateType: store.AggregateSalesOrder,
			AggregateID: uuid.NewString(), WarehouseID: 1, SourceTxnID: uuid.NewString(), Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
	}
	if _, err := db.AppendEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWebhookAPILifecycle(t *testing.T) {
	t.Parallel()
	e := newWebhookEnv(t, true)
	var status atomic.Int32
	srv := okServer(t, &status)

	var c createdSub
	e.callJSON("POST", "/api/admin/webhooks", `{"name":"erp","url":"`+srv.URL+`/hook?token=qs",
		"subscription_filter":{"event_types":["ship.confirmed"]},"max_in_flight":4}`, 201, &c)
	if c.ID == 0 || c.SecretGeneration != 1 || len(c.Secret) != 43 || c.SecretStandard != "" ||
		c.PendingCeiling != store.DefaultPendingCeiling || c.DLQCeiling != store.DefaultDLQCeiling || c.MaxInFlight != 4 || c.Status != "active" {
		t.Fatalf("created %+v", c)
	}
	if _, err := base64.RawURLEncoding.DecodeString(c.Secret); err != nil {
		t.Fatalf("secret %q is not URL-safe base64 of random bytes", c.Secret)
	}
	path := fmt.Sprintf("/api/admin/webhooks/%d", c.ID)

	// Reads never show the secret.
	_, list := e.call("GET", "/api/admin/webhooks", "")
	_, one := e.call("GET", path, "")
	for _, b := range [][]byte{list, one} {
		if strings.Contains(string(b), c.Secret) || !strings.Contains(string(b), `"erp"`) {
			t.Fatalf("read: %s", b)
		}
	}
	var view struct {
		SigningGeneration       int     `json:"signing_generation"`
		PreviousSecretExpiresAt *string `json:"previous_secret_expires_at"`
	}
	json.Unmarshal(one, &view)
	if view.SigningGeneration != 1 || view.PreviousSecretExpiresAt != nil {
		t.Fatalf("view %+v", view)
	}

	// Pause, then a PATCH of several fields, then resume.
	var s store.Subscription
	e.callJSON("PATCH", path, `{"status":"paused"}`, 200, &s)
	if s.Status != "paused" || s.PauseReason != "manual" {
		t.Fatalf("paused %+v", s)
	}
	e.callJSON("PATCH", path, `{"pending_ceiling":50,"rate_limit_per_sec":50.5,"subscription_filter":{"warehouse_ids":[1]},"name":"erp2"}`, 200, &s)
	if s.PendingCeiling != 50 || s.RateLimitPerSec != 50.5 || s.Name != "erp2" || len(s.Filter.WarehouseIDs) != 1 || len(s.Filter.EventTypes) != 0 {
		t.Fatalf("patched %+v", s)
	}
	e.callJSON("PATCH", path, `{"status":"active"}`, 200, &s)

	// Rotation shows the new secret once and the old one's expiry.
	var rot struct {
		Secret                  string `json:"secret"`
		SecretGeneration        int    `json:"secret_generation"`
		PreviousGeneration      int    `json:"previous_generation"`
		PreviousSecretExpiresAt string `json:"previous_secret_expires_at"`
	}
	e.callJSON("POST", path+"/rotate-secret", "", 200, &rot)
	if rot.Secret == c.Secret || len(rot.Secret) != 43 || rot.SecretGeneration != 1 || rot.PreviousGeneration != 2 ||
		rot.PreviousSecretExpiresAt != e.clock.Now().Add(24*time.Hour).UTC().Format(store.TimeFormat) {
		t.Fatalf("rotation %+v", rot)
	}
	_, one = e.call("GET", path, "")
	json.Unmarshal(one, &view)
	if view.PreviousSecretExpiresAt == nil || *view.PreviousSecretExpiresAt != rot.PreviousSecretExpiresAt {
		t.Fatalf("after rotation %s", one)
	}

	// Deliveries, stats, errors.
	appendOne(t, e.db, 3)
	waitFor(t, "3 deliveries", func() bool {
		var r struct{ Deliveries []store.Delivery }
		_, b := e.call("GET", path+"/deliveries?status=succeeded", "")
		json.Unmarshal(b, &r)
		return len(r.Deliveries) == 3
	})
	var page struct {
		Deliveries []store.Delivery `json:"deliveries"`
		NextBefore int64            `json:"next_before"`
		NextAfter  int64            `json:"next_after"`
	}
	e.callJSON("GET", path+"/deliveries?limit=2", "", 200, &page)
	if len(page.Deliveries) != 2 || page.NextBefore == 0 || page.Deliveries[0].ID < page.Deliveries[1].ID ||
		len(page.Deliveries[0].History) != 1 || page.Deliveries[0].History[0].StatusCode != 200 || page.Deliveries[0].EventType != store.EventShipConfirmed {
		t.Fatalf("page %+v", page)
	}
	e.callJSON("GET", fmt.Sprintf("%s/deliveries?after=%d", path, page.Deliveries[1].ID-1), "", 200, &page)
	if len(page.Deliveries) != 2 || page.Deliveries[0].ID > page.Deliveries[1].ID {
		t.Fatalf("ascending page %+v", page)
	}
	d0 := page.Deliveries[0]
	var one1 store.Delivery
	e.callJSON("GET", fmt.Sprintf("%s/deliveries/%d", path, d0.ID), "", 200, &one1)
	if one1.ID != d0.ID || one1.Status != "succeeded" {
		t.Fatalf("one delivery %+v", one1)
	}
	var st store.WebhookStats
	e.callJSON("GET", path+"/stats", "", 200, &st)
	if st.Counts["succeeded"] != 3 || st.SuccessRate == nil || *st.SuccessRate != 1 || st.Latency.Samples != 3 || st.LastSuccessAt == nil {
		t.Fatalf("stats %+v", st)
	}
	var replayed struct{ Delivery store.Delivery }
	e.callJSON("POST", fmt.Sprintf("%s/deliveries/%d/replay", path, d0.ID), "", 202, &replayed)
	if replayed.Delivery.ReplayOf == nil || *replayed.Delivery.ReplayOf != d0.ID {
		t.Fatalf("replay %+v", replayed)
	}
	var batch struct{ Queued int }
	e.callJSON("POST", path+"/replay-batch", fmt.Sprintf(`{"from_event_id":1,"to_event_id":%d,"subscription_filter":{"event_types":["ship.confirmed"]}}`, d0.EventID+2), 202, &batch)
	if batch.Queued != 3 {
		t.Fatalf("replay batch queued %d", batch.Queued)
	}
	var dlq struct{ Deliveries []store.Delivery }
	e.callJSON("GET", path+"/dlq", "", 200, &dlq)
	if dlq.Deliveries == nil || len(dlq.Deliveries) != 0 {
		t.Fatalf("dlq %+v", dlq)
	}
	// The replays must be delivered before the consumer starts failing,
	// or one still in flight would fail too and the errors list below
	// would hold two entries instead of one.
	waitFor(t, "the replays to be delivered", func() bool {
		var st store.WebhookStats
		e.callJSON("GET", path+"/stats", "", 200, &st)
		return st.Counts[store.DeliveryPending]+st.Counts[store.DeliveryInFlight] == 0
	})
	status.Store(503)
	appendOne(t, e.db, 1)
	var errs struct {
		Errors  []store.WebhookError        `json:"errors"`
		Summary []store.WebhookErrorSummary `json:"summary"`
		Catalog []store.ErrorCatalogEntry   `json:"catalog"`
	}
	waitFor(t, "a failing delivery", func() bool {
		e.callJSON("GET", "/api/admin/webhooks/errors", "", 200, &errs)
		return len(errs.Errors) == 1
	})
	if errs.Errors[0].ErrorKind != store.Kind5xx || errs.Errors[0].Error.Hint == "" || len(errs.Summary) != 1 || len(errs.Catalog) != 7 {
		t.Fatalf("errors %+v", errs)
	}

	// Delete.
	e.callJSON("DELETE", path, "", 204, nil)
	e.callJSON("GET", path, "", 404, nil)
	e.callJSON("GET", path+"/deliveries", "", 404, nil)

	// Audit: every write, no secret anywhere.
	entries, err := e.db.ListAudit(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]bool{}
	for _, a := range entries {
		actions[a.Action] = true
		if strings.Contains(string(a.Diff), c.Secret) || strings.Contains(string(a.Diff), rot.Secret) || strings.Contains(string(a.Diff), "token=qs") {
			t.Fatalf("audit %s leaks: %s", a.Action, a.Diff)
		}
	}
	for _, want := range []string{"webhook.create", "webhook.pause", "webhook.update", "webhook.resume", "webhook.rotate_secret",
		"webhook.replay", "webhook.replay_batch", "webhook.delete"} {
		if !actions[want] {
			t.Errorf("no %s audit entry (have %v)", want, actions)
		}
	}
}

func TestWebhookAPIStandardSecret(t *testing.T) {
	t.Parallel()
	e := newWebhookEnv(t, true)
	srv := okServer(t, nil)
	var c createdSub
	e.callJSON("POST", "/api/admin/webhooks", `{"name":"std","url":"`+srv.URL+`","standard_webhooks":true}`, 201, &c)
	if c.SecretStandard != "whsec_"+base64.StdEncoding.EncodeToString([]byte(c.Secret)) || !c.StandardWebhooks {
		t.Fatalf("standard secret %q for %q", c.SecretStandard, c.Secret)
	}
	var rot struct {
		Secret         string `json:"secret"`
		SecretStandard string `json:"secret_standard"`
	}
	e.callJSON("POST", fmt.Sprintf("/api/admin/webhooks/%d/rotate-secret", c.ID), "", 200, &rot)
	if rot.SecretStandard != "whsec_"+base64.StdEncoding.EncodeToString([]byte(rot.Secret)) {
		t.Fatal("rotation of a Standard Webhooks subscription shows the whsec_ form too")
	}
}

// TestWebhookAPIHint: lifting the ceiling a subscription was paused for
// keeps it paused, and the PATCH response says what to do next.
func TestWebhookAPIHint(t *testing.T) {
	t.Parallel()
	e := newWebhookEnv(t, true)
	var status atomic.Int32
	status.Store(500)
	srv := okServer(t, &status)
	var c createdSub
	e.callJSON("POST", "/api/admin/webhooks", `{"name":"x","url":"`+srv.URL+`","pending_ceiling":2}`, 201, &c)
	appendOne(t, e.db, 3)
	path := fmt.Sprintf("/api/admin/webhooks/%d", c.ID)
	waitFor(t, "auto-pause", func() bool {
		var s store.Subscription
		e.callJSON("GET", path, "", 200, &s)
		return s.Status == "paused" && s.PauseReason == "pending_ceiling"
	})
	var r struct {
		store.Subscription
		Hint string `json:"hint"`
	}
	e.callJSON("PATCH", path, `{"pending_ceiling":100}`, 200, &r)
	if r.Status != "paused" || !strings.Contains(r.Hint, `{"status": "active"}`) || !strings.Contains(r.Hint, path) {
		t.Fatalf("PATCH response %+v", r)
	}
	var r2 struct {
		store.Subscription
		Hint *string `json:"hint"`
	}
	e.callJSON("PATCH", path, `{"status":"active"}`, 200, &r2)
	if r2.Hint != nil || r2.Status != "active" {
		t.Fatalf("resume response %+v", r2)
	}
}

func TestWebhookAPIValidation(t *testing.T) {
	t.Parallel()
	e := newWebhookEnv(t, false) // https only
	httpsOK := "https://127.0.0.1:9/hook"
	for _, tc := range []struct {
		name   string
		body   string
		status int
		fields []string
	}{
		{"http refused without private targets", `{"name":"x","url":"http://127.0.0.1:9/"}`, 422, []string{"url"}},
		{"credentials in URL", `{"name":"x","url":"https://u:p@127.0.0.1/"}`, 422, []string{"url"}},
		{"private address", `{"name":"x","url":"https://10.1.2.3/hook"}`, 422, []string{"url"}},
		{"metadata address", `{"name":"x","url":"https://169.254.169.254/latest"}`, 422, []string{"url"}},
		{"internal name", `{"name":"x","url":"https://redis:6379/"}`, 422, []string{"url"}},
		{"missing name and url", `{}`, 422, []string{"name", "url"}},
		{"bad limits", `{"name":"x","url":"` + httpsOK + `","pending_ceiling":0,"dlq_ceiling":-1,"rate_limit_per_sec":-2,"max_in_flight":1000}`,
			422, []string{"pending_ceiling", "dlq_ceiling", "rate_limit_per_sec", "max_in_flight"}},
		{"bad filter", `{"name":"x","url":"` + httpsOK + `","subscription_filter":{"event_types":["nope"],"warehouse_ids":[0],"aggregate_external_id_allowlist":["x"]}}`,
			422, []string{"subscription_filter.event_types", "subscription_filter.warehouse_ids", "subscription_filter.aggregate_external_id_allowlist"}},
		{"bad ordering", `{"name":"x","url":"` + httpsOK + `","ordering":"fifo"}`, 422, []string{"ordering"}},
		{"ordering is case-sensitive", `{"name":"x","url":"` + httpsOK + `","ordering":"Global"}`, 422, []string{"ordering"}},
		{"empty ordering", `{"name":"x","url":"` + httpsOK + `","ordering":""}`, 422, []string{"ordering"}},
		{"ordering of the wrong type", `{"name":"x","url":"` + httpsOK + `","ordering":1}`, 400, nil},
		{"unknown field", `{"name":"x","url":"` + httpsOK + `","secret":"mine"}`, 400, nil},
		{"wrong type", `{"name":"x","url":"` + httpsOK + `","max_in_flight":"4"}`, 400, nil},
		{"not JSON", `name=x`, 400, nil},
		{"two objects", `{"name":"x"}{"name":"y"}`, 400, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.call("POST", "/api/admin/webhooks", tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			var eb errorBody
			if err := json.Unmarshal(b, &eb); err != nil || eb.Error.Message == "" {
				t.Fatalf("error body %s", b)
			}
			for _, f := range tc.fields {
				if eb.Error.Fields[f] == "" {
					t.Errorf("field %s not named: %v", f, eb.Error.Fields)
				}
			}
		})
	}
	// https to loopback is allowed here (the guard exempts 127.0.0.0/8).
	var c createdSub
	e.callJSON("POST", "/api/admin/webhooks", `{"name":"ok","url":"`+httpsOK+`"}`, 201, &c)
	path := fmt.Sprintf("/api/admin/webhooks/%d", c.ID)
	for _, tc := range []struct {
		body   string
		status int
		field  string
	}{
		{`{}`, 422, "body"},
		{`{"status":"stopped"}`, 422, "status"},
		{`{"url":"http://127.0.0.1/"}`, 422, "url"},
		{`{"url":"https://10.0.0.1/"}`, 422, "url"},
		{`{"pending_ceiling":0}`, 422, "pending_ceiling"},
		{`{"ordering":"per_aggregate"}`, 422, "ordering"},
		{`{"subscription_filter":{"event_types":["ship"]}}`, 422, "subscription_filter.event_types"},
		{`{"cursor":5}`, 400, ""},
	} {
		resp, b := e.call("PATCH", path, tc.body)
		if resp.StatusCode != tc.status || (tc.field != "" && !strings.Contains(string(b), `"`+tc.field+`"`)) {
			t.Errorf("PATCH %s: %d %s", tc.body, resp.StatusCode, b)
		}
	}
	for _, p := range []string{"/api/admin/webhooks/999", "/api/admin/webhooks/999/stats", "/api/admin/webhooks/999/dlq",
		"/api/admin/webhooks/999/deliveries/1"} {
		if resp, _ := e.call("GET", p, ""); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
	for _, p := range []string{"/api/admin/webhooks/999/rotate-secret", "/api/admin/webhooks/999/deliveries/1/replay"} {
		if resp, _ := e.call("POST", p, ""); resp.StatusCode != 404 {
			t.Errorf("POST %s: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := e.call("GET", "/api/admin/webhooks/abc", ""); resp.StatusCode != 400 {
		t.Errorf("non-numeric id: %d", resp.StatusCode)
	}
	if resp, b := e.call("GET", path+"/deliveries?status=lost", ""); resp.StatusCode != 422 {
		t.Errorf("bad status filter: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.call("POST", path+"/replay-batch", `{}`); resp.StatusCode != 422 || !strings.Contains(string(b), "from_event_id") {
		t.Errorf("unbounded replay batch: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.call("GET", "/api/admin/webhooks/errors?kind=teapot", ""); resp.StatusCode != 422 {
		t.Errorf("bad kind: %d %s", resp.StatusCode, b)
	}
}

func TestWebhookAPIAuth(t *testing.T) {
	t.Parallel()
	e := newWebhookEnv(t, true)
	reader := e.token(store.ScopeEventsRead)
	for _, tc := range []struct {
		method, path string
		token        string
		want         int
	}{
		{"GET", "/api/admin/webhooks", "", 401},
		{"POST", "/api/admin/webhooks", "", 401},
		{"GET", "/api/admin/webhooks", reader, 403},
		{"GET", "/api/admin/webhooks/errors", reader, 403},
		{"PATCH", "/api/admin/webhooks/1", reader, 403},
		{"GET", "/api/admin/webhooks", e.admin, 200},
	} {
		hdr := map[string]string{"Content-Type": "application/json"}
		if tc.token != "" {
			hdr["X-WMS-Token"] = tc.token
		}
		if resp := e.do(nil, tc.method, tc.path, hdr, strings.NewReader(`{}`)); resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
}

// FuzzParseSubscriptionPatch: whatever the body, decoding and applying a
// PATCH never panics, and an accepted patch yields a subscription that
// passes validation again.
func FuzzParseSubscriptionPatch(f *testing.F) {
	f.Add(`{"status":"paused"}`)
	f.Add(`{"pending_ceiling":100,"dlq_ceiling":5,"subscription_filter":{"event_types":["ship.confirmed"]}}`)
	f.Add(`{"url":"https://example.com/x","rate_limit_per_sec":1e309}`)
	f.Add(`{"name":null,"standard_webhooks":true,"max_in_flight":-1}`)
	f.Add(`[1,2]`)
	cur, err := store.SubscriptionCreate{Name: "erp", URL: "https://example.com/h"}.Normalize(false)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		p, err := ParseSubscriptionPatch([]byte(body))
		if err != nil {
			var we *Error
			if !asError(err, &we) || we.Status != 400 {
				t.Fatalf("parse error %v is not a 400", err)
			}
			return
		}
		next, err := p.Apply(cur, false)
		if err != nil {
			return
		}
		mif, pc, dc, rate := next.MaxInFlight, next.PendingCeiling, next.DLQCeiling, next.RateLimitPerSec
		f := next.Filter
		again := store.SubscriptionCreate{Name: next.Name, URL: next.URL, Filter: &f, MaxInFlight: &mif,
			PendingCeiling: &pc, DLQCeiling: &dc, RateLimitPerSec: &rate}
		if _, err := again.Normalize(false); err != nil {
			t.Fatalf("patch %s accepted, but the result is invalid: %v", body, err)
		}
	})
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	if ok {
		*target = e
	}
	return ok
}

// Once the dispatcher has stopped (shutdown in progress), admin calls
// answer 503 "retry shortly", not 500. (Before it starts they wait for it.)
func TestWebhookAdminWhileDispatcherStopped(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	var key fernet.Key
	if err := key.Generate(); err != nil {
		t.Fatal(err)
	}
	d, err := dispatcher.New(dispatcher.Config{DB: e.db, Vault: vault.New(e.db, &key), Clock: e.clock, AllowHTTP: true,
		Guard: ssrf.New(ssrf.Config{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})})
	if err != nil {
		t.Fatal(err)
	}
	e.s.SetWebhooks(d)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	cancel() // shut down
	<-done
	admin := e.token(store.ScopeAdmin)
	code, _, body := e.api(admin, "POST", "/api/admin/webhooks", map[string]any{"name": "erp", "url": "http://127.0.0.1:9/hook"})
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), `"code":"unavailable"`) {
		t.Fatalf("create while stopped: %d %s", code, body)
	}
}

// TestWebhookAPIOrdering: ordering round-trips through create, GET, list
// and PATCH, defaults to global (the contract's commit order, safe for a
// watermark consumer), and its change is audited.
func TestWebhookAPIOrdering(t *testing.T) {
	t.Parallel()
	e := newWebhookEnv(t, true)
	srv := okServer(t, nil)
	var def, fast createdSub
	e.callJSON("POST", "/api/admin/webhooks", `{"name":"default","url":"`+srv.URL+`"}`, 201, &def)
	e.callJSON("POST", "/api/admin/webhooks", `{"name":"fast","url":"`+srv.URL+`","ordering":"aggregate"}`, 201, &fast)
	if def.Ordering != store.OrderingGlobal || fast.Ordering != store.OrderingAggregate {
		t.Fatalf("created with ordering %q (no ordering given) and %q", def.Ordering, fast.Ordering)
	}
	path := fmt.Sprintf("/api/admin/webhooks/%d", fast.ID)
	var got store.Subscription
	e.callJSON("GET", path, "", 200, &got)
	if got.Ordering != store.OrderingAggregate {
		t.Fatalf("GET ordering %q", got.Ordering)
	}
	var list struct{ Subscriptions []store.Subscription }
	e.callJSON("GET", "/api/admin/webhooks", "", 200, &list)
	if len(list.Subscriptions) != 2 || list.Subscriptions[0].Ordering != store.OrderingGlobal ||
		list.Subscriptions[1].Ordering != store.OrderingAggregate {
		t.Fatalf("list %+v", list.Subscriptions)
	}
	e.callJSON("PATCH", path, `{"ordering":"global"}`, 200, &got)
	if got.Ordering != store.OrderingGlobal {
		t.Fatalf("PATCH ordering %q", got.Ordering)
	}
	e.callJSON("GET", path, "", 200, &got)
	if got.Ordering != store.OrderingGlobal {
		t.Fatalf("GET after PATCH: ordering %q", got.Ordering)
	}
	// A PATCH of another field, or null, leaves it alone.
	e.callJSON("PATCH", path, `{"name":"fast2","ordering":null}`, 200, &got)
	if got.Ordering != store.OrderingGlobal || got.Name != "fast2" {
		t.Fatalf("unrelated PATCH: %+v", got)
	}
	entries, err := e.db.ListAudit(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var created, changed bool
	for _, a := range entries {
		switch {
		case a.Action == "webhook.create" && strings.Contains(string(a.Diff), `"ordering":"global"`):
			created = true
		case a.Action == "webhook.update" && strings.Contains(string(a.Diff), `"ordering":{"from":"aggregate","to":"global"}`):
			changed = true
		}
	}
	if !created || !changed {
		t.Fatalf("audit: create with ordering %v, ordering change %v: %+v", created, changed, entries)
	}
}
