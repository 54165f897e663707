package connectors

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"sentryhub/clock"
	"sentryhub/settings"
	"sentryhub/ssrf"
)

// HTTPConfig configures the outbound HTTP of every connector. Zero fields
// get the defaults in parentheses.
type HTTPConfig struct {
	// Timeout bounds each attempt, connect to last body byte (30s).
	Timeout time.Duration
	// MaxResponseBytes caps a response body; a larger one is an error (16 MiB).
	MaxResponseBytes int64
	// MaxRetries is how many times a transient failure is retried after the
	// first attempt (3). Negative means none.
	MaxRetries int
	// BaseBackoff and MaxBackoff shape the exponential backoff between
	// retries, base*2^n with equal jitter, capped (1s, 30s).
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// MaxRetryAfter is the longest Retry-After (or throttle hint) a
	// request waits out before retrying (60s); a longer one ends the
	// request with its transient error (RetryAfter set) rather than
	// retrying before the upstream allows.
	MaxRetryAfter time.Duration
	// SlowdownThreshold: when the upstream reports less budget than this
	// left (X-RateLimit-Remaining, or a provider's reader), the next
	// request waits for it to refill (5).
	SlowdownThreshold float64
	// MaxSlowdown caps one such wait (30s).
	MaxSlowdown time.Duration
	// MaxConcurrency caps the requests in flight per connector, across
	// warehouses (4).
	MaxConcurrency int
	// BreakerFailures consecutive failed calls open the circuit of a
	// connector + warehouse for BreakerCooldown (5, 5m).
	BreakerFailures int
	BreakerCooldown time.Duration
	// AllowHTTP permits plain http:// URLs. Off, only https is sent, so
	// credentials never travel unencrypted; serve turns it on only when
	// SENTRY_ALLOW_PRIVATE_TARGETS is set (local development and tests),
	// the same rule as webhook URLs.
	AllowHTTP bool
	// UserAgent is sent with every request ("sentryhub").
	UserAgent string
	// Rand returns the backoff jitter in [0,1) (math/rand/v2 when nil).
	Rand func() float64
}

// withDefaults returns c with every zero field set to its default. A
// negative size, count or duration is a configuration mistake and an error
// naming the field, never silently replaced (MaxRetries < 0 is documented
// as "no retries").
func (c HTTPConfig) withDefaults() (HTTPConfig, error) {
	if err := settings.NonNegative("connectors: HTTPConfig",
		settings.Named("Timeout", int64(c.Timeout)), settings.Named("MaxResponseBytes", c.MaxResponseBytes),
		settings.Named("BaseBackoff", int64(c.BaseBackoff)), settings.Named("MaxBackoff", int64(c.MaxBackoff)),
		settings.Named("MaxRetryAfter", int64(c.MaxRetryAfter)), settings.Named("MaxSlowdown", int64(c.MaxSlowdown)),
		settings.Named("MaxConcurrency", int64(c.MaxConcurrency)), settings.Named("BreakerFailures", int64(c.BreakerFailures)),
		settings.Named("BreakerCooldown", int64(c.BreakerCooldown))); err != nil {
		return c, err
	}
	if c.SlowdownThreshold < 0 {
		return c, errors.New("connectors: HTTPConfig.SlowdownThreshold must not be negative")
	}
	c.Timeout = cmp.Or(c.Timeout, 30*time.Second)
	c.MaxResponseBytes = cmp.Or(c.MaxResponseBytes, 16<<20)
	c.MaxRetries = max(cmp.Or(c.MaxRetries, 3), 0)
	c.BaseBackoff = cmp.Or(c.BaseBackoff, time.Second)
	c.MaxBackoff = cmp.Or(c.MaxBackoff, 30*time.Second)
	c.MaxRetryAfter = cmp.Or(c.MaxRetryAfter, time.Minute)
	c.SlowdownThreshold = cmp.Or(c.SlowdownThreshold, 5)
	c.MaxSlowdown = cmp.Or(c.MaxSlowdown, 30*time.Second)
	c.MaxConcurrency = cmp.Or(c.MaxConcurrency, 4)
	c.BreakerFailures = cmp.Or(c.BreakerFailures, 5)
	c.BreakerCooldown = cmp.Or(c.BreakerCooldown, 5*time.Minute)
	c.UserAgent = cmp.Or(c.UserAgent, "sentryhub")
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return c, nil
}

// HTTPPool owns what the HTTP clients of all connectors share: the guarded
// transport, the per-connector concurrency caps, and the circuit breaker and
// pacer of each connector + warehouse. Build one per process.
type HTTPPool struct {
	cfg     HTTPConfig
	hc      *http.Client
	clock   clock.Clock
	log     *slog.Logger
	metrics *Metrics

	mu     sync.Mutex
	sems   map[string]chan struct{}
	scopes map[scopeKey]*scope
}

type scopeKey struct {
	connector   string
	warehouseID int64
}

type scope struct {
	breaker breaker
	pacer   pacer
}

// NewHTTPPool returns a pool whose clients dial only through guard (so the
// SSRF checks and DNS pinning apply to every connection, redirects
// included) and never follow redirects (a custom auth header such as
// X-Shopify-Access-Token would be forwarded to the new host). metrics may
// be nil.
func NewHTTPPool(cfg HTTPConfig, guard *ssrf.Guard, c clock.Clock, log *slog.Logger, metrics *Metrics) (*HTTPPool, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &HTTPPool{
		cfg: cfg,
		hc: &http.Client{
			Transport:     guard.Transport(nil),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		clock:   c,
		log:     log,
		metrics: metrics,
		sems:    map[string]chan struct{}{},
		scopes:  map[scopeKey]*scope{},
	}, nil
}

// Client returns a client for connector in warehouseID. Clients are cheap;
// take one per connector instance.
func (p *HTTPPool) Client(connector string, warehouseID int64) *Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	sem, ok := p.sems[connector]
	if !ok {
		sem = make(chan struct{}, p.cfg.MaxConcurrency)
		p.sems[connector] = sem
	}
	k := scopeKey{connector, warehouseID}
	sc, ok := p.scopes[k]
	if !ok {
		sc = &scope{breaker: breaker{threshold: p.cfg.BreakerFailures, cooldown: p.cfg.BreakerCooldown}}
		p.scopes[k] = sc
	}
	return &Client{pool: p, connector: connector, warehouseID: warehouseID, sem: sem, scope: sc,
		secrets: &secretSet{}, provider: Provider{Budget: HeaderBudget}}
}

// Breaker returns the circuit breaker status of connector in warehouseID.
func (p *HTTPPool) Breaker(connector string, warehouseID int64) BreakerStatus {
	p.mu.Lock()
	sc, ok := p.scopes[scopeKey{connector, warehouseID}]
	p.mu.Unlock()
	if !ok {
		return BreakerStatus{State: BreakerClosed}
	}
	return sc.breaker.status(p.clock.Now())
}

// Provider adapts the client to one upstream's conventions.
type Provider struct {
	// Budget reads the remaining rate-limit budget from a response
	// (HeaderBudget when nil). Shopify reports it in the response body.
	Budget BudgetReader
	// Throttled reports a throttle signalled inside a 2xx response (a
	// GraphQL THROTTLED error) and how long to wait; such a response is
	// retried like a 429.
	Throttled func(resp *Response) (time.Duration, bool)
	// ErrorFields extracts field -> message from a 400/422 body
	// (DefaultErrorFields when nil).
	ErrorFields func(body []byte) map[string]string
	// AllowHost, when set, is asked for the host of every request before
	// it is sent (the SSRF guard still checks the address at dial time):
	// a declarative connector may call only the hosts its manifest lists,
	// so its credentials cannot be sent anywhere else.
	AllowHost func(host string) bool
	// Authorize, when set, signs each attempt just before it is sent (a
	// fresh OAuth 1.0a nonce and timestamp per attempt, a current OAuth
	// 2.0 token).
	Authorize func(ctx context.Context, req *http.Request) error
}

// Client is the HTTP helper every connector must use for upstream calls:
// retries with backoff and jitter, Retry-After, proactive slowdown,
// concurrency cap, circuit breaker, SSRF guard, timeouts, response caps,
// and errors scrubbed of credentials.
type Client struct {
	pool        *HTTPPool
	connector   string
	warehouseID int64
	sem         chan struct{}
	scope       *scope
	secrets     *secretSet
	provider    Provider
}

// With returns a copy of c using p's hooks (nil hooks keep c's). The copy
// shares c's secrets, breaker, pacer and concurrency cap.
func (c *Client) With(p Provider) *Client {
	cp := *c
	if p.Budget != nil {
		cp.provider.Budget = p.Budget
	}
	if p.Throttled != nil {
		cp.provider.Throttled = p.Throttled
	}
	if p.ErrorFields != nil {
		cp.provider.ErrorFields = p.ErrorFields
	}
	if p.AllowHost != nil {
		cp.provider.AllowHost = p.AllowHost
	}
	if p.Authorize != nil {
		cp.provider.Authorize = p.Authorize
	}
	return &cp
}

// AddSecret registers credential values that must never appear in an error
// or log line from this client; the framework registers every stored
// secret, connectors add what they obtain at run time (a new token).
func (c *Client) AddSecret(values ...string) { c.secrets.add(values...) }

// Scrub replaces every registered secret in s with ****.
func (c *Client) Scrub(s string) string { return c.secrets.scrub(s) }

// Clock returns the client's clock.
func (c *Client) Clock() clock.Clock { return c.pool.clock }

// Request is one upstream call. Body is a byte slice so it can be resent.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
	// Idempotent marks a request safe to resend after a timeout, a broken
	// connection or a 500/502/504 (a GraphQL query sent with POST, for
	// instance). GET, HEAD, OPTIONS, PUT and DELETE are idempotent anyway.
	// 429, 503 and connections that never opened are retried for every
	// request: the upstream did not act on them.
	Idempotent bool
	// Timeout overrides HTTPConfig.Timeout for this request.
	Timeout time.Duration
}

// Response is a successful (2xx) upstream answer.
type Response struct {
	Status   int
	Header   http.Header
	Body     []byte
	Attempts int
	// Parsed is scratch space for a Provider's hooks and the connector:
	// the first to decode Body may keep the result here so the body is
	// parsed once (a GraphQL envelope read by the budget reader, the
	// throttle check and the caller).
	Parsed any
}

// JSON decodes the body into v.
func (r *Response) JSON(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return &HTTPError{Kind: KindPermanent, Status: r.Status, Message: "response is not the expected JSON: " + err.Error()}
	}
	return nil
}

func (r Request) idempotent() bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return r.Idempotent
}

// Do sends req and returns its 2xx response. Failures come back as an
// *HTTPError (matching ErrTransient, ErrPermanent or ErrData), a
// *CircuitOpenError, a *BlockedDestinationError, or the context's error;
// none of them carries a credential.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	cfg := &c.pool.cfg
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &HTTPError{Kind: KindPermanent, Method: req.Method, URL: "<invalid URL>",
			Message: "URL must be an absolute http(s) URL"}
	}
	shown := c.secrets.scrub(scrubParsedURL(u))
	if u.User != nil {
		return nil, &HTTPError{Kind: KindPermanent, Method: req.Method, URL: shown,
			Message: "URL must not carry credentials (userinfo)"}
	}
	if c.provider.AllowHost != nil && !c.provider.AllowHost(strings.ToLower(u.Hostname())) {
		return nil, &HTTPError{Kind: KindPermanent, Method: req.Method, URL: shown,
			Message: "host " + u.Hostname() + " is not one of the connector's allowed hosts; not sent"}
	}
	if u.Scheme == "http" && !cfg.AllowHTTP {
		return nil, &HTTPError{Kind: KindPermanent, Method: req.Method, URL: shown,
			Message: "plain http is refused: use https so credentials travel encrypted (http is allowed only with SENTRY_ALLOW_PRIVATE_TARGETS, for local development)"}
	}

	probe, retryAt, ok := c.scope.breaker.allow(c.pool.clock.Now())
	if !ok {
		c.pool.metrics.request(c.connector, "circuit_open")
		return nil, &CircuitOpenError{Connector: c.connector, WarehouseID: c.warehouseID, RetryAt: retryAt}
	}
	resp, o, err := c.attempts(ctx, req, shown)
	if c.scope.breaker.record(c.pool.clock.Now(), o, probe) {
		c.pool.log.Warn("connector circuit opened", slog.String("connector", c.connector),
			slog.Int64("warehouse_id", c.warehouseID), slog.Duration("cooldown", cfg.BreakerCooldown),
			slog.String("error", errText(err)))
		c.pool.metrics.circuitOpened(c.connector)
	}
	return resp, err
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// attempt is the classified result of one try.
type attempt struct {
	resp  *Response
	err   error
	retry bool          // worth another try
	wait  time.Duration // server-advised wait before it (0: backoff)
	o     outcome
}

func (c *Client) attempts(ctx context.Context, req Request, shown string) (*Response, outcome, error) {
	cfg := &c.pool.cfg
	clk := c.pool.clock
	for n := 1; ; n++ {
		if err := c.scope.pacer.wait(ctx, clk); err != nil {
			return nil, outcomeNeutral, fmt.Errorf("%s %s: %w", req.Method, shown, err)
		}
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, outcomeNeutral, fmt.Errorf("%s %s: %w", req.Method, shown, ctx.Err())
		}
		start := clk.Now()
		a := c.once(ctx, req, shown)
		<-c.sem
		c.pool.metrics.request(c.connector, metricOutcome(a))
		if a.resp != nil {
			a.resp.Attempts = n
		}
		var he *HTTPError
		if errors.As(a.err, &he) {
			he.Attempts = n
		}
		if !a.retry || n > cfg.MaxRetries {
			return a.resp, a.o, a.err
		}
		wait := a.wait
		if wait > cfg.MaxRetryAfter {
			// The upstream asked for longer than a sync should sit waiting:
			// obey it by not retrying now. The error carries RetryAfter, so
			// the run-level retry or the next scheduled run comes back
			// later instead of knocking early and risking a lockout.
			return a.resp, a.o, a.err
		}
		if wait <= 0 {
			wait = c.backoff(n)
		}
		c.pool.log.LogAttrs(ctx, slog.LevelWarn, "connector request retry",
			slog.String("connector", c.connector), slog.Int64("warehouse_id", c.warehouseID),
			slog.String("method", req.Method), slog.String("url", shown), slog.Int("attempt", n),
			slog.Duration("elapsed", clk.Now().Sub(start)), slog.Duration("wait", wait),
			slog.String("error", errText(a.err)))
		if err := clock.Sleep(ctx, clk, wait); err != nil {
			return nil, outcomeNeutral, fmt.Errorf("%s %s: %w", req.Method, shown, err)
		}
	}
}

// backoff is base*2^(n-1) capped at MaxBackoff, with equal jitter: half
// fixed, half random, so retries of many clients spread out but never
// collapse to zero.
func (c *Client) backoff(n int) time.Duration {
	cfg := &c.pool.cfg
	d := cfg.BaseBackoff << min(n-1, 30)
	if d <= 0 || d > cfg.MaxBackoff {
		d = cfg.MaxBackoff
	}
	return d/2 + time.Duration(cfg.Rand()*float64(d/2))
}

func metricOutcome(a attempt) string {
	var he *HTTPError
	switch {
	case a.err == nil:
		return "ok"
	case errors.As(a.err, &he):
		return he.Kind.String()
	case errors.Is(a.err, ssrf.ErrBlocked):
		return "blocked"
	}
	return "error"
}

// once sends one attempt and classifies it.
func (c *Client) once(ctx context.Context, req Request, shown string) attempt {
	cfg := &c.pool.cfg
	timeout := cfg.Timeout
	if req.Timeout > 0 {
		timeout = req.Timeout
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(actx, req.Method, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return attempt{err: &HTTPError{Kind: KindPermanent, Method: req.Method, URL: shown, Message: "cannot build request"}}
	}
	for k, vs := range req.Header {
		hreq.Header[k] = vs
	}
	if hreq.Header.Get("User-Agent") == "" {
		hreq.Header.Set("User-Agent", cfg.UserAgent)
	}
	if c.provider.Authorize != nil {
		if err := c.provider.Authorize(actx, hreq); err != nil {
			return attempt{err: err, o: outcomeSuccess}
		}
	}
	hresp, err := c.pool.hc.Do(hreq)
	if err != nil {
		return c.transportError(ctx, actx, req, shown, err)
	}
	defer hresp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(hresp.Body, cfg.MaxResponseBytes+1))
	if err != nil {
		a := c.transportError(ctx, actx, req, shown, err)
		a.retry = a.retry && req.idempotent()
		return a
	}
	resp := &Response{Status: hresp.StatusCode, Header: hresp.Header, Body: body}
	now := c.pool.clock.Now()
	budget := c.provider.Budget
	if budget == nil {
		budget = HeaderBudget
	}
	if b, ok := budget(resp, now); ok {
		if d := c.scope.pacer.observe(now, b, cfg); d > 0 {
			c.pool.log.LogAttrs(ctx, slog.LevelDebug, "connector slowing down",
				slog.String("connector", c.connector), slog.Float64("remaining", b.Remaining), slog.Duration("pause", d))
		}
	}
	if int64(len(body)) > cfg.MaxResponseBytes {
		return attempt{o: outcomeSuccess, err: &HTTPError{Kind: KindPermanent, Method: req.Method, URL: shown,
			Status: resp.Status, Message: fmt.Sprintf("response body exceeds %d bytes", cfg.MaxResponseBytes)}}
	}
	return c.classify(req, shown, resp, now)
}

func (c *Client) classify(req Request, shown string, resp *Response, now time.Time) attempt {
	he := &HTTPError{Method: req.Method, URL: shown, Status: resp.Status}
	if ra, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
		he.RetryAfter = ra
	}
	st := resp.Status
	switch {
	case st >= 200 && st < 300:
		if c.provider.Throttled != nil {
			if wait, throttled := c.provider.Throttled(resp); throttled {
				he.Kind, he.Message, he.RetryAfter = KindTransient, "throttled by the upstream", wait
				return attempt{err: he, retry: true, wait: wait, o: outcomeFailure}
			}
		}
		return attempt{resp: resp, o: outcomeSuccess}
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		he.Kind = KindPermanent
		he.Message = "credentials rejected (" + http.StatusText(st) + "); not retried" + c.excerpt(resp.Body)
		return attempt{err: he, o: outcomeSuccess}
	case st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable:
		he.Kind, he.Message = KindTransient, http.StatusText(st)+c.excerpt(resp.Body)
		return attempt{err: he, retry: true, wait: he.RetryAfter, o: outcomeFailure}
	case st >= 500:
		he.Kind, he.Message = KindTransient, http.StatusText(st)+c.excerpt(resp.Body)
		return attempt{err: he, retry: req.idempotent(), wait: he.RetryAfter, o: outcomeFailure}
	case st == http.StatusBadRequest || st == http.StatusUnprocessableEntity:
		he.Kind = KindData
		ef := c.provider.ErrorFields
		if ef == nil {
			ef = DefaultErrorFields
		}
		he.Fields = map[string]string{}
		for k, v := range ef(resp.Body) {
			he.Fields[c.Scrub(SanitizeMessage(k, 100))] = c.Scrub(SanitizeMessage(v, 200))
		}
		he.Message = "the upstream rejected the request" + c.excerpt(resp.Body)
		return attempt{err: he, o: outcomeSuccess}
	case st >= 300 && st < 400:
		he.Kind, he.Message = KindPermanent, "unexpected redirect (not followed)"
		return attempt{err: he, o: outcomeSuccess}
	default:
		he.Kind, he.Message = KindPermanent, http.StatusText(st)+c.excerpt(resp.Body)
		return attempt{err: he, o: outcomeSuccess}
	}
}

// excerpt is the start of an error body, sanitized and scrubbed, for the
// error message (upstream messages are often the only useful clue).
func (c *Client) excerpt(body []byte) string {
	s := SanitizeMessage(string(body[:min(len(body), 600)]), 200)
	if s == "" {
		return ""
	}
	return ": " + c.Scrub(s)
}

// transportError classifies a failure to get a response. Its message is the
// innermost cause (never *url.Error's text, which repeats the full URL),
// scrubbed.
func (c *Client) transportError(ctx, actx context.Context, req Request, shown string, err error) attempt {
	if ctx.Err() != nil { // the caller gave up: not the upstream's fault
		return attempt{err: fmt.Errorf("%s %s: %w", req.Method, shown, ctx.Err()), o: outcomeNeutral}
	}
	var be *ssrf.BlockedError
	if errors.As(err, &be) {
		return attempt{err: &BlockedDestinationError{Host: be.Host, Reason: be.Reason, err: be}, o: outcomeNeutral}
	}
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	msg := c.Scrub(strings.ReplaceAll(inner.Error(), req.URL, shown))
	he := &HTTPError{Kind: KindTransient, Method: req.Method, URL: shown, Message: msg}
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var recErr tls.RecordHeaderError
	switch {
	case actx.Err() != nil || isTimeout(err):
		he.Message = "timed out: " + msg
		return attempt{err: he, retry: req.idempotent(), o: outcomeFailure}
	case errors.As(err, &certErr), errors.As(err, &hostErr), errors.As(err, &authErr), errors.As(err, &recErr):
		he.Kind = KindPermanent
		return attempt{err: he, o: outcomeFailure}
	case errors.As(err, &opErr) && opErr.Op == "dial":
		// The connection never opened, so the request was never sent.
		return attempt{err: he, retry: true, o: outcomeFailure}
	}
	return attempt{err: he, retry: req.idempotent(), o: outcomeFailure}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// DefaultErrorFields extracts the fields an upstream rejected from the
// common JSON error shapes:
//
//	{"errors": {"field": ["message", ...]}}                 (Rails, Shopify REST)
//	{"errors": [{"field": "a" | ["a","b"], "message": "m"}]} (GraphQL userErrors)
//	{"error": {"fields": {"field": "message"}}}             (this hub)
//	{"field_errors": {"field": "message"}}
//
// It returns nil when the body is none of them.
func DefaultErrorFields(body []byte) map[string]string {
	var doc struct {
		Errors      json.RawMessage `json:"errors"`
		Error       json.RawMessage `json:"error"`
		FieldErrors json.RawMessage `json:"field_errors"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return nil
	}
	out := map[string]string{}
	addMap := func(raw json.RawMessage) {
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return
		}
		for k, v := range m {
			out[k] = messageOf(v)
		}
	}
	if len(doc.Errors) > 0 {
		switch doc.Errors[0] {
		case '{':
			addMap(doc.Errors)
		case '[':
			var list []struct {
				Field   json.RawMessage `json:"field"`
				Message string          `json:"message"`
			}
			if json.Unmarshal(doc.Errors, &list) == nil {
				for _, e := range list {
					if f := fieldPath(e.Field); f != "" {
						out[f] = e.Message
					}
				}
			}
		}
	}
	if len(doc.Error) > 0 && doc.Error[0] == '{' {
		var e struct {
			Fields json.RawMessage `json:"fields"`
		}
		if json.Unmarshal(doc.Error, &e) == nil && len(e.Fields) > 0 {
			addMap(e.Fields)
		}
	}
	if len(doc.FieldErrors) > 0 {
		addMap(doc.FieldErrors)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// messageOf renders a field's error value: a string, or a list of them.
func messageOf(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var list []string
	if json.Unmarshal(v, &list) == nil {
		return strings.Join(list, "; ")
	}
	return "invalid"
}

// fieldPath renders a GraphQL-style field path (["fulfillment",
// "trackingInfo", 0]) or a plain field name.
func fieldPath(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []any
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var b strings.Builder
	for i, p := range parts {
		switch x := p.(type) {
		case string:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(x)
		case float64:
			b.WriteString("[" + strconv.Itoa(int(x)) + "]")
		}
	}
	return b.String()
}
