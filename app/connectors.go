package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"sentryhub/clock"
	"sentryhub/connectors"
	"sentryhub/connectors/manifest"
	"sentryhub/connectors/manifests"
	"sentryhub/connectors/shopify"
)

// connectorOptions lets tests point first-party connectors at fakes; the
// zero value is production.
type connectorOptions struct {
	shopify  shopify.Options
	manifest manifest.Options
	// manifestDir is SENTRY_CONNECTOR_MANIFEST_DIR: operator manifests
	// loaded after the built-in catalogue.
	manifestDir string
	// runner tunes the sync runner (tests shorten the retry delay).
	runner connectors.RunnerConfig
}

// registerConnectors registers every first-party connector, explicitly and
// by name: the registry is a value built here, not package state filled by
// init functions. A refused registration is returned with the connector's
// name so serve exits non-zero with a clear message. The example connector
// is a template for developers and is not registered.
func registerConnectors(r *connectors.Registry, o connectorOptions) error {
	if o.manifest.Hooks.Bodies == nil {
		o.manifest.Hooks.Bodies = manifests.BodyHooks()
	}
	for _, c := range []struct {
		name     string
		register func(*connectors.Registry) error
	}{
		{shopify.Name, func(r *connectors.Registry) error { return shopify.Register(r, o.shopify) }},
		{"manifest catalogue", func(r *connectors.Registry) error {
			return manifest.RegisterAll(r, manifests.Catalog, manifests.Root, o.manifest)
		}},
		{"manifests in " + o.manifestDir, func(r *connectors.Registry) error {
			if o.manifestDir == "" {
				return nil
			}
			return manifest.RegisterAll(r, os.DirFS(o.manifestDir), ".", o.manifest)
		}},
	} {
		if err := c.register(r); err != nil {
			return fmt.Errorf("register connector %s: %w", c.name, err)
		}
	}
	return nil
}

// wireConnectors builds the connector framework over h's database and
// vault: the registry, the HTTP pool (dialing through the SSRF guard
// configured from SENTRY_ALLOW_PRIVATE_TARGETS), the sync runner, the
// scheduler and the fulfillment worker. It registers the connector admin
// API on the web server and adds three workers to h: the service (owner of
// admin-triggered runs), the scheduler and the fulfillment loop.
func wireConnectors(ctx context.Context, h *hub, reg *prometheus.Registry) error {
	_ = ctx // construction does no I/O; the workers open what they need
	registry := connectors.NewRegistry()
	opts := h.connectors
	opts.manifestDir = h.cfg.ManifestDir
	if err := registerConnectors(registry, opts); err != nil {
		return err
	}
	metrics, err := connectors.NewMetrics(reg)
	if err != nil {
		return err
	}
	log := h.log.With(slog.String("component", "connectors"))
	clk := clock.Real{}
	pool, err := connectors.NewHTTPPool(connectors.HTTPConfig{UserAgent: "sentryhub/" + Version,
		AllowHTTP: len(h.cfg.AllowPrivateTargets) > 0}, h.guard, clk, log, metrics)
	if err != nil {
		return err
	}
	runner, err := connectors.NewRunner(opts.runner, connectors.RunnerDeps{
		Registry: registry, DB: h.db, Vault: h.vault, HTTP: pool, Clock: clk, Log: log, Metrics: metrics})
	if err != nil {
		return err
	}
	scheduler := connectors.NewScheduler(connectors.SchedulerConfig{}, h.db, runner, clk, log)
	fulfillment := connectors.NewFulfillmentWorker(runner, 0)
	svc := connectors.NewService(connectors.ServiceConfig{Registry: registry, DB: h.db, Vault: h.vault, HTTP: pool,
		Runner: runner, Scheduler: scheduler, Clock: clk, Log: log})
	h.web.SetConnectors(svc)
	receiver := manifest.NewReceiver(runner, h.db, clk, log)
	h.web.SetConnectorWebhooks(receiver)
	h.web.SetConnectorManifests(manifest.NewService(registry, runner, manifest.NewOAuthFlow(runner, h.db, h.vault, clk)), h.cfg.BaseURL)
	health := connectors.NewFulfillmentHealthCheck(h.db, clk, log, 0)
	h.workers = append(h.workers, svc.Serve, scheduler.Run, fulfillment.Run, receiver.Run, health.Run)
	log.Info("connectors registered", slog.Any("connectors", registry.Names()))
	return nil
}
