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
	// SessionID is the row id of the user's session (0 for a token).
	SessionID int64
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
	u, sess, err := s.sessionUser(r)
	if err != nil {
		return Principal{}, err
	}
	return Principal{User: &u, SessionID: sess.ID}, nil
}

// sessionUser returns the logged-in user and the session, or
// errUnauthorized when the request has no valid session. The cookie holds
// only the session's random id; everything else (user, expiry, revocation)
// is the sessions table's, so a copied cookie dies with its session and
// cannot extend it. Looking the session up records its use (at most once
// a minute), which slides the idle window.
func (s *Server) sessionUser(r *http.Request) (store.User, store.Session, error) {
	sid := s.cookieSessionID(r)
	if sid == "" {
		return store.User{}, store.Session{}, errUnauthorized
	}
	sess, u, err := s.db.SessionUser(r.Context(), sid)
	if errors.Is(err, store.ErrNoSession) {
		return store.User{}, store.Session{}, errUnauthorized
	}
	if err != nil {
		return store.User{}, store.Session{}, err
	}
	return u, sess, nil
}

// cookieSessionID is the session id in the request's session cookie, or ""
// when there is none (or one we cannot decode).
func (s *Server) cookieSessionID(r *http.Request) string {
	c, err := s.sessions.Get(r, sessionName)
	if err != nil || c.IsNew {
		return ""
	}
	sid, _ := c.Values["sid"].(string)
	return sid
}

// startSession records a new session for u and sets its cookie. A session
// the browser still held is ended: a login never leaves the old one open.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u store.User) error {
	if old := s.cookieSessionID(r); old != "" {
		if err := s.db.EndSession(r.Context(), old, store.RevokeReplaced); err != nil {
			return err
		}
	}
	sid, _, err := s.db.CreateSession(r.Context(), store.NewSession{UserID: u.ID, UserAgent: r.UserAgent(), IP: clientIP(r),
		Idle: s.cfg.SessionIdle, Absolute: s.cfg.SessionAbsolute})
	if err != nil {
		return err
	}
	sess, _ := s.sessions.New(r, sessionName)
	sess.Values = map[any]any{"sid": sid} // nothing of an earlier session carries over
	if err := sess.Save(r, w); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return nil
}

// endSession revokes the request's session on the server and clears the
// cookie. The cookie stays when the revocation fails, so the user can try
// again rather than believe a live session ended.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) error {
	if sid := s.cookieSessionID(r); sid != "" {
		if err := s.db.EndSession(r.Context(), sid, store.RevokeLogout); err != nil {
			return err
		}
	}
	sess, _ := s.sessions.New(r, sessionName)
	sess.Options.MaxAge = -1
	_ = sess.Save(r, w)
	return nil
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
