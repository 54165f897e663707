package web

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"
)

// revealTTL is how long a value waits to be shown once.
const revealTTL = 10 * time.Minute

// maxReveals bounds the store: past it, the oldest unseen value is dropped.
const maxReveals = 1000

// revealStore keeps values shown once (a new signing secret, a new API
// token) in memory between the POST that made them and the page that shows
// them, so they travel to the browser once, in that page, and never in a
// cookie or URL; a reload does not show them again, and the POST is never
// repeated by the reload (post/redirect/get).
type revealStore[T any] struct {
	prefix string // marks this store's nonces in the session
	gone   string // the message when the value can no longer be shown
	mu     sync.Mutex
	m      map[string]reveal[T]
}

type reveal[T any] struct {
	user    int64
	value   T
	expires time.Time
}

func newRevealStore[T any](prefix, gone string) *revealStore[T] {
	return &revealStore[T]{prefix: prefix + ":", gone: gone, m: map[string]reveal[T]{}}
}

// seeOtherRevealing keeps v in rs for the logged-in user and redirects to
// the page that shows it once, with fs.
func seeOtherRevealing[T any](s *Server, w http.ResponseWriter, r *http.Request, to string, rs *revealStore[T], v T, fs ...flash) error {
	nonce := rs.put(s.clock.Now(), principal(r.Context()).User.ID, v)
	return s.seeOtherReveal(w, r, to, rs.prefix+nonce, fs...)
}

// takeRevealed returns the queued flash messages and, when the redirect
// carried one of rs's nonces, its value (gone from the server now). A
// value that expired or belongs to someone else adds rs's gone message.
func takeRevealed[T any](s *Server, w http.ResponseWriter, r *http.Request, rs *revealStore[T]) ([]flash, T, bool) {
	fs, nonce := s.takeFlashes(w, r)
	v, ok, gone := rs.claim(s, r, nonce)
	return append(fs, gone...), v, ok
}

// claim is takeRevealed for a nonce already taken with takeFlashes (a page
// that may receive values of more than one store): the value when nonce is
// one of rs's, or rs's gone message when it can no longer be shown.
func (rs *revealStore[T]) claim(s *Server, r *http.Request, nonce string) (T, bool, []flash) {
	var zero T
	nonce, ok := strings.CutPrefix(nonce, rs.prefix)
	if !ok || nonce == "" {
		return zero, false, nil
	}
	if v, ok := rs.take(s.clock.Now(), nonce, principal(r.Context()).User.ID); ok {
		return v, true, nil
	}
	return zero, false, []flash{{Kind: "warn", Text: rs.gone}}
}

// put stores v for user and returns the nonce that takes it back.
func (rs *revealStore[T]) put(now time.Time, user int64, v T) string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	nonce := hex.EncodeToString(b[:])
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for k, e := range rs.m {
		if !now.Before(e.expires) {
			delete(rs.m, k)
		}
	}
	if len(rs.m) >= maxReveals {
		// Full of unseen values: drop the oldest, never the one just made.
		oldest := ""
		for k, e := range rs.m {
			if oldest == "" || e.expires.Before(rs.m[oldest].expires) {
				oldest = k
			}
		}
		delete(rs.m, oldest)
	}
	rs.m[nonce] = reveal[T]{user: user, value: v, expires: now.Add(revealTTL)}
	return nonce
}

// take removes and returns the value for nonce if it belongs to user and
// has not expired.
func (rs *revealStore[T]) take(now time.Time, nonce string, user int64) (T, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	e, ok := rs.m[nonce]
	delete(rs.m, nonce)
	if !ok || e.user != user || !now.Before(e.expires) {
		var zero T
		return zero, false
	}
	return e.value, true
}
