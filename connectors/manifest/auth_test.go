package manifest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/manifest"
)

const authManifest = `key: authdemo
name: Auth Demo
provider: Demo
version: 1.0.0
base_url: https://api.demo.example/v1
hosts: [api.demo.example, auth.demo.example]
settings:
  type: object
  required: [user, key]
  properties:
    user: {type: string, title: User}
    key: {type: string, title: Key, x-secret: true}
auth:
AUTH
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

// Each auth kind puts the credentials where the upstream expects them,
// and nowhere else.
func TestAuthKinds(t *testing.T) {
	as := newAuthServer(t)
	for _, tc := range []struct {
		name, auth string
		check      func(r *http.Request) bool
	}{
		{"api key header", "  kind: api_key\n  in: header\n  name: X-Api-Key\n  value: \"{{secrets.key}}\"",
			func(r *http.Request) bool { return r.Header.Get("X-Api-Key") == "k3y" }},
		{"api key query", "  kind: api_key\n  in: query\n  name: api_key\n  value: \"{{secrets.key}}\"",
			func(r *http.Request) bool {
				return r.URL.Query().Get("api_key") == "k3y" && r.Header.Get("Authorization") == ""
			}},
		{"basic", "  kind: basic\n  username: \"{{settings.user}}\"\n  password: \"{{secrets.key}}\"",
			func(r *http.Request) bool { u, p, ok := r.BasicAuth(); return ok && u == "ada" && p == "k3y" }},
		{"bearer", "  kind: bearer\n  token: \"{{secrets.key}}\"",
			func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer k3y" }},
		{"oauth1 tba", "  kind: oauth1_tba\n  consumer_key: \"{{settings.user}}\"\n  consumer_secret: \"{{secrets.key}}\"\n  token_id: \"{{settings.user}}\"\n  token_secret: \"{{secrets.key}}\"\n  realm: \"123_SB1\"",
			func(r *http.Request) bool {
				h := r.Header.Get("Authorization")
				return strings.HasPrefix(h, `OAuth realm="123_SB1", oauth_consumer_key="ada", oauth_nonce="`) &&
					strings.Contains(h, `oauth_signature_method="HMAC-SHA256"`) && strings.Contains(h, `oauth_signature="`)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok := false
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ok = tc.check(r)
				if !ok {
					w.WriteHeader(401)
					return
				}
				w.Write([]byte(`{}`))
			}))
			t.Cleanup(up.Close)
			c := authConn(t, strings.Replace(authManifest, "AUTH", tc.auth, 1), up.URL)
			res, err := c.TestConnection(context.Background())
			if err != nil || !res.OK || !ok {
				t.Fatalf("%+v %v", res, err)
			}
		})
	}

	t.Run("oauth2 client credentials", func(t *testing.T) {
		src := strings.Replace(authManifest, "AUTH", "  kind: oauth2_client_credentials\n  token_url: https://auth.demo.example/token\n  client_id: \"{{settings.user}}\"\n  client_secret: \"{{secrets.key}}\"", 1)
		src = strings.Replace(src, "path: /me", "path: /v1/me", 1)
		src = strings.Replace(src, "base_url: https://api.demo.example/v1", "base_url: https://api.demo.example", 1)
		k := connectortest.New(t)
		reg := connectors.NewRegistry()
		fsys := fstest.MapFS{"m/manifest.yaml": {Data: []byte(src)}, "m/items.mapping.yaml": {Data: []byte(itemsMappingDoc)}}
		if err := manifest.Register(reg, fsys, "m", manifest.Options{BaseURL: map[string]string{"authdemo": as.srv.URL}}); err != nil {
			t.Fatal(err)
		}
		c := k.Connector(reg, "authdemo", map[string]string{"user": "cid"}, map[string]string{"key": "csecret"})
		if res, _ := c.TestConnection(context.Background()); !res.OK || as.refreshes != 1 {
			t.Fatalf("first call: %+v (%d grants)", res, as.refreshes)
		}
		if res, _ := c.TestConnection(context.Background()); !res.OK || as.refreshes != 1 {
			t.Fatalf("token reused: %+v (%d grants)", res, as.refreshes)
		}
		as.revokeAll(false) // a 401: one new grant, one resend
		if res, _ := c.TestConnection(context.Background()); !res.OK || as.refreshes != 2 {
			t.Fatalf("after a 401: %+v (%d grants)", res, as.refreshes)
		}
	})
}

const itemsMappingDoc = "version: 1\nresource: items\nsource_id: $.id\nfields:\n  sku: $.sku\n  name: $.name\n"

func authConn(t *testing.T, src, upstream string) connectors.Connector {
	t.Helper()
	k := connectortest.New(t)
	reg := connectors.NewRegistry()
	fsys := fstest.MapFS{"m/manifest.yaml": {Data: []byte(src)}, "m/items.mapping.yaml": {Data: []byte(itemsMappingDoc)}}
	if err := manifest.Register(reg, fsys, "m", manifest.Options{BaseURL: map[string]string{"authdemo": upstream}}); err != nil {
		t.Fatal(err)
	}
	return k.Connector(reg, "authdemo", map[string]string{"user": "ada"}, map[string]string{"key": "k3y"})
}

// A connector never sends its credentials to a host its manifest does not
// list, even when an upstream's next-page link points elsewhere.
func TestAllowedHostsEnforced(t *testing.T) {
	src := strings.Replace(authManifest, "AUTH", "  kind: bearer\n  token: \"{{secrets.key}}\"", 1)
	src = strings.Replace(src, "    mapping: items.mapping.yaml", "    pagination: {kind: next_link, next_path: next}\n    mapping: items.mapping.yaml", 1)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request reached the unlisted host with %q", r.Header.Get("Authorization"))
	}))
	t.Cleanup(evil.Close)
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1) + "/steal"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"data": [{"id": "1", "sku": "A", "name": "A"}], "next": "` + evilURL + `"}`))
	}))
	t.Cleanup(up.Close)
	// base_url from a URL setting (the test override would rewrite the
	// evil link's host too).
	src = strings.Replace(src, "base_url: https://api.demo.example/v1", `base_url: "{{settings.api}}"`, 1)
	src = strings.Replace(src, "hosts: [api.demo.example, auth.demo.example]", `hosts: ["{{settings.api}}"]`, 1)
	src = strings.Replace(src, "    user: {type: string, title: User}", "    user: {type: string, title: User}\n    api: {type: string, format: uri, title: API}", 1)
	k := connectortest.New(t)
	reg := connectors.NewRegistry()
	fsys := fstest.MapFS{"m/manifest.yaml": {Data: []byte(src)}, "m/items.mapping.yaml": {Data: []byte(itemsMappingDoc)}}
	if err := manifest.Register(reg, fsys, "m", manifest.Options{}); err != nil {
		t.Fatal(err)
	}
	c := k.Connector(reg, "authdemo", map[string]string{"user": "ada", "api": up.URL}, map[string]string{"key": "k3y"})
	_, err := c.SyncItems(context.Background(), time.Time{})
	if err == nil || !strings.Contains(err.Error(), "not one of the connector's allowed hosts") {
		t.Fatalf("err = %v", err)
	}
}
