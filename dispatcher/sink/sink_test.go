package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"sentryhub/clock"
	"sentryhub/dispatcher"
	"sentryhub/store/vault"
)

// testNow is the sink's clock in these tests.
var testNow = time.Date(2026, 5, 2, 14, 22, 7, 0, time.UTC)

const (
	secret1 = "gen1-5Jq0m1cI0Wq9jJ8wz3vKp4yQeR7tU2xA6bN9dF1hL0s"
	secret2 = "gen2-Zx8c7V6b5N4m3L2k1J0h9G8f7D6s5A4p3O2i1U0y9T8"
)

// envelopeBody is a canonical envelope as the hub sends it.
func envelopeBody(eventID int64, eventType string) []byte {
	return fmt.Appendf(nil, `{"aggregate_id":"2a8c34e2-6c1b-4d7e-9a55-0c3f1e2d4b6a","aggregate_type":"sales_order",`+
		`"data":{"carrier":"UPS","note":"caf\u00e9 <b>"},"event_id":%d,"event_timestamp":"2026-05-02T14:22:07.413Z",`+
		`"event_type":%q,"event_version":1,"source_txn_id":"6f9e7c6a-1f2b-4c3d-8e9f-0a1b2c3d4e5f","warehouse_id":3}`,
		eventID, eventType)
}

// delivery is one request to post to the sink.
type delivery struct {
	header map[string]string
	body   []byte
}

// signed builds a delivery as the hub's dispatcher builds it.
func signed(key string, gen int, ts int64, body []byte) delivery {
	var env struct {
		EventID   int64  `json:"event_id"`
		EventType string `json:"event_type"`
	}
	_ = json.Unmarshal(body, &env)
	t := strconv.FormatInt(ts, 10)
	return delivery{header: map[string]string{
		HeaderSignature:           dispatcher.Sign([]byte(key), ts, body),
		HeaderSignatureGeneration: strconv.Itoa(gen),
		HeaderDeliveryID:          strconv.FormatInt(env.EventID, 10) + ":" + t,
		HeaderEventType:           env.EventType,
		HeaderTimestamp:           t,
		"Content-Type":            "application/json",
	}, body: body}
}

func (d delivery) with(k, v string) delivery {
	h := map[string]string{}
	for hk, hv := range d.header {
		h[hk] = hv
	}
	if v == "" {
		delete(h, k)
	} else {
		h[k] = v
	}
	return delivery{header: h, body: d.body}
}

func (d delivery) request() *http.Request {
	r := httptest.NewRequest(http.MethodPost, WebhookPath, bytes.NewReader(d.body))
	for k, v := range d.header {
		r.Header[k] = []string{v} // as received: no canonicalization of the value
	}
	return r
}

func post(s http.Handler, d delivery) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, d.request())
	return rec
}

func newTestSink(t testing.TB, secrets Secrets, keep, remember int) *Sink {
	t.Helper()
	s, err := New(Config{Secrets: secrets, Keep: keep, Remember: remember, Clock: clock.NewFake(testNow)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignMatchesDispatcher(t *testing.T) {
	body := envelopeBody(7, "ship.confirmed")
	for _, ts := range []int64{0, 1, testNow.Unix(), -5} {
		if got, want := Sign([]byte(secret1), ts, body), dispatcher.Sign([]byte(secret1), ts, body); got != want {
			t.Fatalf("ts %d: sink signs %s, dispatcher %s", ts, got, want)
		}
	}
}

// TestReceive is the consumer's view of valid, invalid, expired and
// duplicate deliveries. Each case posts its deliveries to a fresh sink
// holding secret1 in slot 1 (and secret2 in slot 2 when gen2 is set) and
// checks the answer to, and record of, the last one.
func TestReceive(t *testing.T) {
	now := testNow.Unix()
	body := envelopeBody(7, "ship.confirmed")
	ok := signed(secret1, 1, now, body)
	for _, tc := range []struct {
		name      string
		gen2      bool
		before    []delivery
		d         delivery
		status    int
		valid     bool
		reason    string // substring of the recorded reason
		duplicate bool
		note      string // substring of a recorded note
	}{
		{name: "valid", d: ok, status: 200, valid: true},
		{name: "valid generation 2 during rotation", gen2: true, d: signed(secret2, 2, now, body), status: 200, valid: true},
		{name: "generation 1 still valid during rotation", gen2: true, d: ok, status: 200, valid: true},
		{name: "generation 2 outside its window", d: signed(secret2, 2, now, body), status: 401,
			reason: "no secret for generation 2"},
		{name: "wrong secret", d: signed("not-the-secret", 1, now, body), status: 401, reason: "does not match"},
		{name: "signed with generation 2 secret but labelled 1", gen2: true,
			d: signed(secret2, 2, now, body).with(HeaderSignatureGeneration, "1"), status: 401, reason: "does not match"},
		{name: "body altered", d: delivery{header: ok.header, body: envelopeBody(8, "ship.confirmed")}, status: 401,
			reason: "does not match"},
		{name: "trailing newline added", d: delivery{header: ok.header, body: append(append([]byte{}, body...), '\n')},
			status: 401, reason: "does not match"},
		{name: "timestamp altered", d: ok.with(HeaderTimestamp, strconv.FormatInt(now+1, 10)), status: 401,
			reason: "does not match"},
		{name: "uppercase hex digest", d: ok.with(HeaderSignature, "sha256="+strings.ToUpper(strings.TrimPrefix(ok.header[HeaderSignature], "sha256="))),
			status: 401, reason: "does not match"},
		{name: "truncated digest", d: ok.with(HeaderSignature, ok.header[HeaderSignature][:40]), status: 401, reason: "does not match"},
		{name: "no signature", d: ok.with(HeaderSignature, ""), status: 401, reason: "no X-Sentry-Signature header"},
		{name: "other scheme", d: ok.with(HeaderSignature, "sha1=abc"), status: 401, reason: `does not start with "sha256="`},
		{name: "generation 3", d: ok.with(HeaderSignatureGeneration, "3"), status: 401, reason: "generation 3 is not 1 or 2"},
		{name: "generation not a number", d: ok.with(HeaderSignatureGeneration, "one"), status: 401,
			reason: "X-Sentry-Signature-Generation is not an integer"},
		{name: "no generation", d: ok.with(HeaderSignatureGeneration, ""), status: 401,
			reason: "X-Sentry-Signature-Generation is not an integer"},
		{name: "no timestamp", d: ok.with(HeaderTimestamp, ""), status: 401, reason: "X-Sentry-Timestamp is not an integer"},
		{name: "expired by one second", d: signed(secret1, 1, now-301, body), status: 401, reason: "301 s old"},
		{name: "expired long ago", d: signed(secret1, 1, now-86400*30, body), status: 401, reason: "over a day old"},
		{name: "oldest accepted", d: signed(secret1, 1, now-300, body), status: 200, valid: true},
		{name: "newest accepted", d: signed(secret1, 1, now+300, body), status: 200, valid: true},
		{name: "too far in the future", d: signed(secret1, 1, now+301, body), status: 401, reason: "301 s in the future"},
		{name: "huge timestamp", d: ok.with(HeaderTimestamp, "99999999999999999999999"), status: 401, reason: "in the future"},
		{name: "huge negative timestamp", d: ok.with(HeaderTimestamp, "-99999999999999999999999"), status: 401, reason: "old"},
		// Python's int() accepts these; the signature covers the number.
		{name: "python int forms", d: ok.with(HeaderTimestamp, " +"+strconv.FormatInt(now, 10)[:4]+"_"+strconv.FormatInt(now, 10)[4:]+" ").
			with(HeaderSignatureGeneration, "0_1"), status: 200, valid: true},
		{name: "duplicate of an accepted event", before: []delivery{ok}, d: signed(secret1, 1, now+2, body), status: 200,
			valid: true, duplicate: true},
		{name: "duplicate replayed with generation 2", gen2: true, before: []delivery{ok}, d: signed(secret2, 2, now+60, body),
			status: 200, valid: true, duplicate: true},
		{name: "invalid delivery is not deduped", before: []delivery{ok}, d: signed("forged", 1, now, body), status: 401,
			reason: "does not match"},
		{name: "a refused delivery does not mark the event seen", before: []delivery{signed("forged", 1, now, body)}, d: ok,
			status: 200, valid: true},
		{name: "another event is not a duplicate", before: []delivery{ok}, d: signed(secret1, 1, now, envelopeBody(6, "pick.confirmed")),
			status: 200, valid: true},
		{name: "signed body that is not an envelope", d: signed(secret1, 1, now, []byte(`[1,2,3]`)), status: 400, valid: true,
			note: "not a JSON event envelope"},
		{name: "signed envelope without event_id", d: signed(secret1, 1, now, []byte(`{"event_type":"ship.confirmed"}`)),
			status: 400, valid: true, note: "no positive integer event_id"},
		{name: "keys match exactly, unknown keys are ignored", d: signed(secret1, 1, now,
			[]byte(`{"Event_ID":5,"AggregAte_id":{},"event_id":7,"aggregate_type":"sales_order","event_type":"ship.confirmed"}`)),
			status: 200, valid: true},
		{name: "mistyped field is noted, event still accepted", d: signed(secret1, 1, now,
			[]byte(`{"event_id":7,"aggregate_type":"sales_order","aggregate_id":{},"event_type":"ship.confirmed"}`)),
			status: 200, valid: true, note: "aggregate_id is not a string"},
		{name: "fractional event_id", d: signed(secret1, 1, now, []byte(`{"event_id":7.5,"event_type":"ship.confirmed"}`)),
			status: 400, valid: true, note: "no positive integer event_id"},
		{name: "event type header disagrees", d: ok.with(HeaderEventType, "pick.confirmed"), status: 200, valid: true,
			note: `"pick.confirmed" differs from the body's event_type "ship.confirmed"`},
		{name: "body too large", d: signed(secret1, 1, now, bytes.Repeat([]byte("a"), MaxBody+1)), status: 413,
			reason: "body larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kr := NewKeyring(vault.NewSecret(secret1))
			if tc.gen2 {
				kr.Set(2, vault.NewSecret(secret2))
			}
			s := newTestSink(t, kr, 10, 0)
			for _, b := range tc.before {
				post(s, b)
			}
			rec := post(s, tc.d)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tc.status, rec.Body)
			}
			got := s.Deliveries()
			if len(got) != len(tc.before)+1 {
				t.Fatalf("%d deliveries recorded, want %d", len(got), len(tc.before)+1)
			}
			d := got[0]
			if d.Seq != uint64(len(tc.before)+1) || d.Status != tc.status || d.Valid != tc.valid || d.Duplicate != tc.duplicate {
				t.Fatalf("recorded %+v", d)
			}
			if tc.valid != (d.Reason == "") || !strings.Contains(d.Reason, tc.reason) {
				t.Fatalf("reason %q, want it to contain %q", d.Reason, tc.reason)
			}
			if tc.note != "" && !strings.Contains(strings.Join(d.Notes, "|"), tc.note) {
				t.Fatalf("notes %q lack %q", d.Notes, tc.note)
			}
			if tc.note == "" && len(d.Notes) > 0 && tc.status != 413 {
				t.Fatalf("unexpected notes %q", d.Notes)
			}
			if tc.status == 200 {
				if d.EventID == 0 || d.AggregateType != "sales_order" || d.EventType == "" || d.DeliveryID == "" {
					t.Fatalf("envelope fields not recorded: %+v", d)
				}
				want := `{"status":"accepted"}`
				if tc.duplicate {
					want = `{"status":"duplicate"}`
				}
				if strings.TrimSpace(rec.Body.String()) != want {
					t.Fatalf("answer %q, want %q", rec.Body, want)
				}
			}
			if len(rec.Body.Bytes()) > 256 {
				t.Fatalf("answer of %d bytes: a consumer acknowledges briefly", rec.Body.Len())
			}
			st := s.Stats()
			if st.Received != uint64(len(got)) || st.Valid+st.Invalid != st.Received {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestReceiveSecretStoreFailure(t *testing.T) {
	failing := SecretsFunc(func(context.Context, int) (vault.Secret, bool, error) {
		return vault.Secret{}, false, errors.New("database is closed")
	})
	s := newTestSink(t, failing, 10, 0)
	rec := post(s, signed(secret1, 1, testNow.Unix(), envelopeBody(7, "ship.confirmed")))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503 so the hub retries", rec.Code)
	}
	if d := s.Deliveries()[0]; d.Valid || d.Duplicate || !strings.Contains(d.Reason, "secret store") {
		t.Fatalf("recorded %+v", d)
	}
	// The failed delivery did not mark the event seen.
	s2 := newTestSink(t, NewKeyring(vault.NewSecret(secret1)), 10, 0)
	if rec := post(s2, signed(secret1, 1, testNow.Unix(), envelopeBody(7, "ship.confirmed"))); rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
}

func TestOnlyPOSTReceives(t *testing.T) {
	s := newTestSink(t, NewKeyring(vault.NewSecret(secret1)), 10, 0)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, WebhookPath, nil))
	if rec.Code != http.StatusMethodNotAllowed || len(s.Deliveries()) != 0 {
		t.Fatalf("GET %s: %d", WebhookPath, rec.Code)
	}
}

// TestBounded: the sink keeps the last Keep deliveries and remembers the
// last Remember event ids; memory does not grow with traffic.
func TestBounded(t *testing.T) {
	s := newTestSink(t, NewKeyring(vault.NewSecret(secret1)), 3, 4)
	now := testNow.Unix()
	for id := int64(1); id <= 6; id++ {
		if rec := post(s, signed(secret1, 1, now, envelopeBody(id, "pick.confirmed"))); rec.Code != 200 {
			t.Fatalf("event %d: %d", id, rec.Code)
		}
	}
	got := s.Deliveries()
	if len(got) != 3 || got[0].EventID != 6 || got[1].EventID != 5 || got[2].EventID != 4 {
		t.Fatalf("retained %+v, want events 6, 5, 4 newest first", got)
	}
	if len(s.seen) != 4 || len(s.order) != 4 {
		t.Fatalf("dedupe set holds %d ids (%d in order), want 4", len(s.seen), len(s.order))
	}
	// 3..6 are remembered; 1 and 2 were forgotten, oldest first.
	for _, c := range []struct {
		id  int64
		dup bool
	}{{6, true}, {3, true}, {2, false}} {
		post(s, signed(secret1, 1, now, envelopeBody(c.id, "pick.confirmed")))
		if d := s.Deliveries()[0]; d.EventID != c.id || d.Duplicate != c.dup {
			t.Fatalf("event %d again: duplicate=%v, want %v", c.id, d.Duplicate, c.dup)
		}
	}
	if st := s.Stats(); st.Received != 9 || st.Valid != 9 || st.Duplicates != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestKeyring(t *testing.T) {
	kr := NewKeyring(vault.NewSecret(secret1))
	ctx := context.Background()
	if _, ok, _ := kr.Secret(ctx, 2); ok {
		t.Fatal("slot 2 should be empty")
	}
	kr.Rotate(vault.NewSecret(secret2))
	s1, ok1, _ := kr.Secret(ctx, 1)
	s2, ok2, _ := kr.Secret(ctx, 2)
	if !ok1 || !ok2 || !s1.Equal(vault.NewSecret(secret2)) || !s2.Equal(vault.NewSecret(secret1)) {
		t.Fatal("Rotate must move slot 1 to slot 2 and store the new secret in slot 1")
	}
	kr.Set(2, vault.Secret{})
	if _, ok, _ := kr.Secret(ctx, 2); ok {
		t.Fatal("a zero secret empties the slot")
	}
	for _, g := range []int{0, 3, -1} {
		if _, ok, _ := kr.Secret(ctx, g); ok {
			t.Fatalf("generation %d has a secret", g)
		}
	}
}

// TestSecretsAndBodiesNeverLogged: whatever is printed or logged about the
// sink and its deliveries holds neither a secret nor a body.
func TestSecretsAndBodiesNeverLogged(t *testing.T) {
	var logs bytes.Buffer
	kr := NewKeyring(vault.NewSecret(secret1))
	kr.Set(2, vault.NewSecret(secret2))
	cfg := Config{Secrets: kr, Clock: clock.NewFake(testNow),
		Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	body := envelopeBody(7, "ship.confirmed")
	post(s, signed(secret1, 1, testNow.Unix(), body))
	post(s, signed(secret1, 1, testNow.Unix(), body))
	post(s, signed("forged", 1, testNow.Unix(), body))
	post(s, signed(secret2, 2, testNow.Unix()-1000, body))
	printed := fmt.Sprintf("%v %+v %#v %s %v %+v %#v", kr, kr, kr, kr, cfg, cfg, s)
	for _, where := range []struct{ name, text string }{{"logs", logs.String()}, {"printed", printed}} {
		for _, secret := range []string{secret1, secret2} {
			if strings.Contains(where.text, secret) {
				t.Fatalf("%s contain a secret:\n%s", where.name, where.text)
			}
		}
		if where.name == "logs" && strings.Contains(where.text, "UPS") {
			t.Fatalf("logs contain a body:\n%s", where.text)
		}
	}
	if n := strings.Count(logs.String(), "\n"); n != 4 {
		t.Fatalf("%d log lines, want one per delivery:\n%s", n, logs.String())
	}
}

func get(t *testing.T, s http.Handler, host, target string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Host = host
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, r)
	return rec
}

// TestPage checks the HTML list with an HTML parser: one row per delivery,
// newest first, verdict and reason, duplicate flag, indented body, and
// nothing from a body interpreted as markup.
func TestPage(t *testing.T) {
	s := newTestSink(t, NewKeyring(vault.NewSecret(secret1)), 10, 0)
	now := testNow.Unix()
	good := signed(secret1, 1, now, envelopeBody(7, "ship.confirmed"))
	post(s, good)
	post(s, signed(secret1, 1, now+1, envelopeBody(7, "ship.confirmed")))
	evil := signed("forged", 1, now, []byte(`{"event_id":9,"event_type":"</code><script>alert(1)</script>"}`))
	post(s, evil)

	rec := get(t, s, "127.0.0.1:5555", "/")
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("page: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	doc, err := html.Parse(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	var rows []*html.Node
	var scripts int
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script":
				scripts++
			case "tr":
				for _, a := range n.Attr {
					if a.Key == "id" {
						rows = append(rows, n)
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if scripts != 0 {
		t.Fatal("a body's markup was rendered as a script element")
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	text := func(n *html.Node) string {
		var b strings.Builder
		var f func(*html.Node)
		f = func(n *html.Node) {
			if n.Type == html.TextNode {
				b.WriteString(n.Data)
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				f(c)
			}
		}
		f(n)
		return b.String()
	}
	cells := func(n *html.Node) []string {
		var out []string
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.Data == "td" {
				out = append(out, strings.Join(strings.Fields(text(c)), " "))
			}
		}
		return out
	}
	// Columns: #, received, delivery id, event, aggregate, signature, answer, body.
	r3, r2, r1 := cells(rows[0]), cells(rows[1]), cells(rows[2])
	if r3[0] != "3" || !strings.HasPrefix(r3[5], "invalid signature does not match") || !strings.HasPrefix(r3[6], "401") {
		t.Fatalf("newest row %q", r3)
	}
	if !strings.Contains(r3[3], "<script>") {
		t.Fatalf("the evil event type should be shown as text: %q", r3[3])
	}
	if r2[0] != "2" || r2[5] != "valid (generation 1)" || r2[6] != "200 duplicate" {
		t.Fatalf("duplicate row %q", r2)
	}
	if r1[0] != "1" || r1[2] != good.header[HeaderDeliveryID] || !strings.HasPrefix(r1[3], "ship.confirmed event_id 7") ||
		r1[4] != "sales_order 2a8c34e2-6c1b-4d7e-9a55-0c3f1e2d4b6a" || r1[6] != "200" || !strings.Contains(r1[1], "2026-05-02 14:22:07.000 UTC") {
		t.Fatalf("first row %q", r1)
	}
	if !strings.Contains(rec.Body.String(), "\n  &#34;event_id&#34;: 7,\n") && !strings.Contains(rec.Body.String(), "\n  \"event_id\": 7,\n") {
		t.Fatalf("body not pretty-printed:\n%s", rec.Body)
	}

	if rec := get(t, s, "127.0.0.1:5555", "/?refresh=3"); !strings.Contains(rec.Body.String(), `http-equiv="refresh" content="3"`) {
		t.Fatal("refresh=3 does not reload the page")
	}
	if rec := get(t, s, "127.0.0.1:5555", "/"); strings.Contains(rec.Body.String(), `http-equiv="refresh"`) {
		t.Fatal("the page reloads without being asked")
	}
}

func TestJSONView(t *testing.T) {
	s := newTestSink(t, NewKeyring(vault.NewSecret(secret1)), 10, 0)
	post(s, signed(secret1, 1, testNow.Unix(), envelopeBody(7, "ship.confirmed")))
	post(s, signed("forged", 1, testNow.Unix(), envelopeBody(8, "ship.confirmed")))
	rec := get(t, s, "localhost:1", JSONPath)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var v struct {
		Stats      Stats `json:"stats"`
		Deliveries []struct {
			Seq       uint64 `json:"seq"`
			EventID   int64  `json:"event_id"`
			Valid     bool   `json:"valid"`
			Reason    string `json:"reason"`
			Duplicate bool   `json:"duplicate"`
			Status    int    `json:"status"`
			Body      string `json:"body"`
		} `json:"deliveries"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.Stats != (Stats{Received: 2, Valid: 1, Invalid: 1}) || len(v.Deliveries) != 2 {
		t.Fatalf("%+v", v)
	}
	if d := v.Deliveries[0]; d.Seq != 2 || d.EventID != 8 || d.Valid || d.Reason == "" || d.Status != 401 {
		t.Fatalf("newest %+v", d)
	}
	if d := v.Deliveries[1]; d.Seq != 1 || !d.Valid || d.Status != 200 || d.Body != string(envelopeBody(7, "ship.confirmed")) {
		t.Fatalf("oldest %+v", d)
	}
}

// TestReadViewsRefuseRebindableHosts: a name that could be rebound to
// 127.0.0.1 cannot read the deliveries; IP literals and localhost can.
func TestReadViewsRefuseRebindableHosts(t *testing.T) {
	s := newTestSink(t, NewKeyring(vault.NewSecret(secret1)), 10, 0)
	for _, c := range []struct {
		host string
		code int
	}{
		{"127.0.0.1:8081", 200}, {"[::1]:8081", 200}, {"localhost:8081", 200}, {"127.0.0.1", 200},
		{"evil.example:8081", 421}, {"127.0.0.1.nip.io:8081", 421}, {"", 421},
	} {
		for _, p := range []string{PagePath, JSONPath} {
			if rec := get(t, s, c.host, p); rec.Code != c.code {
				t.Errorf("Host %q %s: %d, want %d", c.host, p, rec.Code, c.code)
			}
		}
	}
	// Deliveries are authenticated by their signature, not by Host.
	d := signed(secret1, 1, testNow.Unix(), envelopeBody(7, "ship.confirmed"))
	r := d.request()
	r.Host = "hooks.example.com"
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, r)
	if rec.Code != 200 {
		t.Fatalf("delivery with another Host: %d", rec.Code)
	}
}

func TestParsePyInt(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1", 1, true}, {"+1", 1, true}, {"-1", -1, true}, {"007", 7, true}, {" 12\t", 12, true},
		{"1_000", 1000, true}, {"0_1", 1, true}, {"\xa0\x855\r", 5, true}, {"\x1c5", 0, false}, {"5\x1f", 0, false}, {"-0", 0, true},
		{"", 0, false}, {" ", 0, false}, {"+", 0, false}, {"1_", 0, false}, {"_1", 0, false}, {"1__0", 0, false},
		{"+_1", 0, false}, {"1 0", 0, false}, {"0x10", 0, false}, {"1.0", 0, false}, {"1e3", 0, false},
		{"١", 0, false}, {"1\x00", 0, false}, {"++1", 0, false},
		{"9223372036854775807", 9223372036854775807, true}, {"9223372036854775808", 9223372036854775807, true},
		{"-9223372036854775808", -9223372036854775808, true}, {"-9223372036854775809", -9223372036854775808, true},
		{"99999999999999999999999999999", 9223372036854775807, true},
	} {
		got, ok := parsePyInt(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("parsePyInt(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestNewRequiresSecrets(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without Secrets succeeded")
	}
}
