package app

import (
	"context"
	"net/http"
	"time"

	"sentryhub/clock"
	"sentryhub/integrations"
)

// wireIntegrations gives the web server the integration platform, over the
// dispatcher (which carries the integrations' webhooks on subscriptions
// they own), and runs the alert rule evaluator. It runs after
// wireDispatcher.
func wireIntegrations(ctx context.Context, h *hub) error {
	_ = ctx // construction does no I/O
	svc := integrations.NewService(h.db, h.vault, h.webhooks, len(h.cfg.AllowPrivateTargets) > 0,
		h.log.With("component", "integrations"))
	// UI actions leave through the SSRF guard, like webhooks, and do not
	// follow redirects (the signed request goes to the declared URL only).
	svc.SetActionClient(&http.Client{Transport: h.guard.Transport(nil), Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }})
	h.web.SetIntegrations(svc)
	alerts := integrations.NewAlerts(h.db, clock.Real{}, 0, h.log.With("component", "alerts"))
	h.workers = append(h.workers, alerts.Run)
	return nil
}
