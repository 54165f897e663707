package manifest

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"sentryhub/connectors"
)

// thinStream is a webhook stream in the shape of Intuit's earlier
// notifications (lists nested by account, the account on the outer
// element: parent.X): the parser, the splitter and the refusals are
// tested on it.
const thinStream = `
  - key: changes
    mode: webhook
    record: item
    signature: {kind: body_secret, field: "events.*.entities.*.state", secret: "{{secrets.api_key}}"}
    handshake: {query: validationToken}
    notifications: "events.*.entities.*"
    vars:
      item: {from: notification.ref, pattern: 'items/([0-9]+)$'}
    match:
      notification.region: "{{settings.region}}"
    event_id: "{{parent.realm}}/{{vars.item}}/{{notification.at}}"
    event_type: "{{notification.op}}"
    events: [Create, Update]
    fetch:
      path: /items/{{vars.item}}
    records: item
    mapping: items.mapping.yaml
`

func TestParseThinStream(t *testing.T) {
	m, err := parseWith(t, baseManifest+thinStream, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := m.WebhookStream("changes")
	if s.Thin == nil || s.Handshake.Query != "validationToken" || len(s.Thin.Vars) != 1 || s.Signature.Kind != SigBodySecret {
		t.Fatalf("stream %+v", s)
	}
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"unknown var", "{{vars.item}}/{{notification.at}}\"", "{{vars.nope}}\"", "{{vars.nope}}: no such var"},
		{"literal event id", `"{{parent.realm}}/{{vars.item}}/{{notification.at}}"`, "fixed", "a template over the notification"},
		{"two groups", `'items/([0-9]+)$'`, `'(items)/([0-9]+)$'`, "exactly one group"},
		{"bad regexp", `'items/([0-9]+)$'`, `'items/([0-9]+$'`, "does not compile"},
		{"var not from notification", "from: notification.ref", "from: ref", "must be a path in the notification"},
		{"match on unknown", "notification.region: ", "settings.region: ", "must be notification.PATH, parent.PATH or vars.NAME"},
		{"notification in config scope", `"{{settings.region}}"`, `"{{notification.x}}"`, "not a placeholder available here"},
		{"body secret without field", `field: "events.*.entities.*.state", `, "", "field: is required"},
		{"handshake without query", "{query: validationToken}", "{query: ''}", "handshake.query: is required"},
		{"events without a type", `event_type: "{{notification.op}}"`, "", "event_type: is required with events"},
		{"thin keys without fetch", "    fetch:\n      path: /items/{{vars.item}}\n", "", "add fetch"},
		{"notification in a poll stream", `query: {since: "{{since}}"}`, `query: {since: "{{notification.x}}"}`, "not a placeholder available here"},
	} {
		src := strings.Replace(baseManifest+thinStream, tc.from, tc.to, 1)
		if src == baseManifest+thinStream {
			t.Fatalf("%s: replacement did not apply", tc.name)
		}
		_, err := parseWith(t, src, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	shared := strings.Replace(baseManifest+thinStream, `{kind: body_secret, field: "events.*.entities.*.state", `, `{kind: shared_secret, `, 1)
	if _, err := parseWith(t, shared, nil); err == nil || !strings.Contains(err.Error(), "header: is required for shared_secret") {
		t.Errorf("shared_secret without header: %v", err)
	}
}

func TestNotificationsSplit(t *testing.T) {
	m, err := parseWith(t, baseManifest+thinStream, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &Conn{m: m, d: &driver{m: m}, env: connectors.Env{Settings: map[string]string{"region": "us"}}}
	s := m.WebhookStream("changes")
	doc := parsedJSON([]byte(`{"events": [
		{"realm": "r1", "entities": [
			{"ref": "co/items/12", "region": "us", "op": "Update", "at": "2026-01-01T00:00:00Z"},
			{"ref": "co/items/13", "region": "eu", "op": "Update", "at": "t"},
			{"ref": "co/customers/1", "region": "us", "op": "Update", "at": "t"},
			{"ref": "co/items/14", "region": "us", "op": "Delete", "at": "t"},
			{"ref": "co/items/15", "region": "us", "op": "Create"}
		]},
		{"realm": "r2", "entities": [{"ref": "co/items/16", "region": "us", "op": "Create", "at": "t2"}]},
		{"entities": [{"ref": "co/items/17", "region": "us", "op": "Create", "at": "t3"}]},
		{"entities": "not a list"}
	]}`))
	got, ignored := c.Notifications(s, doc)
	if len(got) != 2 || ignored != 5 {
		t.Fatalf("%d notifications, %d ignored: %+v", len(got), ignored, got)
	}
	if got[0].EventID != "r1/12/2026-01-01T00:00:00Z" || got[0].EventType != "Update" || got[1].EventID != "r2/16/t2" {
		t.Fatalf("notifications %+v", got)
	}
	if !strings.Contains(string(got[0].Body), `"vars.item":"12"`) {
		t.Fatalf("stored body %s", got[0].Body)
	}
	// A long id is hashed, the same way every time.
	long := strings.Repeat("x", 300)
	doc = parsedJSON([]byte(`{"events": [{"realm": "r1", "entities": [{"ref": "items/1", "region": "us", "op": "Create", "at": "` + long + `"}]}]}`))
	a, _ := c.Notifications(s, doc)
	b, _ := c.Notifications(s, doc)
	if len(a) != 1 || !strings.HasPrefix(a[0].EventID, "sha256:") || a[0].EventID != b[0].EventID {
		t.Fatalf("long id: %+v", a)
	}
	// A value that could walk the fetch path is refused.
	doc = parsedJSON([]byte(`{"events": [{"realm": "r1", "entities": [{"ref": "items/1", "region": "us", "op": "Create", "at": ".."}]}]}`))
	if got, ignored := c.Notifications(s, doc); len(got) != 0 || ignored != 1 {
		t.Fatalf("dot segment: %+v", got)
	}
}

func TestSecretSignatures(t *testing.T) {
	shared := &Signature{Kind: SigSharedSecret, Header: "X-Secret"}
	prefixed := &Signature{Kind: SigSharedSecret, Header: "Authorization", Prefix: "Bearer "}
	body := &Signature{Kind: SigBodySecret, Field: splitPath("value.*.clientState")}
	two := `{"value": [{"clientState": "s3"}, {"clientState": "s3"}]}`
	for _, tc := range []struct {
		name   string
		sig    *Signature
		secret string
		h      http.Header
		body   string
		want   error
	}{
		{"shared ok", shared, "s3", http.Header{"X-Secret": {"s3"}}, "{}", nil},
		{"shared wrong", shared, "s3", http.Header{"X-Secret": {"s4"}}, "{}", ErrSignatureInvalid},
		{"shared longer", shared, "s3", http.Header{"X-Secret": {"s3s3"}}, "{}", ErrSignatureInvalid},
		{"shared missing", shared, "s3", http.Header{}, "{}", ErrSignatureMissing},
		{"no secret stored", shared, "", http.Header{"X-Secret": {""}}, "{}", ErrSignatureMissing},
		{"prefixed ok", prefixed, "tok", http.Header{"Authorization": {"Bearer tok"}}, "{}", nil},
		{"prefix missing", prefixed, "tok", http.Header{"Authorization": {"tok"}}, "{}", ErrSignatureInvalid},
		{"body ok", body, "s3", nil, two, nil},
		{"body one foreign", body, "s3", nil, `{"value": [{"clientState": "s3"}, {"clientState": "x"}]}`, ErrSignatureInvalid},
		{"body number", body, "3", nil, `{"value": [{"clientState": 3}]}`, ErrSignatureInvalid},
		{"body none", body, "s3", nil, `{"value": []}`, ErrSignatureMissing},
		{"body not JSON", body, "s3", nil, `nope`, ErrSignatureMissing},
	} {
		err := tc.sig.Verify([]byte(tc.secret), tc.h, []byte(tc.body), time.Now())
		if !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestPlainToken(t *testing.T) {
	for tok, want := range map[string]bool{
		"abc-123_~.": true, "Validation: a b": true, "": false, "a\nb": false, "\x00": false, "é": false,
		strings.Repeat("a", maxHandshakeToken): true, strings.Repeat("a", maxHandshakeToken+1): false,
	} {
		if plainToken(tok) != want {
			t.Errorf("plainToken(%q) = %v", tok, !want)
		}
	}
}

// FuzzThinDelivery: a delivery is outside input; verifying a body secret
// and splitting it into notifications must never panic, and every
// notification kept has a bounded id.
func FuzzThinDelivery(f *testing.F) {
	f.Add([]byte(`{"events": [{"realm": "r", "entities": [{"ref": "items/1", "region": "us", "op": "Create", "at": "t", "state": "k"}]}]}`))
	f.Add([]byte(`{"events": {"entities": 1}}`))
	f.Add([]byte(`[[[[]]]]`))
	m, err := Parse("demo/manifest.yaml", []byte(baseManifest+thinStream), fstest.MapFS{"items.mapping.yaml": {Data: []byte(itemsMapping)}}, ".")
	if err != nil {
		f.Fatal(err)
	}
	c := &Conn{m: m, d: &driver{m: m}, env: connectors.Env{Settings: map[string]string{"region": "us"}}}
	s := m.WebhookStream("changes")
	f.Fuzz(func(t *testing.T, body []byte) {
		_ = s.Signature.Verify([]byte("k"), http.Header{}, body, time.Now())
		doc := parsedJSON(body)
		list, _ := c.Notifications(s, doc)
		for _, n := range list {
			if n.EventID == "" || len(n.EventID) > 200 {
				t.Fatalf("event id %q", n.EventID)
			}
		}
	})
}

// BenchmarkThinDelivery verifies and splits a delivery of 100
// notifications, the work done before the provider gets its answer.
func BenchmarkThinDelivery(b *testing.B) {
	m, err := Parse("demo/manifest.yaml", []byte(baseManifest+thinStream), fstest.MapFS{"items.mapping.yaml": {Data: []byte(itemsMapping)}}, ".")
	if err != nil {
		b.Fatal(err)
	}
	c := &Conn{m: m, d: &driver{m: m}, env: connectors.Env{Settings: map[string]string{"region": "us"}}}
	s := m.WebhookStream("changes")
	var sb strings.Builder
	sb.WriteString(`{"events": [{"realm": "r1", "entities": [`)
	for i := range 100 {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`{"ref": "co/items/` + strconv.Itoa(i+1) + `", "region": "us", "op": "Update", "at": "2026-01-01T00:00:00Z", "state": "k"}`)
	}
	sb.WriteString(`]}]}`)
	body := []byte(sb.String())
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Signature.Verify([]byte("k"), nil, body, time.Now()); err != nil {
			b.Fatal(err)
		}
		if list, _ := c.Notifications(s, parsedJSON(body)); len(list) != 100 {
			b.Fatalf("%d notifications", len(list))
		}
	}
}
