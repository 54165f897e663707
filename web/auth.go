package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/sessions"

	"sentryhub/clock"
	"sentryhub/store"
)

const sessionName = "sentryhub_session"

// Principal is who a request acts as: a logged-in user, an API token or
// an integration (by one of its tokens).
type Principal struct {
	User        *store.User
	Token       *store.Token
	Integration *store.IntegrationActor
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
	case p.Integration != nil:
		return p.Integration.Actor()
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

var (
	errTokenMismatch = &Error{Status: http.StatusUnauthorized, Code: "unauthorized",
		Message: "X-WMS-Token and Authorization: Bearer carry different tokens: send the API token in one of them"}
	errEmptyBearer = &Error{Status: http.StatusUnauthorized, Code: "unauthorized",
		Message: "Authorization: Bearer carries no token: send \"Authorization: Bearer shub_...\""}
)

// requestToken returns the API token the request carries, in X-WMS-Token
// or as "Authorization: Bearer <token>" (what most HTTP clients and
// integration tools send); found is false when it carries none. Both
// headers may be sent if they agree. Another Authorization scheme (such as
// Basic, added by a proxy in front of the hub) is not a token and is
// ignored.
func requestToken(r *http.Request) (tok string, found bool, err error) {
	header := r.Header.Get("X-WMS-Token")
	var bearer string
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, cred, _ := strings.Cut(strings.TrimSpace(a), " ")
		if strings.EqualFold(scheme, "Bearer") {
			if bearer = strings.TrimSpace(cred); bearer == "" {
				return "", true, errEmptyBearer
			}
		}
	}
	switch {
	case header != "" && bearer != "" && header != bearer:
		return "", true, errTokenMismatch
	case header != "":
		return header, true, nil
	case bearer != "":
		return bearer, true, nil
	}
	return "", false, nil
}

// authenticate resolves the request's principal. A present API token
// (X-WMS-Token or Authorization: Bearer) decides alone (a bad one is 401
// even with a valid cookie), so programs get predictable answers; otherwise
// the session cookie is used.
func (s *Server) authenticate(r *http.Request) (Principal, error) {
	tok, found, err := requestToken(r)
	if err != nil {
		return Principal{}, err
	}
	if found && strings.HasPrefix(tok, store.IntegrationTokenPrefix) {
		a, err := s.db.LookupIntegrationToken(r.Context(), tok)
		if err != nil {
			return Principal{}, err
		}
		return Principal{Integration: &a}, nil
	}
	if found {
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
		if p.Integration != nil {
			// Integrations hold per-resource permissions, checked by route.
			if err := integrationAllowed(r.Pattern, p.Integration.Permissions); err != nil {
				s.writeError(w, r, err)
				return
			}
		} else if !p.Can(scope) {
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

// throttle counts login attempts per key in a sliding window and refuses
// attempts once a key reaches its limit, until the oldest ages out. An
// attempt is counted before its password is checked, in the same locked
// step as the limit check (reserve), so parallel attempts cannot all pass
// the check first; one that turns out not to count (a success, or one
// refused before its check) is given back with release.
type throttle struct {
	mu       sync.Mutex
	clock    clock.Clock
	window   time.Duration
	limit    int
	attempts map[string][]time.Time
}

func newThrottle(c clock.Clock, limit int, window time.Duration) *throttle {
	return &throttle{clock: c, limit: limit, window: window, attempts: map[string][]time.Time{}}
}

// reserve records an attempt for key and returns its time, or reports how
// long until the key has room again when it is at its limit.
func (t *throttle) reserve(key string) (at time.Time, wait time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.prune(key)
	now := t.clock.Now()
	if len(f) >= t.limit {
		return time.Time{}, f[0].Add(t.window).Sub(now), false
	}
	t.attempts[key] = append(f, now)
	if len(t.attempts) > 10_000 { // bound memory under a spray of addresses
		for k := range t.attempts {
			t.prune(k)
		}
	}
	return now, 0, true
}

// release gives back the attempt reserve recorded at at.
func (t *throttle) release(key string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.attempts[key]
	for i := len(f) - 1; i >= 0; i-- {
		if f[i].Equal(at) {
			f = append(f[:i], f[i+1:]...)
			break
		}
	}
	if len(f) == 0 {
		delete(t.attempts, key)
		return
	}
	t.attempts[key] = f
}

// reset forgets every attempt for key.
func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.attempts, key)
}

func (t *throttle) prune(key string) []time.Time {
	cutoff := t.clock.Now().Add(-t.window)
	f := t.attempts[key]
	i := 0
	for i < len(f) && !f[i].After(cutoff) {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(t.attempts, key)
		return nil
	}
	t.attempts[key] = f
	return f
}

func accountKey(email string) string { return "acct:" + strings.ToLower(strings.TrimSpace(email)) }
func addrKey(ip string) string       { return "addr:" + ip }

// loginGuard stands between a login form and the password hash. Every
// check runs argon2id with 64 MiB, so unbounded parallel logins are a
// memory-exhaustion attack: the throttles count each attempt before its
// check (per account and per client address), and a semaphore bounds how
// many checks run at once. A login that finds every slot taken is refused
// at once (503 with Retry-After) rather than queued. Unknown emails are
// checked against a dummy hash through the same slots, so they cost and
// take what a wrong password does.
type loginGuard struct {
	acct, addr *throttle
	slots      chan struct{}
	// checks counts password checks run (tests hold the bound against it).
	checks atomic.Int64
	// beforeCheck, when set (by tests), runs holding a slot, just before
	// the check.
	beforeCheck func()
}

func newLoginGuard(c clock.Clock, cfg Config) *loginGuard {
	return &loginGuard{
		acct:  newThrottle(c, cfg.LoginFailuresPerAccount, cfg.LoginWindow),
		addr:  newThrottle(c, cfg.LoginFailuresPerAddr, cfg.LoginWindow),
		slots: make(chan struct{}, cfg.LoginConcurrency),
	}
}

// loginAttempt is an attempt admitted by both throttles.
type loginAttempt struct {
	g                *loginGuard
	acctKey, addrKey string
	acctAt, addrAt   time.Time
}

// admit counts an attempt for the account and the client address, or
// reports how long the caller must wait when either is at its limit.
func (g *loginGuard) admit(email, ip string) (*loginAttempt, time.Duration, bool) {
	a := &loginAttempt{g: g, acctKey: accountKey(email), addrKey: addrKey(ip)}
	var wait time.Duration
	var ok bool
	if a.acctAt, wait, ok = g.acct.reserve(a.acctKey); !ok {
		return nil, wait, false
	}
	if a.addrAt, wait, ok = g.addr.reserve(a.addrKey); !ok {
		g.acct.release(a.acctKey, a.acctAt)
		return nil, wait, false
	}
	return a, 0, true
}

// refund gives the attempt back: its password was never judged.
func (a *loginAttempt) refund() {
	a.g.acct.release(a.acctKey, a.acctAt)
	a.g.addr.release(a.addrKey, a.addrAt)
}

// succeeded clears the account's failures and gives the address its slot
// back: a correct password is not an attack.
func (a *loginAttempt) succeeded() {
	a.g.acct.reset(a.acctKey)
	a.g.addr.release(a.addrKey, a.addrAt)
}

// check runs fn (the password check) holding a slot, or returns false at
// once when every slot is taken.
func (g *loginGuard) check(fn func()) bool {
	select {
	case g.slots <- struct{}{}:
	default:
		return false
	}
	defer func() { <-g.slots }()
	g.checks.Add(1)
	if g.beforeCheck != nil {
		g.beforeCheck()
	}
	fn()
	return true
}
