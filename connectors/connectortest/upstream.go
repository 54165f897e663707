package connectortest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

// Upstream is a scriptable fake upstream API on a loopback httptest server.
// Replies queued with Reply are served first, in order, per method and
// path; then handlers registered with Handle; anything else is a 404. Every
// request is recorded.
type Upstream struct {
	*httptest.Server
	mu       sync.Mutex
	queued   map[string][]reply
	handlers map[string]http.HandlerFunc
	requests []Recorded
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

// Recorded is a request the upstream received.
type Recorded struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// NewUpstream starts an upstream, closed when the test ends.
func NewUpstream(t testing.TB) *Upstream {
	u := &Upstream{queued: map[string][]reply{}, handlers: map[string]http.HandlerFunc{}}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.Close)
	return u
}

// Reply queues one response to method+path. body is written as is when it
// is a string or []byte, and as JSON otherwise. header may be nil.
func (u *Upstream) Reply(method, path string, status int, body any, header http.Header) {
	var b []byte
	switch x := body.(type) {
	case nil:
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		var err error
		if b, err = json.Marshal(x); err != nil {
			panic(err)
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	k := method + " " + path
	u.queued[k] = append(u.queued[k], reply{status: status, header: header, body: b})
}

// Handle serves method+path with h once the queued replies are used up.
func (u *Upstream) Handle(method, path string, h http.HandlerFunc) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.handlers[method+" "+path] = h
}

// Requests returns the requests received so far.
func (u *Upstream) Requests() []Recorded {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.requests)
}

func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	k := r.Method + " " + r.URL.Path
	u.mu.Lock()
	u.requests = append(u.requests, Recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body})
	var rep *reply
	if q := u.queued[k]; len(q) > 0 {
		rep = &q[0]
		u.queued[k] = q[1:]
	}
	h := u.handlers[k]
	u.mu.Unlock()
	switch {
	case rep != nil:
		for name, vs := range rep.header {
			w.Header()[name] = vs
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(rep.status)
		_, _ = w.Write(rep.body)
	case h != nil:
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	default:
		http.Error(w, `{"error":"no such route in the fake upstream"}`, http.StatusNotFound)
	}
}
