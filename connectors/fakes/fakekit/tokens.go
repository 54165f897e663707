package fakekit

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// Tokens is an OAuth 2.0 token book: access tokens that expire, refresh
// tokens that rotate on use (the old one stops working, as Intuit's and
// Microsoft's documentation recommend clients assume).
type Tokens struct {
	mu      sync.Mutex
	now     func() time.Time
	ttl     time.Duration
	access  map[string]time.Time
	refresh map[string]bool
	grants  int
}

// NewTokens returns a book whose access tokens live ttl on now's clock.
func NewTokens(now func() time.Time, ttl time.Duration) *Tokens {
	return &Tokens{now: now, ttl: ttl, access: map[string]time.Time{}, refresh: map[string]bool{}}
}

// TTL is the access-token lifetime.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// Issue makes a new access token, and a refresh token when withRefresh.
func (t *Tokens) Issue(withRefresh bool) (access, refresh string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.grants++
	access = "at-" + Random(16)
	t.access[access] = t.now().Add(t.ttl)
	if withRefresh {
		refresh = "rt-" + Random(16)
		t.refresh[refresh] = true
	}
	return access, refresh
}

// Valid reports whether access is a live access token.
func (t *Tokens) Valid(access string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	exp, ok := t.access[access]
	return ok && t.now().Before(exp)
}

// Refresh spends a refresh token for a new pair; ok is false when the
// token is unknown, already used or revoked.
func (t *Tokens) Refresh(refresh string) (access, next string, ok bool) {
	t.mu.Lock()
	if !t.refresh[refresh] {
		t.mu.Unlock()
		return "", "", false
	}
	delete(t.refresh, refresh)
	t.mu.Unlock()
	access, next = t.Issue(true)
	return access, next, true
}

// ExpireAll makes every access token issued so far expired, as if their
// hour had passed, so the next API call is a 401.
func (t *Tokens) ExpireAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.access {
		t.access[k] = time.Time{}
	}
}

// RevokeRefresh makes every refresh token unusable (the user disconnected
// the app, or the token aged out).
func (t *Tokens) RevokeRefresh() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.refresh)
}

// Grants counts tokens issued (first grants and refreshes).
func (t *Tokens) Grants() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.grants
}

// Random is n random bytes in hex.
func Random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
