package dispatcher

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fernet/fernet-go"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"sentryhub/clock"
	"sentryhub/ssrf"
	"sentryhub/store"
	"sentryhub/store/storetest"
	"sentryhub/store/vault"
)

// waitTimeout bounds every wait on a condition; correctness never depends
// on it, only how long a broken test takes to fail.
const waitTimeout = 20 * time.Second

type env struct {
	t     *testing.T
	db    *store.DB
	vault *vault.Vault
	d     *Dispatcher
	cfg   Config
	reg   *prometheus.Registry
	fake  *clock.Fake // nil with the real clock
	logs  *logBuffer
	key   *fernet.Key

	cancel context.CancelFunc
	done   chan error
}

// logBuffer collects log output so tests can check it holds no secret.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type envOpt func(*Config)

func withFakeClock(start time.Time) envOpt {
	return func(c *Config) { c.Clock = clock.NewFake(start) }
}

// newEnv opens a fresh database in t.TempDir() with a dispatcher whose
// guard exempts loopback (the httptest consumers).
func newEnv(t *testing.T, opts ...envOpt) *env {
	t.Helper()
	return newEnvAt(t, filepath.Join(t.TempDir(), "hub.db"), nil, opts...)
}

func newEnvAt(t *testing.T, path string, key *fernet.Key, opts ...envOpt) *env {
	t.Helper()
	db := storetest.Open(t, path, store.WithAuditKey(store.DeriveAuditKey([]byte("test"))))
	var err error
	if key == nil {
		key = &fernet.Key{}
		if err := key.Generate(); err != nil {
			t.Fatal(err)
		}
	}
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	cfg := Config{
		DB:             db,
		Guard:          ssrf.New(ssrf.Config{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}),
		Log:            slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registry:       reg,
		AllowHTTP:      true,
		ConnectTimeout: 2 * time.Second,
		ReadTimeout:    2 * time.Second,
		HTTPTimeout:    3 * time.Second,
		ShutdownGrace:  3 * time.Second,
		Jitter:         func() float64 { return 0 },
	}
	for _, o := range opts {
		o(&cfg)
	}
	e := &env{t: t, db: db, cfg: cfg, reg: reg, logs: logs, key: key}
	if f, ok := cfg.Clock.(*clock.Fake); ok {
		e.fake = f
		db.Now = f.Now
	}
	e.vault = vault.New(db, key)
	cfg.Vault = e.vault
	e.d, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Zero-size values: a buffer that no test run can fill costs nothing.
	e.d.signals.Commit.InitSize(t, "dispatcher commit", 1<<30)
	e.cfg = e.d.cfg
	return e
}

// start runs the dispatcher until the test ends (or stop is called).
func (e *env) start() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.done = make(chan error, 1)
	go func() { e.done <- e.d.Run(ctx) }()
	e.t.Cleanup(e.stop)
}

// stop cancels Run and waits for it; safe to call twice.
func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	select {
	case err := <-e.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			e.t.Errorf("Run: %v", err)
		}
	case <-time.After(waitTimeout):
		e.t.Error("Run did not return after cancel")
	}
	e.cancel = nil
}

func (e *env) create(in store.SubscriptionCreate) (store.Subscription, []byte) {
	e.t.Helper()
	if in.Name == "" {
		in.Name = "test"
	}
	s, sec, err := e.d.CreateSubscription(context.Background(), "test", in)
	if err != nil {
		e.t.Fatalf("create subscription: %v", err)
	}
	return s, sec.Reveal()
}

// appendEvents appends n events spread over aggregates (round robin) and
// returns their ids. Event types cycle through ship/pick/pack.
func (e *env) appendEvents(n, aggregates int) []int64 {
	e.t.Helper()
	return appendEventsTo(e.t, e.db, n, aggregates, 0)
}

var testAggregates = func() []string {
	out := make([]string, 4096)
	for i := range out {
		out[i] = uuid.NewSHA1(uuid.NameSpaceOID, []byte(strconv.Itoa(i))).String()
	}
	return out
}()

func appendEventsTo(tb testing.TB, db *store.DB, n, aggregates, offset int) []int64 {
	tb.Helper()
	types := []string{store.EventShipConfirmed, store.EventPickConfirmed, store.EventPackConfirmed}
	var ids []int64
	for start := 0; start < n; start += 500 {
		var evs []store.NewEvent
		for i := start; i < min(n, start+500); i++ {
			k := offset + i
			evs = append(evs, store.NewEvent{
				EventType:     types[k%len(types)],
				AggregateType: store.AggregateSalesOrder,
				AggregateID:   testAggregates[k%aggregates],
				WarehouseID:   int64(1 + k%3),
				SourceTxnID:   uuid.NewString(),
				Data:          json.RawMessage(fmt.Sprintf(`{"seq":%d,"note":"héllo"}`, k)),
			})
		}
		got, err := db.AppendEvents(context.Background(), evs)
		if err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, got...)
	}
	return ids
}

// captured is one request a consumer received.
type captured struct {
	header http.Header
	body   []byte
	at     time.Time // consumer-side clock reading (the env's clock)
}

func (c captured) eventID(t testing.TB) int64 {
	var env struct {
		EventID int64 `json:"event_id"`
	}
	if err := json.Unmarshal(c.body, &env); err != nil {
		t.Fatalf("body %q: %v", c.body, err)
	}
	return env.EventID
}

func (c captured) aggregate(t testing.TB) string {
	var env struct {
		AggregateID string `json:"aggregate_id"`
	}
	if err := json.Unmarshal(c.body, &env); err != nil {
		t.Fatalf("body %q: %v", c.body, err)
	}
	return env.AggregateID
}

// consumer is an httptest webhook endpoint. respond decides each answer
// (nil: 200); every request is captured and also sent on got.
type consumer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []captured
	got     chan captured
	now     func() time.Time
	respond func(w http.ResponseWriter, r *http.Request, c captured) bool // true: handled
}

func newConsumer(t *testing.T, now func() time.Time, respond func(w http.ResponseWriter, r *http.Request, c captured) bool) *consumer {
	c := &consumer{got: make(chan captured, 100000), now: now, respond: respond}
	if c.now == nil {
		c.now = time.Now
	}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *consumer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	cp := captured{header: r.Header.Clone(), body: body, at: c.now()}
	c.mu.Lock()
	c.reqs = append(c.reqs, cp)
	c.mu.Unlock()
	select {
	case c.got <- cp:
	default:
	}
	if c.respond != nil && c.respond(w, r, cp) {
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (c *consumer) all() []captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]captured(nil), c.reqs...)
}

// wait returns the next request, failing the test after waitTimeout.
func (c *consumer) wait(t testing.TB) captured {
	t.Helper()
	select {
	case r := <-c.got:
		return r
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for a webhook request")
	}
	return captured{}
}

// waitN waits for n more requests.
func (c *consumer) waitN(t testing.TB, n int) []captured {
	t.Helper()
	out := make([]captured, 0, n)
	for range n {
		out = append(out, c.wait(t))
	}
	return out
}

// untilCommitted waits until cond (a database read, typically) holds,
// checking it after each engine commit: the engine writes every delivery
// and subscription change, so a condition on them can only become true at
// a commit.
func (e *env) untilCommitted(what string, cond func() bool) {
	e.t.Helper()
	e.d.signals.Commit.Until(what, cond)
}

// eventually polls cond until it holds. Use it only for state no signal
// reports (a log line, the reaper's delete, an actor's inbox); for rows
// the engine writes use untilCommitted.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// verifySentry follows the Go verifier of docs/webhooks.md ("Verifying a
// delivery"): headers as received, the raw body, secrets per generation,
// and now for the replay window.
func verifySentry(h http.Header, rawBody []byte, secretFor func(int) []byte, now time.Time) bool {
	const replayWindowS = 300
	sig := h.Get("X-Sentry-Signature")
	if !strings.HasPrefix(sig, "sha256=") {
		return false
	}
	receivedHex := sig[len("sha256="):]
	generation, err1 := strconv.Atoi(h.Get("X-Sentry-Signature-Generation"))
	timestamp, err2 := strconv.ParseInt(h.Get("X-Sentry-Timestamp"), 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	if generation != 1 && generation != 2 {
		return false
	}
	if d := now.Unix() - timestamp; d > replayWindowS || d < -replayWindowS {
		return false
	}
	secret := secretFor(generation)
	if secret == nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(timestamp, 10) + "."))
	m.Write(rawBody)
	expected := hex.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(expected), []byte(receivedHex))
}

func gen1Only(key []byte) func(int) []byte {
	return func(g int) []byte {
		if g == 1 {
			return key
		}
		return nil
	}
}

// deliveries returns every delivery of a subscription (status "" for all)
// in id order, paging newest first through the public query.
func deliveries(t testing.TB, db *store.DB, subID int64, status store.DeliveryStatus) []store.Delivery {
	t.Helper()
	var out []store.Delivery
	before := int64(0)
	for {
		page, more, err := db.Deliveries(context.Background(), subID, store.DeliveryQuery{Status: status, Before: before, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if !more {
			break
		}
		before = page[len(page)-1].ID
	}
	slices.Reverse(out)
	return out
}
