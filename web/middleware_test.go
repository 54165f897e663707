package web

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"sentryhub/store"
)

// lockedBuffer is a log sink safe for concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newLoggedServer is a Server over a fresh database whose log (JSON lines)
// and metrics registry the test can read.
func newLoggedServer(t *testing.T, cfg Config) (*Server, *prometheus.Registry, *lockedBuffer) {
	t.Helper()
	db, fc := newTestDB(t)
	if cfg.SessionSecret == nil {
		cfg.SessionSecret = []byte("0123456789abcdef0123456789abcdef")
	}
	logs := &lockedBuffer{}
	reg := prometheus.NewRegistry()
	s, err := New(cfg, db, slog.New(slog.NewJSONHandler(logs, nil)), fc, reg)
	if err != nil {
		t.Fatal(err)
	}
	return s, reg, logs
}

// noRead fails the test if the handler reads the body.
type noRead struct{ t *testing.T }

func (n noRead) Read([]byte) (int, error) {
	n.t.Error("the body of a refused method was read")
	return 0, io.EOF
}

// TestUnknownMethodsAreBounded sends 2,000 made-up methods: each is a 501
// before routing or reading the body, the metrics keep one label for all
// of them, and the log holds only a short sample of each.
func TestUnknownMethodsAreBounded(t *testing.T) {
	t.Parallel()
	s, reg, logs := newLoggedServer(t, Config{})
	h := s.Handler()
	const tchar = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~"
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 2000
	long := strings.Repeat("X", 10_000)
	for i := range n {
		var m string
		if i == 0 {
			m = long
		} else {
			b := make([]byte, 1+rng.IntN(40))
			for j := range b {
				b[j] = tchar[rng.IntN(len(tchar))]
			}
			m = string(b)
		}
		if methodLabel(m) != "OTHER" {
			m += "Z" // a served method by chance; make it unknown
		}
		paths := []string{"/api/v1/warehouses", "/healthz", "/login", "/api/nope", "/"}
		req := httptest.NewRequest("GET", paths[i%len(paths)], noRead{t})
		req.Method = m
		req.Header.Set("Content-Type", "text/plain")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotImplemented {
			t.Fatalf("method %.40q: %d %s, want 501", m, rec.Code, rec.Body)
		}
		if len(m) > 8 && strings.Contains(rec.Body.String(), m) {
			t.Fatalf("501 body echoes the method: %s", rec.Body)
		}
		if wantsHTML(req) { // pages answer with the HTML error page
			if !strings.Contains(rec.Body.String(), `data-status="501"`) {
				t.Fatalf("501 page: %s", rec.Body)
			}
			continue
		}
		var eb errorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error.Code != "method_not_implemented" {
			t.Fatalf("501 body: %s", rec.Body)
		}
	}
	// One served request too, so its label is there alongside OTHER.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "sentryhub_http_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" {
					methods[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	if len(methods) != 2 || methods["OTHER"] != n || methods["GET"] != 1 {
		t.Fatalf("method labels %v, want OTHER=%d and GET=1", methods, n)
	}
	// The log: one line per request, the method as OTHER plus a sample of
	// at most 16 bytes (and "..." when cut).
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != n+1 {
		t.Fatalf("%d log lines, want %d", len(lines), n+1)
	}
	for _, line := range lines[:n] {
		var rec struct {
			Method string `json:"method"`
			Sample string `json:"method_sample"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Method != "OTHER" || rec.Sample == "" || len(rec.Sample) > 19 {
			t.Fatalf("log line: %s", line)
		}
	}
	if len(logs.String()) > 500*(n+1) {
		t.Fatalf("log grew to %d bytes for %d requests", len(logs.String()), n+1)
	}
}

// TestRequestIDHeader: an absent X-Request-ID is generated; a present one
// must be a single UUID, and a blank, repeated or malformed one is a 400
// naming the header, before any write happens.
func TestRequestIDHeader(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	tok := e.token(store.ScopeWarehouseWrite)
	e.seedWarehouse(tok)
	const id = "6f9e7c6a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
	h := e.s.Handler()
	body := `{"warehouse_id":1,"sku":"WIDGET-1","delta":1,"reason":"found"}`
	for _, tc := range []struct {
		name string
		ids  []string // nil: header absent
		want int
		msg  string
	}{
		{"absent", nil, 200, ""},
		{"uuid", []string{id}, 200, ""},
		{"empty", []string{""}, 400, "X-Request-ID is empty"},
		{"blank", []string{"   "}, 400, "X-Request-ID is empty"},
		{"not a uuid", []string{"req-1"}, 400, "X-Request-ID must be a UUID"},
		{"uuid without dashes", []string{strings.ReplaceAll(id, "-", "")}, 400, "X-Request-ID must be a UUID"},
		{"uuid in braces", []string{"{" + id + "}"}, 400, "X-Request-ID must be a UUID"},
		{"twice", []string{id, id}, 400, "more than once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, target := range []struct{ method, path, body string }{
				{"POST", "/api/v1/inventory/adjustments", body},
				{"GET", "/healthz", ""},
			} {
				before := e.eventCount()
				req := httptest.NewRequest(target.method, target.path, strings.NewReader(target.body))
				req.Header.Set("X-WMS-Token", tok)
				req.Header.Set("Content-Type", "application/json")
				for _, v := range tc.ids {
					req.Header.Add("X-Request-ID", v)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				want := tc.want
				if rec.Code != want {
					t.Fatalf("%s %s: %d %s, want %d", target.method, target.path, rec.Code, rec.Body, want)
				}
				echoed := rec.Header().Get("X-Request-ID")
				if !validRequestID(echoed) || (tc.name == "uuid" && echoed != id) {
					t.Fatalf("echoed X-Request-ID %q", echoed)
				}
				if want == 400 {
					var eb errorBody
					if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || !strings.Contains(eb.Error.Message, tc.msg) ||
						eb.Error.Fields["X-Request-ID"] == "" {
						t.Fatalf("400 body: %s", rec.Body)
					}
					if e.eventCount() != before {
						t.Fatal("a refused request was written")
					}
				}
			}
		})
	}
}

// TestCrossOriginScheme: an Origin naming this host under the other scheme
// is refused like a foreign one, whether the site is https by TLS or by its
// public URL (TLS at a proxy).
func TestCrossOriginScheme(t *testing.T) {
	t.Parallel()
	plain, _, _ := newLoggedServer(t, Config{})
	proxied, _, _ := newLoggedServer(t, Config{SecureCookies: true})
	for _, tc := range []struct {
		name   string
		s      *Server
		url    string // request URL; https:// sets r.TLS
		origin string
		want   int // 403 refused, else the handler's answer (401: no token)
	}{
		{"http site, http origin", plain, "http://hub.test/api/v1/warehouses", "http://hub.test", 401},
		{"http site, https origin", plain, "http://hub.test/api/v1/warehouses", "https://hub.test", 403},
		{"tls site, https origin", plain, "https://hub.test/api/v1/warehouses", "https://hub.test", 401},
		{"tls site, http origin", plain, "https://hub.test/api/v1/warehouses", "http://hub.test", 403},
		{"proxied https site, https origin", proxied, "http://hub.test/api/v1/warehouses", "https://hub.test", 401},
		{"proxied https site, http origin", proxied, "http://hub.test/api/v1/warehouses", "http://hub.test", 403},
		{"ui form, other scheme", plain, "http://hub.test/login", "https://hub.test", 403},
		{"foreign host", plain, "http://hub.test/api/v1/warehouses", "http://evil.example", 403},
		{"no origin (not a browser)", plain, "http://hub.test/api/v1/warehouses", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", tc.url, strings.NewReader(`{"code":"X","name":"X"}`))
			req.Header.Set("Content-Type", "application/json")
			if strings.HasSuffix(tc.url, "/login") {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			rec := httptest.NewRecorder()
			tc.s.Handler().ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.want)
			}
			if tc.want == 403 && !strings.Contains(rec.Body.String(), `"cross_origin"`) &&
				!strings.Contains(rec.Body.String(), "Cross-origin request refused") {
				t.Fatalf("403 not a cross-origin refusal: %s", rec.Body)
			}
		})
	}
}
