package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"sentryhub/integrations"
	"sentryhub/store"
)

// Developer settings: the integrations, one page each with its tokens and
// installation, and the consent page of an install. Every change answers
// with a redirect and a flash (post/redirect/get), a refused form
// included; what is shown once (client secret, tokens) goes through a
// revealStore. Alert rules and record pages are in integrations_alerts.go
// and integrations_records.go.

// integrationUI serves the integration pages.
type integrationUI struct {
	s   *Server
	svc IntegrationService
	// secrets holds what a new integration or token shows once; answers
	// a UI action's answer for the record page.
	secrets *revealStore[integrationSecrets]
	answers *revealStore[actionAnswer]
}

// integrationSecrets is what the page of integration slug shows once.
type integrationSecrets struct{ slug, clientSecret, token string }

// integrationUIRoutes registers the integration pages.
func (s *Server) integrationUIRoutes(svc IntegrationService) {
	u := &integrationUI{s: s, svc: svc,
		secrets: newRevealStore[integrationSecrets]("integration-secret", "The new secret or token can no longer be shown: "+
			"it is shown once, within 10 minutes, to the admin who made it. Make a new token, or delete the integration and create it again."),
		answers: newRevealStore[actionAnswer]("action-answer", "The integration's answer can no longer be shown: it is shown once, within 10 minutes."),
	}
	s.integrations = svc
	m := s.mux
	m.Handle("GET /settings/developer", s.page(u.list))
	m.Handle("POST /settings/developer", s.page(s.adminOnly(u.create)))
	m.Handle("GET /settings/developer/{slug}", s.page(u.detail))
	m.Handle("POST /settings/developer/{slug}", s.page(s.adminOnly(u.update)))
	m.Handle("POST /settings/developer/{slug}/delete", s.page(s.adminOnly(u.delete)))
	m.Handle("POST /settings/developer/{slug}/tokens", s.page(s.adminOnly(u.newToken)))
	m.Handle("POST /settings/developer/{slug}/tokens/{id}/revoke", s.page(s.adminOnly(u.revokeToken)))
	m.Handle("GET /settings/developer/{slug}/install", s.page(s.adminOnly(u.consent)))
	m.Handle("POST /settings/developer/{slug}/install", s.page(s.adminOnly(u.approve)))
	m.Handle("POST /settings/developer/{slug}/uninstall", s.page(s.adminOnly(u.uninstall)))
	u.alertRoutes()
	u.recordRoutes()
}

// integrationURL is the page of integration slug.
func integrationURL(slug string) string { return "/settings/developer/" + url.PathEscape(slug) }

// The questions asked before what cannot be undone, in the dialog and on
// the confirmation page alike.

func deleteIntegrationQuestion(name string) string {
	return fmt.Sprintf("Delete integration “%s”? Its tokens stop working at once and its webhook subscription and history are deleted; this cannot be undone.", name)
}

func uninstallQuestion(name string) string {
	return fmt.Sprintf("Uninstall “%s”? Its tokens stop working at once and it is sent installation.deleted; installing again asks for consent again.", name)
}

func revokeIntegrationTokenQuestion(prefix string) string {
	return fmt.Sprintf("Revoke token %s…? Requests with it get 401 from the next one; this cannot be undone.", prefix)
}

func containsString(s []string, v string) bool { return slices.Contains(s, v) }

// specFromForm reads the create/edit form (or a refused one kept).
func specFromForm(f url.Values) (integrations.Spec, string) {
	spec := integrations.Spec{Kind: f.Get("kind"), Name: f.Get("name"), Author: f.Get("author"), Overview: f.Get("overview"),
		WebhookURL: f.Get("webhook_url"), RedirectURL: f.Get("redirect_url"), VerifyInstall: f.Get("verify_install") != "",
		AlertAction: f.Get("alert_action") != "", EventTypes: f["event_types"], Permissions: integrations.Permissions{}}
	for _, res := range integrations.Resources {
		if v := f.Get("perm_" + res); v != "" {
			spec.Permissions[res] = v
		}
	}
	ui := strings.TrimSpace(f.Get("ui_components"))
	if ui != "" {
		spec.UIComponents = json.RawMessage(ui)
	}
	return spec, ui
}

// The names of the integration forms that come back after a refusal
// (formrefusal.go).
const integrationCreateForm = "integration-create"

func integrationSettingsForm(slug string) string { return "integration-settings:" + slug }

// refill puts the refused form rf back into f when it is this form.
func (f *integrationForm) refill(rf *refusedForm) {
	if !rf.is(f.Name) {
		return
	}
	f.Refused = rf
	if rf.Values == nil { // too long to keep: the stored settings show
		return
	}
	kind := f.Spec.Kind
	f.Spec, f.UIComponent = specFromForm(rf.Values)
	if f.Editing {
		f.Spec.Kind = kind // not on the edit form: it cannot change
	}
}

func (u *integrationUI) listData(r *http.Request) (devSettingsData, error) {
	its, err := u.svc.DB().Integrations(r.Context())
	if err != nil {
		return devSettingsData{}, err
	}
	return devSettingsData{Layout: u.s.layoutFor(r, "Developer settings", "/settings/developer"), Integrations: its,
		CanWrite: canWrite(r), Form: integrationForm{Name: integrationCreateForm, Action: "/settings/developer", EventTypes: store.CatalogEventTypes(),
			Spec: integrations.Spec{Kind: store.IntegrationInternal}}}, nil
}

func (u *integrationUI) list(w http.ResponseWriter, r *http.Request) error {
	d, err := u.listData(r)
	if err != nil {
		return err
	}
	fs, nonce := u.s.takeFlashes(w, r)
	d.Form.refill(u.s.claimRefused(r, nonce, &fs))
	d.Flashes = fs
	return u.s.render(w, r, http.StatusOK, devSettingsPage(d))
}

func (u *integrationUI) create(w http.ResponseWriter, r *http.Request) error {
	spec, _ := specFromForm(r.PostForm)
	c, err := u.svc.Create(r.Context(), principal(r.Context()).Actor(), spec)
	if err != nil {
		return u.s.refuseForm(w, r, "/settings/developer#integration-form", refusedForm{Form: integrationCreateForm, Values: r.PostForm},
			"Integration not created", err)
	}
	it := c.Integration
	text := fmt.Sprintf("Integration “%s” created and installed, with its first token below.", it.Name)
	if it.Kind == store.IntegrationPublic {
		text = fmt.Sprintf("Integration “%s” created. Give its client id and secret to its developer; install it here when it is ready.", it.Name)
	}
	return seeOtherRevealing(u.s, w, r, integrationURL(it.Slug), u.secrets,
		integrationSecrets{slug: it.Slug, clientSecret: string(c.ClientSecret.Reveal()), token: c.Token}, flash{Kind: "ok", Text: text})
}

func (u *integrationUI) detailData(r *http.Request, slug string) (integrationData, error) {
	s, db := u.s, u.svc.DB()
	it, err := db.IntegrationBySlug(r.Context(), slug)
	if err != nil {
		return integrationData{}, err
	}
	toks, err := db.IntegrationTokens(r.Context(), slug)
	if err != nil {
		return integrationData{}, err
	}
	evs, err := db.IntegrationEvents(r.Context(), it.UUID, 0, 200)
	if err != nil {
		return integrationData{}, err
	}
	if len(evs) > 20 {
		evs = evs[len(evs)-20:]
	}
	slices.Reverse(evs)
	spec := integrations.Spec{Kind: it.Kind, Name: it.Name, Author: it.Author, Overview: it.Overview, WebhookURL: it.WebhookURL,
		RedirectURL: it.RedirectURL, VerifyInstall: it.VerifyInstall, Permissions: it.Permissions, EventTypes: it.EventTypes,
		AlertAction: it.AlertAction}
	d := integrationData{Layout: s.layoutFor(r, it.Name, "/settings/developer"), It: it, CanWrite: canWrite(r),
		Form: integrationForm{Name: integrationSettingsForm(it.Slug), Action: integrationURL(it.Slug), Editing: true, EventTypes: store.CatalogEventTypes(), Spec: spec,
			UIComponent: string(it.UIComponents)}}
	for _, t := range toks {
		d.Tokens = append(d.Tokens, tokenRow{ID: t.ID, Prefix: t.Prefix, CreatedBy: t.CreatedBy, CreatedAt: s.atText(t.CreatedAt),
			LastUsed: s.atTextPtr(t.LastUsedAt), Revoked: t.RevokedAt != nil})
	}
	for _, ev := range evs {
		d.Events = append(d.Events, eventRow{ID: ev.ID, Type: ev.EventType, At: s.at(ev.Timestamp)})
	}
	return d, nil
}

func (u *integrationUI) detail(w http.ResponseWriter, r *http.Request) error {
	d, err := u.detailData(r, r.PathValue("slug"))
	if err != nil {
		return err
	}
	fs, nonce := u.s.takeFlashes(w, r)
	if sec, ok := claimInto(u.s, r, u.secrets, nonce, &fs); ok && sec.slug == d.It.Slug {
		d.ClientSecret, d.NewToken = sec.clientSecret, sec.token
	}
	d.Form.refill(u.s.claimRefused(r, nonce, &fs))
	d.Flashes = fs
	return u.s.render(w, r, http.StatusOK, integrationPage(d))
}

func (u *integrationUI) update(w http.ResponseWriter, r *http.Request) error {
	slug := r.PathValue("slug")
	spec, _ := specFromForm(r.PostForm)
	it, err := u.svc.Update(r.Context(), principal(r.Context()).Actor(), slug, spec)
	if err != nil {
		return u.s.refuseForm(w, r, integrationURL(slug)+"#integration-form", refusedForm{Form: integrationSettingsForm(slug), Values: r.PostForm},
			"Not saved", err)
	}
	return u.s.seeOther(w, r, integrationURL(slug), flash{Kind: "ok", Text: fmt.Sprintf("Settings of “%s” saved.", it.Name)})
}

func (u *integrationUI) delete(w http.ResponseWriter, r *http.Request) error {
	slug := r.PathValue("slug")
	it, err := u.svc.DB().IntegrationBySlug(r.Context(), slug)
	if err != nil {
		return err
	}
	if ok, err := u.s.confirmed(w, r, deleteIntegrationQuestion(it.Name), integrationURL(slug)); !ok {
		return err
	}
	if err := u.svc.Delete(r.Context(), principal(r.Context()).Actor(), slug); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return u.s.seeOther(w, r, "/settings/developer", flash{Kind: "ok", Text: fmt.Sprintf(
		"Integration “%s” deleted: its tokens no longer work and its webhook subscription is gone.", it.Name)})
}

func (u *integrationUI) newToken(w http.ResponseWriter, r *http.Request) error {
	slug := r.PathValue("slug")
	plain, t, err := u.svc.DB().CreateIntegrationToken(r.Context(), principal(r.Context()).Actor(), slug)
	if err != nil {
		return u.s.seeOtherFailure(w, r, integrationURL(slug), "No token created", err)
	}
	return seeOtherRevealing(u.s, w, r, integrationURL(slug), u.secrets, integrationSecrets{slug: slug, token: plain},
		flash{Kind: "ok", Text: fmt.Sprintf("Token %s… created; the integration sends it as Authorization: Bearer.", t.Prefix)})
}

func (u *integrationUI) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	slug := r.PathValue("slug")
	toks, err := u.svc.DB().IntegrationTokens(r.Context(), slug)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(toks, func(t store.IntegrationToken) bool { return t.ID == id })
	if i < 0 {
		return fmt.Errorf("token %d of integration %s: %w", id, slug, store.ErrNotFound)
	}
	tok := toks[i]
	if ok, err := u.s.confirmed(w, r, revokeIntegrationTokenQuestion(tok.Prefix), integrationURL(slug)); !ok {
		return err
	}
	err = u.svc.DB().RevokeIntegrationToken(r.Context(), principal(r.Context()).Actor(), slug, id)
	switch {
	case tok.RevokedAt != nil || errors.Is(err, store.ErrNotFound):
		return u.s.seeOther(w, r, integrationURL(slug), flash{Kind: "warn", Text: fmt.Sprintf("Token %s… was revoked already.", tok.Prefix)})
	case err != nil:
		return err
	}
	return u.s.seeOther(w, r, integrationURL(slug), flash{Kind: "ok", Text: fmt.Sprintf(
		"Token %s… revoked: requests with it get 401 from the next one.", tok.Prefix)})
}

// consent shows what the integration asks for before an admin installs it.
func (u *integrationUI) consent(w http.ResponseWriter, r *http.Request) error {
	it, err := u.svc.DB().IntegrationBySlug(r.Context(), r.PathValue("slug"))
	if err != nil {
		return err
	}
	switch {
	case it.Kind != store.IntegrationPublic:
		return u.s.seeOther(w, r, integrationURL(it.Slug), flash{Kind: "warn", Text: "An internal integration is installed when it is created: there is nothing to consent to."})
	case it.Installation != nil:
		return u.s.seeOther(w, r, integrationURL(it.Slug), flash{Kind: "warn", Text: fmt.Sprintf("“%s” is installed already.", it.Name)})
	}
	if o := origin(it.RedirectURL); o != "" {
		// Approving redirects the form's answer to the integration: the
		// page's CSP must let this one form go there.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self' "+o)
	}
	return u.s.render(w, r, http.StatusOK, consentPage(consentData{Layout: u.s.layoutFor(r, "Install "+it.Name, "/settings/developer"), It: it}))
}

// approve installs after consent, then sends the browser to the
// integration's redirect URL with code and installationId, or back to the
// integration's page when the code went out by webhook.
func (u *integrationUI) approve(w http.ResponseWriter, r *http.Request) error {
	slug := r.PathValue("slug")
	in, err := u.svc.Install(r.Context(), principal(r.Context()).Actor(), slug)
	if err != nil {
		return u.s.seeOtherFailure(w, r, integrationURL(slug), "Not installed", err)
	}
	if in.RedirectTo != "" {
		http.Redirect(w, r, in.RedirectTo, http.StatusSeeOther)
		return nil
	}
	return u.s.seeOther(w, r, integrationURL(slug), flash{Kind: "ok",
		Text: "Installed. The integration received installation.created with its grant code at its webhook URL."})
}

func (u *integrationUI) uninstall(w http.ResponseWriter, r *http.Request) error {
	slug := r.PathValue("slug")
	it, err := u.svc.DB().IntegrationBySlug(r.Context(), slug)
	if err != nil {
		return err
	}
	if ok, err := u.s.confirmed(w, r, uninstallQuestion(it.Name), integrationURL(slug)); !ok {
		return err
	}
	if err := u.svc.Uninstall(r.Context(), principal(r.Context()).Actor(), slug); errors.Is(err, store.ErrNotFound) {
		return u.s.seeOther(w, r, integrationURL(slug), flash{Kind: "warn", Text: fmt.Sprintf("“%s” was not installed.", it.Name)})
	} else if err != nil {
		return err
	}
	return u.s.seeOther(w, r, integrationURL(slug), flash{Kind: "ok", Text: fmt.Sprintf(
		"Uninstalled “%s”: its tokens are revoked and it was sent installation.deleted.", it.Name)})
}

// origin is the scheme://host[:port] of a validated URL, or "".
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
