package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"sentryhub/clock"
	"sentryhub/dispatcher"
	"sentryhub/store/vault"
)

// pyIntGrammar is Python's int() literal for base 10 once surrounding
// whitespace is stripped: an independent statement of what parsePyInt
// accepts.
var pyIntGrammar = regexp.MustCompile(`^[+-]?[0-9]+(_[0-9]+)*$`)

// checkPyInt holds parsePyInt to an oracle built from the grammar above
// and strconv.
func checkPyInt(t *testing.T, s string) {
	t.Helper()
	got, ok := parsePyInt(s)
	// The Latin-1 characters int() skips around a number, byte by byte (strings.Trim
	// would decode UTF-8 and treat every invalid byte alike).
	const pySpace = "\t\n\v\f\r \x85\xa0"
	lit := s
	for lit != "" && strings.IndexByte(pySpace, lit[0]) >= 0 {
		lit = lit[1:]
	}
	for lit != "" && strings.IndexByte(pySpace, lit[len(lit)-1]) >= 0 {
		lit = lit[:len(lit)-1]
	}
	if want := pyIntGrammar.MatchString(lit); ok != want {
		t.Fatalf("parsePyInt(%q) ok=%v, grammar says %v", s, ok, want)
	}
	if !ok {
		return
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(lit, "_", ""), 10, 64)
	switch {
	case err == nil && n != got:
		t.Fatalf("parsePyInt(%q) = %d, want %d", s, got, n)
	case errors.Is(err, strconv.ErrRange) && got != n: // ParseInt clamps to the same bound
		t.Fatalf("parsePyInt(%q) = %d, want the clamped %d", s, got, n)
	case err != nil && !errors.Is(err, strconv.ErrRange):
		t.Fatalf("parsePyInt(%q) accepted what strconv cannot read: %v", s, err)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n != got {
		t.Fatalf("parsePyInt(%q) = %d, strconv %d", s, got, n)
	}
}

// FuzzReceive drives the sink's handler with arbitrary headers and bodies.
// When sign is set the request is signed as the dispatcher signs it, at
// skew seconds from the sink's clock: it must be valid exactly when the
// skew is inside the replay window, and a second copy must be a duplicate.
// Otherwise the headers are whatever the fuzzer chose, and anything the
// sink calls valid must really carry the right HMAC.
func FuzzReceive(f *testing.F) {
	now := testNow.Unix()
	body := envelopeBody(7, "ship.confirmed")
	good := signed(secret1, 1, now, body).header
	f.Add(good[HeaderSignature], "1", strconv.FormatInt(now, 10), body, false, int16(0))
	f.Add("", "", "", body, true, int16(0))
	f.Add("", "", "", body, true, int16(301))
	f.Add("", "", "", body, true, int16(-300))
	f.Add("", "", "", []byte(`[1,2]`), true, int16(5))
	f.Add("", "", "", []byte(`{"event_id":-1}`), true, int16(5))
	f.Add("", "", "", []byte(`{"event_id":1e3,"aggregate_id":"\u0000<b>"}`), true, int16(0))
	f.Add("sha256=", "+1", " "+strconv.FormatInt(now, 10)+" ", body, false, int16(0))
	f.Add("sha256="+strings.ToUpper(strings.TrimPrefix(good[HeaderSignature], "sha256=")), "01", "1_7", []byte{}, false, int16(0))
	f.Add("sha1=x", "1_0", "99999999999999999999999", []byte("\xff\xfe"), false, int16(0))
	f.Add("sha256=zz", "\xa01\x85", "-9223372036854775809", []byte("{"), false, int16(0))
	f.Add("", "", "", []byte(`{"AggregAte_id":{},"Event_ID":5,"event_id":1}`), true, int16(0))
	f.Add("", "", "", []byte(`{"event_id":1,"event_id":2} `), true, int16(0))

	key := []byte(secret1)
	f.Fuzz(func(t *testing.T, sig, gen, ts string, body []byte, sign bool, skew int16) {
		checkPyInt(t, gen)
		checkPyInt(t, ts)

		s, err := New(Config{Secrets: NewKeyring(vault.NewSecret(secret1)), Keep: 4, Clock: clock.NewFake(testNow)})
		if err != nil {
			t.Fatal(err)
		}
		if sign {
			at := now + int64(skew)
			sig, gen, ts = dispatcher.Sign(key, at, body), "1", strconv.FormatInt(at, 10)
		}
		d := delivery{header: map[string]string{HeaderSignature: sig, HeaderSignatureGeneration: gen, HeaderTimestamp: ts}, body: body}
		rec := post(s, d)
		got := s.Deliveries()
		if len(got) != 1 {
			t.Fatalf("%d deliveries recorded", len(got))
		}
		r := got[0]
		if r.Status != rec.Code || r.Valid != (r.Reason == "") {
			t.Fatalf("inconsistent record %+v for answer %d", r, rec.Code)
		}
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest:
			if !r.Valid {
				t.Fatalf("answered %d to an invalid delivery: %s", rec.Code, r.Reason)
			}
		case http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
			if r.Valid {
				t.Fatalf("answered %d to a valid delivery", rec.Code)
			}
		default:
			t.Fatalf("unexpected status %d", rec.Code)
		}
		if r.Body != string(body) && !r.BodyTruncated {
			t.Fatal("the recorded body differs from the bytes received")
		}

		if r.Valid {
			// An independent check of what "valid" means.
			g, _ := parsePyInt(gen)
			at, _ := parsePyInt(ts)
			if g != 1 || at < now-300 || at > now+300 || sig != dispatcher.Sign(key, at, body) {
				t.Fatalf("valid verdict for gen %q ts %q sig %q", gen, ts, sig)
			}
			// An envelope is a JSON object whose (exactly named) event_id
			// is a positive integer; nothing else decides.
			var obj map[string]any
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			var id int64
			envOK := dec.Decode(&obj) == nil && !dec.More() && json.Valid(body)
			if n, isNum := obj["event_id"].(json.Number); envOK && isNum {
				id, err = strconv.ParseInt(string(n), 10, 64)
				envOK = err == nil && id > 0
			} else {
				envOK = false
			}
			if envOK != (rec.Code == http.StatusOK) || envOK != (r.EventID == id && r.EventID > 0) {
				t.Fatalf("envelope event_id %d (ok=%v) answered %d, recorded event %d, notes %q", id, envOK, rec.Code, r.EventID, r.Notes)
			}
			if envOK {
				again := post(s, d)
				if d2 := s.Deliveries()[0]; again.Code != http.StatusOK || !d2.Duplicate || d2.EventID != r.EventID {
					t.Fatalf("second copy: %d %+v", again.Code, d2)
				}
			}
		}
		if sign && r.Valid != (skew >= -300 && skew <= 300) {
			t.Fatalf("signed at skew %d: valid=%v (%s)", skew, r.Valid, r.Reason)
		}

		// Both views render whatever arrived.
		for _, p := range []string{PagePath, JSONPath} {
			req := httptest.NewRequest(http.MethodGet, p, nil)
			req.Host = "127.0.0.1:1"
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				t.Fatalf("%s: %d", p, w.Code)
			}
			if p == JSONPath && !json.Valid(w.Body.Bytes()) {
				t.Fatalf("JSON view is not JSON: %s", w.Body)
			}
		}
		_ = page(pageView{Deliveries: []deliveryView{{Delivery: r, Pretty: pretty(r.Body, r.BodyTruncated)}}}).Render(context.Background(), io.Discard)
		if p := pretty(string(body), false); json.Valid(body) && !json.Valid([]byte(p)) {
			t.Fatalf("pretty-printing broke valid JSON: %q", p)
		}
	})
}
