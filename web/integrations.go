package web

import (
	"errors"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"

	"sentryhub/integrations"
	"sentryhub/store"
)

// IntegrationService is what the integration routes need; app passes an
// *integrations.Service.
type IntegrationService = *integrations.Service

// SetIntegrations registers the integration routes: the admin API, the
// token exchange of the install flow (JSON, and a standard OAuth 2.0 token
// and revocation endpoint), verify-install, and the Developer settings UI.
// Call it once, before the server starts.
func (s *Server) SetIntegrations(svc IntegrationService) {
	h := &integrationAPI{s: s, svc: svc}
	m := s.mux
	const base = "/api/admin/integrations"
	m.Handle("GET "+base, s.api(store.ScopeAdmin, h.list))
	m.Handle("POST "+base, s.api(store.ScopeAdmin, h.create))
	m.Handle("GET "+base+"/{slug}", s.api(store.ScopeAdmin, h.get))
	m.Handle("PUT "+base+"/{slug}", s.api(store.ScopeAdmin, h.update))
	m.Handle("DELETE "+base+"/{slug}", s.api(store.ScopeAdmin, h.delete))
	m.Handle("GET "+base+"/{slug}/tokens", s.api(store.ScopeAdmin, h.tokens))
	m.Handle("POST "+base+"/{slug}/tokens", s.api(store.ScopeAdmin, h.createToken))
	m.Handle("DELETE "+base+"/{slug}/tokens/{id}", s.api(store.ScopeAdmin, h.revokeToken))
	m.Handle("POST "+base+"/{slug}/installation", s.api(store.ScopeAdmin, h.install))
	m.Handle("DELETE "+base+"/{slug}/installation", s.api(store.ScopeAdmin, h.uninstall))

	m.Handle("POST /api/v1/integration-installations/{id}/authorizations", s.public(h.authorize))
	// The integration confirms its own installation (integrations are
	// checked by route, see integrationRequirement); an admin may too.
	m.Handle("PUT /api/v1/integration-installations/{id}", s.api(store.ScopeAdmin, h.verifyInstall))
	m.Handle("POST /oauth/token", s.public(h.oauthToken))
	m.Handle("POST /oauth/revoke", s.public(h.oauthRevoke))
	h.alertRoutes()
	s.integrationUIRoutes(svc)
}

type integrationAPI struct {
	s   *Server
	svc IntegrationService
}

func (h *integrationAPI) list(w http.ResponseWriter, r *http.Request) error {
	its, err := h.svc.DB().Integrations(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"integrations": its})
	return nil
}

func (h *integrationAPI) get(w http.ResponseWriter, r *http.Request) error {
	it, err := h.svc.DB().IntegrationBySlug(r.Context(), r.PathValue("slug"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, it)
	return nil
}

func (h *integrationAPI) create(w http.ResponseWriter, r *http.Request) error {
	var spec integrations.Spec
	if err := decodeJSON(r, &spec); err != nil {
		return err
	}
	c, err := h.svc.Create(r.Context(), principal(r.Context()).Actor(), spec)
	if err != nil {
		return err
	}
	out := map[string]any{"integration": c.Integration, "client_secret": string(c.ClientSecret.Reveal())}
	if c.Token != "" {
		out["token"] = c.Token
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (h *integrationAPI) update(w http.ResponseWriter, r *http.Request) error {
	var spec integrations.Spec
	if err := decodeJSON(r, &spec); err != nil {
		return err
	}
	if spec.Kind != "" || spec.Slug != "" {
		return badRequest("kind and slug cannot change", map[string]string{"kind": "fixed at creation", "slug": "fixed at creation"})
	}
	it, err := h.svc.Update(r.Context(), principal(r.Context()).Actor(), r.PathValue("slug"), spec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, it)
	return nil
}

func (h *integrationAPI) delete(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.Delete(r.Context(), principal(r.Context()).Actor(), r.PathValue("slug")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *integrationAPI) tokens(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.svc.DB().IntegrationBySlug(r.Context(), r.PathValue("slug")); err != nil {
		return err
	}
	toks, err := h.svc.DB().IntegrationTokens(r.Context(), r.PathValue("slug"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": toks})
	return nil
}

func (h *integrationAPI) createToken(w http.ResponseWriter, r *http.Request) error {
	plain, t, err := h.svc.DB().CreateIntegrationToken(r.Context(), principal(r.Context()).Actor(), r.PathValue("slug"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": plain, "metadata": t})
	return nil
}

func (h *integrationAPI) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := h.svc.DB().RevokeIntegrationToken(r.Context(), principal(r.Context()).Actor(), r.PathValue("slug"), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *integrationAPI) install(w http.ResponseWriter, r *http.Request) error {
	in, err := h.svc.Install(r.Context(), principal(r.Context()).Actor(), r.PathValue("slug"))
	if err != nil {
		return err
	}
	out := map[string]any{"installation": in.Installation}
	if in.RedirectTo != "" {
		out["redirect_to"] = in.RedirectTo
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (h *integrationAPI) uninstall(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.Uninstall(r.Context(), principal(r.Context()).Actor(), r.PathValue("slug")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// authorizationRequest is the body of the token exchange, as the
// integration platform's contract gives it.
type authorizationRequest struct {
	GrantType    string `json:"grant_type"`
	Code         string `json:"code"`
	RefreshToken string `json:"refresh_token"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// authorizationAnswer is the contract's answer: every key always present,
// state and application always null.
type authorizationAnswer struct {
	ID           string  `json:"id"`
	Token        string  `json:"token"`
	RefreshToken string  `json:"refreshToken"`
	DateCreated  string  `json:"dateCreated"`
	ExpiresAt    string  `json:"expiresAt"`
	State        *string `json:"state"`
	Application  *string `json:"application"`
}

// grant runs one grant of either endpoint. installation "" means the
// client's live installation (the OAuth endpoint has no path id).
func (h *integrationAPI) grant(r *http.Request, installation string, in authorizationRequest) (store.TokenPair, error) {
	fields := map[string]string{}
	if in.ClientID == "" {
		fields["client_id"] = "is required"
	}
	if in.ClientSecret == "" {
		fields["client_secret"] = "is required"
	}
	switch in.GrantType {
	case "authorization_code":
		if in.Code == "" {
			fields["code"] = "is required"
		}
	case "refresh_token":
		if in.RefreshToken == "" {
			fields["refresh_token"] = "is required"
		}
	case "":
		fields["grant_type"] = `is required: "authorization_code" or "refresh_token"`
	default:
		return store.TokenPair{}, &store.OAuthError{Code: "unsupported_grant_type",
			Description: `grant_type must be "authorization_code" or "refresh_token"`}
	}
	if len(fields) > 0 {
		return store.TokenPair{}, &oauthRequestError{fields: fields}
	}
	if in.GrantType == "authorization_code" {
		return h.svc.DB().ExchangeGrant(r.Context(), installation, in.ClientID, in.ClientSecret, in.Code)
	}
	return h.svc.DB().RefreshIntegrationToken(r.Context(), installation, in.ClientID, in.ClientSecret, in.RefreshToken)
}

// oauthRequestError is a grant request missing parameters (RFC 6749
// invalid_request).
type oauthRequestError struct{ fields map[string]string }

func (e *oauthRequestError) Error() string {
	var names []string
	for k := range e.fields {
		names = append(names, k)
	}
	return "missing " + strings.Join(names, ", ")
}

func oauthStatus(code string) int {
	if code == "invalid_client" {
		return http.StatusUnauthorized
	}
	return http.StatusBadRequest
}

func (h *integrationAPI) authorize(w http.ResponseWriter, r *http.Request) error {
	var in authorizationRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	pair, err := h.grant(r, r.PathValue("id"), in)
	var oe *store.OAuthError
	var re *oauthRequestError
	switch {
	case errors.As(err, &re):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "invalid token request", Fields: re.fields}
	case errors.As(err, &oe):
		return &Error{Status: oauthStatus(oe.Code), Code: oe.Code, Message: oe.Description}
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusCreated, authorizationAnswer{
		ID: strconv.FormatInt(pair.ID, 10), Token: pair.Token, RefreshToken: pair.RefreshToken,
		DateCreated: pair.CreatedAt.UTC().Format(store.EventTimeFormat), ExpiresAt: pair.ExpiresAt.UTC().Format(store.EventTimeFormat),
	})
	return nil
}

func (h *integrationAPI) verifyInstall(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	var body struct {
		Status string `json:"status"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.Status != store.InstallationInstalled {
		return &store.ValidationError{Message: "invalid installation change", Fields: map[string]string{"status": `must be "installed"`}}
	}
	var owner int64
	if p.Integration != nil {
		owner = p.Integration.IntegrationID
	}
	n, err := h.svc.DB().VerifyInstallation(r.Context(), p.Actor(), owner, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}

// oauthError writes an RFC 6749 section 5.2 error answer.
func oauthError(w http.ResponseWriter, basic bool, code, description string) {
	status := oauthStatus(code)
	if status == http.StatusUnauthorized && basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="sentryhub"`)
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// oauthForm reads an OAuth form request's parameters and client
// credentials (HTTP Basic, or client_id and client_secret in the body).
func oauthForm(r *http.Request) (url map[string]string, basic bool, ok bool, why string) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, false, false, "send the parameters form-encoded (Content-Type: application/x-www-form-urlencoded)"
	}
	if err := r.ParseForm(); err != nil {
		return nil, false, false, "cannot read the form body"
	}
	out := map[string]string{}
	for k, v := range r.PostForm {
		if len(v) != 1 {
			return nil, false, false, "parameter " + k + " is repeated"
		}
		out[k] = v[0]
	}
	if id, secret, found := r.BasicAuth(); found {
		if out["client_secret"] != "" {
			return nil, false, false, "send the client credentials once: in Authorization: Basic or in the body"
		}
		// RFC 6749 section 2.3.1: both are form-urlencoded before Basic.
		if v, err := neturl.QueryUnescape(id); err == nil {
			id = v
		}
		if v, err := neturl.QueryUnescape(secret); err == nil {
			secret = v
		}
		out["client_id"], out["client_secret"] = id, secret
		basic = true
	}
	return out, basic, true, ""
}

// oauthToken is a standard OAuth 2.0 token endpoint (RFC 6749 section
// 4.1.3 and 6) over the same grants as the JSON exchange, for stock OAuth
// client libraries. The grant code names the installation.
func (h *integrationAPI) oauthToken(w http.ResponseWriter, r *http.Request) error {
	f, basic, ok, why := oauthForm(r)
	if !ok {
		oauthError(w, false, "invalid_request", why)
		return nil
	}
	pair, err := h.grant(r, "", authorizationRequest{GrantType: f["grant_type"], Code: f["code"],
		RefreshToken: f["refresh_token"], ClientID: f["client_id"], ClientSecret: f["client_secret"]})
	var oe *store.OAuthError
	var re *oauthRequestError
	switch {
	case errors.As(err, &re):
		oauthError(w, basic, "invalid_request", re.Error())
		return nil
	case errors.As(err, &oe):
		oauthError(w, basic, oe.Code, oe.Description)
		return nil
	case err != nil:
		return err
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{"access_token": pair.Token, "token_type": "Bearer",
		"expires_in": int64(store.AccessTokenLifetime.Seconds()), "refresh_token": pair.RefreshToken})
	return nil
}

// oauthRevoke is an RFC 7009 revocation endpoint: the client revokes one
// of its access or refresh tokens; an unknown token is answered 200 too.
func (h *integrationAPI) oauthRevoke(w http.ResponseWriter, r *http.Request) error {
	f, basic, ok, why := oauthForm(r)
	if !ok {
		oauthError(w, false, "invalid_request", why)
		return nil
	}
	if f["token"] == "" {
		oauthError(w, basic, "invalid_request", "the token parameter is required")
		return nil
	}
	err := h.svc.DB().RevokeIntegrationCredential(r.Context(), f["client_id"], f["client_secret"], f["token"])
	var oe *store.OAuthError
	if errors.As(err, &oe) {
		oauthError(w, basic, oe.Code, oe.Description)
		return nil
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// alertRoutes registers the alert rules API.
func (h *integrationAPI) alertRoutes() {
	m, s := h.s.mux, h.s
	m.Handle("GET /api/admin/alert-rules", s.api(store.ScopeAdmin, h.listAlertRules))
	m.Handle("POST /api/admin/alert-rules", s.api(store.ScopeAdmin, h.createAlertRule))
	m.Handle("DELETE /api/admin/alert-rules/{id}", s.api(store.ScopeAdmin, h.deleteAlertRule))
}

func (h *integrationAPI) listAlertRules(w http.ResponseWriter, r *http.Request) error {
	rules, err := h.svc.DB().AlertRules(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"alert_rules": rules})
	return nil
}

func (h *integrationAPI) createAlertRule(w http.ResponseWriter, r *http.Request) error {
	var in integrations.AlertRuleInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	rule, err := h.svc.CreateAlertRule(r.Context(), principal(r.Context()).Actor(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, rule)
	return nil
}

func (h *integrationAPI) deleteAlertRule(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := h.svc.DB().DeleteAlertRule(r.Context(), principal(r.Context()).Actor(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
