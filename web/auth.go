package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/sessions"

	"sentryhub/clock"
	"sentryhub/store"
)

const sessionName = "sentryhub_session"

// Principal is who a request acts as: a logged-in user or an API token.
type Principal struct {
	User  *store.User
	Token *store.Token
}

// Actor names the principal in audit entries and logs.
func (p Principal) Actor() string {
	switch {
	case p.User != nil:
		return "user:" + p.User.Email
	case p.Token != nil:
		return fmt.Sprintf("token:%d:%s", p.Token.ID, p.Token.Name)
	}
	return "anonymous"
}

// Can reports whether the principal holds scope. Admin users hold every
// scope; viewers hold none (they can only look at the UI).
func (p Principal) Can(scope string) bool {
	switch {
	case p.User != nil:
		return p.User.Role == store.RoleAdmin
	case p.Token != nil:
		return p.Token.HasScope(scope)
	}
	return false
}

// authenticate resolves the request's principal. A present X-WMS-Token
// decides alone (a bad one is 401 even with a valid cookie), so programs get
// predictable answers; otherwise the session cookie is used.
func (s *Server) authenticate(r *http.Request) (Principal, error) {
	if tok := r.Header.Get("X-WMS-Token"); tok != "" {
		t, err := s.db.LookupToken(r.Context(), tok)
		if err != nil {
			return Principal{}, err
		}
		return Principal{Token: &t}, nil
	}
	u, err := s.sessionUser(r)
	if err != nil {
		return Principal{}, err
	}
	if u == nil {
		return Principal{}, errUnauthorized
	}
	return Principal{User: u}, nil
}

// sessionUser returns the logged-in user, or nil when there is no valid,
// unexpired session. Idle expiry is enforced here: the cookie's MaxAge
// bounds the absolute lifetime in the browser, the stored timestamps bound
// both on the server, where a replayed cookie cannot extend them.
func (s *Server) sessionUser(r *http.Request) (*store.User, error) {
	sess, err := s.sessions.Get(r, sessionName)
	if err != nil || sess.IsNew {
		return nil, nil // a cookie we cannot decode is no session
	}
	uid, _ := sess.Values["uid"].(int64)
	created, _ := sess.Values["created"].(int64)
	seen, _ := sess.Values["seen"].(int64)
	now := s.clock.Now()
	if uid == 0 || now.Sub(time.Unix(created, 0)) > s.cfg.SessionAbsolute || now.Sub(time.Unix(seen, 0)) > s.cfg.SessionIdle {
		return nil, nil
	}
	u, err := s.db.GetUser(r.Context(), uid)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// touchSession slides the idle window forward; at most once a minute so most
// requests do not rewrite the cookie.
func (s *Server) touchSession(w http.ResponseWriter, r *http.Request) {
	sess, err := s.sessions.Get(r, sessionName)
	if err != nil || sess.IsNew {
		return
	}
	seen, _ := sess.Values["seen"].(int64)
	now := s.clock.Now()
	if now.Unix()-seen < 60 {
		return
	}
	sess.Values["seen"] = now.Unix()
	_ = sess.Save(r, w)
}

func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u store.User) error {
	sess, _ := s.sessions.New(r, sessionName)
	now := s.clock.Now().Unix()
	sess.Values["uid"] = u.ID
	sess.Values["created"] = now
	sess.Values["seen"] = now
	if err := sess.Save(r, w); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return nil
}

func (s *Server) endSession(w http.ResponseWriter, r *http.Request) {
	sess, _ := s.sessions.New(r, sessionName)
	sess.Options.MaxAge = -1
	_ = sess.Save(r, w)
}

func newSessionStore(hashKey, blockKey []byte, secure bool, absolute time.Duration) *sessions.CookieStore {
	cs := sessions.NewCookieStore(hashKey, blockKey)
	cs.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   int(absolute.Seconds()),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
	cs.MaxAge(cs.Options.MaxAge)
	return cs
}

type ctxPrincipal struct{}

func principal(ctx context.Context) Principal {
	p, _ := ctx.Value(ctxPrincipal{}).(Principal)
	return p
}

// api wraps a JSON handler that needs scope. Missing or bad credentials are
// 401, valid credentials without the scope are 403.
func (s *Server) api(scope string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info(r.Context()).route = r.Pattern
		p, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		info(r.Context()).actor = p.Actor()
		if !p.Can(scope) {
			s.writeError(w, r, forbiddenScope(scope))
			return
		}
		if p.User != nil {
			s.touchSession(w, r)
		}
		if err := h(w, r.WithContext(context.WithValue(r.Context(), ctxPrincipal{}, p))); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// public wraps a handler that needs no authentication.
func (s *Server) public(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info(r.Context()).route = r.Pattern
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// clientIP is the connection's peer address. X-Forwarded-For is not
// trusted: behind a proxy every client would share one throttle bucket,
// which is safe; trusting the header would let anyone pick their bucket.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// throttle counts failed logins per key in a sliding window and refuses
// attempts once a key reaches its limit, until the oldest failure ages out.
type throttle struct {
	mu     sync.Mutex
	clock  clock.Clock
	window time.Duration
	limit  int
	fails  map[string][]time.Time
}

func newThrottle(c clock.Clock, limit int, window time.Duration) *throttle {
	return &throttle{clock: c, limit: limit, window: window, fails: map[string][]time.Time{}}
}

// blocked reports whether key is locked out and for how long.
func (t *throttle) blocked(key string) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.prune(key)
	if len(f) < t.limit {
		return false, 0
	}
	return true, f[0].Add(t.window).Sub(t.clock.Now())
}

func (t *throttle) fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fails[key] = append(t.prune(key), t.clock.Now())
	if len(t.fails) > 10_000 { // bound memory under a spray of addresses
		for k := range t.fails {
			if len(t.prune(k)) == 0 {
				delete(t.fails, k)
			}
		}
	}
}

func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, key)
}

func (t *throttle) prune(key string) []time.Time {
	cutoff := t.clock.Now().Add(-t.window)
	f := t.fails[key]
	i := 0
	for i < len(f) && !f[i].After(cutoff) {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(t.fails, key)
		return nil
	}
	t.fails[key] = f
	return f
}

func accountKey(email string) string { return "acct:" + strings.ToLower(strings.TrimSpace(email)) }
func addrKey(ip string) string       { return "addr:" + ip }
