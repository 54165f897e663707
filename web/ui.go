package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

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

// canWrite reports whether the logged-in user may change things (admins);
// viewers get read-only pages.
func canWrite(r *http.Request) bool {
	u := principal(r.Context()).User
	return u != nil && u.Role == store.RoleAdmin
}

func (s *Server) layoutFor(r *http.Request, title, current string) layoutData {
	u := principal(r.Context()).User
	return layoutData{Title: title, Current: current, Email: u.Email, Role: u.Role}
}

func (s *Server) requireAdminUser(r *http.Request) error {
	if principal(r.Context()).User.Role != store.RoleAdmin {
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "viewers cannot change settings: ask an admin"}
	}
	return nil
}
