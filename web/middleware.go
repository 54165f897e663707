package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/google/uuid"
)

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxInfo
)

// reqInfo is filled in by inner layers and read by the access log after the
// handler returns (the mux's route pattern, the authenticated actor).
type reqInfo struct {
	route string
	actor string
	// badRequestID says what is wrong with the client's X-Request-ID, if
	// anything (guard refuses the request).
	badRequestID string
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxRequestID).(string)
	return id
}

func info(ctx context.Context) *reqInfo {
	if i, ok := ctx.Value(ctxInfo).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

// statusWriter records the status and size for the access log and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recoverer turns a handler panic into a 500 instead of a dropped connection.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "handler panic", slog.String("request_id", requestID(r.Context())),
					slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack())))
				s.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// withRequestID accepts a client's X-Request-ID when it is a UUID (it later
// becomes an event's source_txn_id), generates one when the header is
// absent, and echoes it. A header that is present but blank, repeated or
// not a UUID is not silently replaced (a retry would then look like a new
// operation): the request gets a fresh id for the response and the log, and
// guard refuses it with 400.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in := &reqInfo{}
		var id string
		if vals := r.Header.Values("X-Request-ID"); len(vals) > 0 {
			if len(vals) == 1 && validRequestID(vals[0]) {
				id = vals[0]
			} else {
				in.badRequestID = requestIDProblem(vals)
			}
		}
		if id == "" {
			id = uuid.NewString()
		}
		w.Header().Set("X-Request-ID", id)
		ctx := context.WithValue(r.Context(), ctxRequestID, id)
		ctx = context.WithValue(ctx, ctxInfo, in)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// validRequestID reports whether id is a UUID in its 36-character form.
func validRequestID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}

// requestIDProblem says what is wrong with the X-Request-ID values sent.
func requestIDProblem(vals []string) string {
	switch {
	case len(vals) > 1:
		return "X-Request-ID was sent more than once; send it once"
	case strings.TrimSpace(vals[0]) == "":
		return "X-Request-ID is empty; send a UUID, or leave the header out to have one generated"
	}
	return "X-Request-ID must be a UUID like 6f9e7c6a-1b2c-4d5e-8f90-a1b2c3d4e5f6 (it is the operation's idempotency key)"
}

// servedMethods are the methods the hub answers; anything else is refused
// by guard with 501 and counted under the one metrics label "OTHER".
var servedMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// methodLabel is the method as a metrics label and log field: one of the
// served methods or "OTHER", so made-up methods cannot grow the label set.
func methodLabel(m string) string {
	if servedMethods[m] {
		return m
	}
	return "OTHER"
}

// methodSample is a bounded, printable prefix of an unknown method for the
// log, enough to recognise a scan without letting a client fill the log.
func methodSample(m string) string {
	const max = 16
	var b strings.Builder
	for i := 0; i < len(m) && i < max; i++ {
		c := m[i]
		if c >= '!' && c <= '~' && c != '"' && c != '\\' {
			b.WriteByte(c)
		} else {
			b.WriteByte('?')
		}
	}
	if len(m) > max {
		b.WriteString("...")
	}
	return b.String()
}

// guard refuses, before any body is read, any routing or authentication
// is done, a request whose method the hub does not serve (501) or whose
// X-Request-ID withRequestID found malformed (400).
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !servedMethods[r.Method] {
			w.Header().Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
			s.writeError(w, r, &Error{Status: http.StatusNotImplemented, Code: "method_not_implemented",
				Message: "this server does not implement that method; it serves GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS"})
			return
		}
		if p := info(r.Context()).badRequestID; p != "" {
			s.writeError(w, r, badRequest(p, map[string]string{"X-Request-ID": "must be one UUID like 6f9e7c6a-1b2c-4d5e-8f90-a1b2c3d4e5f6, or absent"}))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// accessLog writes one structured line per request. It logs the path only:
// query strings and headers may carry secrets and are never logged. An
// unknown method is logged as OTHER with a short sample of it.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.clock.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		d := s.clock.Now().Sub(start)
		in := info(r.Context())
		route := in.route
		if route == "" {
			route = "unmatched"
		}
		method := methodLabel(r.Method)
		s.metrics.observe(method, route, sw.status, d)
		attrs := []slog.Attr{
			slog.String("request_id", requestID(r.Context())),
			slog.String("method", method),
			slog.String("path", r.URL.Path),
			slog.String("route", route),
			slog.Int("status", sw.status),
			slog.Int("bytes", sw.bytes),
			slog.Duration("duration", d),
			slog.String("actor", in.actor),
			slog.String("remote", clientIP(r)),
		}
		if method != r.Method {
			attrs = append(attrs, slog.String("method_sample", methodSample(r.Method)))
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "http request", attrs...)
	})
}

// limitBody caps every request body; reading past it yields
// *http.MaxBytesError, which writeError maps to 413.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := s.bodyLimit(r)
		if r.ContentLength > limit {
			s.writeError(w, r, &http.MaxBytesError{Limit: limit})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets conservative defaults for the UI: no framing, no
// sniffing, scripts and styles only from this origin.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'")
		next.ServeHTTP(w, r)
	})
}

// handlerFunc is a handler that returns its error for writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error
