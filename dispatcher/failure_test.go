package dispatcher

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sentryhub/ssrf"
	"sentryhub/store"
)

// shortTimeout is the one timeout a timeout case sets short, so that case
// takes a fraction of a second instead of the production 5-10 s. Every
// other timeout of every case keeps its production value, so a TLS
// handshake or a read on a loaded CI machine under -race never hits one by
// accident (a 300 ms timeout applied to every case once did).
const shortTimeout = 300 * time.Millisecond

// target is a consumer endpoint for one failure case.
type target struct {
	url string
	tls *tls.Config // what the dispatcher trusts, if not the default
}

func serve(t *testing.T, h http.HandlerFunc) target {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return target{url: srv.URL + "/hook"}
}

// TestFailureMatrix sends one delivery to each kind of broken consumer and
// checks the first attempt's classification, status code and duration.
//
// Serial: the cases bound each attempt's real duration; their own parallel
// subtests are load enough, other packages' tests on top would stretch them.
func TestFailureMatrix(t *testing.T) {
	status := func(code int) func(t *testing.T) target {
		return func(t *testing.T) target {
			return serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(code)
				w.Write([]byte(`{"error":"nope"}`))
			})
		}
	}
	var redirectTargetHit atomic.Bool
	// The cases run in parallel inside this group, which returns only when
	// all have finished, so the check after it sees every request.
	t.Run("cases", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			target   func(t *testing.T) target
			ok       bool
			kind     store.ErrorKind
			status   int
			min, max time.Duration // attempt duration bounds
			// connect, read, wall: the timeouts this case shortens (zero:
			// the production default).
			connect, read, wall time.Duration
		}{
			{name: "500", target: status(500), kind: store.Kind5xx, status: 500},
			{name: "503", target: status(503), kind: store.Kind5xx, status: 503},
			{name: "404", target: status(404), kind: store.Kind4xx, status: 404},
			{name: "429", target: status(429), kind: store.Kind4xx, status: 429},
			{name: "401", target: status(401), kind: store.Kind4xx, status: 401},
			{name: "204 is success", target: status(204), ok: true, status: 204},
			{name: "redirect is not followed", kind: store.KindUnknown, status: 302, target: func(t *testing.T) target {
				other := serve(t, func(w http.ResponseWriter, r *http.Request) { redirectTargetHit.Store(true) })
				return serve(t, func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, other.url, http.StatusFound)
				})
			}},
			{name: "connection refused", kind: store.KindConnection, target: func(t *testing.T) target {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				addr := ln.Addr().String()
				ln.Close()
				return target{url: "http://" + addr + "/hook"}
			}},
			{name: "connection reset before a response", kind: store.KindConnection, target: func(t *testing.T) target {
				return serve(t, func(w http.ResponseWriter, r *http.Request) {
					c, _, err := http.NewResponseController(w).Hijack()
					if err == nil {
						c.Close()
					}
				})
			}},
			{name: "TLS certificate not trusted", kind: store.KindTLS, target: func(t *testing.T) target {
				srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
				t.Cleanup(srv.Close)
				return target{url: srv.URL + "/hook"}
			}},
			{name: "TLS to a plain HTTP port", kind: store.KindTLS, target: func(t *testing.T) target {
				u := serve(t, func(w http.ResponseWriter, r *http.Request) {}).url
				return target{url: strings.Replace(u, "http://", "https://", 1)}
			}},
			{name: "TLS trusted succeeds through the pinned dial", ok: true, status: 200, target: func(t *testing.T) target {
				srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
				t.Cleanup(srv.Close)
				pool := x509.NewCertPool()
				pool.AddCert(srv.Certificate())
				return target{url: srv.URL + "/hook", tls: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
			}},
			{name: "timeout at connect (TLS handshake never answered)", kind: store.KindTimeout, connect: shortTimeout,
				min: shortTimeout * 9 / 10, max: shortTimeout + time.Second, target: func(t *testing.T) target {
					ln, err := net.Listen("tcp", "127.0.0.1:0")
					if err != nil {
						t.Fatal(err)
					}
					var conns []net.Conn
					var mu sync.Mutex
					go func() {
						for {
							c, err := ln.Accept()
							if err != nil {
								return
							}
							mu.Lock()
							conns = append(conns, c) // accept, never speak
							mu.Unlock()
						}
					}()
					t.Cleanup(func() {
						ln.Close()
						mu.Lock()
						defer mu.Unlock()
						for _, c := range conns {
							c.Close()
						}
					})
					return target{url: "https://" + ln.Addr().String() + "/hook"}
				}},
			{name: "a read stalls past the read timeout", kind: store.KindTimeout, status: 200, read: shortTimeout,
				min: shortTimeout * 9 / 10, max: shortTimeout + time.Second, target: func(t *testing.T) target {
					stop := make(chan struct{})
					t.Cleanup(func() { close(stop) })
					return serve(t, func(w http.ResponseWriter, r *http.Request) {
						w.Header().Set("Content-Length", "10")
						w.WriteHeader(200)
						w.Write([]byte("12345"))
						w.(http.Flusher).Flush()
						select {
						case <-stop:
						case <-r.Context().Done():
						}
					})
				}},
			{name: "slow drip beyond the wall clock", kind: store.KindTimeout, status: 200, wall: 3 * shortTimeout,
				min: 3 * shortTimeout * 9 / 10, max: 3*shortTimeout + time.Second, target: func(t *testing.T) target {
					return serve(t, func(w http.ResponseWriter, r *http.Request) {
						w.Header().Set("Content-Length", "1000")
						w.WriteHeader(200)
						// A byte every 100 ms: every read is well inside the read
						// timeout (production's 8 s), only the wall clock can
						// stop it.
						for range 1000 {
							if _, err := w.Write([]byte("x")); err != nil {
								return
							}
							w.(http.Flusher).Flush()
							select {
							case <-time.After(100 * time.Millisecond):
							case <-r.Context().Done():
								return
							}
						}
					})
				}},
			{name: "Content-Length over 64 KiB is not read", kind: store.Kind5xx, status: 200,
				max: time.Second, target: func(t *testing.T) target {
					stop := make(chan struct{})
					t.Cleanup(func() { close(stop) })
					return serve(t, func(w http.ResponseWriter, r *http.Request) {
						w.Header().Set("Content-Length", "10000000")
						w.WriteHeader(200)
						w.(http.Flusher).Flush()
						select { // would stall any reader of the body
						case <-stop:
						case <-r.Context().Done():
						}
					})
				}},
			{name: "a large chunked body is cut at 64 KiB and still succeeds", ok: true, status: 200,
				target: func(t *testing.T) target {
					return serve(t, func(w http.ResponseWriter, r *http.Request) {
						chunk := []byte(strings.Repeat("x", 16<<10))
						for range 64 { // 1 MiB, without a Content-Length
							if _, err := w.Write(chunk); err != nil {
								return
							}
						}
					})
				}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tg := tc.target(t)
				e := newEnv(t, func(c *Config) {
					c.ConnectTimeout, c.ReadTimeout, c.HTTPTimeout = tc.connect, tc.read, tc.wall
					c.TLSConfig = tg.tls
				})
				outs := e.watch()
				e.start()
				e.create(store.SubscriptionCreate{URL: tg.url})
				e.appendEvents(1, 1)
				o := outs.WaitOrTimeout()
				a := o.upd.Attempt
				if tc.ok {
					if o.upd.Status != store.DeliverySucceeded || a.StatusCode != tc.status {
						t.Fatalf("want success with %d, got %+v %+v", tc.status, o.upd, a)
					}
				} else if o.upd.Status != store.DeliveryPending || a.ErrorKind != tc.kind || a.StatusCode != tc.status {
					t.Fatalf("want kind %q status %d, got status %s kind %q code %d", tc.kind, tc.status, o.upd.Status, a.ErrorKind, a.StatusCode)
				}
				d := time.Duration(a.DurationMS) * time.Millisecond
				if d < tc.min || (tc.max > 0 && d > tc.max) {
					t.Fatalf("attempt took %v, want between %v and %v", d, tc.min, tc.max)
				}
			})
		}
	})
	t.Run("redirect target never requested", func(t *testing.T) {
		if redirectTargetHit.Load() {
			t.Fatal("the dispatcher followed a redirect")
		}
	})
}

// rebinder answers the first lookup with a public address and every later
// one with loopback: DNS rebinding.
type rebinder struct {
	mu    sync.Mutex
	calls int
}

func (r *rebinder) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.calls == 1 {
		return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
	}
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

// TestDNSRebinding: the URL passes the guard when the subscription is saved
// (a public address), then resolves to loopback at dispatch: the attempt is
// refused (ssrf_rejected) and nothing reaches the loopback listener.
func TestDNSRebinding(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	res := &rebinder{}
	e := newEnv(t, func(c *Config) {
		// Production setting: nothing exempt.
		c.Guard = ssrf.New(ssrf.Config{Resolver: res})
	})
	outs := e.watch()
	e.start()
	e.create(store.SubscriptionCreate{URL: "http://rebind.example.com:" + port + "/hook"})
	e.appendEvents(1, 1)
	o := outs.WaitOrTimeout()
	if o.upd.Attempt.ErrorKind != store.KindSSRFRejected || o.upd.Status != store.DeliveryPending {
		t.Fatalf("outcome %+v %+v", o.upd, o.upd.Attempt)
	}
	if hits.Load() != 0 {
		t.Fatal("the request reached the rebound address")
	}
	if res.calls < 2 {
		t.Fatalf("resolver called %d times: the dispatch must resolve again", res.calls)
	}
	// Saving a URL that resolves to loopback is refused up front too.
	_, _, err := e.d.CreateSubscription(context.Background(), "test", store.SubscriptionCreate{Name: "x", URL: "http://rebind.example.com/"})
	if err == nil || !strings.Contains(err.Error(), "webhook URL refused") {
		t.Fatalf("create with a loopback-resolving URL: %v", err)
	}
}

// A kept-alive connection survives an idle gap longer than the per-read
// timeout: that timeout guards reads of a response, not the transport's
// wait for the next one (a connection deadline once closed every idle
// connection after it, so every quiet consumer paid a new handshake).
//
// Serial: a 100 ms real read timeout, which CPU contention could trip.
func TestKeepAliveOutlivesReadTimeout(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	const read = 100 * time.Millisecond
	e := newEnv(t, func(c *Config) { c.ReadTimeout = read })
	outs := e.watch()
	e.start()
	e.create(store.SubscriptionCreate{URL: srv.URL + "/hook"})
	e.appendEvents(1, 1)
	if o := outs.WaitOrTimeout(); o.upd.Status != store.DeliverySucceeded {
		t.Fatalf("first delivery %+v", o.upd)
	}
	time.Sleep(3 * read) // idle for longer than the read timeout
	e.appendEvents(1, 1)
	if o := outs.WaitOrTimeout(); o.upd.Status != store.DeliverySucceeded {
		t.Fatalf("second delivery %+v", o.upd)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections, want the first one reused", n)
	}
}
