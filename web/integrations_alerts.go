package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"sentryhub/integrations"
	"sentryhub/store"
)

// The alert rules page: conditions over the hub's state that notify an
// integration when they start and stop to hold.

func (u *integrationUI) alertRoutes() {
	m := u.s.mux
	m.Handle("GET /settings/alerts", u.s.page(u.alerts))
	m.Handle("POST /settings/alerts", u.s.page(u.s.adminOnly(u.createAlert)))
	m.Handle("POST /settings/alerts/{id}/delete", u.s.page(u.s.adminOnly(u.deleteAlert)))
}

// alertRuleForm names the new-rule form when it comes back refused.
const alertRuleForm = "alert-rule"

func deleteAlertQuestion(name string) string {
	return fmt.Sprintf("Delete alert rule “%s”? It stops notifying at once; if it is firing, no alert.resolved follows.", name)
}

func (u *integrationUI) alerts(w http.ResponseWriter, r *http.Request) error {
	rules, err := u.svc.DB().AlertRules(r.Context())
	if err != nil {
		return err
	}
	its, err := u.svc.DB().Integrations(r.Context())
	if err != nil {
		return err
	}
	d := alertRulesData{Layout: u.s.layoutFor(r, "Alert rules", "/settings/developer"), Integrations: its, CanWrite: canWrite(r)}
	for _, rule := range rules {
		d.Rules = append(d.Rules, alertRow{AlertRule: rule, Since: u.s.atTextPtr(rule.FiredAt)})
	}
	fs, nonce := u.s.takeFlashes(w, r)
	d.Form = u.s.claimRefused(r, nonce, &fs)
	d.Flashes = fs
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
	if err != nil {
		return u.s.refuseForm(w, r, "/settings/alerts#alert-form", refusedForm{Form: alertRuleForm, Values: f}, "Rule not created", err)
	}
	return u.s.seeOther(w, r, "/settings/alerts", flash{Kind: "ok", Text: fmt.Sprintf(
		"Rule “%s” created: it is checked now, every 30 seconds and after every change.", in.Name)})
}

func (u *integrationUI) deleteAlert(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	rules, err := u.svc.DB().AlertRules(r.Context())
	if err != nil {
		return err
	}
	i := slices.IndexFunc(rules, func(a store.AlertRule) bool { return a.ID == id })
	if i < 0 {
		return fmt.Errorf("alert rule %d: %w", id, store.ErrNotFound)
	}
	if ok, err := u.s.confirmed(w, r, deleteAlertQuestion(rules[i].Name), "/settings/alerts"); !ok {
		return err
	}
	if err := u.svc.DB().DeleteAlertRule(r.Context(), principal(r.Context()).Actor(), id); err != nil {
		return u.s.seeOtherFailure(w, r, "/settings/alerts", "Rule not deleted", err)
	}
	return u.s.seeOther(w, r, "/settings/alerts", flash{Kind: "ok", Text: fmt.Sprintf("Rule “%s” deleted.", rules[i].Name)})
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
