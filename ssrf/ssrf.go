package ssrf

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrBlocked is matched (errors.Is) by every refusal from the guard.
// Connectors expose it as BlockedDestinationError; the dispatcher records
// such deliveries with error_kind ssrf_rejected.
var ErrBlocked = errors.New("destination blocked")

// BlockedError describes a refused destination. Host is the hostname or IP
// literal (never the full URL; empty when the URL itself was refused before a
// host was looked at), Addr the offending resolved address (zero when the
// name itself was refused) and Reason a short human-readable cause.
type BlockedError struct {
	Host   string
	Addr   netip.Addr
	Reason string
}

// Error returns a message built only from Host, Addr and Reason, so it never
// carries URL credentials, paths or query strings into logs or API replies.
func (e *BlockedError) Error() string {
	var b strings.Builder
	b.WriteString(ErrBlocked.Error())
	if e.Host != "" {
		fmt.Fprintf(&b, ": host %q", e.Host)
	}
	if e.Addr.IsValid() && e.Addr.String() != e.Host {
		fmt.Fprintf(&b, ", address %s", e.Addr)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns ErrBlocked.
func (e *BlockedError) Unwrap() error { return ErrBlocked }

// Resolver looks up a host's addresses. *net.Resolver implements it; tests
// inject fixed or changing answers. network is "ip", "ip4" or "ip6".
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config configures a Guard. The zero value is the production setting: no
// exemptions, the system resolver, a dialer with a 5s timeout.
type Config struct {
	// AllowPrivate lists ranges exempt from the address checks
	// (SENTRY_ALLOW_PRIVATE_TARGETS; see ParseAllowList). Only addresses
	// inside these prefixes are exempt. Empty in production. Every record
	// still counts: where localhost resolves to both 127.0.0.1 and ::1,
	// allow 127.0.0.0/8 and ::1/128 to use http://localhost:PORT/.
	AllowPrivate []netip.Prefix
	// Resolver defaults to net.DefaultResolver.
	Resolver Resolver
	// Dialer supplies timeouts, keep-alive and control hooks for the pinned
	// dial. Its Timeout (and Deadline) bound resolution plus all connection
	// attempts, as they do for net.Dialer itself. Its Resolver is never used:
	// the guard always dials an IP literal. Defaults to a 5s timeout.
	Dialer *net.Dialer
}

// Guard checks and dials outbound HTTP destinations. It is immutable and safe
// for concurrent use.
type Guard struct {
	allow    []netip.Prefix
	resolver Resolver
	dialer   *net.Dialer
}

// New returns a Guard for cfg. AllowPrivate prefixes are normalized
// (masked; IPv4-mapped prefixes become IPv4) and invalid ones dropped.
func New(cfg Config) *Guard {
	g := &Guard{resolver: cfg.Resolver, dialer: cfg.Dialer}
	if g.resolver == nil {
		g.resolver = net.DefaultResolver
	}
	if g.dialer == nil {
		g.dialer = &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	}
	for _, p := range cfg.AllowPrivate {
		if !p.IsValid() {
			continue
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		g.allow = append(g.allow, p.Masked())
	}
	return g
}

// ParseAllowList parses SENTRY_ALLOW_PRIVATE_TARGETS: CIDR prefixes or bare
// addresses (taken as /32 or /128) separated by commas or whitespace. An
// empty string yields no prefixes. It reports every malformed entry at once.
func ParseAllowList(s string) ([]netip.Prefix, error) {
	var (
		out  []netip.Prefix
		errs []error
	)
	for f := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				errs = append(errs, fmt.Errorf("allow-list entry %q: %w", f, err))
				continue
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("allow-list entry %q: %w", f, err))
			continue
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

// exempt reports whether a lies inside an AllowPrivate prefix. a is unmapped
// first: ::ffff:127.0.0.1 is 127.0.0.1 on the wire. Embedded forms (NAT64,
// 6to4, Teredo) are different destinations and never exempt by their
// embedded address.
func (g *Guard) exempt(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range g.allow {
		if p.Contains(a.WithZone("")) {
			return true
		}
	}
	return false
}

// addrReason returns why a may not be dialed, or "".
func (g *Guard) addrReason(a netip.Addr) string {
	if a.IsValid() && g.exempt(a) {
		return ""
	}
	return blockedReason(a)
}

// CheckURL reports whether raw is an acceptable outbound destination: an
// absolute http or https URL without userinfo whose host passes the checks
// (resolving it once if it is a name). Use it when a webhook subscription or
// connector base URL is saved; it does not make sending safe later, since DNS
// can change — send through Transport or DialContext, which check again.
//
// It returns a *BlockedError (errors.Is ErrBlocked) for a refused URL, and a
// wrapped resolver error (usually *net.DNSError) or ctx error when the host
// cannot be resolved.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the raw URL, password included: say nothing more.
		return &BlockedError{Reason: "invalid URL"}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return &BlockedError{Reason: "scheme must be http or https"}
	}
	if u.User != nil {
		return &BlockedError{Reason: "URL must not contain credentials (userinfo)"}
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return &BlockedError{Reason: "URL has no host"}
	}
	if p := u.Port(); p != "" {
		if _, err := parsePort(p); err != nil {
			return &BlockedError{Host: u.Hostname(), Reason: "invalid port"}
		}
	}
	_, err = g.resolve(ctx, "ip", u.Hostname())
	return err
}

// DialContext has the signature of http.Transport.DialContext. It resolves
// addr's host exactly once, refuses the destination if any resolved address
// is blocked, and then connects to the checked addresses by IP literal, in
// resolver order, until one succeeds. The underlying dialer never sees a
// hostname, so no second lookup can happen between the check and the
// connect. http.Transport keeps using the original host for TLS SNI,
// certificate verification and the Host header, so pinning is invisible to
// the server.
//
// Only "tcp", "tcp4" and "tcp6" are allowed. It returns a *BlockedError for a
// refused destination, a wrapped resolver error, or the first dial error
// (a *net.OpError naming the pinned address).
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var lookupNet string
	switch network {
	case "tcp":
		lookupNet = "ip"
	case "tcp4":
		lookupNet = "ip4"
	case "tcp6":
		lookupNet = "ip6"
	default:
		return nil, &BlockedError{Reason: fmt.Sprintf("network %q not allowed", network)}
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &BlockedError{Reason: "invalid host:port"}
	}
	port, err := parsePort(portStr)
	if err != nil {
		return nil, &BlockedError{Host: host, Reason: "invalid port"}
	}

	// Like net.Dialer, Timeout and Deadline cover resolution and every
	// connection attempt together, not each attempt.
	d := *g.dialer
	if dl := dialDeadline(ctx, &d, time.Now()); !dl.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}
	d.Timeout, d.Deadline = 0, time.Time{}

	addrs, err := g.resolve(ctx, lookupNet, host)
	if err != nil {
		return nil, err
	}
	targets := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		a = a.Unmap()
		if network == "tcp" || (network == "tcp4") == a.Is4() {
			targets = append(targets, a)
		}
	}
	if len(targets) == 0 {
		return nil, &net.DNSError{Err: "no " + lookupNet + " address", Name: host, IsNotFound: true}
	}

	var firstErr error
	for i, a := range targets {
		attemptCtx, cancel := ctx, context.CancelFunc(func() {})
		if dl, ok := ctx.Deadline(); ok {
			attemptCtx, cancel = context.WithDeadline(ctx, partialDeadline(time.Now(), dl, len(targets)-i))
		}
		c, err := d.DialContext(attemptCtx, network, netip.AddrPortFrom(a, port).String())
		cancel() // a connected net.Conn outlives its dial context
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// Transport returns a clone of base (or, if base is nil, a transport with
// explicit timeouts) that dials only through g.DialContext. Proxy is cleared,
// since a proxy would resolve the name itself and defeat pinning, and so are
// Dial, DialTLS and DialTLSContext, which http.Transport would otherwise
// prefer over DialContext. TLS stays in the transport, verified against the
// request's hostname. Redirects are covered because every new connection is
// dialed here; a pooled keep-alive connection stays pinned to the address it
// was checked with.
func (g *Guard) Transport(base *http.Transport) *http.Transport {
	var t *http.Transport
	if base != nil {
		t = base.Clone()
	} else {
		t = &http.Transport{
			ForceAttemptHTTP2:      true,
			MaxIdleConns:           100,
			IdleConnTimeout:        90 * time.Second,
			TLSHandshakeTimeout:    10 * time.Second,
			ResponseHeaderTimeout:  30 * time.Second,
			ExpectContinueTimeout:  time.Second,
			MaxResponseHeaderBytes: 64 << 10,
			TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		}
	}
	t.Proxy = nil
	t.OnProxyConnectResponse = nil
	t.ProxyConnectHeader = nil
	t.GetProxyConnectHeader = nil
	t.Dial = nil
	t.DialTLS = nil
	t.DialTLSContext = nil
	t.DialContext = g.DialContext
	return t
}

// resolve turns host (an IP literal or a DNS name) into the addresses that
// may be dialed, or refuses it. network is the resolver network.
func (g *Guard) resolve(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		if why := g.addrReason(a); why != "" {
			return nil, &BlockedError{Host: host, Addr: a, Reason: why}
		}
		return []netip.Addr{a}, nil
	}
	name := normalizeName(host)
	if why := hostnameReason(name); why != "" {
		if len(host) > 253 {
			host = "" // not worth echoing
		}
		return nil, &BlockedError{Host: host, Reason: why}
	}
	internal := internalNameReason(name)
	if internal != "" && len(g.allow) == 0 {
		// Nothing can exempt it, so don't leak the name to DNS.
		return nil, &BlockedError{Host: host, Reason: internal}
	}
	addrs, err := g.resolver.LookupNetIP(ctx, network, host)
	if err != nil {
		return nil, fmt.Errorf("resolve %q: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	if internal != "" && !g.allExempt(addrs) {
		return nil, &BlockedError{Host: host, Reason: internal}
	}
	for _, a := range addrs {
		if why := g.addrReason(a); why != "" {
			return nil, &BlockedError{Host: host, Addr: a, Reason: why}
		}
	}
	return addrs, nil
}

// allExempt reports whether every address is inside AllowPrivate. Only then
// is an internal name (localhost, a compose service) allowed: the operator
// has said those addresses are fine, and the name adds nothing.
func (g *Guard) allExempt(addrs []netip.Addr) bool {
	for _, a := range addrs {
		if !a.IsValid() || !g.exempt(a) {
			return false
		}
	}
	return true
}

func parsePort(s string) (uint16, error) {
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil || p == 0 {
		return 0, errors.New("invalid port")
	}
	return uint16(p), nil
}

// dialDeadline is the earliest of now+d.Timeout, d.Deadline and ctx's
// deadline, or zero if none is set.
func dialDeadline(ctx context.Context, d *net.Dialer, now time.Time) time.Time {
	var dl time.Time
	if d.Timeout > 0 {
		dl = now.Add(d.Timeout)
	}
	if !d.Deadline.IsZero() && (dl.IsZero() || d.Deadline.Before(dl)) {
		dl = d.Deadline
	}
	if c, ok := ctx.Deadline(); ok && (dl.IsZero() || c.Before(dl)) {
		dl = c
	}
	return dl
}

// partialDeadline splits the time left before deadline across the remaining
// addresses, as net.Dialer does, so one black-holed address cannot eat the
// whole budget. Each attempt gets at least 2s when that much is left.
func partialDeadline(now, deadline time.Time, remaining int) time.Time {
	left := deadline.Sub(now)
	if left <= 0 {
		return deadline
	}
	per := left / time.Duration(remaining)
	const minimum = 2 * time.Second
	if per < minimum {
		per = min(left, minimum)
	}
	return now.Add(per)
}
