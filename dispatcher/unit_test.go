package dispatcher

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"sentryhub/ssrf"
	"sentryhub/store"
)

func TestRetryDelays(t *testing.T) {
	t.Parallel()
	want := []time.Duration{time.Second, 4 * time.Second, 15 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour}
	var total time.Duration
	for i, w := range want {
		if got := RetryDelay(i + 1); got != w {
			t.Errorf("RetryDelay(%d) = %v, want %v", i+1, got, w)
		}
		total += w
	}
	if RetryDelay(0) != 0 || RetryDelay(8) != 0 {
		t.Error("RetryDelay outside 1..7 must be 0")
	}
	// The contract's "~15 hours nominal, inside ~17h worst case".
	if nominal := total + DeadLetterDelay; nominal < 14*time.Hour || nominal > 15*time.Hour {
		t.Errorf("nominal window %v", nominal)
	}
	if worst := time.Duration(float64(total)*1.1) + DeadLetterDelay; worst > 17*time.Hour {
		t.Errorf("worst case %v exceeds 17h", worst)
	}
	for _, tc := range []struct {
		j    float64
		want time.Duration
	}{{0, 100 * time.Second}, {1, 110 * time.Second}, {-1, 90 * time.Second}, {0.5, 105 * time.Second}, {7, 110 * time.Second}, {-7, 90 * time.Second}} {
		if got := jittered(100*time.Second, tc.j); got != tc.want {
			t.Errorf("jittered(100s, %v) = %v, want %v", tc.j, got, tc.want)
		}
	}
	// Random jitter stays in the band.
	for range 1000 {
		j := defaultJitter()
		if j < -1 || j >= 1 {
			t.Fatalf("jitter %v outside [-1, 1)", j)
		}
	}
	// The first retry is pushed past the second of the failed attempt, so
	// X-Sentry-Delivery-Id changes; later ones never are.
	base := time.Date(2026, 5, 2, 14, 0, 0, 50_000_000, time.UTC)
	if got := nextAttemptAt(RetryDelay(1), base, base.Unix(), -1); !got.Equal(time.Unix(base.Unix()+1, 0)) {
		t.Errorf("first retry at %v, want the next whole second", got)
	}
	late := time.Date(2026, 5, 2, 14, 0, 0, 950_000_000, time.UTC)
	if got := nextAttemptAt(RetryDelay(1), late, late.Unix(), -1); !got.Equal(late.Add(900 * time.Millisecond)) {
		t.Errorf("first retry at %v, want 0.9s later", got)
	}
	whole := time.Date(2026, 5, 2, 14, 0, 0, 0, time.UTC)
	if got := nextAttemptAt(RetryDelay(1), whole, whole.Unix(), 0.5); !got.Equal(whole.Add(1050 * time.Millisecond)) {
		t.Errorf("first retry at %v", got)
	}
	if got := nextAttemptAt(RetryDelay(3), whole, whole.Unix(), -1); !got.Equal(whole.Add(13500 * time.Millisecond)) {
		t.Errorf("third retry at %v", got)
	}
}

func TestSign(t *testing.T) {
	t.Parallel()
	// Computed independently with Python's hmac module.
	if got, want := Sign([]byte("k"), 1744042927, []byte("{}")), "sha256=cb89d0c213643aeb4e6d97fd8a989074614115b5476d5732e479a1343ddbf767"; got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	h := http.Header{}
	body := []byte(`{"event_id":1}`)
	h.Set("X-Sentry-Signature", Sign([]byte("secret"), 1000, body))
	h.Set("X-Sentry-Signature-Generation", "1")
	h.Set("X-Sentry-Timestamp", "1000")
	if !verifySentry(h, body, gen1Only([]byte("secret")), time.Unix(1000, 0)) {
		t.Fatal("seed verifier rejects Sign")
	}
	if verifySentry(h, append(body, '\n'), gen1Only([]byte("secret")), time.Unix(1000, 0)) {
		t.Fatal("a trailing newline must break the signature")
	}
	if verifySentry(h, body, gen1Only([]byte("secret")), time.Unix(1301, 0)) {
		t.Fatal("outside the replay window must fail")
	}
	// python3: base64(hmac.new(b"k", b"msg_1.5.x", sha256).digest())
	if got, want := SignStandard([]byte("k"), "msg_1", 5, []byte("x")), "v1,iJYVeTsTwzdVIUHalOFzl54o0J7/+IZeTTRPTQP9YE0="; got != want {
		t.Fatalf("SignStandard = %q, want %q", got, want)
	}
	if StandardWebhookID(42) != "msg_42" {
		t.Fatal("StandardWebhookID")
	}
}

// bodyReader is a transport that reads the whole request body, as the real
// one does while writing it.
type bodyReader struct{ got []byte }

func (b *bodyReader) RoundTrip(r *http.Request) (*http.Response, error) {
	var err error
	if b.got, err = io.ReadAll(r.Body); err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

func TestBoundaryFailsWhenBytesDiffer(t *testing.T) {
	t.Parallel()
	signed := []byte(`{"event_id":7,"data":{}}`)
	for _, tc := range []struct {
		name string
		sent []byte
		ok   bool
	}{
		{"same bytes", signed, true},
		{"re-serialized with spaces", []byte(`{"event_id": 7,"data":{}}`), false},
		{"one byte changed", bytes.Replace(signed, []byte("7"), []byte("8"), 1), false},
		{"trailing newline", append(append([]byte{}, signed...), '\n'), false},
		{"truncated", signed[:10], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := &bodyReader{}
			ctx := context.WithValue(context.Background(), signedBodyKey{}, signed)
			req, _ := http.NewRequestWithContext(ctx, "POST", "http://x/", bytes.NewReader(tc.sent))
			req.ContentLength = int64(len(signed)) // a lying length is caught by the byte check
			resp, err := boundary{next: next}.RoundTrip(req)
			if tc.ok {
				if err != nil || !bytes.Equal(next.got, signed) {
					t.Fatalf("err %v, sent %q", err, next.got)
				}
				resp.Body.Close()
				return
			}
			if !errors.Is(err, ErrBodyMismatch) {
				t.Fatalf("err = %v, want ErrBodyMismatch", err)
			}
			if classify(err) != store.KindUnknown {
				t.Fatal("a body mismatch must classify as unknown")
			}
		})
	}
	// A request that was never signed is refused outright.
	req, _ := http.NewRequest("POST", "http://x/", strings.NewReader("{}"))
	if _, err := (boundary{next: &bodyReader{}}).RoundTrip(req); !errors.Is(err, ErrBodyMismatch) {
		t.Fatalf("unsigned request: %v", err)
	}
	// A wrong Content-Length is refused before anything is sent.
	ctx := context.WithValue(context.Background(), signedBodyKey{}, signed)
	req, _ = http.NewRequestWithContext(ctx, "POST", "http://x/", bytes.NewReader(signed[:5]))
	if _, err := (boundary{next: &bodyReader{}}).RoundTrip(req); !errors.Is(err, ErrBodyMismatch) {
		t.Fatalf("short Content-Length: %v", err)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want store.ErrorKind
	}{
		{&ssrf.BlockedError{Host: "x", Reason: "loopback"}, store.KindSSRFRejected},
		{fmt.Errorf("dial: %w", &ssrf.BlockedError{Addr: netip.MustParseAddr("10.0.0.1"), Reason: "private"}), store.KindSSRFRejected},
		{context.DeadlineExceeded, store.KindTimeout},
		{&net.OpError{Op: "read", Err: timeoutErr{}}, store.KindTimeout},
		{fmt.Errorf("x: %w", os.ErrDeadlineExceeded), store.KindTimeout},
		{x509.UnknownAuthorityError{}, store.KindTLS},
		{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, store.KindTLS},
		{x509.HostnameError{Host: "x"}, store.KindTLS},
		{tls.RecordHeaderError{Msg: "not tls"}, store.KindTLS},
		{fmt.Errorf("post: %w", http.ErrSchemeMismatch), store.KindTLS},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: handshake failure")}, store.KindTLS},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, store.KindConnection},
		{&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, store.KindConnection},
		{syscall.ECONNRESET, store.KindConnection},
		{io.ErrUnexpectedEOF, store.KindConnection},
		{fmt.Errorf("post: %w", io.EOF), store.KindConnection},
		{errors.New("something odd"), store.KindUnknown},
		{fmt.Errorf("%w at byte 3", ErrBodyMismatch), store.KindUnknown},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestErrorCatalog(t *testing.T) {
	t.Parallel()
	kinds := store.ErrorKinds()
	if len(kinds) != 7 {
		t.Fatalf("%d kinds, the contract has exactly 7", len(kinds))
	}
	seen := map[store.ErrorKind]bool{}
	for _, e := range store.ErrorCatalog() {
		if e.Message == "" || e.Hint == "" || seen[e.Kind] {
			t.Errorf("catalog entry %+v", e)
		}
		seen[e.Kind] = true
	}
	if !strings.Contains(store.KindUnknown.Entry().Hint, "3xx") {
		t.Error("the unknown entry must document redirects")
	}
	if store.ErrorKind("bogus").Entry().Kind != store.KindUnknown {
		t.Error("unknown kinds map to the unknown entry")
	}
}

func TestMailbox(t *testing.T) {
	t.Parallel()
	m := newMailbox[int]()
	for i := range 3 {
		m.put(i)
	}
	<-m.signal
	if got := m.take(); len(got) != 3 || got[0] != 0 || got[2] != 2 {
		t.Fatalf("take = %v", got)
	}
}

// The batch completer queues records in order, pokes the engine on each,
// signals a full batch, holds actors back past the backlog limit, and
// wakes them when a commit takes the backlog down.
func TestBatchCompleter(t *testing.T) {
	t.Parallel()
	pokes := 0
	c := newBatchCompleter(3, 4, func() { pokes++ })
	var _ completer = c
	for i := range 5 {
		c.record(record{sub: 1, upd: store.DeliveryUpdate{ID: int64(i)}})
		if got, want := c.isFull(), i >= 2; got != want {
			t.Fatalf("after %d records: full %v", i+1, got)
		}
	}
	select {
	case <-c.full:
	default:
		t.Fatal("a full batch was not signalled")
	}
	if pokes != 5 || !c.backlogged() {
		t.Fatalf("pokes %d, backlogged %v", pokes, c.backlogged())
	}
	waiting := c.committed()
	recs := c.take()
	if len(recs) != 5 || recs[0].upd.ID != 0 || recs[4].upd.ID != 4 || len(c.take()) != 0 {
		t.Fatalf("take = %+v", recs)
	}
	if !c.backlogged() {
		t.Fatal("taken but uncommitted records still count")
	}
	c.done(len(recs))
	select {
	case <-waiting:
	default:
		t.Fatal("the commit did not wake waiting actors")
	}
	if c.backlogged() {
		t.Fatal("backlogged after the commit")
	}
}

// Zero settings take their defaults; negative ones are refused by name.
func TestNewRefusesNegativeSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	base := e.cfg
	base.Registry = nil // a fresh registry per New
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want string
	}{
		{"defaults", func(c *Config) { c.CommitLinger, c.MaxBacklog = 0, 0 }, ""},
		{"one", func(c *Config) { c.CommitLinger = -time.Millisecond }, "CommitLinger"},
		{"two", func(c *Config) { c.HTTPTimeout, c.MaxBacklog = -1, -1 }, "HTTPTimeout, MaxBacklog"},
		{"dead-letter delay", func(c *Config) { c.DeadLetterDelay = -time.Second }, "DeadLetterDelay"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.set(&cfg)
			d, err := New(cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.want == "" && (d.cfg.CommitLinger != 2*time.Millisecond || d.cfg.MaxBacklog != 1<<16):
				t.Fatalf("defaults not applied: %+v", d.cfg)
			case tc.want == "" && (d.cfg.DeadLetterDelay != DeadLetterDelay || d.cfg.RetryDelay(3) != 15*time.Second):
				// Production keeps the contract's schedule.
				t.Fatalf("retry defaults: dead-letter %v, third retry %v", d.cfg.DeadLetterDelay, d.cfg.RetryDelay(3))
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("New: %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
