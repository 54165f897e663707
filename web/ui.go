package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/a-h/templ"

	"sentryhub/store"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func (s *Server) uiRoutes() {
	m := s.mux
	m.Handle("GET /login", s.public(s.loginForm))
	m.Handle("POST /login", s.public(s.login))
	m.Handle("POST /logout", s.public(s.logout))
	m.Handle("GET /{$}", s.page(s.dashboard))
	m.Handle("GET /tokens", s.page(s.tokensPage))
	m.Handle("POST /tokens", s.page(s.tokensCreate))
	m.Handle("POST /tokens/{id}/revoke", s.page(s.tokensRevoke))
	m.Handle("GET /audit", s.page(s.auditPage))
}

// page wraps a UI handler: no session redirects to the login form.
func (s *Server) page(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info(r.Context()).route = r.Pattern
		u, sess, err := s.sessionUser(r)
		if errors.Is(err, errUnauthorized) {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		info(r.Context()).actor = "user:" + u.Email
		ctx := context.WithValue(r.Context(), ctxPrincipal{}, Principal{User: &u, SessionID: sess.ID})
		if err := h(w, r.WithContext(ctx)); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return c.Render(r.Context(), w)
}

func (s *Server) layoutFor(r *http.Request, title, current string) layoutData {
	u := principal(r.Context()).User
	return layoutData{Title: title, Current: current, Email: u.Email, Role: u.Role}
}

// safeNext keeps post-login redirects on this site: next is used only
// when it is a plain absolute path (see localPath), else "/".
func safeNext(next string) string {
	if !localPath(next) {
		return "/"
	}
	return next
}

// localPath reports whether p is an absolute path on this site and
// nothing a browser could read as another site. Browsers are lenient: they
// drop tabs and newlines inside URLs, read "\\" as "/", and resolve
// "/..//x" to "//x" (another host, for some), so rather than predict them
// p is refused when it, or any percent-decoding of it, holds a control
// character, whitespace, a backslash, a scheme, a host, user info, a "//"
// or a "." or ".." path segment. Links the hub makes never need any of
// those.
func localPath(p string) bool {
	if p == "" || len(p) > 2048 || p[0] != '/' || !utf8.ValidString(p) {
		return false
	}
	for s, i := p, 0; ; i++ {
		if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' || unicode.IsSpace(r) }) {
			return false
		}
		path, _, _ := strings.Cut(s, "?")
		path, _, _ = strings.Cut(path, "#")
		if !strings.HasPrefix(path, "/") || strings.Contains(path, "//") {
			return false
		}
		for _, seg := range strings.Split(path, "/") {
			if seg == "." || seg == ".." {
				return false
			}
		}
		d, err := url.PathUnescape(s)
		if err != nil || !utf8.ValidString(d) || i == 3 && d != s {
			return false // malformed, or encoded deeper than anyone needs
		}
		if d == s {
			break
		}
		s = d
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && u.Opaque == "" && strings.HasPrefix(u.Path, "/")
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) error {
	if _, _, err := s.sessionUser(r); err == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	return s.render(w, r, http.StatusOK, loginPage(loginData{Next: safeNext(r.URL.Query().Get("next"))}))
}

// login checks a password under the login guard: the attempt is counted
// (per account and per address) before the check, and the check waits for
// no one: with every hashing slot busy the answer is 503 at once.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return badRequest("invalid form", nil)
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	password := r.PostForm.Get("password")
	next := safeNext(r.PostForm.Get("next"))
	ip := clientIP(r)
	fail := func(status int, msg string) error {
		return s.render(w, r, status, loginPage(loginData{Email: email, Error: msg, Next: next}))
	}
	attempt, wait, ok := s.logins.admit(email, ip)
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		s.log.WarnContext(r.Context(), "login throttled", slog.String("remote", ip), slog.String("request_id", requestID(r.Context())))
		return fail(http.StatusTooManyRequests, fmt.Sprintf("Too many failed attempts. Try again in %d minutes.", int(wait.Minutes())+1))
	}
	var u store.User
	var err error
	if !s.logins.check(func() { u, err = s.db.Authenticate(r.Context(), email, password) }) {
		attempt.refund()
		w.Header().Set("Retry-After", "1")
		s.log.WarnContext(r.Context(), "login refused: every password check slot is busy", slog.String("remote", ip),
			slog.String("request_id", requestID(r.Context())))
		return fail(http.StatusServiceUnavailable, "The server is busy checking other logins. Try again in a moment.")
	}
	if errors.Is(err, store.ErrBadCredentials) {
		s.log.InfoContext(r.Context(), "login failed", slog.String("remote", ip), slog.String("request_id", requestID(r.Context())))
		return fail(http.StatusUnauthorized, "Invalid email or password.")
	}
	if err != nil {
		attempt.refund()
		return err
	}
	attempt.succeeded()
	if err := s.startSession(w, r, u); err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "login", slog.Int64("user_id", u.ID), slog.String("request_id", requestID(r.Context())))
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if err := s.endSession(w, r); err != nil {
		return err
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	users, err := s.db.CountUsers(ctx)
	if err != nil {
		return err
	}
	toks, err := s.db.ListTokens(ctx)
	if err != nil {
		return err
	}
	active := 0
	for _, t := range toks {
		if t.RevokedAt == nil {
			active++
		}
	}
	d := dashboardData{Layout: s.layoutFor(r, "Dashboard", "/"), Users: users, ActiveTokens: active, AuditOK: true}
	n, err := s.db.VerifyAudit(ctx)
	d.AuditEntries = n
	var ce *store.AuditChainError
	switch {
	case errors.As(err, &ce):
		d.AuditOK, d.AuditProblem = false, ce.Error()
	case err != nil:
		return err
	}

	whs, err := s.db.ListWarehouses(ctx)
	if err != nil {
		return err
	}
	d.Warehouses = len(whs)
	switch ev, err := s.db.LatestEvent(ctx); {
	case err == nil:
		d.LastEvent = &dashboardEvent{ID: ev.ID, Type: ev.EventType, At: s.at(ev.VisibleAt)}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}

	subs, err := s.db.Subscriptions(ctx)
	if err != nil {
		return err
	}
	d.Subscriptions = len(subs)
	for _, sub := range subs {
		if sub.Status == store.SubscriptionPaused {
			d.PausedSubs = append(d.PausedSubs, dashboardSub{ID: sub.ID, Name: sub.Name, Reason: string(sub.PauseReason)})
		}
		if s.webhooks == nil {
			continue
		}
		ok, err := s.webhooks.SecretReadable(ctx, sub.ID)
		if err != nil {
			return err
		}
		if !ok {
			d.UnreadableSubs = append(d.UnreadableSubs, dashboardSub{ID: sub.ID, Name: sub.Name})
		}
	}

	states, err := s.db.ListSyncStates(ctx, "", 0)
	if err != nil {
		return err
	}
	for _, st := range states {
		if st.ConsecutiveErrors > 0 || st.Status == store.SyncError {
			d.FailingSyncs = append(d.FailingSyncs, dashboardSync{Connector: st.Connector, WarehouseID: st.WarehouseID,
				SyncType: st.SyncType, Errors: st.ConsecutiveErrors, Status: string(st.Status), Message: st.LastErrorMessage})
		} else {
			d.HealthySyncs++
		}
	}
	return s.render(w, r, http.StatusOK, dashboardPage(d))
}

// newToken is a token just created, waiting to be shown once.
type newToken struct{ name, plain string }

// tokenRevealPrefix marks a reveal nonce as a new token's.
const tokenRevealPrefix = "token:"

func (s *Server) tokensView(r *http.Request) (tokensData, error) {
	toks, err := s.db.ListTokens(r.Context())
	if err != nil {
		return tokensData{}, err
	}
	d := tokensData{Layout: s.layoutFor(r, "API tokens", "/tokens"), Scopes: store.Scopes,
		CanWrite: principal(r.Context()).User.Role == store.RoleAdmin}
	for _, t := range toks {
		d.Tokens = append(d.Tokens, tokenRow{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Scopes: t.Scopes, CreatedBy: t.CreatedBy,
			CreatedAt: s.atText(t.CreatedAt), LastUsed: s.atTextPtr(t.LastUsedAt), Revoked: t.RevokedAt != nil})
	}
	return d, nil
}

func (s *Server) tokensPage(w http.ResponseWriter, r *http.Request) error {
	d, err := s.tokensView(r)
	if err != nil {
		return err
	}
	var nonce string
	d.Flashes, nonce = s.takeFlashes(w, r)
	if nonce, ok := strings.CutPrefix(nonce, tokenRevealPrefix); ok {
		if t, ok := s.newTokens.take(s.clock.Now(), nonce, principal(r.Context()).User.ID); ok {
			d.NewToken, d.NewName = t.plain, t.name
		} else {
			d.Flashes = append(d.Flashes, flash{Kind: "warn", Text: "The new token can no longer be shown: it is shown once, " +
				"within 10 minutes, to the admin who created it. Revoke it and create another."})
		}
	}
	return s.render(w, r, http.StatusOK, tokensPage(d))
}

func (s *Server) requireAdminUser(r *http.Request) error {
	if principal(r.Context()).User.Role != store.RoleAdmin {
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "viewers cannot change settings: ask an admin"}
	}
	return nil
}

// tokensCreate makes a token and redirects to the list, which shows it
// once: reloading that page neither repeats the POST nor shows the token
// again. A refused form is shown again with what was typed.
func (s *Server) tokensCreate(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireAdminUser(r); err != nil {
		return err
	}
	f, err := parseTokenForm(r)
	if err != nil {
		return err
	}
	p := principal(r.Context())
	plain, t, err := s.db.CreateToken(r.Context(), p.Actor(), f.Name, f.Scopes)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		d, verr := s.tokensView(r)
		if verr != nil {
			return verr
		}
		d.Form = f
		d.Error = "Token not created: " + strings.Join(fieldList(ve.Fields), "; ")
		return s.render(w, r, http.StatusUnprocessableEntity, tokensPage(d))
	}
	if err != nil {
		return err
	}
	nonce := s.newTokens.put(s.clock.Now(), p.User.ID, newToken{name: t.Name, plain: plain})
	return s.seeOtherReveal(w, r, "/tokens", tokenRevealPrefix+nonce)
}

func (s *Server) tokensRevoke(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireAdminUser(r); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := parseForm(r); err != nil {
		return err
	}
	if ok, err := s.confirmed(w, r, fmt.Sprintf("Revoke API token %d? Programs using it get 401 from their next request; "+
		"this cannot be undone.", id), "/tokens"); !ok {
		return err
	}
	err = s.db.RevokeToken(r.Context(), principal(r.Context()).Actor(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return s.seeOther(w, r, "/tokens", flash{Kind: "warn", Text: fmt.Sprintf("There is no token %d to revoke.", id)})
	case err != nil:
		return err
	}
	return s.seeOther(w, r, "/tokens", flash{Kind: "ok", Text: fmt.Sprintf(
		"Token %d revoked: programs using it get 401 from their next request.", id)})
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) error {
	before, err := queryInt(r, "before", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	const pageSize = 50
	entries, err := s.db.ListAudit(r.Context(), before, pageSize)
	if err != nil {
		return err
	}
	d := auditData{Layout: s.layoutFor(r, "Audit log", "/audit"), ChainOK: true}
	n, verr := s.db.VerifyAudit(r.Context())
	var ce *store.AuditChainError
	switch {
	case errors.As(verr, &ce):
		d.ChainOK, d.ChainMsg = false, ce.Error()
	case verr != nil:
		return verr
	default:
		d.ChainMsg = fmt.Sprintf("Hash chain verified: %d entries intact.", n)
	}
	for _, e := range entries {
		d.Entries = append(d.Entries, auditRow{ID: e.ID, At: s.atText(e.At), Actor: e.Actor, Action: e.Action, Target: e.Target, Diff: string(e.Diff)})
	}
	if len(entries) == pageSize && entries[len(entries)-1].ID > 1 {
		d.NextBefore = entries[len(entries)-1].ID
	}
	return s.render(w, r, http.StatusOK, auditPage(d))
}
