package dispatcher

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"syscall"
	"time"

	"sentryhub/ssrf"
	"sentryhub/store"
	"sentryhub/store/vault"
)

// MaxResponseBytes is the most of a response body the dispatcher reads. A
// larger advertised Content-Length fails the attempt (kind 5xx) unread.
const MaxResponseBytes = 64 << 10

// Header names of the wire contract.
const (
	HeaderSignature           = "X-Sentry-Signature"
	HeaderSignatureGeneration = "X-Sentry-Signature-Generation"
	HeaderDeliveryID          = "X-Sentry-Delivery-Id"
	HeaderEventType           = "X-Sentry-Event-Type"
	HeaderTimestamp           = "X-Sentry-Timestamp"
	// Standard Webhooks (opt-in), sent in the lowercase their spec uses.
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// ErrBodyMismatch is returned (and the attempt fails, kind unknown) when the
// bytes the transport is about to send differ from the bytes that were
// signed. It means a bug in the hub, never in the consumer.
var ErrBodyMismatch = errors.New("webhook body sent differs from the body signed")

// Sign returns the X-Sentry-Signature value for body at timestamp ts:
// "sha256=" + hex(HMAC-SHA256(key, "<ts>.<body>")).
func Sign(key []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	var b [24]byte
	m.Write(strconv.AppendInt(b[:0], ts, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	var sum [sha256.Size]byte
	out := make([]byte, 0, 7+hex.EncodedLen(sha256.Size))
	out = append(out, "sha256="...)
	return string(hex.AppendEncode(out, m.Sum(sum[:0])))
}

// SignStandard returns the Standard Webhooks webhook-signature value:
// "v1," + base64(HMAC-SHA256(key, "<id>.<ts>.<body>")).
func SignStandard(key []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// StandardWebhookID is the webhook-id of a delivery: stable across its
// retries, new for a replay (which is a new delivery).
func StandardWebhookID(deliveryID int64) string { return "msg_" + strconv.FormatInt(deliveryID, 10) }

// signedBodyKey carries the signed bytes from the signer to the transport
// boundary check.
type signedBodyKey struct{}

// boundary is the RoundTripper between the dispatcher and the network. It
// compares every byte the transport reads from the request body with the
// bytes that were signed, and fails the request with ErrBodyMismatch on the
// first difference (or a length difference), before the last byte leaves.
// A request without signed bytes is refused outright.
type boundary struct {
	next http.RoundTripper
}

func (b boundary) RoundTrip(req *http.Request) (*http.Response, error) {
	want, ok := req.Context().Value(signedBodyKey{}).([]byte)
	if !ok {
		return nil, fmt.Errorf("%w: request carries no signed body", ErrBodyMismatch)
	}
	if req.ContentLength != int64(len(want)) {
		return nil, fmt.Errorf("%w: Content-Length %d, signed %d bytes", ErrBodyMismatch, req.ContentLength, len(want))
	}
	r2 := *req
	if req.Body != nil {
		r2.Body = &checkedBody{rc: req.Body, want: want}
	}
	if gb := req.GetBody; gb != nil {
		r2.GetBody = func() (io.ReadCloser, error) {
			rc, err := gb()
			if err != nil {
				return nil, err
			}
			return &checkedBody{rc: rc, want: want}, nil
		}
	}
	return b.next.RoundTrip(&r2)
}

type checkedBody struct {
	rc   io.ReadCloser
	want []byte
	off  int
}

func (c *checkedBody) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	if n > 0 {
		if c.off+n > len(c.want) || !bytes.Equal(p[:n], c.want[c.off:c.off+n]) {
			return 0, fmt.Errorf("%w at byte %d", ErrBodyMismatch, c.off)
		}
		c.off += n
	}
	if err == io.EOF && c.off != len(c.want) {
		return n, fmt.Errorf("%w: %d of %d bytes", ErrBodyMismatch, c.off, len(c.want))
	}
	return n, err
}

func (c *checkedBody) Close() error { return c.rc.Close() }

// readWatchdog gives every read of a response body its own timeout (the
// per-read timeout) by cancelling the request when one Read outlasts d. It
// works on the request rather than on the connection, because a deadline
// on the connection also hits the transport's idle read of a kept-alive
// connection and closes every connection idle for longer than d.
type readWatchdog struct {
	r      io.Reader
	d      time.Duration
	cancel context.CancelCauseFunc
}

// errReadTimeout is the cause a watchdog cancels with.
var errReadTimeout = fmt.Errorf("response read timed out: %w", os.ErrDeadlineExceeded)

func (w *readWatchdog) Read(p []byte) (int, error) {
	t := time.AfterFunc(w.d, func() { w.cancel(errReadTimeout) })
	n, err := w.r.Read(p)
	t.Stop()
	return n, err
}

// newClient builds the dispatcher's one HTTP client: every connection is
// dialed by the SSRF guard (resolve once, check every address, dial the
// pinned IP); DNS + TCP + TLS share one connect budget; every read has its
// own deadline; redirects are never followed (a 3xx is a failure of kind
// unknown); the body check sits between the client and the transport.
func newClient(g *ssrf.Guard, tlsConf *tls.Config, connect, read time.Duration, maxConnsPerHost int) (*http.Client, *http.Transport) {
	base := &http.Transport{
		MaxIdleConns:           4 * maxConnsPerHost,
		MaxIdleConnsPerHost:    maxConnsPerHost,
		IdleConnTimeout:        90 * time.Second,
		ResponseHeaderTimeout:  read,
		MaxResponseHeaderBytes: 64 << 10,
		DisableCompression:     true,
		ForceAttemptHTTP2:      false,
	}
	t := g.Transport(base)
	if tlsConf == nil {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	t.TLSClientConfig = nil
	// The guard clears DialTLSContext so TLS happens over its dialer; doing
	// the handshake here, still over g.DialContext, puts it inside the same
	// connect budget as DNS and TCP, as DISPATCHER_HTTP_CONNECT_TIMEOUT_MS
	// promises. (HTTP/1.1 only: webhook consumers need nothing more.)
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, connect)
		defer cancel()
		c, err := g.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, connect)
		defer cancel()
		raw, err := g.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(addr)
		conf := tlsConf.Clone()
		if conf.ServerName == "" {
			conf.ServerName = host
		}
		tc := tls.Client(raw, conf)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		return tc, nil
	}
	c := &http.Client{
		Transport:     boundary{next: t},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, t
}

// sendResult is the outcome of one attempt.
type sendResult struct {
	ok       bool
	released bool // cancelled by shutdown or deletion: not an attempt
	start    time.Time
	end      time.Time
	duration time.Duration
	status   int
	kind     store.ErrorKind
	err      error // for the log only; never stored
}

// send makes one attempt: sign the envelope at the current time, POST it,
// read at most MaxResponseBytes of the answer, classify. It never panics:
// a panic is recovered into a failed attempt of kind unknown.
func (d *Dispatcher) send(ctx context.Context, j *job) (res sendResult) {
	res.start = d.clock.Now()
	t0 := time.Now()
	defer func() {
		if p := recover(); p != nil {
			res = sendResult{start: res.start, kind: store.KindUnknown, err: fmt.Errorf("panic in send: %v", p)}
		}
		res.duration = time.Since(t0)
		// On the injected clock, like start: retry times are computed from
		// it, so a fake clock makes the schedule exact.
		res.end = d.clock.Now()
	}()
	ts := res.start.Unix()
	body := j.d.ev.body
	key := j.cfg.secret.Reveal()
	sig := Sign(key, ts, body)
	var stdSig string
	if j.cfg.standard {
		stdSig = SignStandard(key, StandardWebhookID(j.d.id), ts, body)
	}
	clear(key)

	ctx, cancel := context.WithTimeout(ctx, d.cfg.HTTPTimeout)
	defer cancel()
	ctx, cancelRead := context.WithCancelCause(ctx) // the read watchdog's
	defer cancelRead(nil)
	ctx = context.WithValue(ctx, signedBodyKey{}, body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.cfg.url, bytes.NewReader(body))
	if err != nil {
		res.kind, res.err = store.KindUnknown, fmt.Errorf("build request: %w", err)
		return res
	}
	tsStr := strconv.FormatInt(ts, 10)
	h := req.Header
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{d.userAgent}
	h[HeaderSignature] = []string{sig}
	h[HeaderSignatureGeneration] = []string{"1"}
	h[HeaderDeliveryID] = []string{strconv.FormatInt(j.d.ev.id, 10) + ":" + tsStr}
	h[HeaderEventType] = []string{j.d.ev.eventType}
	h[HeaderTimestamp] = []string{tsStr}
	if j.cfg.standard {
		h[HeaderWebhookID] = []string{StandardWebhookID(j.d.id)}
		h[HeaderWebhookTimestamp] = []string{tsStr}
		h[HeaderWebhookSignature] = []string{stdSig}
	}

	resp, err := d.client.Do(req)
	if err != nil {
		// *url.Error repeats the URL, whose query may hold a consumer's
		// token: keep only the cause, for the log.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if released(ctx) {
			res.released, res.err = true, err
			return res
		}
		res.kind, res.err = classify(err), err
		return res
	}
	defer resp.Body.Close()
	res.status = resp.StatusCode
	if resp.ContentLength > MaxResponseBytes {
		// Closing an unread body drops the connection instead of draining.
		res.kind = store.Kind5xx
		res.err = fmt.Errorf("response Content-Length %d exceeds %d bytes", resp.ContentLength, MaxResponseBytes)
		return res
	}
	watched := &readWatchdog{r: resp.Body, d: d.cfg.ReadTimeout, cancel: cancelRead}
	if _, err := io.Copy(io.Discard, io.LimitReader(watched, MaxResponseBytes)); err != nil {
		if errors.Is(context.Cause(ctx), errReadTimeout) {
			res.kind, res.err = store.KindTimeout, errReadTimeout
			return res
		}
		if released(ctx) {
			res.released, res.err = true, err
			return res
		}
		res.kind, res.err = classify(err), fmt.Errorf("read response: %w", err)
		return res
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		res.ok = true
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		res.kind = store.Kind4xx
	case resp.StatusCode >= 500 && resp.StatusCode < 600:
		res.kind = store.Kind5xx
	default:
		// 1xx would not reach here; 3xx (redirects are not followed) and
		// anything non-standard are "unknown", as documented.
		res.kind = store.KindUnknown
	}
	return res
}

// released reports whether the attempt's context was cancelled from above
// (shutdown, deletion) rather than by its own wall-clock deadline: such an
// attempt is not counted and the delivery goes back to pending.
func released(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled)
}

// classify maps a transport error to an error kind. Order matters: the
// guard's refusal first (it can wrap a dial), then timeouts (a TLS
// handshake cut by the connect budget is a timeout, not a TLS failure),
// then TLS, then everything that means "could not talk to it".
func classify(err error) store.ErrorKind {
	var (
		netErr   net.Error
		recErr   tls.RecordHeaderError
		certErr  *tls.CertificateVerificationError
		authErr  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invErr   x509.CertificateInvalidError
		alertErr tls.AlertError
		opErr    *net.OpError
		dnsErr   *net.DNSError
	)
	switch {
	case errors.Is(err, ssrf.ErrBlocked):
		return store.KindSSRFRejected
	case errors.Is(err, ErrBodyMismatch):
		return store.KindUnknown
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return store.KindTimeout
	case errors.As(err, &recErr), errors.As(err, &certErr), errors.As(err, &authErr),
		errors.As(err, &hostErr), errors.As(err, &invErr), errors.As(err, &alertErr),
		errors.Is(err, http.ErrSchemeMismatch), // an https URL on a plain-HTTP port
		errors.As(err, &opErr) && opErr.Op == "remote error":
		return store.KindTLS
	case errors.As(err, &dnsErr), errors.As(err, &opErr),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return store.KindConnection
	}
	return store.KindUnknown
}

// job is one attempt handed to a worker.
type job struct {
	d   *delivery
	cfg *sendConfig
}

// sendConfig is what a worker needs to send for one subscription. It is
// immutable; a change makes a new one.
type sendConfig struct {
	url      string
	secret   vault.Secret
	standard bool
}
