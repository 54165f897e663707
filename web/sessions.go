package web

import (
	"errors"
	"net/http"

	"sentryhub/store"
)

// sessionRoutes registers the admin API and the UI page over login
// sessions: an admin sees and revokes any user's sessions, a viewer only
// their own (in the UI).
func (s *Server) sessionRoutes() {
	m := s.mux
	m.Handle("GET /api/admin/users/{id}/sessions", s.api(store.ScopeAdmin, s.listUserSessions))
	m.Handle("DELETE /api/admin/users/{id}/sessions", s.api(store.ScopeAdmin, s.revokeUserSessions))
	m.Handle("DELETE /api/admin/users/{id}/sessions/{sid}", s.api(store.ScopeAdmin, s.revokeUserSession))
	m.Handle("GET /sessions", s.page(s.sessionsPage))
	m.Handle("POST /users/{id}/sessions/revoke", s.page(s.sessionsRevokeAll))
	m.Handle("POST /users/{id}/sessions/{sid}/revoke", s.page(s.sessionsRevoke))
}

// listUserSessions lists a user's sessions, active and recently ended.
func (s *Server) listUserSessions(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.db.GetUser(r.Context(), id); err != nil {
		return err
	}
	list, err := s.db.ListSessions(r.Context(), store.SessionFilter{UserID: id})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": list})
	return nil
}

func (s *Server) revokeUserSessions(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	n, err := s.db.RevokeUserSessions(r.Context(), principal(r.Context()).Actor(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"revoked": n})
	return nil
}

func (s *Server) revokeUserSession(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	sid, err := pathID(r, "sid")
	if err != nil {
		return err
	}
	if err := s.db.RevokeSession(r.Context(), principal(r.Context()).Actor(), id, sid); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) sessionsPage(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	d := sessionsData{Layout: s.layoutFor(r, "Sessions", "/sessions"), Admin: p.User.Role == store.RoleAdmin}
	f := store.SessionFilter{ActiveOnly: true}
	if !d.Admin {
		f.UserID = p.User.ID
	}
	list, err := s.db.ListSessions(r.Context(), f)
	if err != nil {
		return err
	}
	groups := map[int64]int{}
	for _, ss := range list {
		i, ok := groups[ss.UserID]
		if !ok {
			i = len(d.Users)
			groups[ss.UserID] = i
			d.Users = append(d.Users, sessionUserGroup{UserID: ss.UserID, Email: ss.UserEmail})
		}
		ends := min(ss.ExpiresAt, ss.IdleExpiresAt)
		d.Users[i].Sessions = append(d.Users[i].Sessions, sessionRow{ID: ss.ID, CreatedAt: s.atText(ss.CreatedAt),
			LastSeen: s.atText(ss.LastSeenAt), Expires: s.atText(ends), IP: ss.IP, UserAgent: ss.UserAgent, Current: ss.ID == p.SessionID})
	}
	return s.render(w, r, http.StatusOK, sessionsPage(d))
}

// sessionsTarget is the user whose sessions a UI request revokes: anyone's
// for an admin, only one's own for a viewer.
func (s *Server) sessionsTarget(r *http.Request) (int64, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, err
	}
	if u := principal(r.Context()).User; u.Role != store.RoleAdmin && u.ID != id {
		return 0, &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "viewers can revoke only their own sessions"}
	}
	return id, nil
}

func (s *Server) sessionsRevoke(w http.ResponseWriter, r *http.Request) error {
	id, err := s.sessionsTarget(r)
	if err != nil {
		return err
	}
	sid, err := pathID(r, "sid")
	if err != nil {
		return err
	}
	if err := s.db.RevokeSession(r.Context(), principal(r.Context()).Actor(), id, sid); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	http.Redirect(w, r, "/sessions", http.StatusSeeOther)
	return nil
}

func (s *Server) sessionsRevokeAll(w http.ResponseWriter, r *http.Request) error {
	id, err := s.sessionsTarget(r)
	if err != nil {
		return err
	}
	if _, err := s.db.RevokeUserSessions(r.Context(), principal(r.Context()).Actor(), id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	http.Redirect(w, r, "/sessions", http.StatusSeeOther)
	return nil
}
