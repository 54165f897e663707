package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"sentryhub/store"
)

// TestUsersPage walks the users page: create with a one-time password
// that logs in, role change, disable (after confirming), reset, the
// guards against locking oneself out, and viewers kept out.
func TestUsersPage(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.user("a@example.com", store.RoleAdmin)
	e.user("v@example.com", store.RoleViewer)
	admin := e.browser()
	e.login(admin, "a@example.com", "correct horse battery")
	post := func(c *http.Client, path string, form url.Values) *http.Response {
		return e.do(c, "POST", path, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": e.srv.URL},
			strings.NewReader(form.Encode()))
	}
	see := func(r *http.Response, want int) {
		t.Helper()
		if r.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d", r.Request.Method, r.Request.URL.Path, r.StatusCode, want)
		}
	}

	page := parse(t, e.do(admin, "GET", "/users", nil, nil))
	if got := text(find(page, "p", "id", "users-count")); !strings.HasPrefix(got, "1 admin and 1 viewer.") {
		t.Fatalf("count line %q", got)
	}

	// Create: 303 to the list, which shows the password once; it logs in.
	r := post(admin, "/users", url.Values{"email": {"new@example.com"}, "role": {"viewer"}})
	see(r, 303)
	page = parse(t, e.do(admin, "GET", "/users", nil, nil))
	pw := text(find(page, "code", "id", "new-password-value"))
	if len(pw) != 20 {
		t.Fatalf("one-time password %q", pw)
	}
	if find(parse(t, e.do(admin, "GET", "/users", nil, nil)), "code", "id", "new-password-value") != nil {
		t.Fatal("password shown twice")
	}
	newbie := e.browser()
	if r := e.login(newbie, "new@example.com", pw); r.StatusCode != 303 {
		t.Fatalf("login with the one-time password: %d", r.StatusCode)
	}
	u, err := e.db.UserByEmail(context.Background(), "new@example.com")
	if err != nil {
		t.Fatal(err)
	}
	id := itoa(u.ID)

	// A taken email and a bad role come back on the form.
	r = post(admin, "/users", url.Values{"email": {"new@example.com"}, "role": {"viewer"}})
	see(r, 422)
	if doc := parse(t, r); find(doc, "p", "id", "user-email-error") == nil {
		t.Fatal("duplicate email not reported")
	}
	see(post(admin, "/users", url.Values{"email": {"x@example.com"}, "role": {"owner"}}), 422)

	// Role change ends the user's sessions.
	see(post(admin, "/users/"+id+"/role", url.Values{"role": {"admin"}}), 303)
	if u, _ := e.db.GetUser(context.Background(), u.ID); u.Role != store.RoleAdmin {
		t.Fatalf("role %s", u.Role)
	}
	if r := e.do(newbie, "GET", "/", nil, nil); r.StatusCode != 303 {
		t.Fatalf("session survived the role change: %d", r.StatusCode)
	}

	// Disable asks first; confirmed, the user cannot log in.
	r = post(admin, "/users/"+id+"/disable", nil)
	see(r, 200)
	if find(parse(t, r), "button", "id", "confirm-ok") == nil {
		t.Fatal("disable without a confirmation step")
	}
	see(post(admin, "/users/"+id+"/disable", url.Values{"confirm": {"yes"}}), 303)
	if r := e.login(e.browser(), "new@example.com", pw); r.StatusCode == 303 {
		t.Fatal("disabled user logged in")
	}
	see(post(admin, "/users/"+id+"/enable", nil), 303)

	// Reset: a new one-time password replaces the old.
	see(post(admin, "/users/"+id+"/reset-password", url.Values{"confirm": {"yes"}}), 303)
	pw2 := text(find(parse(t, e.do(admin, "GET", "/users", nil, nil)), "code", "id", "new-password-value"))
	if pw2 == "" || pw2 == pw {
		t.Fatalf("reset password %q", pw2)
	}
	if r := e.login(e.browser(), "new@example.com", pw); r.StatusCode == 303 {
		t.Fatal("old password still works")
	}

	// An admin cannot demote or disable themselves.
	me, _ := e.db.UserByEmail(context.Background(), "a@example.com")
	see(post(admin, "/users/"+itoa(me.ID)+"/role", url.Values{"role": {"viewer"}}), 409)
	see(post(admin, "/users/"+itoa(me.ID)+"/disable", url.Values{"confirm": {"yes"}}), 409)

	// Viewers get the HTML 403 page, for the page and for each form.
	viewer := e.browser()
	e.login(viewer, "v@example.com", "correct horse battery")
	for _, r := range []*http.Response{e.do(viewer, "GET", "/users", nil, nil), post(viewer, "/users", url.Values{"email": {"z@example.com"}}),
		post(viewer, "/users/"+id+"/disable", url.Values{"confirm": {"yes"}})} {
		see(r, 403)
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || find(parse(t, r), "div", "id", "error") == nil {
			t.Fatal("viewer 403 is not the HTML error page")
		}
	}
	if find(find(parse(t, e.do(viewer, "GET", "/", nil, nil)), "nav", "aria-label", "Main"), "a", "href", "/users") != nil {
		t.Fatal("viewer sees the Users link")
	}
}
