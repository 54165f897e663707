package dispatchbench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fernet/fernet-go"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"sentryhub/clock"
	"sentryhub/dispatcher"
	"sentryhub/ssrf"
	"sentryhub/store"
	"sentryhub/store/vault"
)

// Options configures one run.
type Options struct {
	Events        int     // events appended (default 20000)
	Subscriptions int     // subscriptions, each receiving every event (default 1)
	Aggregates    int     // distinct aggregates (lanes per subscription; default 1000)
	Rate          float64 // events appended per second; 0: as fast as possible
	MaxInFlight   int     // per subscription (default 64; "aggregate" only)
	// Ordering of the subscriptions: store.OrderingGlobal (strict
	// event_id order, one request at a time) or store.OrderingAggregate
	// (lanes in parallel); default store.DefaultOrdering.
	Ordering string
	// PendingCeiling of each subscription; default: above Events, so
	// the whole run may be open at once. A lower one measures draining a
	// backlog through the ceiling.
	PendingCeiling int64
	// Preload inserts this many finished delivery rows for the first
	// subscription before the run, to measure dispatch cost against a large
	// table.
	Preload int
	// Dir holds the database (default: a new temporary directory, removed
	// afterwards).
	Dir     string
	Timeout time.Duration // default 10 minutes
	Log     *slog.Logger  // default: discard
}

// Latency is a latency summary in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

// Result is what a run measured. It marshals to the JSON line the bench
// command prints.
type Result struct {
	Ordering              string  `json:"ordering"`
	Events                int     `json:"events"`
	Subscriptions         int     `json:"subscriptions"`
	Aggregates            int     `json:"aggregates"`
	Rate                  float64 `json:"rate"`
	MaxInFlight           int     `json:"max_in_flight"`
	PendingCeiling        int64   `json:"pending_ceiling"`
	Preloaded             int     `json:"preloaded_rows"`
	Deliveries            int64   `json:"deliveries"`
	ElapsedSeconds        float64 `json:"elapsed_s"`
	DeliveriesPerSec      float64 `json:"deliveries_per_sec"`
	CommitToPOST          Latency `json:"commit_to_post_ms"`
	PeakRSSMB             float64 `json:"peak_rss_mb"`
	Duplicates            int64   `json:"duplicates"`
	OutOfOrder            int64   `json:"out_of_order"`
	BadSignatures         int64   `json:"bad_signatures"`
	Statements            uint64  `json:"statements"`
	StatementsPerDelivery float64 `json:"statements_per_delivery"`
	CPUs                  int     `json:"cpus"`
	GoMaxProcs            int     `json:"gomaxprocs"`
}

// Run performs one measurement: it opens a fresh database, starts the
// dispatcher and a loopback sink, creates the subscriptions, appends the
// events (at Rate, or in batches of 500 as fast as the store allows), and
// waits until every subscription has received every event. Throughput is
// unique deliveries over the time from the first append to the last
// delivery; latency is from each event's commit to its first POST.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Events <= 0 {
		o.Events = 20000
	}
	if o.Subscriptions <= 0 {
		o.Subscriptions = 1
	}
	if o.Aggregates <= 0 {
		o.Aggregates = 1000
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 64
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.PendingCeiling <= 0 {
		// Throughput, not backpressure: the whole run may be open at once.
		o.PendingCeiling = int64(max(o.Events+1, store.DefaultPendingCeiling))
	}
	if o.Ordering == "" {
		o.Ordering = store.DefaultOrdering
	}
	if o.Ordering != store.OrderingGlobal && o.Ordering != store.OrderingAggregate {
		return Result{}, fmt.Errorf("bench: ordering %q: must be %q or %q", o.Ordering, store.OrderingGlobal, store.OrderingAggregate)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	res := Result{Ordering: o.Ordering, Events: o.Events, Subscriptions: o.Subscriptions, Aggregates: o.Aggregates, Rate: o.Rate,
		MaxInFlight: o.MaxInFlight, PendingCeiling: o.PendingCeiling, Preloaded: o.Preload, CPUs: runtime.NumCPU(), GoMaxProcs: runtime.GOMAXPROCS(0)}
	if o.Dir == "" {
		dir, err := os.MkdirTemp("", "sentryhub-bench-")
		if err != nil {
			return res, fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(dir)
		o.Dir = dir
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	var key fernet.Key
	if err := key.Generate(); err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	db, err := store.Open(ctx, filepath.Join(o.Dir, store.FileName), store.WithAuditKey(store.DeriveAuditKey(key[:])))
	if err != nil {
		return res, err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return res, err
	}
	d, err := dispatcher.New(dispatcher.Config{
		DB:        db,
		Vault:     vault.New(db, &key),
		Guard:     ssrf.New(ssrf.Config{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}),
		Log:       o.Log,
		Clock:     clock.Real{},
		Registry:  prometheus.NewRegistry(),
		AllowHTTP: true,
	})
	if err != nil {
		return res, err
	}

	sink, err := newSink(o.Subscriptions, o.Events, o.Ordering == store.OrderingGlobal)
	if err != nil {
		return res, err
	}
	defer sink.close()

	runCtx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- d.Run(runCtx) }()
	defer func() {
		stop()
		<-runErr
	}()

	subIdx := map[int64]int{}
	for i := range o.Subscriptions {
		s, sec, err := d.CreateSubscription(ctx, "bench", store.SubscriptionCreate{
			Name: fmt.Sprintf("bench-%d", i), URL: sink.url(i),
			PendingCeiling: ptr(o.PendingCeiling),
			MaxInFlight:    ptr(o.MaxInFlight),
			Ordering:       ptr(o.Ordering),
		})
		if err != nil {
			return res, err
		}
		subIdx[s.ID] = i
		sink.keys[i] = sec.Reveal()
		if i == 0 && o.Preload > 0 {
			if err := preload(ctx, db, s.ID, o.Preload); err != nil {
				return res, err
			}
		}
	}

	aggs := make([]string, o.Aggregates)
	for i := range aggs {
		aggs[i] = uuid.NewString()
	}
	baseStatements := d.Statements()
	start := time.Now()
	sink.start(start)
	appendCtx, stopAppend := context.WithCancel(ctx)
	appendErr := make(chan error, 1)
	go func() { appendErr <- appendAll(appendCtx, db, o, aggs, sink) }()
	waitAppend := func() error {
		stopAppend()
		return <-appendErr
	}

	select {
	case <-sink.done:
	case err := <-runErr:
		waitAppend()
		runErr <- err // for the deferred stop
		return res, fmt.Errorf("dispatcher stopped: %v", err)
	case <-ctx.Done():
		waitAppend()
		return res, fmt.Errorf("bench timed out with %d of %d deliveries: %w", sink.unique.Load(), int64(o.Events*o.Subscriptions), ctx.Err())
	}
	if err := waitAppend(); err != nil {
		return res, err
	}
	elapsed := sink.last.Sub(start)
	res.Deliveries = sink.unique.Load()
	res.ElapsedSeconds = elapsed.Seconds()
	res.DeliveriesPerSec = float64(res.Deliveries) / elapsed.Seconds()
	res.Duplicates = sink.dups.Load()
	res.OutOfOrder = sink.ooo.Load()
	res.BadSignatures = sink.bad.Load()
	res.Statements = d.Statements() - baseStatements
	res.StatementsPerDelivery = float64(res.Statements) / float64(res.Deliveries)
	lat := sink.latencies()
	res.CommitToPOST = Latency{P50: store.Percentile(lat, 50), P95: store.Percentile(lat, 95), P99: store.Percentile(lat, 99)}
	res.PeakRSSMB = peakRSSMB()
	return res, nil
}

func ptr[T any](v T) *T { return &v }

// preload inserts n finished deliveries for a subscription in one
// statement, each with a one-attempt history like a real success.
func preload(ctx context.Context, db *store.DB, subID int64, n int) error {
	_, err := db.Writer().ExecContext(ctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?)
		INSERT INTO webhook_deliveries (subscription_id, event_id, status, attempts, last_attempt_at,
			last_status_code, attempt_log, created_at, completed_at)
		SELECT ?, -x, 'succeeded', 1, '2026-01-01T00:00:00.000Z', 200,
			'[{"t":"2026-01-01T00:00:00.000Z","ms":3,"c":200}]', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'
		FROM c`, n, subID)
	if err != nil {
		return fmt.Errorf("preload %d deliveries: %w", n, err)
	}
	return nil
}

func appendAll(ctx context.Context, db *store.DB, o Options, aggs []string, s *sink) error {
	types := []string{store.EventShipConfirmed, store.EventPickConfirmed, store.EventPackConfirmed, store.EventAdjustmentApplied}
	batch := 500
	var tick *time.Ticker
	if o.Rate > 0 {
		batch = 1
		tick = time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
		defer tick.Stop()
	}
	for i := 0; i < o.Events; i += batch {
		if tick != nil {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		evs := make([]store.NewEvent, 0, batch)
		for k := i; k < min(o.Events, i+batch); k++ {
			data, _ := json.Marshal(map[string]any{"order_number": "SO-" + strconv.Itoa(k), "carrier": "UPS",
				"tracking": "1Z" + strconv.Itoa(100000+k), "lines": []map[string]any{{"sku": "WIDGET-1", "qty": 1 + k%5}}})
			evs = append(evs, store.NewEvent{EventType: types[k%len(types)], AggregateType: store.AggregateSalesOrder,
				AggregateID: aggs[k%len(aggs)], WarehouseID: int64(1 + k%3), SourceTxnID: uuid.NewString(), Data: data})
		}
		ids, err := db.AppendEvents(ctx, evs)
		if err != nil {
			return fmt.Errorf("append events: %w", err)
		}
		s.committed(ids, time.Now())
	}
	return nil
}

// sink is the loopback consumer: one path per subscription, every request
// verified with the seed's algorithm, order checked per aggregate (or, for
// ordering "global", across the subscription).
type sink struct {
	srv      *http.Server
	ln       net.Listener
	served   chan struct{} // closed when Serve returns
	keys     [][]byte
	events   int
	firstID  atomic.Int64 // event_id of the first appended event
	commitNS []atomic.Int64
	postNS   []atomic.Int64 // first POST per (subscription, event)
	seen     []atomic.Bool  // per (subscription, event)
	mu       sync.Mutex
	laneLast []map[string]int64
	global   bool // one lane per subscription: strict event_id order
	unique   atomic.Int64
	dups     atomic.Int64
	ooo      atomic.Int64
	bad      atomic.Int64
	want     int64
	t0       time.Time
	last     time.Time
	done     chan struct{}
	doneOnce sync.Once
}

func newSink(subs, events int, global bool) (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench sink: %w", err)
	}
	s := &sink{ln: ln, keys: make([][]byte, subs), events: events,
		commitNS: make([]atomic.Int64, events), postNS: make([]atomic.Int64, subs*events),
		seen: make([]atomic.Bool, subs*events), laneLast: make([]map[string]int64, subs),
		want: int64(subs * events), done: make(chan struct{}), global: global}
	for i := range s.laneLast {
		s.laneLast[i] = map[string]int64{}
	}
	s.firstID.Store(-1)
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		s.srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed at close
	}()
	return s, nil
}

func (s *sink) url(i int) string {
	return "http://" + s.ln.Addr().String() + "/hook/" + strconv.Itoa(i)
}

func (s *sink) close() {
	s.srv.Close()
	<-s.served
}

func (s *sink) start(t0 time.Time) { s.t0 = t0 }

func (s *sink) committed(ids []int64, at time.Time) {
	if len(ids) == 0 {
		return
	}
	s.firstID.CompareAndSwap(-1, ids[0])
	first := s.firstID.Load()
	for _, id := range ids {
		if i := id - first; i >= 0 && i < int64(s.events) {
			s.commitNS[i].Store(at.UnixNano())
		}
	}
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	sub, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hook/"))
	body, rerr := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || rerr != nil || sub < 0 || sub >= len(s.keys) {
		s.bad.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if !verify(r.Header, body, s.keys[sub], now) {
		s.bad.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	eventID, agg := fields(body)
	i := eventID - s.firstID.Load()
	if i < 0 || i >= int64(s.events) || agg == "" {
		s.bad.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	k := int64(sub)*int64(s.events) + i
	if s.seen[k].Swap(true) {
		s.dups.Add(1)
		w.WriteHeader(http.StatusOK)
		return
	}
	s.postNS[k].Store(now.UnixNano())
	if s.global {
		agg = "*"
	}
	s.mu.Lock()
	if last := s.laneLast[sub][agg]; eventID < last {
		s.ooo.Add(1)
	} else {
		s.laneLast[sub][agg] = eventID
	}
	if now.After(s.last) {
		s.last = now
	}
	s.mu.Unlock()
	if s.unique.Add(1) == s.want {
		s.doneOnce.Do(func() { close(s.done) })
	}
	w.WriteHeader(http.StatusOK)
}

func (s *sink) latencies() []float64 {
	out := make([]float64, 0, len(s.postNS))
	for k := range s.postNS {
		post := s.postNS[k].Load()
		commit := s.commitNS[k%s.events].Load()
		if post > 0 && commit > 0 {
			out = append(out, float64(post-commit)/1e6)
		}
	}
	slices.Sort(out)
	return out
}

// verify is the seed's verify_webhook: sha256=hex(HMAC(key, "<ts>.<body>"))
// with a five-minute replay window.
func verify(h http.Header, body, key []byte, now time.Time) bool {
	sig := h.Get(dispatcher.HeaderSignature)
	if !strings.HasPrefix(sig, "sha256=") || h.Get(dispatcher.HeaderSignatureGeneration) != "1" {
		return false
	}
	ts, err := strconv.ParseInt(h.Get(dispatcher.HeaderTimestamp), 10, 64)
	if err != nil || now.Unix()-ts > 300 || ts-now.Unix() > 300 {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	m.Write(body)
	want := make([]byte, hex.EncodedLen(sha256.Size))
	hex.Encode(want, m.Sum(nil))
	return hmac.Equal(want, []byte(sig[len("sha256="):]))
}

// fields extracts event_id and aggregate_id from a canonical envelope
// without a full JSON parse (the sink must not be the bottleneck).
func fields(body []byte) (int64, string) {
	var agg string
	if i := bytes.Index(body, []byte(`"aggregate_id":"`)); i >= 0 {
		rest := body[i+len(`"aggregate_id":"`):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 {
			agg = string(rest[:j])
		}
	}
	i := bytes.LastIndex(body, []byte(`,"event_id":`))
	if i < 0 {
		return -1, agg
	}
	rest := body[i+len(`,"event_id":`):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	id, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	if err != nil {
		return -1, agg
	}
	return id, agg
}

// peakRSSMB reads the process's peak resident set (VmHWM) on Linux.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}
