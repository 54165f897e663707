package web

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// formSession is a logged-in browser without JavaScript, for the page
// tests: it posts forms as a browser does and does not follow redirects,
// so a test sees the 303 of post/redirect/get and then loads the page it
// leads to, as the browser would.
type formSession struct {
	t testing.TB
	e *testEnv
	c *http.Client
}

// formSession creates email with role and logs them in.
func (e *testEnv) formSession(email, role string) *formSession {
	e.t.Helper()
	e.user(email, role)
	c := e.browser()
	if r := e.login(c, email, "correct horse battery"); r.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login %s: %d", email, r.StatusCode)
	}
	return &formSession{t: e.t, e: e, c: c}
}

// post sends form to path and returns the status, the redirect target and
// the body.
func (f *formSession) post(path string, form url.Values) (int, string, string) {
	f.t.Helper()
	resp := f.e.do(f.c, "POST", path, map[string]string{"Origin": f.e.srv.URL, "Content-Type": "application/x-www-form-urlencoded"},
		strings.NewReader(form.Encode()))
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// get loads path and returns the status and the page.
func (f *formSession) get(path string) (int, string) {
	f.t.Helper()
	resp := f.e.do(f.c, "GET", path, nil, nil)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// submit posts form to path, wants a 303 to want and returns the page the
// redirect leads to.
func (f *formSession) submit(path string, form url.Values, want string) string {
	f.t.Helper()
	code, loc, body := f.post(path, form)
	if code != http.StatusSeeOther || loc != want {
		f.t.Fatalf("POST %s: %d to %q, want 303 to %q\n%s", path, code, loc, want, body)
	}
	code, page := f.get(loc)
	if code != http.StatusOK {
		f.t.Fatalf("GET %s after POST %s: %d", loc, path, code)
	}
	return page
}

// confirm posts a destructive form: without confirm=yes the answer is the
// confirmation page asking question; with it, the redirect to want, whose
// page it returns.
func (f *formSession) confirm(path string, form url.Values, question, want string) string {
	f.t.Helper()
	code, _, page := f.post(path, form)
	if code != http.StatusOK || !strings.Contains(page, `id="confirm-question-page"`) || !strings.Contains(page, question) {
		f.t.Fatalf("POST %s without confirm: %d, want the page asking %q\n%s", path, code, question, page)
	}
	yes := url.Values{"confirm": {"yes"}}
	for k, v := range form {
		yes[k] = v
	}
	return f.submit(path, yes, want)
}

// forbidden checks that each POST gets the HTML 403 page.
func (f *formSession) forbidden(paths ...string) {
	f.t.Helper()
	for _, p := range paths {
		code, _, page := f.post(p, url.Values{"name": {"x"}, "confirm": {"yes"}})
		if code != http.StatusForbidden || !strings.Contains(page, `data-status="403"`) {
			f.t.Errorf("viewer POST %s: %d, want the HTML 403 page", p, code)
		}
	}
}

// flashOf reports whether page shows a flash of kind containing text.
func flashOf(page, kind, text string) bool {
	for _, part := range strings.Split(page, `data-flash="`+kind+`">`)[1:] {
		if msg, _, _ := strings.Cut(part, "</"); strings.Contains(msg, text) {
			return true
		}
	}
	return false
}

func TestBackFor(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]string{
		"/":                              "/",
		"/nope":                          "/",
		"/tokens":                        "/tokens",
		"/tokens/3/revoke":               "/tokens",
		"/tokensx":                       "/",
		"/inbound/erp/sales_orders":      "/inbound",
		"/settings/developer/erp/delete": "/settings/developer",
		"/settings/developer":            "/settings/developer",
		"/settings/alerts/1/delete":      "/",
		"/webhooks/errors":               "/webhooks",
	} {
		if got := backFor(path); got != want {
			t.Errorf("backFor(%q) = %q, want %q", path, got, want)
		}
	}
}
