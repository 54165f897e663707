package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"sentryhub/clock"
	"sentryhub/dispatcher"
	"sentryhub/ssrf"
	"sentryhub/store"
	"sentryhub/store/vault"
	"sentryhub/web"
)

func runServe(ctx context.Context, m Main, args []string) error {
	fs := m.flagSet("serve", "serve [flags]\n\nRuns the hub. SENTRY_ENCRYPTION_KEY is required.")
	cfg, err := loadConfig(fs, args, m.Getenv, loadOptions{requireKey: true})
	if err != nil {
		return err
	}
	log := m.newLogger(cfg.LogLevel)
	// The lock comes first: a second serve on the directory stops before it
	// migrates or writes anything.
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer lock.release()
	db, err := m.openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	return m.serve(ctx, cfg, db, log, nil)
}

// hub is everything serve wires together; demo adds to it before start.
type hub struct {
	cfg   Config
	db    *store.DB
	vault *vault.Vault
	log   *slog.Logger
	web   *web.Server
	// webhooks is the dispatcher, for the demo to manage its sink's
	// subscription through the same audited operations as the admin API.
	webhooks *dispatcher.Dispatcher
	// guard is the one SSRF guard every outbound request (webhooks,
	// connectors) dials through.
	guard *ssrf.Guard
	// connectors configures the first-party connectors (tests aim them at
	// fake upstreams; zero is production).
	connectors connectorOptions
	// retries is Main.retries (zero: the contract's schedule).
	retries retrySchedule
	// extra background workers (the demo sink, later the dispatcher and
	// scheduler), each run under the same errgroup as the HTTP server.
	workers []func(ctx context.Context) error
}

// serve wires the hub over an open, migrated db and runs it until ctx ends.
// prepare, when set, runs after wiring and before listening.
func (m Main) serve(ctx context.Context, cfg Config, db *store.DB, log *slog.Logger, prepare func(context.Context, *hub) error) error {
	key, err := cfg.Key()
	if err != nil {
		return err
	}
	if len(cfg.AllowPrivateTargets) > 0 {
		var s []string
		for _, p := range cfg.AllowPrivateTargets {
			s = append(s, p.String())
		}
		log.Warn("SSRF guard exempts private ranges; use only for local development and tests",
			slog.String("allow_private_targets", strings.Join(s, ",")))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	h := &hub{cfg: cfg, db: db, vault: vault.New(db, key), log: log, connectors: m.connectors, retries: m.retries,
		guard: ssrf.New(ssrf.Config{AllowPrivate: cfg.AllowPrivateTargets})}
	h.web, err = web.New(web.Config{
		SessionSecret: []byte(key.Encode()),
		SecureCookies: cfg.SecureCookies(),
		Version:       Version,
	}, db, log, clock.Real{}, reg)
	if err != nil {
		return err
	}
	if err := wireDispatcher(ctx, h, reg); err != nil {
		return err
	}
	if err := wireIntegrations(ctx, h); err != nil {
		return err
	}
	if err := wireConnectors(ctx, h, reg); err != nil {
		return err
	}
	h.workers = append(h.workers, janitor(db, clock.Real{}, log))
	if prepare != nil {
		if err := prepare(ctx, h); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (SENTRY_ADDR): %w", cfg.Addr, err)
	}
	ln = web.LimitListener(ln, web.ConnLimits{Total: cfg.MaxConns, PerAddr: cfg.MaxConnsPerAddr}, log, clock.Real{})
	base := cfg.BaseURL
	if strings.HasSuffix(cfg.Addr, ":0") {
		base = "http://" + ln.Addr().String()
	}
	log.Info("sentryhub listening", slog.String("addr", ln.Addr().String()), slog.String("url", base), slog.String("version", Version))
	if m.Ready != nil {
		m.Ready(base)
	}

	g, gctx := errgroup.WithContext(ctx)
	srv := web.NewHTTPServer(cfg.Addr, h.web.Handler(), log)
	g.Go(func() error { return web.Serve(gctx, srv, ln, 20*time.Second) })
	for _, w := range h.workers {
		g.Go(func() error { return w(gctx) })
	}
	err = g.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("sentryhub stopped")
	return nil
}
