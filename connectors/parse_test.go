package connectors_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"sentryhub/connectors"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 5 ", 5 * time.Second, true},
		{"Thu, 01 Jan 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Thursday, 01-Jan-26 12:01:00 GMT", time.Minute, true}, // RFC 850
		{"Thu Jan  1 12:00:10 2026", 10 * time.Second, true},    // asctime
		{"Thu, 01 Jan 2026 11:00:00 GMT", 0, true},              // in the past
		{"-1", 0, false},
		{"1.5", 0, false},
		{"99999999999999999999", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	} {
		got, ok := connectors.ParseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: %s %v, want %s %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "Thu, 01 Jan 2026 12:00:30 GMT", "-1", "4294967295", "Mon, 02 Jan 2006 15:04:05 MST"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := connectors.ParseRetryAfter(s, now)
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("%q: %s %v", s, d, ok)
		}
	})
}

func TestScrubURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://user:pw@shop.example.com/a?since=1&api_key=K&page_token=T#frag": "https://shop.example.com/a?api_key=****&page_token=****&since=1",
		"https://x.example/orders?limit=5":                                       "https://x.example/orders?limit=5",
		"https://x.example/p?client_secret=abc&hmac=z":                           "https://x.example/p?client_secret=****&hmac=****",
		"::not a url": "<invalid URL>",
	} {
		if got := connectors.ScrubURL(in); got != want {
			t.Errorf("%s: got %s want %s", in, got, want)
		}
	}
}

func FuzzScrubURL(f *testing.F) {
	f.Add("https://u:p@h/x?token=abc&a=b")
	f.Add("http://h/%zz?key=%zz")
	f.Fuzz(func(t *testing.T, raw string) {
		out := connectors.ScrubURL(raw)
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		if p, ok := u.User.Password(); ok && len(p) >= 6 && strings.Contains(out, p) && !strings.Contains(u.Host+u.Path, p) {
			t.Fatalf("password survives: %q -> %q", raw, out)
		}
	})
}

func TestSanitizeMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"ok", "ok"},
		{"line1\nline2\r\n\tend", "line1 line2 end"},
		{"bell\x07 esc\x1b[31m red", "bell esc[31m red"},
		{"bidi \u202etxt.exe\u202c", "bidi txt.exe"},
		{"bad utf8 \xff\xfe here", "bad utf8 here"},
		{"  lead and trail  ", "lead and trail"},
		{"zero\u200bwidth", "zerowidth"},
	} {
		if got := connectors.SanitizeMessage(tc.in, 500); got != tc.want {
			t.Errorf("%q: got %q want %q", tc.in, got, tc.want)
		}
	}
	long := strings.Repeat("é", 600)
	if got := connectors.NewConnectionResult(true, long).Message; utf8.RuneCountInString(got) != 500 {
		t.Fatalf("not capped: %d runes", utf8.RuneCountInString(got))
	}
}

func FuzzSanitizeMessage(f *testing.F) {
	f.Add("hello\nworld\x00\u202e", 500)
	f.Fuzz(func(t *testing.T, s string, n int) {
		n = n%1000 + 1
		if n < 0 {
			n = -n
		}
		out := connectors.SanitizeMessage(s, n)
		if !utf8.ValidString(out) || utf8.RuneCountInString(out) > n {
			t.Fatalf("%q -> %q", s, out)
		}
		for _, r := range out {
			if !unicode.IsPrint(r) {
				t.Fatalf("non-printable %U in %q", r, out)
			}
		}
	})
}

func TestDefaultErrorFields(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]map[string]string{
		`{"errors":{"sku":["is unknown","is long"],"qty":"must be positive"}}`:                    {"sku": "is unknown; is long", "qty": "must be positive"},
		`{"errors":[{"field":["fulfillment","trackingInfo",0,"number"],"message":"is invalid"}]}`: {"fulfillment.trackingInfo[0].number": "is invalid"},
		`{"errors":[{"field":"email","message":"taken"}]}`:                                        {"email": "taken"},
		`{"error":{"code":"x","fields":{"warehouse_id":"unknown"}}}`:                              {"warehouse_id": "unknown"},
		`{"field_errors":{"name":"required"}}`:                                                    {"name": "required"},
		`{"errors":"Not Found"}`:                                                                  nil,
		`not json`:                                                                                nil,
	} {
		got := connectors.DefaultErrorFields([]byte(body))
		if len(got) != len(want) {
			t.Errorf("%s: %v", body, got)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s=%q want %q", body, k, got[k], v)
			}
		}
	}
}

func FuzzDefaultErrorFields(f *testing.F) {
	f.Add([]byte(`{"errors":[{"field":["a",1,{"x":1}],"message":"m"}]}`))
	f.Add([]byte(`{"errors":{"a":[1,2]},"error":{"fields":[]},"field_errors":null}`))
	f.Fuzz(func(t *testing.T, b []byte) { _ = connectors.DefaultErrorFields(b) })
}

func TestRegistryRefusals(t *testing.T) {
	t.Parallel()
	good := connectors.Schema{Fields: []connectors.Field{{Name: "api_key", Type: connectors.TypeString, Secret: true, Label: "Key", Required: true}}}
	mk := func(caps []connectors.Capability, s connectors.Schema) connectors.Factory {
		return func(env connectors.Env) connectors.Connector { return &stub{caps: caps, schema: s} }
	}
	all := []connectors.Capability{connectors.CapSyncOrders}
	for _, tc := range []struct {
		name    string
		reg     string
		factory connectors.Factory
		problem string
	}{
		{"bad name", "Bad-Name", mk(all, good), "name must match"},
		{"one letter", "x", mk(all, good), "name must match"},
		{"nil factory", "ok_name", nil, "factory is nil"},
		{"nil connector", "ok_name", func(connectors.Env) connectors.Connector { return nil }, "factory returned nil"},
		{"panicking factory", "ok_name", func(connectors.Env) connectors.Connector { panic("needs config") }, "panicked"},
		{"no capabilities", "ok_name", mk(nil, good), "no capabilities"},
		{"unknown capability", "ok_name", mk([]connectors.Capability{"sync_everything"}, good), `unknown capability "sync_everything"`},
		{"repeated capability", "ok_name", mk([]connectors.Capability{connectors.CapSyncItems, connectors.CapSyncItems}, good), "repeated"},
		{"field without label", "ok_name", mk(all, connectors.Schema{Fields: []connectors.Field{{Name: "a", Type: connectors.TypeString}}}), "label is required"},
		{"unknown field type", "ok_name", mk(all, connectors.Schema{Fields: []connectors.Field{{Name: "a", Type: "blob", Label: "A"}}}), `unknown type "blob"`},
		{"bad field name", "ok_name", mk(all, connectors.Schema{Fields: []connectors.Field{{Name: "A-b", Type: connectors.TypeString, Label: "A"}}}), "name must match"},
		{"repeated field", "ok_name", mk(all, connectors.Schema{Fields: []connectors.Field{{Name: "a", Type: connectors.TypeString, Label: "A"}, {Name: "a", Type: connectors.TypeString, Label: "A"}}}), "name repeated"},
		{"enum without options", "ok_name", mk(all, connectors.Schema{Fields: []connectors.Field{{Name: "a", Type: connectors.TypeEnum, Label: "A"}}}), "enum needs options"},
		{"secret integer", "ok_name", mk(all, connectors.Schema{Fields: []connectors.Field{{Name: "a", Type: connectors.TypeInteger, Label: "A", Secret: true}}}), "only string fields can be secret"},
		{"secret with default", "ok_name", mk(all, connectors.Schema{Fields: []connectors.Field{{Name: "a", Type: connectors.TypeString, Label: "A", Secret: true, Default: "x"}}}), "cannot have a default"},
		{"bad default", "ok_name", mk(all, connectors.Schema{Fields: []connectors.Field{{Name: "a", Type: connectors.TypeInteger, Label: "A", Default: "ten"}}}), "default must be an integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := connectors.NewRegistry()
			err := r.Register(tc.reg, tc.factory)
			var re *connectors.RegistrationError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.problem) {
				t.Fatalf("got %v, want a refusal mentioning %q", err, tc.problem)
			}
			if len(r.Names()) != 0 {
				t.Fatal("refused connector registered anyway")
			}
		})
	}
	r := connectors.NewRegistry()
	if err := r.Register("ok_name", mk([]connectors.Capability{connectors.CapPushFulfillment, connectors.CapSyncOrders}, good)); err != nil {
		t.Fatal(err)
	}
	if err := r.Register("ok_name", mk(all, good)); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("duplicate: %v", err)
	}
	info, _, _ := r.Lookup("ok_name")
	if strings.Join(info.SyncTypes, ",") != "orders,fulfillment,fulfillment_health" {
		t.Fatalf("sync types in canonical order: %v", info.SyncTypes)
	}
}

// stub is a connector that only describes itself.
type stub struct {
	caps   []connectors.Capability
	schema connectors.Schema
}

func (s *stub) SyncOrders(context.Context, time.Time) (connectors.SyncResult, error) {
	return connectors.SyncResult{}, nil
}
func (s *stub) SyncItems(context.Context, time.Time) (connectors.SyncResult, error) {
	return connectors.SyncResult{}, nil
}
func (s *stub) SyncInventory(context.Context, time.Time) (connectors.SyncResult, error) {
	return connectors.SyncResult{}, nil
}
func (s *stub) PushFulfillment(context.Context, connectors.FulfillmentRequest) (connectors.PushResult, error) {
	return connectors.PushResult{}, nil
}
func (s *stub) TestConnection(context.Context) (connectors.ConnectionResult, error) {
	return connectors.ConnectionResult{}, nil
}
func (s *stub) ConfigSchema() connectors.Schema       { return s.schema }
func (s *stub) Capabilities() []connectors.Capability { return s.caps }

func testSchema() connectors.Schema {
	return connectors.Schema{Fields: []connectors.Field{
		{Name: "base_url", Type: connectors.TypeURL, Required: true, Label: "URL"},
		{Name: "api_key", Type: connectors.TypeString, Required: true, Secret: true, Label: "Key"},
		{Name: "page_size", Type: connectors.TypeInteger, Label: "Page", Default: "50"},
		{Name: "sandbox", Type: connectors.TypeBoolean, Label: "Sandbox"},
		{Name: "region", Type: connectors.TypeEnum, Label: "Region", Options: []string{"eu", "us"}},
	}}
}

func TestParseSubmission(t *testing.T) {
	t.Parallel()
	s := testSchema()
	for _, tc := range []struct {
		name    string
		body    string
		stored  map[string]bool
		bad     map[string]string // field -> substring
		setting map[string]string
		secrets []string
	}{
		{"complete", `{"base_url":"https://api.example.com/v1/","api_key":"k-123","page_size":20,"sandbox":true,"region":"eu"}`, nil, nil,
			map[string]string{"base_url": "https://api.example.com/v1", "page_size": "20", "sandbox": "true", "region": "eu"}, []string{"api_key"}},
		{"defaults fill in", `{"base_url":"https://a.example","api_key":"k"}`, nil, nil, map[string]string{"page_size": "50"}, []string{"api_key"}},
		{"stored secret kept", `{"base_url":"https://a.example"}`, map[string]bool{"api_key": true}, nil, nil, nil},
		{"missing required", `{}`, nil, map[string]string{"base_url": "is required", "api_key": "is required"}, nil, nil},
		{"unknown field", `{"base_url":"https://a.example","api_key":"k","apikey":"typo"}`, nil, map[string]string{"apikey": "not a field"}, nil, nil},
		{"redacted placeholder", `{"base_url":"https://a.example","api_key":"****"}`, map[string]bool{"api_key": true}, map[string]string{"api_key": "redacted"}, nil, nil},
		{"wrong types", `{"base_url":42,"api_key":true,"page_size":"ten","sandbox":"maybe","region":"mars"}`, nil,
			map[string]string{"base_url": "must be a string", "api_key": "must be a string", "page_size": "integer", "sandbox": "true or false", "region": "one of eu, us"}, nil, nil},
		{"url with credentials", `{"base_url":"https://u:p@a.example","api_key":"k"}`, nil, map[string]string{"base_url": "credentials"}, nil, nil},
		{"not a url", `{"base_url":"ftp://a.example","api_key":"k"}`, nil, map[string]string{"base_url": "http(s)"}, nil, nil},
		{"control characters", `{"base_url":"https://a.example","api_key":"a\u0000b"}`, nil, map[string]string{"api_key": "control"}, nil, nil},
		{"empty required", `{"base_url":"","api_key":"k"}`, nil, map[string]string{"base_url": "is required"}, nil, nil},
		{"null is absent", `{"base_url":null,"api_key":"k"}`, map[string]bool{"base_url": true}, nil, nil, []string{"api_key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var raw map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tc.body), &raw); err != nil {
				t.Fatal(err)
			}
			sub, bad := s.ParseSubmission(raw, tc.stored)
			if len(bad) != len(tc.bad) {
				t.Fatalf("problems %v, want %v", bad, tc.bad)
			}
			for f, want := range tc.bad {
				if !strings.Contains(bad[f], want) {
					t.Fatalf("%s: %q, want it to mention %q", f, bad[f], want)
				}
			}
			if len(tc.bad) > 0 {
				return
			}
			for k, v := range tc.setting {
				if sub.Settings[k] != v {
					t.Fatalf("setting %s = %q, want %q", k, sub.Settings[k], v)
				}
			}
			if len(sub.Secrets) != len(tc.secrets) {
				t.Fatalf("secrets %v", sub.Secrets)
			}
			for _, k := range tc.secrets {
				if _, ok := sub.Settings[k]; ok {
					t.Fatalf("secret %s stored as a setting", k)
				}
			}
		})
	}
}

// FuzzParseSubmission: credential payloads are outside input.
func FuzzParseSubmission(f *testing.F) {
	f.Add([]byte(`{"base_url":"https://a.example","api_key":"k","page_size":1e400}`))
	f.Add([]byte(`{"api_key":"****","region":["eu"],"sandbox":{"a":1}}`))
	s := testSchema()
	f.Fuzz(func(t *testing.T, b []byte) {
		var raw map[string]json.RawMessage
		if json.Unmarshal(b, &raw) != nil {
			return
		}
		sub, bad := s.ParseSubmission(raw, nil)
		if len(bad) > 0 {
			return
		}
		for k, v := range sub.Secrets {
			if string(v.Reveal()) == connectors.Redacted {
				t.Fatalf("accepted the placeholder for %s", k)
			}
		}
		for k, v := range sub.Settings {
			fd, ok := s.Field(k)
			if !ok || fd.Secret || !utf8.ValidString(v) {
				t.Fatalf("bad setting %s=%q", k, v)
			}
		}
	})
}

// FuzzBudgetHeaders: rate-limit headers are outside input.
func FuzzBudgetHeaders(f *testing.F) {
	f.Add("1", "10", "0", "3000")
	f.Add("NaN", "1e400", "-1", "Inf")
	f.Add("2.5", "1767225600", "", "")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, rem, reset, left, resetMS string) {
		resp := &connectors.Response{Header: http.Header{"X-Ratelimit-Remaining": {rem}, "X-Ratelimit-Reset": {reset},
			"X-Rate-Limit-Requests-Left": {left}, "X-Rate-Limit-Time-Reset-Ms": {resetMS}}}
		for _, read := range []connectors.BudgetReader{connectors.HeaderBudget, connectors.BigCommerceBudget} {
			if b, ok := read(resp, now); ok && (b.Remaining < 0 || b.Remaining != b.Remaining) {
				t.Fatalf("budget %+v", b)
			}
		}
	})
}
