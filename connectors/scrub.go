package connectors

import (
	"net/url"
	"slices"
	"strings"
	"sync"
)

// secretSet holds the plaintext credential values of one connector
// instance, so every error and log line can be scrubbed of them. It is
// shared by the copies of a Client (With), and grows when a connector
// obtains a new token at run time.
type secretSet struct {
	mu     sync.RWMutex
	values []string // longest first, so a secret containing another is replaced whole
}

// minSecretLen: shorter values are not scrubbed (replacing every "1" or "ab"
// in a message would destroy it and protects nothing).
const minSecretLen = 4

func (s *secretSet) add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if len(v) < minSecretLen {
			continue
		}
		for _, form := range []string{v, url.QueryEscape(v), url.PathEscape(v)} {
			if !slices.Contains(s.values, form) {
				s.values = append(s.values, form)
			}
		}
	}
	slices.SortFunc(s.values, func(a, b string) int { return len(b) - len(a) })
}

// scrub replaces every known secret in msg with ****.
func (s *secretSet) scrub(msg string) string {
	if s == nil {
		return msg
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range s.values {
		if strings.Contains(msg, v) {
			msg = strings.ReplaceAll(msg, v, Redacted)
		}
	}
	return msg
}

// sensitiveParams are query parameter names (lowercase substrings) whose
// values are redacted from URLs in errors and logs.
func isSensitiveParam(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"token", "key", "secret", "password", "passwd", "pwd", "auth",
		"signature", "sig", "code", "credential", "session", "access", "client_id", "hmac"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// ScrubURL returns raw fit for an error message or log line: userinfo
// removed, the values of credential-like query parameters replaced with
// ****, the fragment dropped. A URL that does not parse becomes
// "<invalid URL>" (its text could hold anything).
func ScrubURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid URL>"
	}
	return scrubParsedURL(u)
}

func scrubParsedURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.Fragment, c.RawFragment = "", ""
	if c.RawQuery != "" {
		q, err := url.ParseQuery(c.RawQuery)
		if err != nil {
			c.RawQuery = Redacted
		} else {
			for k, vs := range q {
				if isSensitiveParam(k) {
					for i := range vs {
						vs[i] = Redacted
					}
				}
			}
			// Encode escapes the asterisks; keep them readable.
			c.RawQuery = strings.ReplaceAll(q.Encode(), "%2A%2A%2A%2A", Redacted)
		}
	}
	return c.String()
}
