package app

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"sentryhub/clock"
	"sentryhub/dispatcher"
)

// wireDispatcher builds the webhook dispatcher over h's database and vault,
// with the SSRF guard configured from SENTRY_ALLOW_PRIVATE_TARGETS: it
// wakes on the store's commits that append events (DB.Changed), the web
// server gets the webhook admin API, and its Run joins h's workers.
func wireDispatcher(ctx context.Context, h *hub, reg *prometheus.Registry) error {
	_ = ctx // construction does no I/O; Run opens what it needs
	d, err := dispatcher.New(dispatcher.Config{
		DB:       h.db,
		Vault:    h.vault,
		Guard:    h.guard,
		Log:      h.log.With("component", "dispatcher"),
		Clock:    clock.Real{},
		Registry: reg,
		// http:// targets only make sense where private targets are
		// allowed: local development and tests.
		AllowHTTP:       len(h.cfg.AllowPrivateTargets) > 0,
		VisibilityFloor: h.cfg.DispatcherVisibilityFloor,
		ConnectTimeout:  h.cfg.DispatcherConnectTimeout,
		ReadTimeout:     h.cfg.DispatcherReadTimeout,
		HTTPTimeout:     h.cfg.DispatcherHTTPTimeout,
		SweepInterval:   h.cfg.DispatcherSweepInterval,
		Version:         Version,
		RetryDelay:      h.retries.delay,
		DeadLetterDelay: h.retries.deadLetter,
	})
	if err != nil {
		return fmt.Errorf("webhook dispatcher: %w", err)
	}
	h.webhooks = d
	h.web.SetWebhooks(d)
	h.workers = append(h.workers, d.Run)
	return nil
}
