package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"sentryhub/integrations"
	"sentryhub/store"
)

// integrationUI serves Developer settings, the consent page, alert rules
// and the record pages that show integrations' UI components.
type integrationUI struct {
	s   *Server
	svc IntegrationService
}

// integrationUIRoutes registers the integration pages.
func (s *Server) integrationUIRoutes(svc IntegrationService) {
	u := &integrationUI{s: s, svc: svc}
	s.integrations = svc
	m := s.mux
	m.Handle("GET /settings/developer", s.page(u.list))
	m.Handle("POST /settings/developer", s.page(u.create))
	m.Handle("GET /settings/developer/{slug}", s.page(u.detail))
	m.Handle("POST /settings/developer/{slug}", s.page(u.update))
	m.Handle("POST /settings/developer/{slug}/delete", s.page(u.delete))
	m.Handle("POST /settings/developer/{slug}/tokens", s.page(u.newToken))
	m.Handle("POST /settings/developer/{slug}/tokens/{id}/revoke", s.page(u.revokeToken))
	m.Handle("GET /settings/developer/{slug}/install", s.page(u.consent))
	m.Handle("POST /settings/developer/{slug}/install", s.page(u.approve))
	m.Handle("POST /settings/developer/{slug}/uninstall", s.page(u.uninstall))
	m.Handle("GET /settings/alerts", s.page(u.alerts))
	m.Handle("POST /settings/alerts", s.page(u.createAlert))
	m.Handle("POST /settings/alerts/{id}/delete", s.page(u.deleteAlert))
	m.Handle("GET /records/{page}/{key}", s.page(u.record))
	m.Handle("POST /records/{page}/{key}/actions/{slug}/{index}", s.page(u.action))
}

func (u *integrationUI) canWrite(r *http.Request) bool {
	return principal(r.Context()).User.Role == store.RoleAdmin
}

func containsString(s []string, v string) bool { return slices.Contains(s, v) }

func derefOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

// problem turns a validation error into one line for a page, or "" for
// any other error (which the caller returns).
func problem(prefix string, err error) string {
	var ve *store.ValidationError
	var ce *store.ConflictError
	switch {
	case errors.As(err, &ve):
		var msgs []string
		for _, f := range slices.Sorted(mapKeys(ve.Fields)) {
			msgs = append(msgs, f+": "+ve.Fields[f])
		}
		return prefix + ve.Message + ": " + strings.Join(msgs, "; ")
	case errors.As(err, &ce):
		return prefix + ce.Message
	}
	return ""
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// specFromForm reads the create/edit form.
func specFromForm(r *http.Request) (integrations.Spec, string) {
	f := r.PostForm
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

func (u *integrationUI) listData(r *http.Request) (devSettingsData, error) {
	its, err := u.svc.DB().Integrations(r.Context())
	if err != nil {
		return devSettingsData{}, err
	}
	return devSettingsData{Layout: u.s.layoutFor(r, "Developer settings", "/settings/developer"), Integrations: its,
		CanWrite: u.canWrite(r), Form: integrationForm{Action: "/settings/developer", EventTypes: store.CatalogEventTypes(),
			Spec: integrations.Spec{Kind: store.IntegrationInternal}}}, nil
}

func (u *integrationUI) list(w http.ResponseWriter, r *http.Request) error {
	d, err := u.listData(r)
	if err != nil {
		return err
	}
	return u.s.render(w, r, http.StatusOK, devSettingsPage(d))
}

func (u *integrationUI) create(w http.ResponseWriter, r *http.Request) error {
	if err := u.s.requireAdminUser(r); err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badRequest("invalid form", nil)
	}
	spec, ui := specFromForm(r)
	c, err := u.svc.Create(r.Context(), principal(r.Context()).Actor(), spec)
	if msg := problem("Integration not created: ", err); msg != "" {
		d, lerr := u.listData(r)
		if lerr != nil {
			return lerr
		}
		d.Error, d.Form.Spec, d.Form.UIComponent = msg, spec, ui
		return u.s.render(w, r, http.StatusUnprocessableEntity, devSettingsPage(d))
	}
	if err != nil {
		return err
	}
	// The secrets are shown in this answer only (as API tokens are).
	d, err := u.detailData(r, c.Integration.Slug)
	if err != nil {
		return err
	}
	d.ClientSecret, d.NewToken = string(c.ClientSecret.Reveal()), c.Token
	return u.s.render(w, r, http.StatusOK, integrationPage(d))
}

func (u *integrationUI) detailData(r *http.Request, slug string) (integrationData, error) {
	it, err := u.svc.DB().IntegrationBySlug(r.Context(), slug)
	if err != nil {
		return integrationData{}, err
	}
	toks, err := u.svc.DB().IntegrationTokens(r.Context(), slug)
	if err != nil {
		return integrationData{}, err
	}
	evs, err := u.svc.DB().IntegrationEvents(r.Context(), it.UUID, 0, 200)
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
	return integrationData{Layout: u.s.layoutFor(r, it.Name, "/settings/developer"), It: it, Tokens: toks, Events: evs,
		CanWrite: u.canWrite(r), Form: integrationForm{Action: "/settings/developer/" + it.Slug, Editing: true,
			EventTypes: store.CatalogEventTypes(), Spec: spec, UIComponent: string(it.UIComponents)}}, nil
}

func (u *integrationUI) detail(w http.ResponseWriter, r *http.Request) error {
	d, err := u.detailData(r, r.PathValue("slug"))
	if err != nil {
		return err
	}
	switch r.URL.Query().Get("done") {
	case "installed":
		d.Notice = "Installed. The integration received installation.created with its grant code at its webhook URL."
	case "uninstalled":
		d.Notice = "Uninstalled: its tokens are revoked and it was sent installation.deleted."
	case "saved":
		d.Notice = "Saved."
	}
	return u.s.render(w, r, http.StatusOK, integrationPage(d))
}

func (u *integrationUI) update(w http.ResponseWriter, r *http.Request) error {
	if err := u.s.requireAdminUser(r); err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badRequest("invalid form", nil)
	}
	slug := r.PathValue("slug")
	spec, ui := specFromForm(r)
	_, err := u.svc.Update(r.Context(), principal(r.Context()).Actor(), slug, spec)
	if msg := problem("Not saved: ", err); msg != "" {
		d, derr := u.detailData(r, slug)
		if derr != nil {
			return derr
		}
		spec.Kind = d.It.Kind
		d.Error, d.Form.Spec, d.Form.UIComponent = msg, spec, ui
		return u.s.render(w, r, http.StatusUnprocessableEntity, integrationPage(d))
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/settings/developer/"+slug+"?done=saved", http.StatusSeeOther)
	return nil
}

func (u *integrationUI) delete(w http.ResponseWriter, r *http.Request) error {
	if err := u.s.requireAdminUser(r); err != nil {
		return err
	}
	if err := u.svc.Delete(r.Context(), principal(r.Context()).Actor(), r.PathValue("slug")); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	http.Redirect(w, r, "/settings/developer", http.StatusSeeOther)
	return nil
}

func (u *integrationUI) newToken(w http.ResponseWriter, r *http.Request) error {
	if err := u.s.requireAdminUser(r); err != nil {
		return err
	}
	slug := r.PathValue("slug")
	plain, _, err := u.svc.DB().CreateIntegrationToken(r.Context(), principal(r.Context()).Actor(), slug)
	d, derr := u.detailData(r, slug)
	if derr != nil {
		return derr
	}
	if msg := problem("No token created: ", err); msg != "" {
		d.Error = msg
		return u.s.render(w, r, http.StatusConflict, integrationPage(d))
	}
	if err != nil {
		return err
	}
	d.NewToken = plain
	return u.s.render(w, r, http.StatusOK, integrationPage(d))
}

func (u *integrationUI) revokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := u.s.requireAdminUser(r); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	slug := r.PathValue("slug")
	if err := u.svc.DB().RevokeIntegrationToken(r.Context(), principal(r.Context()).Actor(), slug, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	http.Redirect(w, r, "/settings/developer/"+url.PathEscape(slug), http.StatusSeeOther)
	return nil
}

// consent shows what the integration asks for before an admin installs it.
func (u *integrationUI) consent(w http.ResponseWriter, r *http.Request) error {
	if err := u.s.requireAdminUser(r); err != nil {
		return err
	}
	it, err := u.svc.DB().IntegrationBySlug(r.Context(), r.PathValue("slug"))
	if err != nil {
		return err
	}
	if it.Kind != store.IntegrationPublic || it.Installation != nil {
		http.Redirect(w, r, "/settings/developer/"+url.PathEscape(it.Slug), http.StatusSeeOther)
		return nil
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
	if err := u.s.requireAdminUser(r); err != nil {
		return err
	}
	slug := r.PathValue("slug")
	in, err := u.svc.Install(r.Context(), principal(r.Context()).Actor(), slug)
	if msg := problem("Not installed: ", err); msg != "" {
		d, derr := u.detailData(r, slug)
		if derr != nil {
			return derr
		}
		d.Error = msg
		return u.s.render(w, r, http.StatusConflict, integrationPage(d))
	}
	if err != nil {
		return err
	}
	if in.RedirectTo != "" {
		http.Redirect(w, r, in.RedirectTo, http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/settings/developer/"+url.PathEscape(slug)+"?done=installed", http.StatusSeeOther)
	return nil
}

func (u *integrationUI) uninstall(w http.ResponseWriter, r *http.Request) error {
	if err := u.s.requireAdminUser(r); err != nil {
		return err
	}
	slug := r.PathValue("slug")
	if err := u.svc.Uninstall(r.Context(), principal(r.Context()).Actor(), slug); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	http.Redirect(w, r, "/settings/developer/"+url.PathEscape(slug)+"?done=uninstalled", http.StatusSeeOther)
	return nil
}

func (u *integrationUI) alertsData(r *http.Request) (alertRulesData, error) {
	rules, err := u.svc.DB().AlertRules(r.Context())
	if err != nil {
		return alertRulesData{}, err
	}
	its, err := u.svc.DB().Integrations(r.Context())
	if err != nil {
		return alertRulesData{}, err
	}
	return alertRulesData{Layout: u.s.layoutFor(r, "Alert rules", "/settings/alerts"), Rules: rules, Integrations: its, CanWrite: u.canWrite(r)}, nil
}

func (u *integrationUI) alerts(w http.ResponseWriter, r *http.Request) error {
	d, err := u.alertsData(r)
	if err != nil {
		return err
	}
	return u.s.render(w, r, http.StatusOK, alertRulesPage(d))
}

func formInt(f url.Values, name string) (int64, error) {
	v := strings.TrimSpace(f.Get(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, &store.ValidationError{Message: "invalid alert rule", Fields: map[string]string{"params." + name: "must be a whole number"}}
	}
	return n, nil
}

func (u *integrationUI) createAlert(w http.ResponseWriter, r *http.Request) error {
	if err := u.s.requireAdminUser(r); err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badRequest("invalid form", nil)
	}
	f := r.PostForm
	in := integrations.AlertRuleInput{Name: f.Get("name"), Kind: f.Get("kind"), Integration: f.Get("integration"),
		Params: store.AlertParams{Connector: strings.TrimSpace(f.Get("connector")), SKU: strings.TrimSpace(f.Get("sku"))}}
	var err error
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"warehouse_id", &in.Params.WarehouseID}, {"subscription_id", &in.Params.SubscriptionID}, {"threshold", &in.Params.Threshold}, {"hours", &in.Params.Hours}} {
		if *p.dst, err = formInt(f, p.name); err != nil {
			break
		}
	}
	if err == nil {
		_, err = u.svc.CreateAlertRule(r.Context(), principal(r.Context()).Actor(), in)
	}
	if msg := problem("Rule not created: ", err); msg != "" {
		d, derr := u.alertsData(r)
		if derr != nil {
			return derr
		}
		d.Error = msg
		return u.s.render(w, r, http.StatusUnprocessableEntity, alertRulesPage(d))
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/settings/alerts", http.StatusSeeOther)
	return nil
}

func (u *integrationUI) deleteAlert(w http.ResponseWriter, r *http.Request) error {
	if err := u.s.requireAdminUser(r); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := u.svc.DB().DeleteAlertRule(r.Context(), principal(r.Context()).Actor(), id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	http.Redirect(w, r, "/settings/alerts", http.StatusSeeOther)
	return nil
}

// recordView loads the record a record page shows: its title, fields and
// the context its integrations' components see.
func (u *integrationUI) recordView(r *http.Request) (recordData, map[string]string, error) {
	page, key := r.PathValue("page"), r.PathValue("key")
	d := recordData{Page: page, Key: url.PathEscape(key)}
	var ctx map[string]string
	switch page {
	case integrations.PageSalesOrder:
		so, err := u.svc.DB().GetSalesOrder(r.Context(), key)
		if err != nil {
			return d, nil, err
		}
		d.Title = "Sales order " + so.OrderNumber
		ctx = map[string]string{"order_id": so.ID, "external_id": so.OrderNumber, "warehouse_id": itoa(so.WarehouseID), "status": string(so.Status)}
		d.Fields = [][2]string{{"Order number", so.OrderNumber}, {"Status", string(so.Status)}, {"Warehouse", itoa(so.WarehouseID)},
			{"Carrier", so.Carrier}, {"Tracking", so.Tracking}}
		for _, l := range so.Lines {
			d.Fields = append(d.Fields, [2]string{"Line", fmt.Sprintf("%s × %d", l.SKU, l.Qty)})
		}
	case integrations.PageItem:
		it, err := u.svc.DB().GetItem(r.Context(), key)
		if err != nil {
			return d, nil, err
		}
		d.Title = "Item " + it.SKU
		ctx = map[string]string{"sku": it.SKU, "name": it.Name}
		d.Fields = [][2]string{{"SKU", it.SKU}, {"Name", it.Name}, {"Barcode", it.Barcode}}
	case integrations.PageWarehouse:
		whs, err := u.svc.DB().ListWarehouses(r.Context())
		if err != nil {
			return d, nil, err
		}
		i := slices.IndexFunc(whs, func(w store.Warehouse) bool { return itoa(w.ID) == key })
		if i < 0 {
			return d, nil, fmt.Errorf("warehouse %s: %w", key, store.ErrNotFound)
		}
		d.Title = "Warehouse " + whs[i].Code
		ctx = map[string]string{"warehouse_id": itoa(whs[i].ID), "code": whs[i].Code, "name": whs[i].Name}
		d.Fields = [][2]string{{"Code", whs[i].Code}, {"Name", whs[i].Name}}
	default:
		return d, nil, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such record page: " + page}
	}
	d.Layout = u.s.layoutFor(r, d.Title, "")
	els, err := u.svc.PageElements(r.Context(), page, ctx)
	if err != nil {
		return d, nil, err
	}
	d.Elements = els
	return d, ctx, nil
}

func (u *integrationUI) record(w http.ResponseWriter, r *http.Request) error {
	d, _, err := u.recordView(r)
	if err != nil {
		return err
	}
	return u.s.render(w, r, http.StatusOK, recordPage(d))
}

// action runs an integration's action for the record and shows its
// answer on the record page, as text.
func (u *integrationUI) action(w http.ResponseWriter, r *http.Request) error {
	if err := u.s.requireAdminUser(r); err != nil {
		return err
	}
	d, ctx, err := u.recordView(r)
	if err != nil {
		return err
	}
	idx, err := strconv.Atoi(r.PathValue("index"))
	if err != nil {
		return badRequest("index must be a whole number", nil)
	}
	ans, err := u.svc.RunAction(r.Context(), r.PathValue("slug"), d.Page, idx, ctx)
	if err != nil {
		return err
	}
	d.Answer, d.AnswerFrom = &ans, r.PathValue("slug")
	return u.s.render(w, r, http.StatusOK, recordPage(d))
}

// firingAlerts returns the alert rules firing now, for the dashboard
// (none when the integration platform is not wired).
func (s *Server) firingAlerts(ctx context.Context) ([]store.AlertRule, error) {
	if s.integrations == nil {
		return nil, nil
	}
	rules, err := s.integrations.DB().AlertRules(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(rules, func(r store.AlertRule) bool { return !r.Firing }), nil
}

// alertRule is an alert rule, as the dashboard shows it.
type alertRule = store.AlertRule

// origin is the scheme://host[:port] of a validated URL, or "".
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
