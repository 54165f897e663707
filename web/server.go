package web

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/sessions"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"sentryhub/assets"
	"sentryhub/clock"
	"sentryhub/settings"
	"sentryhub/store"
)

// Config configures a Server. Zero durations and sizes get defaults.
type Config struct {
	// SessionSecret derives the cookie signing and encryption keys (the
	// hub passes its Fernet key, so rotating it logs everyone out).
	SessionSecret   []byte
	SecureCookies   bool
	SessionIdle     time.Duration // default 2h
	SessionAbsolute time.Duration // default 12h
	MaxBodyBytes    int64         // default 1 MiB
	// Login throttling: failures allowed per account and per client address
	// within LoginWindow before further attempts are refused.
	LoginFailuresPerAccount int // default 5
	LoginFailuresPerAddr    int // default 20
	LoginWindow             time.Duration
	LoginConcurrency        int // password checks (64 MiB each) at once; default GOMAXPROCS within 2..4
	Version                 string
}

// withDefaults fills zero fields (cmp.Or); a negative one is refused by
// name rather than replaced behind the caller's back.
func (c Config) withDefaults() (Config, error) {
	if err := settings.NonNegative("web",
		settings.Named("SessionIdle", int64(c.SessionIdle)), settings.Named("SessionAbsolute", int64(c.SessionAbsolute)),
		settings.Named("MaxBodyBytes", c.MaxBodyBytes), settings.Named("LoginFailuresPerAccount", int64(c.LoginFailuresPerAccount)),
		settings.Named("LoginFailuresPerAddr", int64(c.LoginFailuresPerAddr)), settings.Named("LoginWindow", int64(c.LoginWindow)),
		settings.Named("LoginConcurrency", int64(c.LoginConcurrency))); err != nil {
		return c, err
	}
	c.SessionIdle = cmp.Or(c.SessionIdle, 2*time.Hour)
	c.SessionAbsolute = cmp.Or(c.SessionAbsolute, 12*time.Hour)
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, 1<<20)
	c.LoginFailuresPerAccount = cmp.Or(c.LoginFailuresPerAccount, 5)
	c.LoginFailuresPerAddr = cmp.Or(c.LoginFailuresPerAddr, 20)
	c.LoginWindow = cmp.Or(c.LoginWindow, 15*time.Minute)
	c.LoginConcurrency = cmp.Or(c.LoginConcurrency, min(max(runtime.GOMAXPROCS(0), 2), 4))
	return c, nil
}

// Server is the HTTP surface. Build it with New and serve Handler.
type Server struct {
	cfg      Config
	db       *store.DB
	log      *slog.Logger
	clock    clock.Clock
	sessions *sessions.CookieStore
	registry *prometheus.Registry
	metrics  *httpMetrics
	logins   *loginGuard
	mux      *routeMux
	catalog  []catalogEntry
	inbound  *inboundState // compiled inbound mappings (inbound.go)
	// webhooks is set by SetWebhooks; the dashboard asks it which
	// subscriptions cannot be dispatched.
	webhooks WebhookService
	// integrations is set by SetIntegrations; the dashboard shows its
	// firing alerts.
	integrations IntegrationService
	// circuits is set by SetConnectors; the dashboard lists open circuits.
	circuits circuitLister
	// manifests is set by SetConnectorManifests (connector_manifest.go).
	manifests *connectorManifestUI
	// newTokens holds each new API token between the POST that made it
	// and the one page that shows it.
	newTokens *revealStore[newToken]
	// passwords holds each one-time password made on the users page.
	passwords *revealStore[newPassword]
	// refused holds a refused form between its POST and the page it
	// redirects to (formrefusal.go).
	refused *revealStore[refusedForm]
}

// routeMux is the server's ServeMux. It remembers every pattern registered
// on it, so a test can hold the routes against the OpenAPI document
// (assets/openapi.json): an endpoint without docs, or docs for an endpoint
// that is gone, fails web/openapi_test.go.
type routeMux struct {
	mux      *http.ServeMux
	mu       sync.Mutex
	patterns []string
}

func newRouteMux() *routeMux { return &routeMux{mux: http.NewServeMux()} }

// Handle registers h for pattern, as http.ServeMux.Handle does.
func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.mux.Handle(pattern, h)
	m.mu.Lock()
	m.patterns = append(m.patterns, pattern)
	m.mu.Unlock()
}

// HandleFunc registers f for pattern, as http.ServeMux.HandleFunc does.
func (m *routeMux) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(f))
}

func (m *routeMux) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }

// registered returns the patterns registered so far, in order.
func (m *routeMux) registered() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.patterns...)
}

// New returns a Server over db. registry receives the HTTP metrics and is
// what /metrics serves (the app registers the other areas' collectors on it).
func New(cfg Config, db *store.DB, log *slog.Logger, c clock.Clock, registry *prometheus.Registry) (*Server, error) {
	if len(cfg.SessionSecret) < 16 {
		return nil, errors.New("web: session secret too short")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newHTTPMetrics(registry)
	if err != nil {
		return nil, err
	}
	catalog, err := loadCatalog()
	if err != nil {
		return nil, fmt.Errorf("web: load event catalog: %w", err)
	}
	s := &Server{
		cfg:      cfg,
		db:       db,
		log:      log,
		clock:    c,
		sessions: newSessionStore(derive(cfg.SessionSecret, "session-hash"), derive(cfg.SessionSecret, "session-block"), cfg.SecureCookies, cfg.SessionAbsolute),
		registry: registry,
		metrics:  m,
		logins:   newLoginGuard(c, cfg),
		mux:      newRouteMux(),
		catalog:  catalog,
		newTokens: newRevealStore[newToken]("token", "The new token can no longer be shown: it is shown once, "+
			"within 10 minutes, to the admin who created it. Revoke it and create another."),
		refused: newRefusedStore(),
		passwords: newRevealStore[newPassword]("password", "The one-time password can no longer be shown: "+
			"it is shown once, within 10 minutes. Reset the password to make another."),
	}
	s.routes()
	return s, nil
}

// derive makes an independent 32-byte key per purpose from one secret.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("sentryhub/" + purpose))
	return m.Sum(nil)
}

// Handle registers h on the mux; other areas (webhooks, connectors) add
// their routes through it before the server starts.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler returns the full middleware chain around the routes:
// recover -> request id -> access log -> guard (unknown methods 501, a
// malformed X-Request-ID 400) -> body limit -> security headers ->
// cross-origin protection (every unsafe method; the scheme counts) -> JSON
// bodies only under /api/ (415) -> mux.
func (s *Server) Handler() http.Handler {
	cop := http.NewCrossOriginProtection()
	deny := func(msg string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.writeError(w, r, &Error{Status: http.StatusForbidden, Code: "cross_origin", Message: msg})
		})
	}
	cop.SetDenyHandler(deny("cross-origin request refused: state-changing requests must come from this site"))
	var h http.Handler = s.mux
	h = s.jsonBodies(h)
	h = cop.Handler(h)
	h = s.sameScheme(h, deny("cross-origin request refused: its Origin uses another scheme (http vs https) than this site"))
	h = securityHeaders(h)
	h = s.limitBody(h)
	h = s.guard(h)
	h = s.accessLog(h)
	h = withRequestID(h)
	h = s.recoverer(h)
	return h
}

// sameScheme refuses an unsafe request whose Origin names this host under
// the other scheme (http://host sent to https://host, or the reverse).
// http.CrossOriginProtection compares only the host when it falls back to
// Origin (no Sec-Fetch-Site, which browsers compute with the scheme), so a
// page on plain http could otherwise post to the https site. The site's
// scheme is https when the request came over TLS or the hub's public URL is
// https (TLS ended at a proxy), else http.
func (s *Server) sameScheme(next, deny http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if origin := r.Header.Get("Origin"); origin != "" && r.Header.Get("Sec-Fetch-Site") == "" {
				want := "http"
				if r.TLS != nil || s.cfg.SecureCookies {
					want = "https"
				}
				if u, err := url.Parse(origin); err == nil && u.Host == r.Host && u.Scheme != want {
					deny.ServeHTTP(w, r)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) routes() {
	m := s.mux
	m.Handle("GET /healthz", s.public(s.healthz))
	m.Handle("GET /readyz", s.public(s.readyz))
	m.Handle("GET /metrics", s.public(s.metricsHandler()))
	m.Handle("GET /api/openapi.json", s.public(s.openAPIHandler()))
	m.Handle("GET /static/", staticHandler())

	m.Handle("GET /api/admin/tokens", s.api(store.ScopeAdmin, s.listTokens))
	m.Handle("POST /api/admin/tokens", s.api(store.ScopeAdmin, s.createToken))
	m.Handle("DELETE /api/admin/tokens/{id}", s.api(store.ScopeAdmin, s.revokeToken))
	m.Handle("GET /api/admin/audit", s.api(store.ScopeAdmin, s.listAudit))

	s.warehouseRoutes()
	s.eventRoutes()
	s.uiRoutes()
	s.sessionRoutes()
	s.inboundRoutes()
	s.userUIRoutes()
	m.Handle("/api/", s.public(s.apiFallback))
	m.Handle("/", s.public(s.apiFallback)) // pages: the same answers as HTML (writeError)
}

// apiFallback answers requests no route took: 405 with Allow when the
// path exists under other methods, else 404; JSON under /api/, an HTML
// page elsewhere. (The catch-alls match every method, so without this the
// mux's own plain-text 405 and 404 would be all a browser sees.)
func (s *Server) apiFallback(w http.ResponseWriter, r *http.Request) error {
	var allow []string
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if method == r.Method {
			continue
		}
		probe := *r
		probe.Method = method
		if _, pattern := s.mux.mux.Handler(&probe); pattern != "/api/" && pattern != "/" && pattern != "" {
			allow = append(allow, method)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
			Message: r.Method + " is not allowed on " + r.URL.Path + "; use " + strings.Join(allow, " or ")}
	}
	if wantsHTML(r) {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "there is no page at " + r.URL.Path}
	}
	return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such API endpoint: " + r.Method + " " + r.URL.Path}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.cfg.Version})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.db.Ready(ctx); err != nil {
		// The endpoint is public: the cause goes to the log, not the body.
		s.log.Warn("not ready", slog.String("request_id", requestID(r.Context())), slog.Any("err", err))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable",
			"reason": "database not reachable or migrations not applied; see the server log"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

// openAPIHandler serves the embedded OpenAPI document. It changes only
// with the binary, so it is cacheable and revalidates by ETag.
func (s *Server) openAPIHandler() handlerFunc {
	doc := assets.OpenAPI()
	sum := sha256.Sum256(doc)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("ETag", etag)
		http.ServeContent(w, r, "openapi.json", time.Time{}, bytes.NewReader(doc))
		return nil
	}
}

func (s *Server) metricsHandler() handlerFunc {
	h := promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
	return func(w http.ResponseWriter, r *http.Request) error {
		h.ServeHTTP(w, r)
		return nil
	}
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg *prometheus.Registry) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sentryhub_http_requests_total", Help: "HTTP requests by method, route and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sentryhub_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register http metrics: %w", err)
		}
	}
	return m, nil
}

func (m *httpMetrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

// NewHTTPServer wraps h with all four timeouts set, so a slow client cannot
// hold a connection open indefinitely. The header timeout is short: a
// connection that sends nothing holds a slot of the connection caps
// (LimitListener) until it expires.
func NewHTTPServer(addr string, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Serve runs srv on ln until ctx ends, then shuts down gracefully, giving
// in-flight requests up to grace to finish.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}
