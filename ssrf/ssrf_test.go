package ssrf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeResolver answers lookups from a function of the call number (1-based)
// and host, and counts calls.
type fakeResolver struct {
	calls  atomic.Int32
	answer func(call int, host string) ([]netip.Addr, error)
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	return r.answer(int(r.calls.Add(1)), host)
}

// staticResolver answers from m; unknown names are NXDOMAIN.
func staticResolver(m map[string][]string) *fakeResolver {
	return &fakeResolver{answer: func(_ int, host string) ([]netip.Addr, error) {
		ss, ok := m[host]
		if !ok {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		return addrs(ss...), nil
	}}
}

// constResolver answers every name with the same addresses.
func constResolver(ss ...string) *fakeResolver {
	as := addrs(ss...)
	return &fakeResolver{answer: func(int, string) ([]netip.Addr, error) { return as, nil }}
}

// failResolver fails the test if it is asked anything.
func failResolver(t *testing.T) *fakeResolver {
	return &fakeResolver{answer: func(_ int, host string) ([]netip.Addr, error) {
		t.Errorf("unexpected DNS lookup of %q", host)
		return nil, errors.New("unexpected lookup")
	}}
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

var errDialAttempted = errors.New("dial attempted (test hook)")

// dialRecorder is a *net.Dialer whose Control hook records the address the
// guard is about to connect to and then refuses, so tests see exactly which
// pinned address would be dialed without sending a packet.
type dialRecorder struct {
	mu    sync.Mutex
	addrs []string
}

func (d *dialRecorder) dialer() *net.Dialer {
	return &net.Dialer{
		Timeout: 5 * time.Second,
		ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
			d.mu.Lock()
			d.addrs = append(d.addrs, address)
			d.mu.Unlock()
			return errDialAttempted
		},
	}
}

func (d *dialRecorder) dialed() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}

// literalURL builds http://HOST:80/ with brackets and zone escaping done by
// net/url, as a user would have to write it.
func literalURL(host string) string {
	return (&url.URL{Scheme: "http", Host: net.JoinHostPort(host, "80"), Path: "/"}).String()
}

func wantBlocked(t *testing.T, err error, reason string, addr netip.Addr) {
	t.Helper()
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("err = %v, want ErrBlocked", err)
	}
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("err = %T, want *BlockedError", err)
	}
	if !strings.Contains(be.Reason, reason) {
		t.Errorf("reason = %q, want it to contain %q", be.Reason, reason)
	}
	if addr.IsValid() && be.Addr != addr {
		t.Errorf("Addr = %v, want %v", be.Addr, addr)
	}
}

// TestAddresses checks every address category three ways: as a URL literal
// (no DNS), as the answer for a name, and through DialContext.
func TestAddresses(t *testing.T) {
	tests := []struct {
		addr   string
		reason string // "" means allowed
		dial   string // allowed: the pinned address DialContext must connect to
	}{
		// IPv4 special-purpose ranges.
		{addr: "0.0.0.0", reason: "unspecified"},
		{addr: "0.1.2.3", reason: "this network"},
		{addr: "10.1.2.3", reason: "private"},
		{addr: "10.255.255.255", reason: "private"},
		{addr: "100.64.1.1", reason: "CGNAT"},
		{addr: "100.127.255.255", reason: "CGNAT"},
		{addr: "127.0.0.1", reason: "loopback"},
		{addr: "127.255.255.254", reason: "loopback"},
		{addr: "169.254.169.254", reason: "metadata"},
		{addr: "169.254.1.1", reason: "link-local"},
		{addr: "172.16.0.1", reason: "private"},
		{addr: "172.31.255.255", reason: "private"},
		{addr: "192.0.0.1", reason: "IETF"},
		{addr: "192.0.2.1", reason: "documentation"},
		{addr: "192.88.99.1", reason: "6to4 relay"},
		{addr: "192.168.1.1", reason: "private"},
		{addr: "198.18.0.1", reason: "benchmarking"},
		{addr: "198.19.255.255", reason: "benchmarking"},
		{addr: "198.51.100.1", reason: "documentation"},
		{addr: "203.0.113.1", reason: "documentation"},
		{addr: "224.0.0.1", reason: "multicast"},
		{addr: "239.255.255.250", reason: "multicast"},
		{addr: "240.0.0.1", reason: "reserved"},
		{addr: "255.255.255.255", reason: "broadcast"},

		// IPv6.
		{addr: "::", reason: "unspecified"},
		{addr: "::1", reason: "loopback"},
		{addr: "fe80::1", reason: "link-local"},
		{addr: "fe80::1%eth0", reason: "link-local"},
		{addr: "fc00::1", reason: "private"},
		{addr: "fd00:ec2::254", reason: "private"}, // AWS IMDS over IPv6
		{addr: "fec0::1", reason: "site-local"},
		{addr: "ff02::1", reason: "multicast"},
		{addr: "ff0e::1", reason: "multicast"},
		{addr: "100::1", reason: "discard"},
		{addr: "2001:db8::1", reason: "documentation"},
		{addr: "3fff::1", reason: "documentation"},
		{addr: "2001:2::1", reason: "IETF protocol"},
		{addr: "2001:10::1", reason: "IETF protocol"},
		{addr: "5f00::1", reason: "not global unicast"},
		{addr: "4000::1", reason: "not global unicast"},
		{addr: "::127.0.0.1", reason: "IPv4-compatible"},
		{addr: "::ffff:0:a00:1", reason: "IPv4-translated"},

		// IPv6 forms embedding a bad IPv4 address.
		{addr: "::ffff:127.0.0.1", reason: "loopback"},
		{addr: "::ffff:10.0.0.1", reason: "private"},
		{addr: "::ffff:169.254.169.254", reason: "metadata"},
		{addr: "64:ff9b::a00:1", reason: "NAT64 address embedding 10.0.0.1: private"},
		{addr: "64:ff9b::7f00:1", reason: "embedding 127.0.0.1: loopback"},
		{addr: "64:ff9b::a9fe:a9fe", reason: "metadata"},
		{addr: "64:ff9b:1::5db8:d822", reason: "local-use NAT64"},
		{addr: "2002:0a00:0001::", reason: "6to4 address embedding 10.0.0.1: private"},
		{addr: "2002:7f00:1::1", reason: "loopback"},
		{addr: "2002:a9fe:a9fe::", reason: "metadata"},
		// Teredo, client 10.0.0.1 (stored inverted: f5ff:fffe).
		{addr: "2001:0:4136:e378:8000:63bf:f5ff:fffe", reason: "Teredo address embedding 10.0.0.1"},
		// RFC 4380's example: client 192.0.2.45, a documentation address.
		{addr: "2001:0:4136:e378:8000:63bf:3fff:fdd2", reason: "Teredo"},

		// Public.
		{addr: "93.184.216.34", dial: "93.184.216.34:80"},
		{addr: "1.1.1.1", dial: "1.1.1.1:80"},
		{addr: "11.0.0.1", dial: "11.0.0.1:80"},           // just past 10/8
		{addr: "100.128.0.1", dial: "100.128.0.1:80"},     // just past CGNAT
		{addr: "172.32.0.1", dial: "172.32.0.1:80"},       // just past 172.16/12
		{addr: "198.20.0.1", dial: "198.20.0.1:80"},       // just past 198.18/15
		{addr: "223.255.255.1", dial: "223.255.255.1:80"}, // below multicast
		{addr: "2606:4700::1111", dial: "[2606:4700::1111]:80"},
		{addr: "::ffff:93.184.216.34", dial: "93.184.216.34:80"}, // how Go's resolver returns A records
		{addr: "64:ff9b::5db8:d822", dial: "[64:ff9b::5db8:d822]:80"},
		{addr: "2002:5db8:d822::1", dial: "[2002:5db8:d822::1]:80"},
		// Teredo, server 65.54.227.120, client 93.184.216.34 (a247:27dd).
		{addr: "2001:0:4136:e378:8000:63bf:a247:27dd", dial: "[2001:0:4136:e378:8000:63bf:a247:27dd]:80"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			ctx := t.Context()
			a := netip.MustParseAddr(tt.addr)

			// IP literal: decided without DNS.
			g := New(Config{Resolver: failResolver(t)})
			err := g.CheckURL(ctx, literalURL(tt.addr))
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("CheckURL(literal) = %v, want allowed", err)
				}
			} else {
				wantBlocked(t, err, tt.reason, a)
			}

			// The same address as a DNS answer, via CheckURL and DialContext.
			var rec dialRecorder
			g = New(Config{
				Resolver: staticResolver(map[string][]string{"hooks.example.com": {tt.addr}}),
				Dialer:   rec.dialer(),
			})
			err = g.CheckURL(ctx, "https://hooks.example.com/hook")
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("CheckURL(name) = %v, want allowed", err)
				}
			} else {
				wantBlocked(t, err, tt.reason, a)
			}
			_, err = g.DialContext(ctx, "tcp", "hooks.example.com:80")
			if tt.reason == "" {
				if !errors.Is(err, errDialAttempted) {
					t.Fatalf("DialContext = %v, want a dial attempt", err)
				}
				if got := rec.dialed(); len(got) != 1 || got[0] != tt.dial {
					t.Errorf("dialed %q, want [%q]", got, tt.dial)
				}
			} else {
				wantBlocked(t, err, tt.reason, a)
				if got := rec.dialed(); len(got) != 0 {
					t.Errorf("blocked address was dialed: %q", got)
				}
			}
		})
	}
}

// TestInternalNames: the resolver says every name is public, so only the
// name rules can refuse them. With no allow-list the name never reaches DNS.
func TestInternalNames(t *testing.T) {
	tests := []struct {
		host   string
		reason string // "" means allowed
	}{
		{"redis", "single-label"},
		{"db", "single-label"},
		{"api", "single-label"},
		{"admin", "single-label"},
		{"celery-worker", "single-label"},
		{"sentry-api", "single-label"},
		{"sentry-worker", "single-label"},
		{"Redis.", "single-label"},
		{"localhost", "single-label"},
		{"LOCALHOST.", "single-label"},
		{"foo.localhost", ".localhost"},
		{"x.internal", ".internal"},
		{"metadata.google.internal", ".internal"},
		{"printer.local", ".local"},
		{"box.localdomain", ".localdomain"},
		{"nas.home.arpa", ".arpa"},
		{"1.0.0.127.in-addr.arpa", ".arpa"},
		{"router.lan", ".lan"},
		{"bad!host.example.com", "invalid hostname"},
		{"a..example.com", "invalid hostname"},
		{"exämple.com", "invalid hostname"},

		{"example.com", ""},
		{"api.stripe.com", ""},
		{"db.example.com", ""},
		{"localhost.example.com", ""},
		{"redis.io", ""},
		{"cafe.cafe", ""}, // hex-looking letters are still a name
		{"hooks.example.com.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			r := constResolver("93.184.216.34")
			var rec dialRecorder
			g := New(Config{Resolver: r, Dialer: rec.dialer()})
			u := (&url.URL{Scheme: "https", Host: tt.host, Path: "/"}).String()
			err := g.CheckURL(t.Context(), u)
			_, dialErr := g.DialContext(t.Context(), "tcp", net.JoinHostPort(tt.host, "443"))
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("CheckURL(%q) = %v, want allowed", u, err)
				}
				if !errors.Is(dialErr, errDialAttempted) {
					t.Fatalf("DialContext = %v, want a dial attempt", dialErr)
				}
				return
			}
			wantBlocked(t, err, tt.reason, netip.Addr{})
			wantBlocked(t, dialErr, tt.reason, netip.Addr{})
			if n := r.calls.Load(); n != 0 {
				t.Errorf("internal name was looked up %d times", n)
			}
			if got := rec.dialed(); len(got) != 0 {
				t.Errorf("dialed %q", got)
			}
		})
	}
}

// TestNonCanonicalIPv4 covers the inet_aton spellings Go's parsers reject
// but a cgo resolver or a proxy may read as an address. The resolver answers
// public, so only the refusal of the form itself can block them.
func TestNonCanonicalIPv4(t *testing.T) {
	for _, host := range []string{
		"2130706433",   // 127.0.0.1
		"017700000001", // 127.0.0.1 octal
		"0x7f000001",   // 127.0.0.1 hex
		"0x7F000001",
		"0x7f.1", // 127.0.0.1
		"0x7f.0x0.0x0.0x1",
		"0177.0.0.1",
		"127.1",
		"127.0.1",
		"127.0.0.1.",
		"10.0.0.010",
		"1.2.3.04",   // public value, still not canonical
		"0x5db8d822", // 93.184.216.34
		"1.2.3.4.5",
		"foo.0x10",
		"foo.123",
		"0x",
	} {
		t.Run(host, func(t *testing.T) {
			g := New(Config{Resolver: constResolver("93.184.216.34")})
			err := g.CheckURL(t.Context(), "http://"+host+"/")
			wantBlocked(t, err, "non-canonical IPv4", netip.Addr{})
			_, err = g.DialContext(t.Context(), "tcp", host+":80")
			wantBlocked(t, err, "non-canonical IPv4", netip.Addr{})
		})
	}
}

func TestMultiRecordAnyBadBlocks(t *testing.T) {
	tests := []struct {
		name    string
		answers []string
		bad     string
	}{
		{"private second", []string{"93.184.216.34", "10.0.0.5"}, "10.0.0.5"},
		{"private first", []string{"10.0.0.5", "93.184.216.34"}, "10.0.0.5"},
		{"v6 link-local among v6", []string{"2606:4700::1111", "fe80::1"}, "fe80::1"},
		{"mapped loopback", []string{"93.184.216.34", "2606:4700::1111", "::ffff:127.0.0.1"}, "::ffff:127.0.0.1"},
		{"metadata last of many", []string{"1.1.1.1", "1.0.0.1", "8.8.8.8", "169.254.169.254"}, "169.254.169.254"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec dialRecorder
			g := New(Config{
				Resolver: staticResolver(map[string][]string{"multi.example.com": tt.answers}),
				Dialer:   rec.dialer(),
			})
			err := g.CheckURL(t.Context(), "https://multi.example.com/")
			wantBlocked(t, err, "", netip.MustParseAddr(tt.bad))
			_, err = g.DialContext(t.Context(), "tcp", "multi.example.com:443")
			wantBlocked(t, err, "", netip.MustParseAddr(tt.bad))
			if got := rec.dialed(); len(got) != 0 {
				t.Errorf("dialed %q although one record is blocked", got)
			}
		})
	}
}

// TestAllowPrivateExemptsOnlyListedRanges: allowing 127.0.0.0/8 for local
// development must not open anything else.
func TestAllowPrivateExemptsOnlyListedRanges(t *testing.T) {
	res := staticResolver(map[string][]string{
		"localhost":          {"127.0.0.1"},
		"dual.localhost":     {"127.0.0.1", "::1"},
		"dual.example.test":  {"127.0.0.1", "::1"},
		"redis":              {"10.0.0.2"},
		"compose-svc":        {"127.0.0.2"},
		"mixed.internal":     {"127.0.0.1", "93.184.216.34"},
		"hooks.example.test": {"127.0.0.1"},
		"other.example.test": {"127.0.0.1", "10.0.0.1"},
	})
	g := New(Config{AllowPrivate: prefixes("127.0.0.0/8"), Resolver: res})
	tests := []struct {
		url    string
		reason string // "" means allowed
	}{
		{"http://127.0.0.1:8080/", ""},
		{"http://127.255.0.9/", ""},
		{"http://[::ffff:127.0.0.1]/", ""}, // the same address
		{"http://localhost:8080/", ""},
		{"http://hooks.example.test/", ""},
		// Names whose addresses are all exempt skip the name rules...
		{"http://compose-svc/", ""},
		// ...but only if all of them are.
		{"http://dual.example.test/", "loopback"}, // ::1 is not in 127.0.0.0/8
		{"http://dual.localhost/", ".localhost"},
		{"http://mixed.internal/", ".internal"},
		{"http://redis/", "single-label"},
		{"http://other.example.test/", "private"},
		{"http://10.0.0.1/", "private"},
		{"http://[::1]/", "loopback"},
		{"http://169.254.169.254/", "metadata"},
		{"http://192.168.1.1/", "private"},
		{"http://0.0.0.0/", "unspecified"},
		{"http://[64:ff9b::7f00:1]/", "NAT64"}, // a translator's address, not ours
		{"http://[2002:7f00:1::]/", "6to4"},
		{"http://2130706433/", "non-canonical"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := g.CheckURL(t.Context(), tt.url)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("CheckURL = %v, want allowed", err)
				}
				return
			}
			wantBlocked(t, err, tt.reason, netip.Addr{})
		})
	}
}

func TestNewNormalizesAllowList(t *testing.T) {
	g := New(Config{
		AllowPrivate: []netip.Prefix{
			netip.MustParsePrefix("::ffff:10.1.0.0/112"), // mapped form of 10.1.0.0/16
			netip.MustParsePrefix("192.168.7.9/24"),      // host bits set
			{},                                           // invalid: dropped
		},
		Resolver: failResolver(t),
	})
	for _, u := range []string{"http://10.1.2.3/", "http://192.168.7.200/"} {
		if err := g.CheckURL(t.Context(), u); err != nil {
			t.Errorf("CheckURL(%s) = %v, want allowed", u, err)
		}
	}
	for _, u := range []string{"http://10.2.0.1/", "http://192.168.8.1/"} {
		if err := g.CheckURL(t.Context(), u); !errors.Is(err, ErrBlocked) {
			t.Errorf("CheckURL(%s) = %v, want blocked", u, err)
		}
	}
}

func TestParseAllowList(t *testing.T) {
	got, err := ParseAllowList(" 127.0.0.0/8, ::1\t10.0.0.0/8,,")
	if err != nil {
		t.Fatal(err)
	}
	want := prefixes("127.0.0.0/8", "::1/128", "10.0.0.0/8")
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("prefix %d = %v, want %v", i, got[i], want[i])
		}
	}
	if got, err := ParseAllowList(""); err != nil || len(got) != 0 {
		t.Errorf(`ParseAllowList("") = %v, %v`, got, err)
	}
	_, err = ParseAllowList("bogus,10.0.0.0/33,127.0.0.1")
	if err == nil || !strings.Contains(err.Error(), "bogus") || !strings.Contains(err.Error(), "10.0.0.0/33") {
		t.Errorf("err = %v, want both bad entries reported", err)
	}
}

func TestCheckURLShape(t *testing.T) {
	g := New(Config{Resolver: staticResolver(map[string][]string{"example.com": {"93.184.216.34"}})})
	tests := []struct {
		raw     string
		reason  string   // "" means allowed
		secrets []string // must not appear in the error message
	}{
		{raw: "https://example.com/ok?x=1"},
		{raw: "HTTP://example.com:8443/"},
		{raw: "ftp://example.com/", reason: "scheme"},
		{raw: "file:///etc/passwd", reason: "scheme"},
		{raw: "gopher://example.com:70/", reason: "scheme"},
		{raw: "javascript:alert(1)", reason: "scheme"},
		{raw: "//example.com/x", reason: "scheme"},
		{raw: "example.com", reason: "scheme"},
		{raw: "http://admin:hunter2secret@example.com/", reason: "credentials", secrets: []string{"hunter2secret", "admin"}},
		{raw: "https://tok3nvalue@example.com/", reason: "credentials", secrets: []string{"tok3nvalue"}},
		{raw: "http://@example.com/", reason: "credentials"},
		{raw: "http://u:p4ss%zzword@example.com/", reason: "invalid URL", secrets: []string{"p4ss", "word"}},
		{raw: "http://exa mple.com/?key=s3cr3tkey", reason: "invalid URL", secrets: []string{"s3cr3tkey"}},
		{raw: "http:///path", reason: "no host"},
		{raw: "http://:8080/", reason: "no host"},
		{raw: "http:example.com", reason: "no host"},
		{raw: "http://example.com:0/", reason: "port"},
		{raw: "http://example.com:70000/", reason: "port"},
		{raw: "http://10.0.0.1/hook/pathsecret?token=querysecret", reason: "private", secrets: []string{"pathsecret", "querysecret", "token"}},
		{raw: "https://admin:pw123456@10.0.0.1/", reason: "credentials", secrets: []string{"pw123456"}},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			err := g.CheckURL(t.Context(), tt.raw)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("CheckURL = %v, want allowed", err)
				}
				return
			}
			wantBlocked(t, err, tt.reason, netip.Addr{})
			for _, s := range tt.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q leaks %q", err, s)
				}
			}
		})
	}
}

func TestCheckURLResolverError(t *testing.T) {
	g := New(Config{Resolver: staticResolver(nil)})
	err := g.CheckURL(t.Context(), "https://nx.example.com/")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Fatalf("err = %v, want a not-found *net.DNSError", err)
	}
	if errors.Is(err, ErrBlocked) {
		t.Error("a lookup failure must not look like a policy refusal")
	}

	empty := &fakeResolver{answer: func(int, string) ([]netip.Addr, error) { return nil, nil }}
	if err := New(Config{Resolver: empty}).CheckURL(t.Context(), "https://empty.example.com/"); !errors.As(err, &dnsErr) {
		t.Fatalf("empty answer: err = %v, want *net.DNSError", err)
	}
}

func TestBlockedErrorMessage(t *testing.T) {
	tests := []struct {
		err  *BlockedError
		want string
	}{
		{&BlockedError{Reason: "scheme must be http or https"}, "destination blocked: scheme must be http or https"},
		{&BlockedError{Host: "redis", Reason: "internal service name (single-label host)"}, `destination blocked: host "redis": internal service name (single-label host)`},
		{&BlockedError{Host: "10.0.0.1", Addr: netip.MustParseAddr("10.0.0.1"), Reason: "private (RFC 1918)"}, `destination blocked: host "10.0.0.1": private (RFC 1918)`},
		{&BlockedError{Host: "evil.example.com", Addr: netip.MustParseAddr("127.0.0.1"), Reason: "loopback"}, `destination blocked: host "evil.example.com", address 127.0.0.1: loopback`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		var err error = tt.err
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("errors.Is(%v, ErrBlocked) = false", err)
		}
	}
}

// seen counts the connections a test server accepts and records the Host
// header and TLS server name of the last request.
type seen struct {
	conns      atomic.Int32
	mu         sync.Mutex
	host       string
	serverName string
}

func (s *seen) got() (host, serverName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.host, s.serverName
}

func (s *seen) handler(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.host = r.Host
	if r.TLS != nil {
		s.serverName = r.TLS.ServerName
	}
	s.mu.Unlock()
	io.WriteString(w, "ok")
}

func startServer(t *testing.T, tlsOn, http2 bool) (*httptest.Server, *seen) {
	t.Helper()
	s := &seen{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(s.handler))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	srv.EnableHTTP2 = http2
	// Tests deliberately abort handshakes; keep the output readable.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tlsOn {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	if ap := netip.MustParseAddrPort(srv.Listener.Addr().String()); ap.Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Skipf("test server is on %v, need 127.0.0.1", ap)
	}
	return srv, s
}

func port(srv *httptest.Server) string {
	_, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return p
}

func get(t *testing.T, c *http.Client, u string) (string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestRebindBetweenCheckAndDial: the name is public when the subscription is
// saved and rebinds to 127.0.0.1 before delivery. The dial-time resolution
// sees the new answer and refuses; nothing connects to the private listener.
func TestRebindBetweenCheckAndDial(t *testing.T) {
	srv, s := startServer(t, false, false)
	res := &fakeResolver{answer: func(call int, _ string) ([]netip.Addr, error) {
		if call == 1 {
			return addrs("93.184.216.34"), nil
		}
		return addrs("127.0.0.1"), nil
	}}
	g := New(Config{Resolver: res})
	u := "http://rebind.example.com:" + port(srv) + "/hook"

	if err := g.CheckURL(t.Context(), u); err != nil {
		t.Fatalf("CheckURL at save time = %v, want allowed", err)
	}
	_, err := get(t, &http.Client{Transport: g.Transport(nil)}, u)
	wantBlocked(t, err, "loopback", netip.MustParseAddr("127.0.0.1"))
	if n := res.calls.Load(); n != 2 {
		t.Errorf("resolver calls = %d, want 2 (save, dial)", n)
	}

	// A direct request proves the server works and, since connections are
	// accepted in order, that nothing reached it before.
	if _, err := get(t, srv.Client(), srv.URL); err != nil {
		t.Fatal(err)
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("server accepted %d connections, want only the direct one", n)
	}
}

// TestDialUsesSingleResolution: the first answer (allowed) is dialed even
// though every later answer would be blocked, the dialer itself never
// resolves, and the next new connection re-resolves and is refused.
func TestDialUsesSingleResolution(t *testing.T) {
	srv, s := startServer(t, false, false)
	res := &fakeResolver{answer: func(call int, _ string) ([]netip.Addr, error) {
		if call == 1 {
			return addrs("127.0.0.1"), nil
		}
		return addrs("10.0.0.1"), nil
	}}
	trap := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		t.Error("net.Dialer performed its own DNS lookup")
		return nil, errors.New("no DNS in this test")
	}}
	g := New(Config{
		AllowPrivate: prefixes("127.0.0.0/8"),
		Resolver:     res,
		Dialer:       &net.Dialer{Timeout: 5 * time.Second, Resolver: trap},
	})
	tr := g.Transport(nil)
	tr.DisableKeepAlives = true // each request dials anew
	c := &http.Client{Transport: tr}
	u := "http://pinned.example.com:" + port(srv) + "/"

	if body, err := get(t, c, u); err != nil || body != "ok" {
		t.Fatalf("first request = %q, %v", body, err)
	}
	if n := res.calls.Load(); n != 1 {
		t.Errorf("resolver calls after one dial = %d, want 1", n)
	}
	_, err := get(t, c, u)
	wantBlocked(t, err, "private", netip.MustParseAddr("10.0.0.1"))
	if n := s.conns.Load(); n != 1 {
		t.Errorf("server accepted %d connections, want 1", n)
	}
}

// TestPinningKeepsHostHeader: the connection goes to the pinned IP but the
// request still says which virtual host it is for.
func TestPinningKeepsHostHeader(t *testing.T) {
	srv, s := startServer(t, false, false)
	g := New(Config{
		AllowPrivate: prefixes("127.0.0.0/8"),
		Resolver:     staticResolver(map[string][]string{"hooks.example.test": {"127.0.0.1"}}),
	})
	hostport := "hooks.example.test:" + port(srv)
	if _, err := get(t, &http.Client{Transport: g.Transport(nil)}, "http://"+hostport+"/x"); err != nil {
		t.Fatal(err)
	}
	if host, _ := s.got(); host != hostport {
		t.Errorf("server saw Host %q, want %q", host, hostport)
	}
}

// TestPinningKeepsTLSName: the test certificate covers example.com and
// 127.0.0.1. A request for example.com succeeds with SNI example.com; one for
// hooks.example.test, pinned to the same 127.0.0.1, fails verification,
// proving the certificate is checked against the hostname and not the IP.
func TestPinningKeepsTLSName(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		name := "http1"
		if h2 {
			name = "http2"
		}
		t.Run(name, func(t *testing.T) {
			srv, s := startServer(t, true, h2)
			g := New(Config{
				AllowPrivate: prefixes("127.0.0.0/8"),
				Resolver: staticResolver(map[string][]string{
					"example.com":        {"127.0.0.1"},
					"hooks.example.test": {"127.0.0.1"},
				}),
			})
			c := &http.Client{Transport: g.Transport(srv.Client().Transport.(*http.Transport))}

			hostport := "example.com:" + port(srv)
			if _, err := get(t, c, "https://"+hostport+"/x"); err != nil {
				t.Fatal(err)
			}
			host, sni := s.got()
			if sni != "example.com" {
				t.Errorf("SNI = %q, want example.com", sni)
			}
			if host != hostport {
				t.Errorf("Host = %q, want %q", host, hostport)
			}

			_, err := get(t, c, "https://hooks.example.test:"+port(srv)+"/x")
			var hostErr x509.HostnameError
			if !errors.As(err, &hostErr) {
				t.Fatalf("err = %v, want x509.HostnameError", err)
			}
			if errors.Is(err, ErrBlocked) {
				t.Error("certificate failure reported as ErrBlocked")
			}
		})
	}
}

// TestDialTriesEachAddress: 127.0.0.2 refuses (the server is bound to
// 127.0.0.1 only), so the guard moves on to the next checked address.
func TestDialTriesEachAddress(t *testing.T) {
	srv, s := startServer(t, false, false)
	g := New(Config{
		AllowPrivate: prefixes("127.0.0.0/8"),
		Resolver:     constResolver("127.0.0.2", "127.0.0.1"),
	})
	if _, err := get(t, &http.Client{Transport: g.Transport(nil)}, "http://two.example.test:"+port(srv)+"/"); err != nil {
		t.Fatal(err)
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("server accepted %d connections, want 1", n)
	}
}

// TestDialContextNetworks: the family filter for tcp4/tcp6, refusal of
// other networks and malformed addresses, and that "tcp" moves on to the
// next checked address when a dial fails (the recorder refuses every dial).
func TestDialContextNetworks(t *testing.T) {
	res := staticResolver(map[string][]string{
		"dual.example.com": {"::ffff:93.184.216.34", "2606:4700::1111"},
		"v6.example.com":   {"2606:4700::1111"},
	})
	tests := []struct {
		network, addr string
		dial          []string // in order
		blocked       bool
	}{
		{network: "tcp", addr: "dual.example.com:443", dial: []string{"93.184.216.34:443", "[2606:4700::1111]:443"}},
		{network: "tcp4", addr: "dual.example.com:443", dial: []string{"93.184.216.34:443"}},
		{network: "tcp6", addr: "dual.example.com:443", dial: []string{"[2606:4700::1111]:443"}},
		{network: "tcp4", addr: "v6.example.com:443"},
		{network: "udp", addr: "dual.example.com:443", blocked: true},
		{network: "unix", addr: "/var/run/docker.sock", blocked: true},
		{network: "tcp", addr: "dual.example.com", blocked: true},
		{network: "tcp", addr: "dual.example.com:0", blocked: true},
		{network: "tcp", addr: "dual.example.com:http", blocked: true},
	}
	for _, tt := range tests {
		t.Run(tt.network+" "+tt.addr, func(t *testing.T) {
			var rec dialRecorder
			g := New(Config{Resolver: res, Dialer: rec.dialer()})
			_, err := g.DialContext(t.Context(), tt.network, tt.addr)
			switch {
			case tt.blocked:
				wantBlocked(t, err, "", netip.Addr{})
			case tt.dial == nil:
				var dnsErr *net.DNSError
				if !errors.As(err, &dnsErr) {
					t.Errorf("err = %v, want *net.DNSError", err)
				}
			default:
				if !errors.Is(err, errDialAttempted) {
					t.Errorf("err = %v, want dial attempt", err)
				}
			}
			if got := rec.dialed(); !slices.Equal(got, tt.dial) {
				t.Errorf("dialed %q, want %q", got, tt.dial)
			}
		})
	}
}

// TestDialTimeoutCoversResolution: Dialer.Timeout bounds the lookup too, as
// it does for net.Dialer. The resolver hangs until its context ends.
func TestDialTimeoutCoversResolution(t *testing.T) {
	var calls atomic.Int32
	g := New(Config{
		Dialer: &net.Dialer{Timeout: 20 * time.Millisecond},
		Resolver: resolverCtx(func(ctx context.Context) ([]netip.Addr, error) {
			calls.Add(1)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(5 * time.Second): // fail, don't hang
				return nil, errors.New("lookup context had no deadline")
			}
		}),
	})
	_, err := g.DialContext(context.Background(), "tcp", "slow.example.com:443")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if calls.Load() != 1 {
		t.Error("resolver not called")
	}
}

type resolverCtx func(context.Context) ([]netip.Addr, error)

func (f resolverCtx) LookupNetIP(ctx context.Context, _, _ string) ([]netip.Addr, error) {
	return f(ctx)
}

func TestTransportClearsBypasses(t *testing.T) {
	g := New(Config{})
	called := false
	base := &http.Transport{
		Proxy:               http.ProxyURL(&url.URL{Scheme: "http", Host: "proxy.example.com:3128"}),
		Dial:                func(string, string) (net.Conn, error) { called = true; return nil, errors.New("x") },
		DialTLSContext:      func(context.Context, string, string) (net.Conn, error) { called = true; return nil, errors.New("x") },
		DialTLS:             func(string, string) (net.Conn, error) { called = true; return nil, errors.New("x") },
		DialContext:         func(context.Context, string, string) (net.Conn, error) { called = true; return nil, errors.New("x") },
		TLSHandshakeTimeout: 3 * time.Second,
		TLSClientConfig:     &tls.Config{ServerName: "keep.example.com"},
	}
	tr := g.Transport(base)
	if tr == base {
		t.Fatal("Transport must clone, not modify, base")
	}
	if tr.Proxy != nil || tr.Dial != nil || tr.DialTLS != nil || tr.DialTLSContext != nil {
		t.Error("proxy or alternative dialers survived")
	}
	if base.Proxy == nil || base.DialTLSContext == nil {
		t.Error("base was modified")
	}
	if tr.TLSHandshakeTimeout != 3*time.Second || tr.TLSClientConfig.ServerName != "keep.example.com" {
		t.Error("base settings were not kept")
	}
	// The guard's dialer is in place: a blocked literal is refused by it.
	if _, err := tr.DialContext(t.Context(), "tcp", "127.0.0.1:80"); !errors.Is(err, ErrBlocked) {
		t.Errorf("DialContext = %v, want ErrBlocked", err)
	}
	if called {
		t.Error("a base dial function was called")
	}

	def := g.Transport(nil)
	if def.DialContext == nil || def.Proxy != nil || def.TLSHandshakeTimeout == 0 ||
		def.ResponseHeaderTimeout == 0 || def.IdleConnTimeout == 0 {
		t.Errorf("default transport lacks the guard dialer or explicit timeouts: %+v", def)
	}
}

// FuzzCheckURL treats the URL as hostile input. Every name resolves to
// loopback and nothing is exempt, so the only thing that may pass is a public
// IP literal, judged here by netip's own predicates as an independent
// oracle. The same input is also fed to DialContext as host:port, whose
// dialer refuses (and reports) any connection attempt.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"http://example.com/", "https://93.184.216.34/", "http://[::1]:80/", "http://2130706433/",
		"http://0x7f.1/", "http://user:pass@example.com/", "http://[::ffff:127.0.0.1]/",
		"http://[fe80::1%25eth0]/", "http://[64:ff9b::a00:1]/", "http://[2002:a00:1::]/",
		"ftp://x/", "http://redis:6379/", "http://localhost./", "http://a.b.internal/?q=1",
		"example.com:443", "[::1]:80", "http://%31%32%37.0.0.1/", "http://127.0.0.1:99999/",
		"http://exämple.com/", "http://[2001:0:4136:e378:8000:63bf:a247:27dd]/",
	} {
		f.Add(s)
	}
	var rec dialRecorder
	g := New(Config{Resolver: constResolver("127.0.0.1", "::1"), Dialer: rec.dialer()})
	f.Fuzz(func(t *testing.T, raw string) {
		ctx := context.Background()
		err := g.CheckURL(ctx, raw)
		if err == nil {
			u, _ := url.Parse(raw)
			a, perr := netip.ParseAddr(u.Hostname())
			if perr != nil || !publicOracle(a) {
				t.Fatalf("CheckURL(%q) allowed a non-public destination", raw)
			}
		} else {
			if !errors.Is(err, ErrBlocked) {
				t.Fatalf("CheckURL(%q) = %v, want ErrBlocked", raw, err)
			}
			// A URL with credentials is refused before its host is looked
			// at, so nothing from it can reach the message.
			var be *BlockedError
			if u, perr := url.Parse(raw); perr == nil && u.User != nil && errors.As(err, &be) && be.Host != "" {
				t.Fatalf("URL with userinfo got as far as host checks: %v", err)
			}
		}

		before := len(rec.dialed())
		_, err = g.DialContext(ctx, "tcp", raw)
		if errors.Is(err, errDialAttempted) {
			got := rec.dialed()[before:]
			for _, d := range got {
				if !publicOracle(netip.MustParseAddrPort(d).Addr()) {
					t.Fatalf("DialContext(%q) dialed %s", raw, d)
				}
			}
			return
		}
		if !errors.Is(err, ErrBlocked) {
			t.Fatalf("DialContext(%q) = %v, want ErrBlocked", raw, err)
		}
	})
}

// publicOracle is an independent, deliberately coarser check built on the
// standard library's predicates.
func publicOracle(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && a.IsGlobalUnicast() && !a.IsPrivate() && !a.IsLoopback() &&
		!a.IsLinkLocalUnicast() && !a.IsMulticast() && !a.IsUnspecified()
}
