// Package ssrf is the one guard every outbound HTTP request from Sentry Hub
// goes through: webhook deliveries and every connector. Targets are supplied
// by admins and integrations, so without it a URL such as
// http://169.254.169.254/ or http://redis:6379/ turns the server into a proxy
// into its own network.
//
// The guard follows three rules, each closing a known bypass:
//
//   - Resolve once, check every record. A name that resolves to several
//     addresses is refused if any one of them is private, loopback,
//     link-local, reserved, multicast, unspecified, CGNAT, or an IPv6 form
//     embedding such an IPv4 address (IPv4-mapped, NAT64, 6to4, Teredo).
//     Checking only the first record would let an attacker publish one public
//     and one internal A record and win whenever the dialer picks the second.
//
//   - Dial the pinned address. [Guard.DialContext] resolves the host itself
//     and connects to the checked IP literal, so no second DNS lookup ever
//     happens between check and connect. A name whose TTL-0 answer flips from
//     public to 127.0.0.1 (DNS rebinding) is therefore either refused by the
//     dial-time check or connected to the address that was checked; an
//     earlier [Guard.CheckURL] pass grants nothing. Because http.Transport
//     still knows the original host, TLS SNI, certificate verification and
//     the Host header all keep using the hostname, not the IP.
//
//   - Refuse internal names and odd literals before asking DNS. Single-label
//     names (docker service names like redis, db, sentry-api), localhost and
//     the internal-use suffixes (.local, .internal, .localdomain, .home.arpa,
//     ...) are refused because what they resolve to depends on where the
//     process runs, and search domains can turn them into anything. Numeric
//     hosts that are not a canonical dotted quad (2130706433, 0x7f.1, 127.1,
//     0177.0.0.1) are refused outright: Go's parsers reject them, but the
//     system resolver (getaddrinfo via cgo) or a downstream proxy may accept
//     them as loopback.
//
// Local development and tests exempt explicit address ranges with
// [Config.AllowPrivate] (SENTRY_ALLOW_PRIVATE_TARGETS, empty by default; the
// caller logs a warning when it is set). Only addresses inside those ranges
// are exempt: allowing 127.0.0.0/8 does not allow 10.0.0.1 or ::1. A name
// whose resolved addresses are all exempt skips the internal-name check, so
// http://localhost:8080/ works when localhost resolves only to allowed
// addresses.
//
// Every refusal is a *[BlockedError] matching [ErrBlocked] via errors.Is;
// its message never contains URL credentials, paths or query strings. A name
// that does not resolve is not a refusal: that error wraps the resolver's
// (usually *net.DNSError). Note that http.Client wraps dial errors in a
// *url.Error whose message repeats the request URL, query included; log the
// *BlockedError obtained with errors.As, not the client's error.
//
// Keep-alive connections are not re-checked when reused: they stay connected
// to the address that was checked when they were dialed, so reuse cannot
// reach a new address. Every new connection, including one made for a
// redirect, is resolved and checked again.
package ssrf
