package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"sentryhub/clock"
	"sentryhub/store"
	"sentryhub/store/storetest"
)

type testEnv struct {
	t     testing.TB
	db    *store.DB
	clock *clock.Fake
	srv   *httptest.Server
	s     *Server
}

func newTestEnv(t testing.TB) *testEnv { return newAuthEnv(t, nil) }

// newTestDB opens a migrated store in a temp dir on a fake clock; opts
// come after (and so override) the defaults below.
func newTestDB(t testing.TB, opts ...store.Option) (*store.DB, *clock.Fake) {
	t.Helper()
	db := storetest.Open(t, filepath.Join(t.TempDir(), "hub.db"), append([]store.Option{store.WithAuditKey(store.DeriveAuditKey([]byte("test"))),
		// The least argon2id cost: 64 MiB a login would be most of these
		// tests' CPU, and they test sessions and throttling, not the hash.
		store.WithPasswordHashing(store.PasswordHashing{MemoryKiB: 8, Threads: 1})}, opts...)...)
	fc := clock.NewFake(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	db.Now = fc.Now
	return db, fc
}

func (e *testEnv) user(email, role string) {
	e.t.Helper()
	if _, err := e.db.CreateUser(context.Background(), "test", email, role, "correct horse battery"); err != nil {
		e.t.Fatal(err)
	}
}

func (e *testEnv) token(scopes ...string) string {
	e.t.Helper()
	tok, _, err := e.db.CreateToken(context.Background(), "test", "t", scopes)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// browser is a client with a cookie jar that does not follow redirects and
// sends Origin like a browser on this site.
func (e *testEnv) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (e *testEnv) do(c *http.Client, method, path string, hdr map[string]string, body io.Reader) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (e *testEnv) login(c *http.Client, email, password string) *http.Response {
	form := url.Values{"email": {email}, "password": {password}}
	return e.do(c, "POST", "/login", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": e.srv.URL}, strings.NewReader(form.Encode()))
}

func decodeErr(t *testing.T, resp *http.Response) errorDetail {
	t.Helper()
	var b errorBody
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatalf("error body is not the JSON envelope: %v", err)
	}
	return b.Error
}

func TestAPIAuth(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.user("admin@example.com", store.RoleAdmin)
	e.user("viewer@example.com", store.RoleViewer)
	admin := e.token(store.ScopeAdmin)
	reader := e.token(store.ScopeEventsRead)
	adminBrowser, viewerBrowser := e.browser(), e.browser()
	if r := e.login(adminBrowser, "admin@example.com", "correct horse battery"); r.StatusCode != 303 {
		t.Fatalf("admin login: %d", r.StatusCode)
	}
	if r := e.login(viewerBrowser, "viewer@example.com", "correct horse battery"); r.StatusCode != 303 {
		t.Fatalf("viewer login: %d", r.StatusCode)
	}
	for _, tc := range []struct {
		name   string
		client *http.Client
		token  string
		want   int
		code   string
	}{
		{"no credentials", nil, "", 401, "unauthorized"},
		{"unknown token", nil, "shub_nope", 401, "unauthorized"},
		{"malformed token", nil, "Bearer x", 401, "unauthorized"},
		{"wrong scope", nil, reader, 403, "forbidden"},
		{"admin token", nil, admin, 200, ""},
		{"admin session", adminBrowser, "", 200, ""},
		{"viewer session", viewerBrowser, "", 403, "forbidden"},
		{"bad token beats good cookie", adminBrowser, "shub_nope", 401, "unauthorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.token != "" {
				hdr["X-WMS-Token"] = tc.token
			}
			resp := e.do(tc.client, "GET", "/api/admin/audit", hdr, nil)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.code != "" {
				if got := decodeErr(t, resp); got.Code != tc.code || got.Message == "" {
					t.Fatalf("error %+v", got)
				}
			}
		})
	}
}

func TestTokenAPI(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	admin := e.token(store.ScopeAdmin)
	h := map[string]string{"X-WMS-Token": admin, "Content-Type": "application/json"}

	resp := e.do(nil, "POST", "/api/admin/tokens", h, strings.NewReader(`{"name":"erp","scopes":["inbound:write","events:read"]}`))
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	var created struct {
		Token string `json:"token"`
		ID    int64  `json:"id"`
	}
	json.NewDecoder(resp.Body).Decode(&created)
	if !strings.HasPrefix(created.Token, store.TokenPrefix) || len(created.Token) < len(store.TokenPrefix)+43 {
		t.Fatalf("token %q is not 32 random bytes", created.Token)
	}

	// The new token works, and its list entry never includes it.
	if r := e.do(nil, "GET", "/api/admin/tokens", map[string]string{"X-WMS-Token": created.Token}, nil); r.StatusCode != 403 {
		t.Fatalf("non-admin token listing tokens: %d", r.StatusCode)
	}
	list := e.do(nil, "GET", "/api/admin/tokens", h, nil)
	body, _ := io.ReadAll(list.Body)
	if strings.Contains(string(body), created.Token) || !strings.Contains(string(body), `"erp"`) {
		t.Fatalf("token list: %s", body)
	}
	// last_used_at is recorded.
	toks, _ := e.db.ListTokens(context.Background())
	for _, tk := range toks {
		if tk.ID == created.ID && tk.LastUsedAt == nil {
			t.Fatal("last_used_at not recorded")
		}
	}

	for _, tc := range []struct {
		name, body string
		want       int
		field      string
	}{
		{"unknown scope", `{"name":"x","scopes":["root"]}`, 422, "scopes"},
		{"no scopes", `{"name":"x","scopes":[]}`, 422, "scopes"},
		{"no name", `{"scopes":["admin"]}`, 422, "name"},
		{"unknown field", `{"name":"x","scopes":["admin"],"admin":true}`, 400, ""},
		{"not json", `name=x`, 400, ""},
		{"two objects", `{"name":"x","scopes":["admin"]}{}`, 400, ""},
		{"too large", `{"name":"` + strings.Repeat("x", 5000) + `","scopes":["admin"]}`, 413, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := e.db.ListTokens(context.Background())
			r := e.do(nil, "POST", "/api/admin/tokens", h, strings.NewReader(tc.body))
			if r.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", r.StatusCode, tc.want)
			}
			d := decodeErr(t, r)
			if tc.field != "" && d.Fields[tc.field] == "" {
				t.Fatalf("error does not name field %s: %+v", tc.field, d)
			}
			after, _ := e.db.ListTokens(context.Background())
			if len(after) != len(before) {
				t.Fatal("a refused request created a token")
			}
		})
	}

	if r := e.do(nil, "DELETE", "/api/admin/tokens/"+itoa(created.ID), h, nil); r.StatusCode != 204 {
		t.Fatalf("revoke: %d", r.StatusCode)
	}
	if r := e.do(nil, "DELETE", "/api/admin/tokens/"+itoa(created.ID), h, nil); r.StatusCode != 404 {
		t.Fatalf("second revoke: %d", r.StatusCode)
	}
	if r := e.do(nil, "DELETE", "/api/admin/tokens/abc", h, nil); r.StatusCode != 400 {
		t.Fatalf("bad id: %d", r.StatusCode)
	}
	if r := e.do(nil, "GET", "/api/admin/audit", map[string]string{"X-WMS-Token": created.Token}, nil); r.StatusCode != 401 {
		t.Fatalf("revoked token: %d", r.StatusCode)
	}

	// The audit log recorded create and revoke, never the token itself.
	r := e.do(nil, "GET", "/api/admin/audit?limit=500", h, nil)
	all, _ := io.ReadAll(r.Body)
	if !strings.Contains(string(all), "token.create") || !strings.Contains(string(all), "token.revoke") || strings.Contains(string(all), created.Token) {
		t.Fatalf("audit: %s", all)
	}
}

func TestAuditPaging(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	admin := e.token(store.ScopeAdmin)
	for range 7 {
		e.token(store.ScopeEventsRead)
	}
	h := map[string]string{"X-WMS-Token": admin}
	var seen []int64
	path := "/api/admin/audit?limit=3"
	for path != "" {
		var page struct {
			Entries    []store.AuditEntry `json:"entries"`
			NextBefore int64              `json:"next_before"`
		}
		json.NewDecoder(e.do(nil, "GET", path, h, nil).Body).Decode(&page)
		for _, en := range page.Entries {
			seen = append(seen, en.ID)
		}
		path = ""
		if page.NextBefore > 0 {
			path = "/api/admin/audit?limit=3&before=" + itoa(page.NextBefore)
		}
	}
	if len(seen) != 8 || seen[0] != 8 || seen[7] != 1 {
		t.Fatalf("paged ids %v", seen)
	}
	for _, q := range []string{"limit=0", "limit=501", "limit=x", "before=-1"} {
		r := e.do(nil, "GET", "/api/admin/audit?"+q, h, nil)
		if r.StatusCode != 400 {
			t.Fatalf("%s: %d", q, r.StatusCode)
		}
		if d := decodeErr(t, r); len(d.Fields) == 0 {
			t.Fatalf("%s: error does not name the parameter", q)
		}
	}
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.user("a@example.com", store.RoleAdmin)
	c := e.browser()
	if r := e.login(c, "a@example.com", "correct horse battery"); r.StatusCode != 303 || r.Header.Get("Location") != "/" {
		t.Fatalf("login: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, ck := range c.Jar.Cookies(mustURL(e.srv.URL)) {
		if ck.Name == sessionName {
			cookie = ck
		}
	}
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	// The jar hides attributes; check them on a fresh login response.
	r := e.login(e.browser(), "a@example.com", "correct horse battery")
	sc := r.Header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Max-Age=43200"} {
		if !strings.Contains(sc, attr) {
			t.Fatalf("cookie %q lacks %s", sc, attr)
		}
	}
	if strings.Contains(sc, "Secure") {
		t.Fatal("Secure set on an http base URL")
	}

	ok := func() int { return e.do(c, "GET", "/", nil, nil).StatusCode }
	if ok() != 200 {
		t.Fatal("dashboard not reachable after login")
	}
	// Active use slides the idle window: 3 x 90 minutes is past 2h idle but each
	// request is within it.
	for range 3 {
		e.clock.Advance(90 * time.Minute)
		if ok() != 200 {
			t.Fatal("active session expired early")
		}
	}
	e.clock.Advance(2*time.Hour + time.Minute)
	if code := ok(); code != 303 {
		t.Fatalf("idle session still valid: %d", code)
	}

	// Absolute expiry: a session in constant use still ends after 12h.
	c2 := e.browser()
	e.login(c2, "a@example.com", "correct horse battery")
	for range 11 {
		e.clock.Advance(time.Hour)
		if e.do(c2, "GET", "/", nil, nil).StatusCode != 200 {
			t.Fatal("session expired before the absolute limit")
		}
	}
	e.clock.Advance(61 * time.Minute)
	if e.do(c2, "GET", "/", nil, nil).StatusCode != 303 {
		t.Fatal("session outlived the absolute limit")
	}

	// Logout ends the session.
	c3 := e.browser()
	e.login(c3, "a@example.com", "correct horse battery")
	e.do(c3, "POST", "/logout", map[string]string{"Origin": e.srv.URL}, nil)
	if e.do(c3, "GET", "/", nil, nil).StatusCode != 303 {
		t.Fatal("session valid after logout")
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestLoginThrottling(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.user("a@example.com", store.RoleAdmin)
	e.user("b@example.com", store.RoleAdmin)
	for i := range 3 {
		if r := e.login(e.browser(), "a@example.com", "wrong password!!"); r.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, r.StatusCode)
		}
	}
	// The account is locked even with the right password.
	r := e.login(e.browser(), "a@example.com", "correct horse battery")
	if r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("locked account: %d", r.StatusCode)
	}
	// Another account from the same address still works (2 more failures left
	// on the address budget of 5).
	if r := e.login(e.browser(), "b@example.com", "correct horse battery"); r.StatusCode != 303 {
		t.Fatalf("other account: %d", r.StatusCode)
	}
	// Per-address limit: failures spread over accounts lock the address.
	e.login(e.browser(), "c@example.com", "x")
	e.login(e.browser(), "d@example.com", "x")
	if r := e.login(e.browser(), "b@example.com", "correct horse battery"); r.StatusCode != 429 {
		t.Fatalf("address not throttled: %d", r.StatusCode)
	}
	// After the window the lock lifts.
	e.clock.Advance(16 * time.Minute)
	if r := e.login(e.browser(), "a@example.com", "correct horse battery"); r.StatusCode != 303 {
		t.Fatalf("after window: %d", r.StatusCode)
	}
}

func TestCrossOriginProtection(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.user("a@example.com", store.RoleAdmin)
	c := e.browser()
	e.login(c, "a@example.com", "correct horse battery")
	form := strings.NewReader(url.Values{"name": {"x"}, "scope": {"admin"}}.Encode())
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"foreign origin", map[string]string{"Origin": "https://evil.example"}, 403},
		{"same origin", map[string]string{"Sec-Fetch-Site": "same-origin"}, 303},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.hdr["Content-Type"] = "application/x-www-form-urlencoded"
			form.Seek(0, io.SeekStart)
			if r := e.do(c, "POST", "/tokens", tc.hdr, form); r.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", r.StatusCode, tc.want)
			}
		})
	}
	toks, _ := e.db.ListTokens(context.Background())
	if len(toks) != 1 {
		t.Fatalf("%d tokens created, want exactly the same-origin one", len(toks))
	}
}

func TestRequestIDAndShell(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	const id = "6f9e7c6a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
	if got := e.do(nil, "GET", "/healthz", map[string]string{"X-Request-ID": id}, nil).Header.Get("X-Request-ID"); got != id {
		t.Fatalf("valid request id not echoed: %q", got)
	}
	got := e.do(nil, "GET", "/healthz", map[string]string{"X-Request-ID": "<script>"}, nil).Header.Get("X-Request-ID")
	if got == "<script>" || len(got) != 36 {
		t.Fatalf("invalid request id not replaced: %q", got)
	}
	if r := e.do(nil, "GET", "/readyz", nil, nil); r.StatusCode != 200 {
		t.Fatalf("readyz %d", r.StatusCode)
	}
	r := e.do(nil, "GET", "/api/nope", nil, nil)
	if r.StatusCode != 404 || decodeErr(t, r).Code != "not_found" {
		t.Fatalf("unknown api path: %d", r.StatusCode)
	}
	m := e.do(nil, "GET", "/metrics", nil, nil)
	body, _ := io.ReadAll(m.Body)
	if !strings.Contains(string(body), `sentryhub_http_requests_total{code="404",method="GET",route="/api/"}`) {
		t.Fatalf("metrics lack request counter:\n%.2000s", body)
	}
	css := e.do(nil, "GET", "/static/app.css", nil, nil)
	if css.StatusCode != 200 || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("static css: %d %s", css.StatusCode, css.Header.Get("Content-Type"))
	}
}

func TestReadyzFailsWhenDatabaseGone(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.db.Close()
	r := e.do(nil, "GET", "/readyz", nil, nil)
	body, _ := io.ReadAll(r.Body)
	if r.StatusCode != 503 {
		t.Fatalf("readyz with closed db: %d", r.StatusCode)
	}
	// Public endpoint: no driver or path detail in the body.
	if strings.Contains(string(body), "sql") || strings.Contains(string(body), e.db.Path) {
		t.Fatalf("readyz leaks internals: %s", body)
	}
	if r := e.do(nil, "GET", "/healthz", nil, nil); r.StatusCode != 200 {
		t.Fatalf("healthz: %d", r.StatusCode)
	}
}

// TestUIPages renders each page through the real router and checks its
// structure with an HTML parser.
func TestUIPages(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.user("a@example.com", store.RoleAdmin)
	e.user("v@example.com", store.RoleViewer)
	if r := e.do(e.browser(), "GET", "/tokens", nil, nil); r.StatusCode != 303 || !strings.HasPrefix(r.Header.Get("Location"), "/login?next=%2Ftokens") {
		t.Fatalf("anonymous page: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	login := parse(t, e.do(nil, "GET", "/login", nil, nil))
	if find(login, "input", "id", "password") == nil || find(login, "button", "id", "login-submit") == nil {
		t.Fatal("login form incomplete")
	}

	c := e.browser()
	form := url.Values{"email": {"a@example.com"}, "password": {"correct horse battery"}, "next": {"//evil.example/x"}}
	r := e.do(c, "POST", "/login", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": e.srv.URL}, strings.NewReader(form.Encode()))
	if r.Header.Get("Location") != "/" {
		t.Fatalf("open redirect: %q", r.Header.Get("Location"))
	}

	hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": e.srv.URL}
	// Post/redirect/get: the POST answers 303 to the list, which shows
	// the token once; reloading repeats only the GET.
	post := e.do(c, "POST", "/tokens", hdr, strings.NewReader("name=erp&scope=events:read&scope=inbound:write"))
	if post.StatusCode != 303 || post.Header.Get("Location") != "/tokens" {
		t.Fatalf("create token: %d to %q, want 303 to /tokens", post.StatusCode, post.Header.Get("Location"))
	}
	created := parse(t, e.do(c, "GET", "/tokens", nil, nil))
	val := find(created, "code", "id", "new-token-value")
	if val == nil || !strings.HasPrefix(text(val), store.TokenPrefix) {
		t.Fatal("created token not shown")
	}
	if _, err := e.db.LookupToken(context.Background(), text(val)); err != nil {
		t.Fatalf("shown token does not work: %v", err)
	}
	again := parse(t, e.do(c, "GET", "/tokens", nil, nil))
	if find(again, "code", "id", "new-token-value") != nil {
		t.Fatal("token shown a second time")
	}
	bad := e.do(c, "POST", "/tokens", hdr, strings.NewReader("name=erp"))
	if bad.StatusCode != 422 {
		t.Fatalf("token without scope: %d", bad.StatusCode)
	}

	audit := parse(t, e.do(c, "GET", "/audit", nil, nil))
	if st := find(audit, "div", "id", "chain-status"); st == nil || !strings.Contains(text(st), "verified") {
		t.Fatal("audit page lacks chain status")
	}
	if !strings.Contains(text(find(audit, "table", "id", "audit")), "token.create") {
		t.Fatal("audit page lacks entries")
	}
	dash := parse(t, e.do(c, "GET", "/", nil, nil))
	if text(find(dash, "div", "id", "stat-tokens")) != "1" {
		t.Fatal("dashboard token count wrong")
	}

	// Viewers see pages but cannot change anything.
	v := e.browser()
	e.login(v, "v@example.com", "correct horse battery")
	vp := parse(t, e.do(v, "GET", "/tokens", nil, nil))
	if find(vp, "button", "id", "create-token") != nil {
		t.Fatal("viewer sees the create form")
	}
	if r := e.do(v, "POST", "/tokens", hdr, strings.NewReader("name=x&scope=admin")); r.StatusCode != 403 {
		t.Fatalf("viewer created a token: %d", r.StatusCode)
	}
}

func parse(t *testing.T, r *http.Response) *html.Node {
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

func find(n *html.Node, tag, attr, val string) *html.Node {
	if n == nil {
		return nil
	}
	if n.Type == html.ElementNode && n.Data == tag {
		for _, a := range n.Attr {
			if a.Key == attr && a.Val == val {
				return n
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := find(c, tag, attr, val); f != nil {
			return f
		}
	}
	return nil
}

func text(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}

// Unknown API paths are 404; known paths with a wrong method are 405 with
// Allow naming the methods that work. Both in the JSON error shape.
func TestAPIFallback(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	tok := e.token(store.ScopeAdmin)
	for _, tc := range []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"PUT", "/api/v1/warehouses", 405, "method_not_allowed", "GET, POST"},
		{"DELETE", "/api/admin/audit", 405, "method_not_allowed", "GET"},
		{"POST", "/api/v1/sales-orders/0f7c1b9e-4a41-4f2b-9d7e-1c6c0f3a2e55", 405, "method_not_allowed", "GET"},
		{"GET", "/api/v1/nope", 404, "not_found", ""},
		{"GET", "/api/", 404, "not_found", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			code, hdr, body := e.api(tok, tc.method, tc.path, nil)
			if code != tc.status || !strings.Contains(string(body), `"code":"`+tc.code+`"`) {
				t.Fatalf("%d %s", code, body)
			}
			if got := hdr.Get("Allow"); got != tc.allow {
				t.Fatalf("Allow %q, want %q", got, tc.allow)
			}
		})
	}
}
