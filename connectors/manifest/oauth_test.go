package manifest_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"crypto/sha256"
	"encoding/base64"

	"github.com/fernet/fernet-go"

	"sentryhub/clock"
	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/manifest"
	"sentryhub/ssrf"
	"sentryhub/store"
	"sentryhub/store/storetest"
	"sentryhub/store/vault"
)

// authServer is a fake OAuth 2.0 authorization server and API: consent
// issues a code bound to the PKCE challenge, the token endpoint checks the
// verifier and rotates refresh tokens, and the API accepts live access
// tokens only.
type authServer struct {
	srv *httptest.Server

	mu        sync.Mutex
	codes     map[string]string // code -> challenge
	access    map[string]bool
	refresh   map[string]bool
	n         int
	refreshes int
}

func newAuthServer(t *testing.T) *authServer {
	a := &authServer{codes: map[string]string{}, access: map[string]bool{}, refresh: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != "cid" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
			http.Error(w, "bad authorize request", 400)
			return
		}
		a.mu.Lock()
		a.n++
		code := "code" + string(rune('a'+a.n))
		a.codes[code] = q.Get("code_challenge")
		a.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id != "cid" || secret != "csecret" {
			http.Error(w, `{"error":"invalid_client"}`, 401)
			return
		}
		_ = r.ParseForm()
		a.mu.Lock()
		defer a.mu.Unlock()
		switch r.PostForm.Get("grant_type") {
		case "authorization_code":
			ch, ok := a.codes[r.PostForm.Get("code")]
			sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
			if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != ch {
				w.WriteHeader(400)
				w.Write([]byte(`{"error":"invalid_grant"}`))
				return
			}
			delete(a.codes, r.PostForm.Get("code"))
		case "client_credentials":
			a.n++
			at := "cc" + string(rune('a'+a.n))
			a.access[at] = true
			a.refreshes++
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": 3600})
			return
		case "refresh_token":
			if !a.refresh[r.PostForm.Get("refresh_token")] {
				w.WriteHeader(400)
				w.Write([]byte(`{"error":"invalid_grant"}`))
				return
			}
			delete(a.refresh, r.PostForm.Get("refresh_token"))
			a.refreshes++
		default:
			w.WriteHeader(400)
			return
		}
		a.n++
		at, rt := "at"+string(rune('a'+a.n)), "rt"+string(rune('a'+a.n))
		a.access[at], a.refresh[rt] = true, true
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": at, "refresh_token": rt, "token_type": "Bearer", "expires_in": 3600})
	})
	mux.HandleFunc("GET /v1/me", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if !a.access[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")] {
			http.Error(w, `{"error":"invalid_token"}`, 401)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	})
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *authServer) revokeAll(refreshToo bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.access)
	if refreshToo {
		clear(a.refresh)
	}
}

const oauthManifest = `key: oauthdemo
name: OAuth Demo
provider: Demo
version: 1.0.0
base_url: https://api.demo.example/v1
hosts: [api.demo.example, auth.demo.example]
settings:
  type: object
  required: [client_id, client_secret]
  properties:
    client_id: {type: string, title: Client ID}
    client_secret: {type: string, title: Client secret, x-secret: true}
auth:
  kind: oauth2_authorization_code
  authorize_url: https://auth.demo.example/authorize
  token_url: https://auth.demo.example/token
  client_id: "{{settings.client_id}}"
  client_secret: "{{secrets.client_secret}}"
  scopes: [items.read]
test:
  path: /me
streams:
  - key: items
    mode: poll
    record: item
    request: {path: /items}
    records: data
    mapping: items.mapping.yaml
`

func TestOAuthAuthorizationCodeEndToEnd(t *testing.T) {
	ctx := context.Background()
	as := newAuthServer(t)
	db := storetest.Open(t, filepath.Join(t.TempDir(), store.FileName), store.WithAuditKey(store.DeriveAuditKey([]byte("t"))), store.WithPasswordHashing(store.PasswordHashing{MemoryKiB: 8, Threads: 1}))
	fc := clock.NewFake(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	db.Now = fc.Now
	var key fernet.Key
	if err := key.Generate(); err != nil {
		t.Fatal(err)
	}
	realVault := vault.New(db, &key)

	fsys := fstest.MapFS{"m/manifest.yaml": {Data: []byte(oauthManifest)},
		"m/items.mapping.yaml": {Data: []byte("version: 1\nresource: items\nsource_id: $.id\nfields:\n  sku: $.sku\n  name: $.name\n")}}
	reg := connectors.NewRegistry()
	if err := manifest.Register(reg, fsys, "m", manifest.Options{BaseURL: map[string]string{"oauthdemo": as.srv.URL}}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	fv := connectortest.NewFakeVault()
	pool := connectortest.NewPool(t, connectors.HTTPConfig{AllowHTTP: true}, ssrf.New(ssrf.Config{AllowPrivate: connectortest.Loopback()}), fc, log)
	runner := connectortest.NewRunner(t, connectors.RunnerConfig{}, connectors.RunnerDeps{Registry: reg, DB: db, Vault: fv, HTTP: pool, Clock: fc, Log: log})
	w, err := db.CreateWarehouse(ctx, store.OpMeta{}, store.WarehouseInput{Code: "W1", Name: "Main"})
	if err != nil {
		t.Fatal(err)
	}
	wh := w.Value.ID
	if err := db.PutConnectorSettings(ctx, "test", "oauthdemo", wh, map[string]string{"client_id": "cid"}); err != nil {
		t.Fatal(err)
	}
	if err := fv.PutCredentials(ctx, "test", "oauthdemo", wh, map[string]vault.Secret{"client_secret": vault.NewSecret("csecret")}); err != nil {
		t.Fatal(err)
	}
	flow := manifest.NewOAuthFlow(runner, db, realVault, fc)
	const redirect = "https://hub.example/connectors/oauth/callback"
	const session = int64(7)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// consent follows the provider's consent page and returns the code and
	// state of its redirect back to the hub.
	consent := func(authURL string) (code, state string) {
		t.Helper()
		u, _ := url.Parse(authURL)
		if u.Query().Get("code_challenge_method") != "S256" || u.Query().Get("redirect_uri") != redirect || u.Query().Get("scope") != "items.read" {
			t.Fatalf("authorize URL %s", authURL)
		}
		resp, err := noFollow.Get(authURL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return loc.Query().Get("code"), loc.Query().Get("state")
	}
	begin := func() string {
		t.Helper()
		u, err := flow.Begin(ctx, "oauthdemo", wh, session, redirect)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	test := func() connectors.ConnectionResult {
		t.Helper()
		_, c, err := runner.Instance(ctx, "oauthdemo", wh)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.TestConnection(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	if res := test(); res.OK || !strings.Contains(res.Message, "press Connect") {
		t.Fatalf("before Connect: %+v", res)
	}

	// State mismatch, another session, expiry: all refused, none connects.
	code, _ := consent(begin())
	if _, _, err := flow.Complete(ctx, session, "forged-state", code, "", redirect); !errors.Is(err, manifest.ErrOAuthState) {
		t.Fatalf("forged state: %v", err)
	}
	code, state := consent(begin())
	if _, _, err := flow.Complete(ctx, 8, state, code, "", redirect); !errors.Is(err, manifest.ErrOAuthSession) {
		t.Fatalf("other session: %v", err)
	}
	if _, _, err := flow.Complete(ctx, session, state, code, "", redirect); !errors.Is(err, manifest.ErrOAuthState) {
		t.Fatalf("state reused after a refusal: %v", err)
	}
	code, state = consent(begin())
	fc.Advance(11 * time.Minute)
	if _, _, err := flow.Complete(ctx, session, state, code, "", redirect); !errors.Is(err, manifest.ErrOAuthExpired) {
		t.Fatalf("expired: %v", err)
	}
	code, state = consent(begin())
	if _, _, err := flow.Complete(ctx, session, state, "", "access_denied", redirect); !errors.Is(err, manifest.ErrOAuthDenied) {
		t.Fatalf("denied: %v", err)
	}

	// The real consent.
	code, state = consent(begin())
	name, gotWH, err := flow.Complete(ctx, session, state, code, "", redirect)
	if err != nil || name != "oauthdemo" || gotWH != wh {
		t.Fatalf("complete: %s %d %v", name, gotWH, err)
	}
	creds, _ := fv.Credentials(ctx, "oauthdemo", wh)
	if creds[manifest.KeyRefreshToken].IsZero() || creds[manifest.KeyAccessToken].IsZero() {
		t.Fatal("tokens not in the vault")
	}
	if res := test(); !res.OK {
		t.Fatalf("after Connect: %+v", res)
	}

	// Refresh before expiry.
	fc.Advance(59 * time.Minute)
	if res := test(); !res.OK || as.refreshes != 1 {
		t.Fatalf("refresh before expiry: %+v, %d refreshes", res, as.refreshes)
	}
	// A 401 refreshes once and resends.
	as.revokeAll(false)
	if res := test(); !res.OK || as.refreshes != 2 {
		t.Fatalf("refresh after a 401: %+v, %d refreshes", res, as.refreshes)
	}
	// A revoked refresh token: reconnect needed, kept across instances.
	as.revokeAll(true)
	if res := test(); res.OK || !strings.Contains(res.Message, "reconnect needed") {
		t.Fatalf("revoked refresh token: %+v", res)
	}
	_, c, _ := runner.Instance(ctx, "oauthdemo", wh)
	if st := c.(*manifest.Conn).OAuthStatus(); !st.ReconnectNeeded {
		t.Fatalf("status %+v, want reconnect needed", st)
	}
	// Connecting again clears it.
	code, state = consent(begin())
	if _, _, err := flow.Complete(ctx, session, state, code, "", redirect); err != nil {
		t.Fatal(err)
	}
	if res := test(); !res.OK {
		t.Fatalf("after reconnecting: %+v", res)
	}
}
