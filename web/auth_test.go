package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/html"

	"sentryhub/clock"
	"sentryhub/store"
)

// newAuthEnv is newTestEnv with a config adjusted by tune before the server
// is built.
func newAuthEnv(t testing.TB, tune func(*Config), dbOpts ...store.Option) *testEnv {
	t.Helper()
	db, fc := newTestDB(t, dbOpts...)
	cfg := Config{SessionSecret: []byte("0123456789abcdef0123456789abcdef"), LoginFailuresPerAccount: 3, LoginFailuresPerAddr: 5, MaxBodyBytes: 4096}
	if tune != nil {
		tune(&cfg)
	}
	s, err := New(cfg, db, slog.New(slog.NewTextHandler(io.Discard, nil)), fc, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &testEnv{t: t, db: db, clock: fc, srv: srv, s: s}
}

// loginAs posts the login form with a fresh client (no cookies) and
// returns the status.
func (e *testEnv) loginStatus(email, password string) (int, http.Header) {
	req, err := http.NewRequest("POST", e.srv.URL+"/login", strings.NewReader(url.Values{"email": {email}, "password": {password}}.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.srv.URL)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		e.t.Error(err)
		return 0, nil
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// 100 parallel wrong-password logins from one address: at most the
// allowance is ever checked, at most LoginConcurrency checks run at once,
// everything else is refused at once with 429 or 503, and the process
// stays far from the 6 GB the unbounded checks used to take.
//
// Serial on purpose (no t.Parallel, nor in its subtests): it measures the
// whole process's memory (Sys, HeapInuse), which other tests' allocations
// running alongside would add to, and it stops the world every 2 ms to
// sample it. Serial tests finish before the parallel ones start.
func TestParallelLoginsAreBounded(t *testing.T) {
	const parallel = 100
	for _, tc := range []struct {
		name           string
		email          func(i int) string
		slots, perAddr int
		allowed        int // most checks the throttles allow
	}{
		// One known account: its own limit (3) binds; two slots.
		{"one account", func(int) string { return "a@example.com" }, 2, 5, 3},
		// A different unknown email each time (the dummy-hash path): the
		// semaphore binds before the address limit...
		{"unknown emails, semaphore binds", func(i int) string { return "nobody" + itoa(int64(i)) + "@example.com" }, 2, 5, 5},
		// ...or the address limit binds before the semaphore.
		{"unknown emails, address limit binds", func(i int) string { return "nobody" + itoa(int64(i)) + "@example.com" }, 4, 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Production's 64 MiB hashes: the bound on memory is the point.
			e := newAuthEnv(t, func(c *Config) { c.LoginFailuresPerAddr = tc.perAddr; c.LoginConcurrency = tc.slots },
				store.WithPasswordHashing(store.DefaultPasswordHashing()))
			e.user("a@example.com", store.RoleAdmin)
			var peak int
			var mu sync.Mutex
			e.s.logins.beforeCheck = func() {
				mu.Lock()
				peak = max(peak, len(e.s.logins.slots))
				mu.Unlock()
			}

			// Memory: Sys (all the process took from the OS) before and
			// after, and HeapInuse sampled while the logins run.
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			stop, sampled := make(chan struct{}), make(chan uint64)
			go func() {
				tick := time.NewTicker(2 * time.Millisecond)
				defer tick.Stop()
				var ms runtime.MemStats
				var top uint64
				for {
					select {
					case <-stop:
						sampled <- top
						return
					case <-tick.C:
						runtime.ReadMemStats(&ms)
						top = max(top, ms.HeapInuse)
					}
				}
			}()

			start := make(chan struct{})
			type answer struct {
				code  int
				retry string
			}
			answers := make(chan answer, parallel)
			var wg sync.WaitGroup
			for i := range parallel {
				wg.Go(func() {
					<-start
					code, hdr := e.loginStatus(tc.email(i), "wrong password!!")
					answers <- answer{code, hdr.Get("Retry-After")}
				})
			}
			close(start)
			wg.Wait()
			close(stop)
			peakHeap := <-sampled
			runtime.ReadMemStats(&after)
			close(answers)

			count := map[int]int{}
			for a := range answers {
				count[a.code]++
				if a.code != http.StatusUnauthorized && a.retry == "" {
					t.Errorf("%d without Retry-After", a.code)
				}
			}
			checks := int(e.s.logins.checks.Load())
			sysGrew := (int64(after.Sys) - int64(before.Sys)) >> 20
			heapGrew := (int64(peakHeap) - int64(before.HeapInuse)) >> 20
			t.Logf("statuses %v; password checks %d (allowed %d); peak concurrent checks %d of %d; Sys %+d MiB; peak HeapInuse %+d MiB",
				count, checks, tc.allowed, peak, tc.slots, sysGrew, heapGrew)
			if checks < 1 || checks > tc.allowed {
				t.Fatalf("%d password checks, want 1..%d", checks, tc.allowed)
			}
			if count[http.StatusUnauthorized] != checks {
				t.Fatalf("%d checks but %d answered 401", checks, count[http.StatusUnauthorized])
			}
			if count[http.StatusUnauthorized]+count[http.StatusTooManyRequests]+count[http.StatusServiceUnavailable] != parallel {
				t.Fatalf("unexpected statuses %v", count)
			}
			if peak > tc.slots {
				t.Fatalf("%d checks ran at once, bound is %d", peak, tc.slots)
			}
			// By construction the checks hold at most slots x 64 MiB; the
			// unbounded code took 100 x 64 MiB.
			if sysGrew > 300 || heapGrew > 300 {
				t.Fatalf("memory grew by %d MiB (Sys), %d MiB (peak heap); bound 300", sysGrew, heapGrew)
			}
		})
	}
}

// With every hashing slot taken, a login is refused at once with 503 and
// Retry-After, whatever its email, and its throttle slot is given back (no
// password was judged, so it must not lock anyone out).
func TestLoginBusyRefusesAtOnce(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, func(c *Config) { c.LoginConcurrency = 1 })
	e.user("a@example.com", store.RoleAdmin)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.s.logins.beforeCheck = func() {
		once.Do(func() {
			close(entered)
			<-release
		})
	}
	first := make(chan int, 1)
	go func() {
		code, _ := e.loginStatus("a@example.com", "correct horse battery")
		first <- code
	}()
	<-entered
	// More refusals than the address allows failures (5): were the slots
	// not given back, the last would be 429.
	for i := range 8 {
		email := "a@example.com"
		if i%2 == 1 {
			email = "unknown@example.com" // the dummy-hash path waits in the same line
		}
		code, hdr := e.loginStatus(email, "wrong password!!")
		if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
			t.Fatalf("login %d while busy: %d, Retry-After %q", i, code, hdr.Get("Retry-After"))
		}
	}
	if n := e.s.logins.checks.Load(); n != 1 {
		t.Fatalf("%d checks ran, want only the one holding the slot", n)
	}
	close(release)
	if code := <-first; code != http.StatusSeeOther {
		t.Fatalf("the login holding the slot: %d", code)
	}
	// The refused attempts cost nothing: the account still has its full
	// allowance of 3 failures before a lock.
	for i := range 3 {
		if code, _ := e.loginStatus("a@example.com", "wrong password!!"); code != http.StatusUnauthorized {
			t.Fatalf("failure %d after the busy spell: %d", i, code)
		}
	}
	if code, _ := e.loginStatus("a@example.com", "correct horse battery"); code != http.StatusTooManyRequests {
		t.Fatalf("fourth attempt: %d, want 429", code)
	}
}

// The throttle's check and record are one step: of many parallel
// reservations exactly the limit pass. A release gives one back, a reset
// all of them.
func TestThrottleReserveIsAtomic(t *testing.T) {
	t.Parallel()
	fc := clock.NewFake(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	th := newThrottle(fc, 5, 15*time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var granted []time.Time
	for range 200 {
		wg.Go(func() {
			if at, _, ok := th.reserve("k"); ok {
				mu.Lock()
				granted = append(granted, at)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(granted) != 5 {
		t.Fatalf("%d of 200 parallel reservations passed, limit 5", len(granted))
	}
	_, wait, ok := th.reserve("k")
	if ok || wait != 15*time.Minute {
		t.Fatalf("over the limit: ok %v wait %v", ok, wait)
	}
	th.release("k", granted[0])
	if _, _, ok := th.reserve("k"); !ok {
		t.Fatal("a released slot is not available again")
	}
	if _, _, ok := th.reserve("k"); ok {
		t.Fatal("release gave back more than one slot")
	}
	th.reset("k")
	if _, _, ok := th.reserve("k"); !ok {
		t.Fatal("reset did not clear the key")
	}
	fc.Advance(16 * time.Minute)
	th.reset("k")
	for range 5 {
		th.reserve("other")
	}
	fc.Advance(16 * time.Minute)
	if _, _, ok := th.reserve("other"); !ok {
		t.Fatal("attempts did not age out")
	}
}

// Successful logins give the address its slot back, so people behind one
// address are not locked out by logging in.
func TestSuccessfulLoginsDoNotLockTheAddress(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, nil)
	e.user("a@example.com", store.RoleAdmin)
	for i := range 12 { // the address allows 5
		if code, _ := e.loginStatus("a@example.com", "correct horse battery"); code != http.StatusSeeOther {
			t.Fatalf("login %d: %d", i, code)
		}
	}
}

func sessionCookie(t *testing.T, e *testEnv, c *http.Client) *http.Cookie {
	t.Helper()
	for _, ck := range c.Jar.Cookies(mustURL(e.srv.URL)) {
		if ck.Name == sessionName {
			return ck
		}
	}
	t.Fatal("no session cookie")
	return nil
}

// A cookie copied before logout opens nothing afterwards: not the UI, not
// the token form, not the admin API.
func TestCopiedCookieDiesAtLogout(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.user("a@example.com", store.RoleAdmin)
	c := e.browser()
	if r := e.login(c, "a@example.com", "correct horse battery"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", r.StatusCode)
	}
	stolen := sessionCookie(t, e, c)
	withStolen := func(method, path string, hdr map[string]string, body string) *http.Response {
		if hdr == nil {
			hdr = map[string]string{}
		}
		hdr["Cookie"] = stolen.Name + "=" + stolen.Value
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		return e.do(e.browser(), method, path, hdr, rd)
	}
	if r := withStolen("GET", "/", nil, ""); r.StatusCode != http.StatusOK {
		t.Fatalf("copied cookie before logout: %d", r.StatusCode)
	}
	if r := e.do(c, "POST", "/logout", map[string]string{"Origin": e.srv.URL}, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	if r := withStolen("GET", "/", nil, ""); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Fatalf("copied cookie opens the UI after logout: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": e.srv.URL}
	if r := withStolen("POST", "/tokens", form, "name=x&scope=admin"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("copied cookie on the token form after logout: %d", r.StatusCode)
	}
	if r := withStolen("GET", "/api/admin/tokens", nil, ""); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("copied cookie on the API after logout: %d", r.StatusCode)
	}
	if r := withStolen("POST", "/api/admin/tokens", map[string]string{"Content-Type": "application/json", "Origin": e.srv.URL},
		`{"name":"x","scopes":["admin"]}`); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("copied cookie creates tokens after logout: %d", r.StatusCode)
	}
	if toks, _ := e.db.ListTokens(context.Background()); len(toks) != 0 {
		t.Fatalf("%d tokens created with a logged-out cookie", len(toks))
	}
}

// A new password ends the sessions opened with the old one.
func TestPasswordChangeEndsSessions(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.user("a@example.com", store.RoleAdmin)
	c := e.browser()
	e.login(c, "a@example.com", "correct horse battery")
	if r := e.do(c, "GET", "/", nil, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("before: %d", r.StatusCode)
	}
	u, _ := e.db.UserByEmail(context.Background(), "a@example.com")
	if err := e.db.SetPassword(context.Background(), "test", u.ID, "a brand new password"); err != nil {
		t.Fatal(err)
	}
	if r := e.do(c, "GET", "/", nil, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("session survived a password change: %d", r.StatusCode)
	}
}

// sessionUser never answers "no user, no error".
func TestSessionUserWithoutSession(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	for name, cookie := range map[string]string{"none": "", "garbage": sessionName + "=garbage"} {
		r := httptest.NewRequest("GET", "/", nil)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		if _, _, err := e.s.sessionUser(r); !errors.Is(err, errUnauthorized) {
			t.Errorf("%s: %v, want errUnauthorized", name, err)
		}
	}
}

// An admin lists and revokes a user's sessions over the API.
func TestSessionAdminAPI(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.user("a@example.com", store.RoleAdmin)
	e.user("v@example.com", store.RoleViewer)
	admin := e.token(store.ScopeAdmin)
	v, _ := e.db.UserByEmail(context.Background(), "v@example.com")
	b1, b2 := e.browser(), e.browser()
	for _, b := range []*http.Client{b1, b2} {
		if r := e.login(b, "v@example.com", "correct horse battery"); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %d", r.StatusCode)
		}
	}
	base := "/api/admin/users/" + itoa(v.ID) + "/sessions"
	code, _, body := e.api(admin, "GET", base, nil)
	var list struct {
		Sessions []store.Session `json:"sessions"`
	}
	if err := json.Unmarshal(body, &list); err != nil || code != 200 || len(list.Sessions) != 2 {
		t.Fatalf("list: %d %s", code, body)
	}
	if s := list.Sessions[0]; s.Status != store.SessionActive || s.UserAgent == "" || s.IP != "127.0.0.1" || s.UserEmail != "v@example.com" {
		t.Fatalf("session %+v", s)
	}
	if strings.Contains(string(body), sessionCookie(t, e, b1).Value) {
		t.Fatal("listing shows a cookie")
	}
	// Revoke the newest (b2's): b2 is out, b1 still in.
	newest := itoa(list.Sessions[0].ID)
	if code, _, body := e.api(admin, "DELETE", base+"/"+newest, nil); code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if r := e.do(b2, "GET", "/", nil, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoked session still open: %d", r.StatusCode)
	}
	if r := e.do(b1, "GET", "/", nil, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("the other session ended: %d", r.StatusCode)
	}
	if code, _, _ := e.api(admin, "DELETE", base+"/"+newest, nil); code != http.StatusNotFound {
		t.Fatalf("second revoke: %d", code)
	}
	code, _, body = e.api(admin, "DELETE", base, nil)
	if code != http.StatusOK || !strings.Contains(string(body), `"revoked":1`) {
		t.Fatalf("revoke all: %d %s", code, body)
	}
	if r := e.do(b1, "GET", "/", nil, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("session open after revoke all: %d", r.StatusCode)
	}
	for _, p := range []string{"/api/admin/users/999/sessions", "/api/admin/users/999/sessions/1"} {
		method := "DELETE"
		if code, _, _ := e.api(admin, method, p, nil); code != http.StatusNotFound {
			t.Fatalf("%s %s: %d", method, p, code)
		}
	}
	if code, _, _ := e.api(admin, "GET", "/api/admin/users/999/sessions", nil); code != http.StatusNotFound {
		t.Fatalf("list for unknown user: %d", code)
	}
	if code, _, _ := e.api(admin, "GET", "/api/admin/users/x/sessions", nil); code != http.StatusBadRequest {
		t.Fatalf("bad id: %d", code)
	}
	entries, _ := e.db.ListAudit(context.Background(), 0, 2)
	if entries[0].Action != "session.revoke_all" || entries[1].Action != "session.revoke" || entries[0].Actor == "" {
		t.Fatalf("audit: %+v", entries)
	}
}

// The Sessions page: an admin sees everyone's sessions and revokes them; a
// viewer sees and revokes only their own.
func TestSessionsPage(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.user("a@example.com", store.RoleAdmin)
	e.user("v@example.com", store.RoleViewer)
	a, v := e.browser(), e.browser()
	e.login(a, "a@example.com", "correct horse battery")
	e.login(v, "v@example.com", "correct horse battery")
	au, _ := e.db.UserByEmail(context.Background(), "a@example.com")
	vu, _ := e.db.UserByEmail(context.Background(), "v@example.com")
	form := map[string]string{"Origin": e.srv.URL}

	page := parse(t, e.do(a, "GET", "/sessions", nil, nil))
	if find(page, "section", "id", "user-"+itoa(au.ID)) == nil || find(page, "section", "id", "user-"+itoa(vu.ID)) == nil {
		t.Fatal("admin does not see both users' sessions")
	}
	if !strings.Contains(text(find(page, "section", "id", "user-"+itoa(au.ID))), "this session") {
		t.Fatal("admin's own session is not marked")
	}
	vp := parse(t, e.do(v, "GET", "/sessions", nil, nil))
	if find(vp, "section", "id", "user-"+itoa(au.ID)) != nil || find(vp, "section", "id", "user-"+itoa(vu.ID)) == nil {
		t.Fatal("viewer sees other users' sessions, or not their own")
	}
	if r := e.do(v, "POST", "/users/"+itoa(au.ID)+"/sessions/revoke", form, nil); r.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer revoked the admin's sessions: %d", r.StatusCode)
	}
	if r := e.do(a, "GET", "/", nil, nil); r.StatusCode != http.StatusOK {
		t.Fatal("admin logged out by a viewer")
	}
	// The admin revokes the viewer's session.
	list, _ := e.db.ListSessions(context.Background(), store.SessionFilter{UserID: vu.ID, ActiveOnly: true})
	r := e.do(a, "POST", "/users/"+itoa(vu.ID)+"/sessions/"+itoa(list[0].ID)+"/revoke", form, nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/sessions" {
		t.Fatalf("revoke from the page: %d", r.StatusCode)
	}
	if r := e.do(v, "GET", "/", nil, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("viewer still logged in: %d", r.StatusCode)
	}
	// Log out everywhere from one's own page.
	e.login(v, "v@example.com", "correct horse battery")
	if r := e.do(v, "POST", "/users/"+itoa(vu.ID)+"/sessions/revoke", form, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("viewer revoking own sessions: %d", r.StatusCode)
	}
	if r := e.do(v, "GET", "/", nil, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("viewer still logged in after revoking all: %d", r.StatusCode)
	}
}

// A second login from the same browser ends the session it replaces.
func TestReloginEndsThePreviousSession(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.user("a@example.com", store.RoleAdmin)
	c := e.browser()
	e.login(c, "a@example.com", "correct horse battery")
	old := sessionCookie(t, e, c)
	e.login(c, "a@example.com", "correct horse battery")
	r := e.do(e.browser(), "GET", "/", map[string]string{"Cookie": old.Name + "=" + old.Value}, nil)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the replaced session still opens the UI: %d", r.StatusCode)
	}
	if r := e.do(c, "GET", "/", nil, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("the new session: %d", r.StatusCode)
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		next string
		ok   bool
	}{
		{"/", true},
		{"/webhooks", true},
		{"/webhooks?x=1", true},
		{"/webhooks/3/deliveries?status=dead&page=2", true},
		{"/connectors/shopify?warehouse_id=1#credentials", true},
		{"/tokens?next=%2Fwebhooks", true},

		{"", false},
		{"webhooks", false},
		{"//evil.example", false},
		{"//evil.example/x", false},
		{"/\\evil.example", false},
		{"\\\\evil.example", false},
		{"\\/evil.example", false},
		{"/%09/evil.example", false},
		{"/\t/evil.example", false},
		{"/%0a/evil.example", false},
		{"/%0d%0a/evil.example", false},
		{"%0d%0a", false},
		{"/%0d%0aSet-Cookie:x=1", false},
		{"/%2F/evil.example", false},
		{"/%2f%2fevil.example", false},
		{"/%5Cevil.example", false},
		{"/%5c%5cevil.example", false},
		{"/%252F/evil.example", false},
		{"/%25252F%25252Fevil", false},
		{"http://evil.example", false},
		{"https://evil.example/", false},
		{"https:evil.example", false},
		{"/ /evil.example", false},
		{"/%20/evil.example", false},
		{"/\u00a0/evil.example", false},
		{"/\u3000/evil.example", false},
		{"javascript:alert(1)", false},
		{"/javascript:alert(1)//", false},
		{"/..//evil.example", false},
		{"/../evil", false},
		{"/./webhooks", false},
		{"/%2e%2e//evil.example", false},
		{"/x/..//evil.example", false},
		{"/\x00", false},
		{"/\x7f", false},
		{"/%ff", false},
		{"/%zz", false},
		{"/" + strings.Repeat("a", 3000), false},
	} {
		want := "/"
		if tc.ok {
			want = tc.next
		}
		if got := safeNext(tc.next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.next, got, want)
		}
	}
}

// The open redirect through the real login form.
func TestLoginRedirectStaysOnSite(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.user("a@example.com", store.RoleAdmin)
	for next, want := range map[string]string{"/%09/evil.example": "/", "/webhooks?x=1": "/webhooks?x=1", "/%2F/evil.example": "/"} {
		form := url.Values{"email": {"a@example.com"}, "password": {"correct horse battery"}, "next": {next}}
		r := e.do(e.browser(), "POST", "/login", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": e.srv.URL},
			strings.NewReader(form.Encode()))
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != want {
			t.Errorf("next %q: %d Location %q, want %q", next, r.StatusCode, r.Header.Get("Location"), want)
		}
	}
	page := parse(t, e.do(nil, "GET", "/login?next="+url.QueryEscape("/%09/evil.example"), nil, nil))
	if in := find(page, "input", "name", "next"); in == nil || attrOf(in, "value") != "/" {
		t.Fatal("login form carries an off-site next")
	}
}

func attrOf(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// Authorization: Bearer works wherever X-WMS-Token does.
func TestBearerToken(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.user("a@example.com", store.RoleAdmin)
	admin := e.token(store.ScopeAdmin)
	reader := e.token(store.ScopeEventsRead)
	browser := e.browser()
	e.login(browser, "a@example.com", "correct horse battery")
	for _, tc := range []struct {
		name   string
		client *http.Client
		hdr    map[string]string
		want   int
		msg    string
	}{
		{"bearer", nil, map[string]string{"Authorization": "Bearer " + admin}, 200, ""},
		{"lower-case scheme", nil, map[string]string{"Authorization": "bearer " + admin}, 200, ""},
		{"both headers agree", nil, map[string]string{"Authorization": "Bearer " + admin, "X-WMS-Token": admin}, 200, ""},
		{"both headers differ", nil, map[string]string{"Authorization": "Bearer " + admin, "X-WMS-Token": reader}, 401, "different tokens"},
		{"empty bearer", nil, map[string]string{"Authorization": "Bearer "}, 401, "no token"},
		{"unknown bearer", nil, map[string]string{"Authorization": "Bearer shub_nope"}, 401, ""},
		{"bearer without the scope", nil, map[string]string{"Authorization": "Bearer " + reader}, 403, ""},
		{"bad bearer beats good cookie", browser, map[string]string{"Authorization": "Bearer shub_nope"}, 401, ""},
		{"basic auth from a proxy is ignored", browser, map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, 200, ""},
		{"basic auth alone is no credential", nil, map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.client, "GET", "/api/admin/audit", tc.hdr, nil)
			if r.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", r.StatusCode, tc.want)
			}
			if tc.want >= 400 {
				d := decodeErr(t, r)
				if !strings.Contains(d.Message, tc.msg) {
					t.Fatalf("message %q lacks %q", d.Message, tc.msg)
				}
			}
		})
	}
	// A write through Bearer: a token created with a Bearer token works.
	r := e.do(nil, "POST", "/api/admin/tokens", map[string]string{"Authorization": "Bearer " + admin, "Content-Type": "application/json"},
		strings.NewReader(`{"name":"via-bearer","scopes":["events:read"]}`))
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("create with bearer: %d", r.StatusCode)
	}
}
