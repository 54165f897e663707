package fakekit

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
)

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Bearer is the token of an "Authorization: Bearer" header, or "".
func Bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// Window clips [offset, offset+limit) to n items.
func Window(n, offset, limit int) (lo, hi int) {
	lo = min(max(offset, 0), n)
	hi = min(lo+max(limit, 0), n)
	return lo, hi
}

// IntParam reads an integer query parameter; def when absent, ok false when
// present but not a whole number in [lo, hi].
func IntParam(r *http.Request, name string, def, lo, hi int) (int, bool) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, false
	}
	return n, true
}

// Money renders minor units as a decimal with two places ("12.34").
func Money(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return sign + strconv.FormatInt(cents/100, 10) + "." + pad2(cents%100)
}

// Major is minor units as a float in major units, for providers whose
// amounts are JSON numbers.
func Major(cents int64) float64 { return float64(cents) / 100 }

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// Cleaner is the part of testing.TB that Serve needs; taking it instead of
// testing.TB keeps package testing out of non-test binaries.
type Cleaner interface{ Cleanup(func()) }

// Serve starts h on a loopback test server that closes when the test ends.
func Serve(t Cleaner, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
