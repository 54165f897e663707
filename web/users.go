package web

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"

	"sentryhub/store"
)

// The users page (admins only): create a user with a one-time password
// (an invitation: the admin passes it on, the user logs in with it),
// change a role, disable or enable, reset a password. Each change revokes
// the user's sessions in the store's transaction; /sessions lists and
// revokes them one by one.

// newPassword is a one-time password waiting to be shown once.
type newPassword struct{ email, password string }

func (s *Server) userUIRoutes() {
	m := s.mux
	m.Handle("GET /users", s.page(s.adminOnly(s.usersPage)))
	m.Handle("POST /users", s.page(s.adminOnly(s.usersCreate)))
	m.Handle("POST /users/{id}/role", s.page(s.adminOnly(s.usersSetRole)))
	m.Handle("POST /users/{id}/disable", s.page(s.adminOnly(s.usersDisable(true))))
	m.Handle("POST /users/{id}/enable", s.page(s.adminOnly(s.usersDisable(false))))
	m.Handle("POST /users/{id}/reset-password", s.page(s.adminOnly(s.usersResetPassword)))
}

// adminOnly refuses viewers (a 403 page) and parses a posted form.
func (s *Server) adminOnly(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.requireAdminUser(r); err != nil {
			return err
		}
		if r.Method == http.MethodPost {
			if err := parseForm(r); err != nil {
				return err
			}
		}
		return h(w, r)
	}
}

// onetimePassword makes a password to hand over: 20 characters from an
// alphabet without look-alikes (about 110 bits).
func onetimePassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	rand.Read(b) // never fails (crypto/rand panics instead)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func (s *Server) usersView(r *http.Request) (usersData, error) {
	ctx := r.Context()
	users, err := s.db.ListUsers(ctx)
	if err != nil {
		return usersData{}, err
	}
	sessions, err := s.db.ListSessions(ctx, store.SessionFilter{ActiveOnly: true})
	if err != nil {
		return usersData{}, err
	}
	active := map[int64]int{}
	for _, ss := range sessions {
		active[ss.UserID]++
	}
	me := principal(ctx).User.ID
	d := usersData{Layout: s.layoutFor(r, "Users", "/users"), Form: userForm{Role: store.RoleViewer}}
	for _, u := range users {
		d.Users = append(d.Users, userRow{ID: u.ID, Email: u.Email, Role: u.Role, Disabled: u.Disabled,
			Created: s.atText(u.CreatedAt), Sessions: active[u.ID], Self: u.ID == me})
		if u.Role == store.RoleAdmin {
			d.Admins++
		} else {
			d.Viewers++
		}
	}
	return d, nil
}

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request) error {
	d, err := s.usersView(r)
	if err != nil {
		return err
	}
	var p newPassword
	var ok bool
	if d.Flashes, p, ok = takeRevealed(s, w, r, s.passwords); ok {
		d.NewPassword, d.NewEmail = p.password, p.email
	}
	return s.render(w, r, http.StatusOK, usersPage(d))
}

// reveal redirects to the users page, which shows password once.
func (s *Server) revealPassword(w http.ResponseWriter, r *http.Request, email, password string, f flash) error {
	return seeOtherRevealing(s, w, r, "/users", s.passwords, newPassword{email: email, password: password}, f)
}

func (s *Server) usersCreate(w http.ResponseWriter, r *http.Request) error {
	f := parseUserForm(r)
	pw := onetimePassword()
	u, err := s.db.CreateUser(r.Context(), principal(r.Context()).Actor(), f.Email, f.Role, pw)
	var ve *store.ValidationError
	switch {
	case errors.As(err, &ve) || errors.Is(err, store.ErrConflict):
		d, verr := s.usersView(r)
		if verr != nil {
			return verr
		}
		d.Form = f
		if ve != nil {
			d.Form.Errors = ve.Fields
		} else {
			d.Form.Errors = map[string]string{"email": "is already a user"}
		}
		return s.render(w, r, http.StatusUnprocessableEntity, usersPage(d))
	case err != nil:
		return err
	}
	return s.revealPassword(w, r, u.Email, pw, flash{Kind: "ok", Text: fmt.Sprintf(
		"User %s created as %s. Give them the one-time password below; they log in with it at /login.", u.Email, u.Role)})
}

// userTarget is the user a per-user form acts on; an admin cannot lock
// themselves out by demoting or disabling their own account.
func (s *Server) userTarget(r *http.Request, self string) (store.User, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return store.User{}, err
	}
	u, err := s.db.GetUser(r.Context(), id)
	if err != nil {
		return store.User{}, err
	}
	if self != "" && u.ID == principal(r.Context()).User.ID {
		return store.User{}, &Error{Status: http.StatusConflict, Code: "conflict", Message: self}
	}
	return u, nil
}

func (s *Server) usersSetRole(w http.ResponseWriter, r *http.Request) error {
	u, err := s.userTarget(r, "you cannot change your own role: another admin has to")
	if err != nil {
		return err
	}
	role := r.PostForm.Get("role")
	if role == u.Role {
		return s.seeOther(w, r, "/users", flash{Kind: "warn", Text: u.Email + " is already " + role + "."})
	}
	if err := s.db.SetUserRole(r.Context(), principal(r.Context()).Actor(), u.ID, role); err != nil {
		return err
	}
	return s.seeOther(w, r, "/users", flash{Kind: "ok", Text: fmt.Sprintf(
		"%s is now %s. Their sessions were ended, so they log in again with the new role.", u.Email, role)})
}

func (s *Server) usersDisable(disable bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, err := s.userTarget(r, "you cannot disable your own account")
		if err != nil {
			return err
		}
		if disable {
			if ok, err := s.confirmed(w, r, "Disable "+u.Email+"? They are logged out at once and cannot log in until enabled again.", "/users"); !ok {
				return err
			}
		}
		if err := s.db.SetUserDisabled(r.Context(), principal(r.Context()).Actor(), u.ID, disable); err != nil {
			return err
		}
		msg := u.Email + " enabled: they can log in again."
		if disable {
			msg = u.Email + " disabled and logged out everywhere."
		}
		return s.seeOther(w, r, "/users", flash{Kind: "ok", Text: msg})
	}
}

func (s *Server) usersResetPassword(w http.ResponseWriter, r *http.Request) error {
	u, err := s.userTarget(r, "")
	if err != nil {
		return err
	}
	if ok, err := s.confirmed(w, r, "Reset the password of "+u.Email+"? The old one stops working and their sessions end.", "/users"); !ok {
		return err
	}
	pw := onetimePassword()
	if err := s.db.SetPassword(r.Context(), principal(r.Context()).Actor(), u.ID, pw); err != nil {
		return err
	}
	return s.revealPassword(w, r, u.Email, pw, flash{Kind: "ok", Text: "Password of " + u.Email +
		" reset and their sessions ended. Give them the one-time password below."})
}
