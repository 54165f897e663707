package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"sentryhub/store"
)

// The API tokens page: list, create (shown once), revoke.

// newToken is a token just created, waiting to be shown once.
type newToken struct{ name, plain string }

func (s *Server) tokensView(r *http.Request) (tokensData, error) {
	toks, err := s.db.ListTokens(r.Context())
	if err != nil {
		return tokensData{}, err
	}
	d := tokensData{Layout: s.layoutFor(r, "API tokens", "/tokens"), Scopes: store.Scopes,
		CanWrite: canWrite(r)}
	for _, t := range toks {
		d.Tokens = append(d.Tokens, s.tokenRowOf(t))
	}
	return d, nil
}

// tokenRowOf is t as the token tables (here and per inbound source) show it.
func (s *Server) tokenRowOf(t store.Token) tokenRow {
	return tokenRow{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Scopes: t.Scopes, CreatedBy: t.CreatedBy,
		CreatedAt: s.atText(t.CreatedAt), LastUsed: s.atTextPtr(t.LastUsedAt), Revoked: t.RevokedAt != nil}
}

func (s *Server) tokensPage(w http.ResponseWriter, r *http.Request) error {
	d, err := s.tokensView(r)
	if err != nil {
		return err
	}
	var t newToken
	var ok bool
	if d.Flashes, t, ok = takeRevealed(s, w, r, s.newTokens); ok {
		d.NewToken, d.NewName = t.plain, t.name
	}
	return s.render(w, r, http.StatusOK, tokensPage(d))
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
	return seeOtherRevealing(s, w, r, "/tokens", s.newTokens, newToken{name: t.Name, plain: plain})
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
