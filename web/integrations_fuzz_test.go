package web

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzOAuthForm: the token and revocation endpoints' form reader never
// panics, and what it accepts has each parameter once, with the client
// credentials from Basic auth or the body but never both.
func FuzzOAuthForm(f *testing.F) {
	f.Add("grant_type=authorization_code&code=shing_x&client_id=a&client_secret=b", "application/x-www-form-urlencoded", "")
	f.Add("grant_type=refresh_token&refresh_token=x&refresh_token=y", "application/x-www-form-urlencoded", "a:b")
	f.Add("token=%zz", "application/x-www-form-urlencoded; charset=utf-8", "")
	f.Add("{}", "application/json", "")
	f.Fuzz(func(t *testing.T, body, ctype, basic string) {
		r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		if id, secret, ok := strings.Cut(basic, ":"); ok {
			r.SetBasicAuth(id, secret)
		}
		params, usedBasic, ok, why := oauthForm(r)
		if !ok {
			if why == "" {
				t.Fatal("refused without a reason")
			}
			return
		}
		if usedBasic && r.PostForm.Get("client_secret") != "" {
			t.Fatal("accepted credentials twice")
		}
		for k, v := range r.PostForm {
			if len(v) != 1 || (k != "client_id" && k != "client_secret" && params[k] != v[0]) {
				t.Fatalf("parameter %s: %v -> %q", k, v, params[k])
			}
		}
	})
}
