package app

import (
	"context"

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
	h.web.SetIntegrations(svc)
	alerts := integrations.NewAlerts(h.db, clock.Real{}, 0, h.log.With("component", "alerts"))
	h.workers = append(h.workers, alerts.Run)
	return nil
}
