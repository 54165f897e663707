package connectors_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/ssrf"
)

var bg = context.Background()

func client(t *testing.T, cfg connectors.HTTPConfig) (*connectortest.Kit, *connectors.Client) {
	t.Helper()
	kit := connectortest.NewWithConfig(t, cfg)
	return kit, kit.Pool.Client("test", 1)
}

func get(url string) connectors.Request { return connectors.Request{Method: http.MethodGet, URL: url} }

func TestRetriesAndBackoff(t *testing.T) {
	t.Parallel()
	now := connectortest.Start()
	date := now.Add(20 * time.Second).Format(http.TimeFormat)
	for _, tc := range []struct {
		name     string
		method   string
		idem     bool
		replies  []int
		header   http.Header // on the failures
		wantErr  error
		requests int
		sleeps   []time.Duration
	}{
		// base 1s doubling, equal jitter at 0.5: 0.75s, 1.5s, 3s.
		{"503 then 429 then ok", "GET", false, []int{503, 429, 200}, nil, nil, 3, []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond}},
		{"503 on POST is retried", "POST", false, []int{503, 200}, nil, nil, 2, []time.Duration{750 * time.Millisecond}},
		{"500 on POST is not", "POST", false, []int{500}, nil, connectors.ErrTransient, 1, nil},
		{"500 on an idempotent POST is", "POST", true, []int{500, 502, 504, 200}, nil, nil, 4, []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second}},
		{"retries run out", "GET", false, []int{503, 503, 503, 503}, nil, connectors.ErrTransient, 4, []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second}},
		{"Retry-After seconds", "GET", false, []int{429, 200}, http.Header{"Retry-After": {"7"}}, nil, 2, []time.Duration{7 * time.Second}},
		{"Retry-After date", "GET", false, []int{503, 200}, http.Header{"Retry-After": {date}}, nil, 2, []time.Duration{20 * time.Second}},
		{"Retry-After of 60s is waited out", "GET", false, []int{429, 200}, http.Header{"Retry-After": {"60"}}, nil, 2, []time.Duration{time.Minute}},
		// Longer than MaxRetryAfter: no early retry; the transient error
		// (with RetryAfter) goes back to the run-level retry.
		{"Retry-After beyond the cap ends the request", "GET", false, []int{429, 200}, http.Header{"Retry-After": {"3600"}}, connectors.ErrTransient, 1, nil},
		{"Retry-After garbage falls back to backoff", "GET", false, []int{429, 200}, http.Header{"Retry-After": {"soon"}}, nil, 2, []time.Duration{750 * time.Millisecond}},
		{"401 is permanent", "GET", false, []int{401}, nil, connectors.ErrPermanent, 1, nil},
		{"403 is permanent", "GET", false, []int{403}, nil, connectors.ErrPermanent, 1, nil},
		{"404 is permanent", "GET", false, []int{404}, nil, connectors.ErrPermanent, 1, nil},
		{"400 is a data error", "POST", false, []int{400}, nil, connectors.ErrData, 1, nil},
		{"422 is a data error", "POST", false, []int{422}, nil, connectors.ErrData, 1, nil},
		{"redirects are not followed", "GET", false, []int{302}, http.Header{"Location": {"http://127.0.0.1:1/x"}}, connectors.ErrPermanent, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kit, c := client(t, connectors.HTTPConfig{})
			up := connectortest.NewUpstream(t)
			for i, st := range tc.replies {
				var h http.Header
				if i < len(tc.replies)-1 || st >= 300 {
					h = tc.header
				}
				up.Reply(tc.method, "/x", st, `{"errors":{"sku":["is unknown"]}}`, h)
			}
			resp, err := c.Do(bg, connectors.Request{Method: tc.method, URL: up.URL + "/x", Idempotent: tc.idem})
			if tc.wantErr == nil && (err != nil || resp.Status != 200 || resp.Attempts != tc.requests) {
				t.Fatalf("resp %+v err %v", resp, err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if n := len(up.Requests()); n != tc.requests {
				t.Fatalf("%d requests, want %d", n, tc.requests)
			}
			if got := kit.Clock.Sleeps(); fmt.Sprint(got) != fmt.Sprint(tc.sleeps) && !(len(got) == 0 && len(tc.sleeps) == 0) {
				t.Fatalf("sleeps %v, want %v", got, tc.sleeps)
			}
			var he *connectors.HTTPError
			if tc.wantErr == connectors.ErrData && (!errors.As(err, &he) || he.Fields["sku"] != "is unknown") {
				t.Fatalf("data error does not name the field: %v", err)
			}
		})
	}
}

func TestConnectionErrors(t *testing.T) {
	t.Parallel()
	// A port nothing listens on: the dial fails, so even a POST is resent.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	kit, c := client(t, connectors.HTTPConfig{})
	_, err := c.Do(bg, connectors.Request{Method: "POST", URL: dead + "/x?api_key=k_live_42&since=1"})
	if !errors.Is(err, connectors.ErrTransient) || len(kit.Clock.Sleeps()) != 3 {
		t.Fatalf("dial failure: %v, sleeps %v", err, kit.Clock.Sleeps())
	}
	if strings.Contains(err.Error(), "k_live_42") || !strings.Contains(err.Error(), "api_key=****") {
		t.Fatalf("error leaks the query credential: %v", err)
	}

	// A connection cut mid-response: resent only when idempotent.
	up := connectortest.NewUpstream(t)
	var hits atomic.Int32
	up.Handle("GET", "/cut", func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		w.Write([]byte(`{}`))
	})
	up.Handle("POST", "/cut", func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	})
	if resp, err := c.Do(bg, get(up.URL+"/cut")); err != nil || resp.Attempts != 2 {
		t.Fatalf("GET after a cut: %+v %v", resp, err)
	}
	before := len(up.Requests())
	if _, err := c.Do(bg, connectors.Request{Method: "POST", URL: up.URL + "/cut"}); !errors.Is(err, connectors.ErrTransient) || len(up.Requests())-before != 1 {
		t.Fatalf("POST after a cut was resent: %v", err)
	}
}

// Serial: the 50 ms real timeout must also let the fast requests through,
// which CPU contention from parallel tests could break.
func TestTimeoutsAndSizeCap(t *testing.T) {
	_, c := client(t, connectors.HTTPConfig{Timeout: 50 * time.Millisecond, MaxRetries: -1, MaxResponseBytes: 64})
	up := connectortest.NewUpstream(t)
	up.Handle("GET", "/slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	up.Reply("GET", "/big", 200, strings.Repeat("x", 65), nil)
	up.Reply("GET", "/fits", 200, strings.Repeat("x", 64), nil)
	_, err := c.Do(bg, get(up.URL+"/slow"))
	if !errors.Is(err, connectors.ErrTransient) || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("slow upstream: %v", err)
	}
	if _, err := c.Do(bg, get(up.URL+"/big")); !errors.Is(err, connectors.ErrPermanent) || !strings.Contains(err.Error(), "exceeds 64 bytes") {
		t.Fatalf("oversized body: %v", err)
	}
	if resp, err := c.Do(bg, get(up.URL+"/fits")); err != nil || len(resp.Body) != 64 {
		t.Fatalf("body at the cap: %v", err)
	}
	// The caller's cancellation is not an upstream failure.
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := c.Do(ctx, get(up.URL+"/fits")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestProactiveSlowdown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		budget connectors.BudgetReader
		header http.Header
		want   time.Duration
	}{
		// 1 left of a window resetting in 10s: spread what is left over it.
		{"X-RateLimit-Remaining", nil, http.Header{"X-Ratelimit-Remaining": {"1"}, "X-Ratelimit-Reset": {"10"}}, 5 * time.Second},
		{"plenty left", nil, http.Header{"X-Ratelimit-Remaining": {"50"}, "X-Ratelimit-Reset": {"10"}}, 0},
		{"BigCommerce", connectors.BigCommerceBudget, http.Header{"X-Rate-Limit-Requests-Left": {"0"}, "X-Rate-Limit-Time-Reset-Ms": {"3000"}}, 3 * time.Second},
		{"custom reader with a restore rate", func(*connectors.Response, time.Time) (connectors.Budget, bool) {
			return connectors.Budget{Remaining: 10, Threshold: 110, RestorePerSecond: 50}, true
		}, nil, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kit, c := client(t, connectors.HTTPConfig{})
			if tc.budget != nil {
				c = c.With(connectors.Provider{Budget: tc.budget})
			}
			up := connectortest.NewUpstream(t)
			up.Reply("GET", "/a", 200, "{}", tc.header)
			up.Reply("GET", "/a", 200, "{}", nil)
			for range 2 {
				if _, err := c.Do(bg, get(up.URL+"/a")); err != nil {
					t.Fatal(err)
				}
			}
			var waited time.Duration
			for _, s := range kit.Clock.Sleeps() {
				waited += s
			}
			if waited != tc.want {
				t.Fatalf("paused %s before the second request, want %s", waited, tc.want)
			}
		})
	}
}

func TestThrottledHook(t *testing.T) {
	t.Parallel()
	kit, c := client(t, connectors.HTTPConfig{})
	c = c.With(connectors.Provider{Throttled: func(r *connectors.Response) (time.Duration, bool) {
		return 4 * time.Second, strings.Contains(string(r.Body), "THROTTLED")
	}})
	up := connectortest.NewUpstream(t)
	up.Reply("POST", "/graphql", 200, `{"errors":[{"extensions":{"code":"THROTTLED"}}]}`, nil)
	up.Reply("POST", "/graphql", 200, `{"data":{}}`, nil)
	resp, err := c.Do(bg, connectors.Request{Method: "POST", URL: up.URL + "/graphql"})
	if err != nil || string(resp.Body) != `{"data":{}}` || fmt.Sprint(kit.Clock.Sleeps()) != "[4s]" {
		t.Fatalf("%v %v %v", resp, err, kit.Clock.Sleeps())
	}
}

func TestConcurrencyCap(t *testing.T) {
	t.Parallel()
	kit := connectortest.NewWithConfig(t, connectors.HTTPConfig{MaxConcurrency: 2})
	up := connectortest.NewUpstream(t)
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	arrived := make(chan struct{}, 10)
	up.Handle("GET", "/x", func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		arrived <- struct{}{}
		<-release
		inFlight.Add(-1)
	})
	var wg sync.WaitGroup
	for wh := range 6 {
		// Warehouses of one connector share its cap.
		c := kit.Pool.Client("capped", int64(wh%3+1))
		wg.Go(func() {
			if _, err := c.Do(bg, get(up.URL+"/x")); err != nil {
				t.Error(err)
			}
		})
	}
	<-arrived
	<-arrived
	close(release)
	wg.Wait()
	if peak.Load() != 2 {
		t.Fatalf("peak concurrency %d, want 2", peak.Load())
	}
}

func TestCircuitBreaker(t *testing.T) {
	t.Parallel()
	kit, c := client(t, connectors.HTTPConfig{MaxRetries: -1})
	other := kit.Pool.Client("test", 2) // another warehouse: its own breaker
	up := connectortest.NewUpstream(t)
	up.Handle("GET", "/down", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	up.Reply("GET", "/ok", 200, "{}", nil)
	up.Reply("GET", "/ok", 200, "{}", nil)
	for i := range 5 {
		if _, err := c.Do(bg, get(up.URL+"/down")); !errors.Is(err, connectors.ErrTransient) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	n := len(up.Requests())
	_, err := c.Do(bg, get(up.URL+"/ok"))
	var coe *connectors.CircuitOpenError
	if !errors.As(err, &coe) || !errors.Is(err, connectors.ErrCircuitOpen) || errors.Is(err, connectors.ErrTransient) || len(up.Requests()) != n {
		t.Fatalf("after 5 failures: %v (requests %d -> %d)", err, n, len(up.Requests()))
	}
	if want := connectortest.Start().Add(5 * time.Minute); !coe.RetryAt.Equal(want) {
		t.Fatalf("retry at %s, want %s", coe.RetryAt, want)
	}
	if st := kit.Pool.Breaker("test", 1); st.State != connectors.BreakerOpen || st.ConsecutiveFailures != 5 {
		t.Fatalf("status %+v", st)
	}
	if _, err := other.Do(bg, get(up.URL+"/ok")); err != nil {
		t.Fatalf("another warehouse is affected: %v", err)
	}

	// After the cooldown one probe goes through; its failure reopens.
	kit.Clock.After(5 * time.Minute)
	if st := kit.Pool.Breaker("test", 1); st.State != connectors.BreakerHalfOpen {
		t.Fatalf("status %+v", st)
	}
	if _, err := c.Do(bg, get(up.URL+"/down")); !errors.Is(err, connectors.ErrTransient) {
		t.Fatalf("probe: %v", err)
	}
	if _, err := c.Do(bg, get(up.URL+"/ok")); !errors.Is(err, connectors.ErrCircuitOpen) {
		t.Fatalf("after a failed probe: %v", err)
	}
	kit.Clock.After(5 * time.Minute)
	if _, err := c.Do(bg, get(up.URL+"/ok")); err != nil {
		t.Fatalf("successful probe: %v", err)
	}
	if st := kit.Pool.Breaker("test", 1); st.State != connectors.BreakerClosed || st.ConsecutiveFailures != 0 {
		t.Fatalf("after recovery %+v", st)
	}
}

func TestHalfOpenAllowsOneProbe(t *testing.T) {
	t.Parallel()
	kit, c := client(t, connectors.HTTPConfig{MaxRetries: -1, BreakerFailures: 1})
	up := connectortest.NewUpstream(t)
	up.Reply("GET", "/x", 503, "", nil)
	if _, err := c.Do(bg, get(up.URL+"/x")); !errors.Is(err, connectors.ErrTransient) {
		t.Fatal(err)
	}
	kit.Clock.After(5 * time.Minute)
	release := make(chan struct{})
	probing := make(chan struct{})
	up.Handle("GET", "/slow", func(w http.ResponseWriter, r *http.Request) {
		close(probing)
		<-release
	})
	done := make(chan error)
	go func() {
		_, err := c.Do(bg, get(up.URL+"/slow"))
		done <- err
	}()
	<-probing
	if _, err := c.Do(bg, get(up.URL+"/slow")); !errors.Is(err, connectors.ErrCircuitOpen) {
		t.Fatalf("second call during the probe: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("probe: %v", err)
	}
}

func TestSSRFGuard(t *testing.T) {
	t.Parallel()
	// No loopback exemption: the production guard.
	pool := connectortest.NewPool(t, connectors.HTTPConfig{MaxRetries: -1, BreakerFailures: 1, AllowHTTP: true},
		ssrf.New(ssrf.Config{}), connectortest.NewAutoClock(connectortest.Start()), slog.New(slog.DiscardHandler))
	c := pool.Client("test", 1)
	up := connectortest.NewUpstream(t)
	for _, url := range []string{up.URL + "/x", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[::1]:8080/", "http://redis:6379/"} {
		_, err := c.Do(bg, get(url+"?token=tok_secret"))
		var bde *connectors.BlockedDestinationError
		if !errors.As(err, &bde) || !errors.Is(err, ssrf.ErrBlocked) || !errors.Is(err, connectors.ErrPermanent) {
			t.Fatalf("%s: %v", url, err)
		}
		if strings.Contains(err.Error(), "tok_secret") {
			t.Fatalf("%s: error leaks the URL: %v", url, err)
		}
	}
	if len(up.Requests()) != 0 {
		t.Fatal("a blocked request reached the server")
	}
	// A refusal says nothing about the upstream: the breaker stays closed.
	if st := pool.Breaker("test", 1); st.State != connectors.BreakerClosed {
		t.Fatalf("breaker %+v", st)
	}
	// An exemption lets exactly the allowed range through.
	pool2 := connectortest.NewPool(t, connectors.HTTPConfig{AllowHTTP: true}, ssrf.New(ssrf.Config{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}),
		connectortest.NewAutoClock(connectortest.Start()), nil)
	up.Reply("GET", "/x", 200, "{}", nil)
	if _, err := pool2.Client("test", 1).Do(bg, get(up.URL+"/x")); err != nil {
		t.Fatalf("exempted loopback: %v", err)
	}
}

func TestErrorsAreScrubbed(t *testing.T) {
	t.Parallel()
	kit, c := client(t, connectors.HTTPConfig{MaxRetries: -1})
	c.AddSecret("sk_live_abcdef123456", "p@ss word/+")
	up := connectortest.NewUpstream(t)
	// Upstreams that echo what they were sent.
	up.Reply("GET", "/x", 500, `{"error":"bad key sk_live_abcdef123456 for user"}`, nil)
	up.Reply("GET", "/x", 401, `invalid token p%40ss+word%2F%2B`, nil)
	up.Reply("GET", "/x", 422, `{"errors":{"sk_live_abcdef123456":["echoed as a field name"]}}`, nil)
	for range 3 {
		_, err := c.Do(bg, get(up.URL+"/x?access_token=sk_live_abcdef123456&page=2"))
		if err == nil {
			t.Fatal("no error")
		}
		msg := err.Error()
		if strings.Contains(msg, "sk_live_abcdef123456") || strings.Contains(msg, "p%40ss") || strings.Contains(msg, "p@ss") {
			t.Fatalf("leak: %s", msg)
		}
		if !strings.Contains(msg, "page=2") {
			t.Fatalf("scrubbing removed too much: %s", msg)
		}
	}
	if strings.Contains(kit.Logs(), "sk_live_abcdef123456") {
		t.Fatal("secret in the logs")
	}
	// Userinfo in a URL is refused outright, without echoing it.
	_, err := c.Do(bg, get("https://user:hunter2hunter2@example.com/x"))
	if !errors.Is(err, connectors.ErrPermanent) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("userinfo: %v", err)
	}
}

// Without AllowHTTP (production without private targets) plain http is
// refused before anything is sent, so credentials never travel in clear.
func TestPlainHTTPRefusedByDefault(t *testing.T) {
	t.Parallel()
	up := connectortest.NewUpstream(t)
	up.Reply("GET", "/x", 200, "{}", nil)
	pool := connectortest.NewPool(t, connectors.HTTPConfig{},
		ssrf.New(ssrf.Config{AllowPrivate: connectortest.Loopback()}), connectortest.NewAutoClock(connectortest.Start()), nil)
	_, err := pool.Client("test", 1).Do(bg, get(up.URL+"/x?api_key=k_live_42"))
	if !errors.Is(err, connectors.ErrPermanent) || !strings.Contains(err.Error(), "plain http is refused") {
		t.Fatalf("plain http: %v", err)
	}
	if strings.Contains(err.Error(), "k_live_42") {
		t.Fatalf("error leaks the URL's key: %v", err)
	}
	if len(up.Requests()) != 0 {
		t.Fatal("a refused request reached the server")
	}
}

// Zero settings take their defaults; a negative one is refused by name
// instead of being quietly replaced by a default.
func TestConfigsRefuseNegativeSettings(t *testing.T) {
	t.Parallel()
	guard := ssrf.New(ssrf.Config{})
	clk := connectortest.NewAutoClock(connectortest.Start())
	for _, tc := range []struct {
		name string
		cfg  connectors.HTTPConfig
		want string
	}{
		{"zero is the default", connectors.HTTPConfig{}, ""},
		{"no retries", connectors.HTTPConfig{MaxRetries: -1}, ""},
		{"timeout", connectors.HTTPConfig{Timeout: -time.Second}, "Timeout"},
		{"two fields", connectors.HTTPConfig{MaxConcurrency: -1, BreakerFailures: -2}, "MaxConcurrency, BreakerFailures"},
		{"threshold", connectors.HTTPConfig{SlowdownThreshold: -0.5}, "SlowdownThreshold"},
	} {
		t.Run("http/"+tc.name, func(t *testing.T) {
			_, err := connectors.NewHTTPPool(tc.cfg, guard, clk, nil, nil)
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("NewHTTPPool: %v, want error naming %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		cfg  connectors.RunnerConfig
		want string
	}{
		{"zero is the default", connectors.RunnerConfig{}, ""},
		{"no retries", connectors.RunnerConfig{Retries: -1}, ""},
		{"keep runs", connectors.RunnerConfig{KeepRuns: -5}, "KeepRuns"},
		{"heartbeat", connectors.RunnerConfig{HeartbeatEvery: -time.Second}, "HeartbeatEvery"},
	} {
		t.Run("runner/"+tc.name, func(t *testing.T) {
			_, err := connectors.NewRunner(tc.cfg, connectors.RunnerDeps{})
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("NewRunner: %v, want error naming %q", err, tc.want)
			}
		})
	}
}
