package dispatcher

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sentryhub/clock"
	"sentryhub/settings"
	"sentryhub/ssrf"
	"sentryhub/store"
	"sentryhub/store/vault"
	"sentryhub/testsignal"
)

// Config configures a Dispatcher. DB, Vault and Guard are required; zero
// values elsewhere get the defaults noted.
type Config struct {
	DB    *store.DB
	Vault *vault.Vault
	// Guard checks subscription URLs and dials every delivery.
	Guard *ssrf.Guard
	Log   *slog.Logger // default: discard
	// Clock schedules retries, dead-lettering, the sweep, the reaper and the
	// visibility floor, and stamps X-Sentry-Timestamp. Default clock.Real.
	Clock clock.Clock
	// Registry receives the dispatcher's metrics (default: a private one).
	Registry prometheus.Registerer
	// AllowHTTP accepts http:// subscription URLs; the app sets it when
	// SENTRY_ALLOW_PRIVATE_TARGETS is set (local development and tests).
	AllowHTTP bool
	// TLSConfig verifies consumers' certificates (default: system roots,
	// TLS 1.2+). Tests pass one trusting their test server.
	TLSConfig *tls.Config

	VisibilityFloor time.Duration // DISPATCHER_VISIBILITY_FLOOR_MS, default 0
	ConnectTimeout  time.Duration // DNS+TCP+TLS, default 5s
	ReadTimeout     time.Duration // each read, default 8s
	HTTPTimeout     time.Duration // wall clock per attempt, default 10s

	// Jitter scales each retry's ±10% band; default uniform random.
	Jitter Jitter
	// RetryDelay is the nominal delay before attempt n+1 after attempt n
	// failed, and DeadLetterDelay how long the last failure holds its lane
	// before the DLQ. Both default to the consumer contract's (RetryDelay,
	// DeadLetterDelay); only tests that watch a delivery go dead in real
	// time shorten them. Attempts still never share a unix second.
	RetryDelay      func(attempt int) time.Duration
	DeadLetterDelay time.Duration
	// SweepInterval is how often the log's head is checked for events
	// appended by another process (default 2s). In-process appends wake
	// the dispatcher at once through store.DB.Changed.
	SweepInterval time.Duration
	// ReaperInterval is how often expired generation-2 secrets are deleted
	// (default 1h; also once at start).
	ReaperInterval time.Duration
	// CommitLinger is how long a wake-up for appended events waits for
	// more work to share its transaction (default 2ms); OutcomeLinger is
	// the wait when only outcomes are queued (default 25ms). CommitBatch
	// records end either wait early (default 2048).
	CommitLinger  time.Duration
	OutcomeLinger time.Duration
	CommitBatch   int
	// FanoutBatch is how many events one fan-out reads per cursor
	// (default 2048).
	FanoutBatch int
	// MaxBacklog is how many uncommitted outcomes make actors wait for the
	// engine (default 65536).
	MaxBacklog int
	// ShutdownGrace is how long attempts in flight may take to finish at
	// shutdown before they are cut and released (default HTTPTimeout).
	ShutdownGrace time.Duration
	// Version goes into the User-Agent header.
	Version string
}

// testSignals let tests wait for the engine without sleeping; all are
// no-ops until a test initialises them.
type testSignals struct {
	// Result is each attempt outcome as an actor records it.
	Result testsignal.Signal[resultSignal]
	// Commit fires after each engine batch is committed.
	Commit testsignal.Signal[struct{}]
	// Stuck is a subscription whose actor reported, without an outcome,
	// that new deliveries only queued behind failing heads.
	Stuck testsignal.Signal[int64]
	// checkCommit, when set, runs on the engine goroutine after each
	// commit. It is a callback, not a signal, because the check it makes
	// (ceiling_test.go: no subscription above its pending ceiling) reads
	// engine-owned state that is only consistent there and then; a signal
	// would be read later, after the engine had moved on.
	checkCommit func()
}

// resultSignal is one attempt outcome.
type resultSignal struct {
	sub, id int64
	upd     store.DeliveryUpdate
}

// Dispatcher delivers events to webhook subscriptions and serves the
// webhook admin operations. Build it with New and Run it; it wakes on the
// store's commits (store.DB.Changed).
type Dispatcher struct {
	cfg       Config
	db        *store.DB
	vault     *vault.Vault
	guard     *ssrf.Guard
	log       *slog.Logger
	clock     clock.Clock
	client    *http.Client
	transport *http.Transport
	metrics   *metrics
	eng       *engine
	signals   testSignals
	userAgent string
	started   atomic.Bool
	st        atomic.Pointer[store.WebhookEngine]
}

// New returns a Dispatcher for cfg. It fails when a required dependency is
// missing or the metrics cannot be registered.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.DB == nil || cfg.Vault == nil || cfg.Guard == nil {
		return nil, errors.New("dispatcher: DB, Vault and Guard are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	// Zero means the default; a negative value is a mistake to report, not
	// to replace behind the caller's back.
	if err := settings.NonNegative("dispatcher",
		settings.Named("ConnectTimeout", int64(cfg.ConnectTimeout)), settings.Named("ReadTimeout", int64(cfg.ReadTimeout)),
		settings.Named("HTTPTimeout", int64(cfg.HTTPTimeout)), settings.Named("SweepInterval", int64(cfg.SweepInterval)),
		settings.Named("ReaperInterval", int64(cfg.ReaperInterval)), settings.Named("CommitLinger", int64(cfg.CommitLinger)),
		settings.Named("OutcomeLinger", int64(cfg.OutcomeLinger)), settings.Named("ShutdownGrace", int64(cfg.ShutdownGrace)),
		settings.Named("VisibilityFloor", int64(cfg.VisibilityFloor)), settings.Named("CommitBatch", int64(cfg.CommitBatch)),
		settings.Named("FanoutBatch", int64(cfg.FanoutBatch)), settings.Named("MaxBacklog", int64(cfg.MaxBacklog)),
		settings.Named("DeadLetterDelay", int64(cfg.DeadLetterDelay))); err != nil {
		return nil, err
	}
	cfg.ConnectTimeout = cmp.Or(cfg.ConnectTimeout, 5*time.Second)
	cfg.ReadTimeout = cmp.Or(cfg.ReadTimeout, 8*time.Second)
	cfg.HTTPTimeout = cmp.Or(cfg.HTTPTimeout, 10*time.Second)
	cfg.SweepInterval = cmp.Or(cfg.SweepInterval, 2*time.Second)
	cfg.ReaperInterval = cmp.Or(cfg.ReaperInterval, time.Hour)
	cfg.CommitLinger = cmp.Or(cfg.CommitLinger, 2*time.Millisecond)
	cfg.OutcomeLinger = cmp.Or(cfg.OutcomeLinger, 25*time.Millisecond)
	cfg.ShutdownGrace = cmp.Or(cfg.ShutdownGrace, cfg.HTTPTimeout)
	cfg.CommitBatch = cmp.Or(cfg.CommitBatch, 2048)
	cfg.FanoutBatch = cmp.Or(cfg.FanoutBatch, 2048)
	cfg.MaxBacklog = cmp.Or(cfg.MaxBacklog, 1<<16)
	cfg.Version = cmp.Or(cfg.Version, "dev")
	if cfg.Jitter == nil {
		cfg.Jitter = defaultJitter
	}
	if cfg.RetryDelay == nil { // funcs are not comparable: no cmp.Or
		cfg.RetryDelay = RetryDelay
	}
	cfg.DeadLetterDelay = cmp.Or(cfg.DeadLetterDelay, DeadLetterDelay)
	d := &Dispatcher{
		cfg: cfg, db: cfg.DB, vault: cfg.Vault, guard: cfg.Guard, log: cfg.Log, clock: cfg.Clock,
		userAgent: "SentryHub-Webhooks/" + cfg.Version,
	}
	d.client, d.transport = newClient(cfg.Guard, cfg.TLSConfig, cfg.ConnectTimeout, cfg.ReadTimeout, store.MaxMaxInFlight)
	d.eng = newEngine(d)
	m, err := newMetrics(cfg.Registry, d.Statements)
	if err != nil {
		return nil, err
	}
	d.metrics = m
	return d, nil
}

// Statements returns how many SQL statements the dispatcher's engine has
// executed since Run began.
func (d *Dispatcher) Statements() uint64 {
	if st := d.st.Load(); st != nil {
		return st.Statements()
	}
	return 0
}

// Run delivers webhooks until ctx ends, then shuts down gracefully: it stops
// starting attempts, lets those in flight finish (up to ShutdownGrace),
// commits every outcome and releases anything still in flight. It returns
// nil after a clean stop and an error when it cannot start. Run may be
// called once.
func (d *Dispatcher) Run(ctx context.Context) error {
	if !d.started.CompareAndSwap(false, true) {
		return errors.New("dispatcher: Run called twice")
	}
	defer d.transport.CloseIdleConnections()
	st, err := d.db.NewWebhookEngine(ctx)
	if err != nil {
		d.eng.mu.Lock()
		d.eng.closed = true
		d.eng.mu.Unlock()
		return fmt.Errorf("webhook dispatcher: %w", err)
	}
	defer st.Close()
	d.st.Store(st)
	d.eng.st = st
	return d.eng.run(ctx)
}

type metrics struct {
	attempts    *prometheus.CounterVec
	finished    *prometheus.CounterVec
	deadLetters prometheus.Counter
	latency     prometheus.Histogram
	backlog     *prometheus.GaugeVec
	paused      prometheus.Gauge
	batch       prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, statements func() uint64) (*metrics, error) {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sentryhub_webhook_attempts_total",
			Help: "Webhook delivery attempts by outcome (success, failure) and error kind (empty on success).",
		}, []string{"outcome", "kind"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sentryhub_webhook_deliveries_total",
			Help: "Webhook deliveries that reached a terminal state, by outcome (succeeded, dead).",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sentryhub_webhook_attempt_duration_seconds",
			Help:    "Duration of webhook delivery attempts (connect to last byte read).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 14),
		}),
		backlog: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sentryhub_webhook_lane_backlog",
			Help: "Open (pending or in-flight) webhook deliveries per subscription, across its lanes.",
		}, []string{"subscription_id"}),
		paused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sentryhub_webhook_subscriptions_paused",
			Help: "Webhook subscriptions currently paused (manually or at a ceiling).",
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sentryhub_webhook_commit_batch_records",
			Help:    "Delivery records per dispatcher group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
	}
	m.deadLetters = m.finished.WithLabelValues(string(store.DeliveryDead))
	stmts := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "sentryhub_webhook_sql_statements_total",
		Help: "SQL statements executed by the webhook dispatcher (BEGIN and COMMIT included); divide by deliveries for the statement budget.",
	}, func() float64 { return float64(statements()) })
	for _, c := range []prometheus.Collector{m.attempts, m.finished, m.latency, m.backlog, m.paused, m.batch, stmts} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register webhook metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observe(res sendResult) {
	m.latency.Observe(res.duration.Seconds())
	if res.ok {
		m.attempts.WithLabelValues("success", "").Inc()
		m.finished.WithLabelValues(string(store.DeliverySucceeded)).Inc()
		return
	}
	m.attempts.WithLabelValues("failure", string(res.kind)).Inc()
}

func isBodyMismatch(err error) bool { return errors.Is(err, ErrBodyMismatch) }
