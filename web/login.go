package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"sentryhub/store"
)

// The login form and logout.

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
	if err := parseForm(r); err != nil {
		return err
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
