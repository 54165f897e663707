package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fernet/fernet-go"
	"golang.org/x/sync/errgroup"

	"sentryhub/dispatcher"
	"sentryhub/dispatcher/sink"
	"sentryhub/store"
	"sentryhub/store/vault"
	"sentryhub/web"
)

const (
	// demoEmail is the demo's admin account.
	demoEmail = "admin@demo.local"
	// demoActor names the demo in audit entries.
	demoActor = "demo"
	// demoSinkName is the webhook subscription that feeds the demo's sink;
	// the demo finds it by this name on later starts.
	demoSinkName = "Demo sink"
)

func runDemo(ctx context.Context, m Main, args []string) error {
	fs := m.flagSet("demo", "demo [flags]\n\nStarts the hub for a first look: SQLite under --data-dir, an encryption key in a\n0600 file there (created once, never printed), an admin user with a fresh one-time\npassword, demo data, and a local webhook sink that verifies the hub's signed\ndeliveries. Not for production: use serve.")
	getenv := func(k string) string {
		if k == "SENTRY_ENCRYPTION_KEY" {
			return "" // demo always uses its own key file
		}
		return m.Getenv(k)
	}
	sinkFlag := m.Getenv("SENTRY_DEMO_SINK_ADDR")
	if sinkFlag == "" {
		sinkFlag = "127.0.0.1:0"
	}
	fs.StringVar(&sinkFlag, "sink-addr", sinkFlag, "listen address of the demo's webhook sink: a loopback IP and port; port 0 reuses the last run's port when free, else picks one (SENTRY_DEMO_SINK_ADDR)")
	cfg, err := loadConfig(fs, args, getenv, loadOptions{})
	sinkAddr, sinkProblem := parseSinkAddr(sinkFlag)
	if err != nil {
		var ce *ConfigError
		if sinkProblem != "" && errors.As(err, &ce) {
			ce.Problems = append(ce.Problems, sinkProblem)
		}
		return err
	}
	if sinkProblem != "" {
		return &ConfigError{Problems: []string{sinkProblem}}
	}
	// The dispatcher may deliver to the sink's address, and to no other
	// private one the operator did not list. serve logs the usual warning.
	if !slices.ContainsFunc(cfg.AllowPrivateTargets, func(p netip.Prefix) bool { return p.Contains(sinkAddr.Addr()) }) {
		cfg.AllowPrivateTargets = append(cfg.AllowPrivateTargets, netip.PrefixFrom(sinkAddr.Addr(), sinkAddr.Addr().BitLen()))
	}
	stopWithParent()
	// Locked before the key file, the admin password or anything else is
	// touched: a second demo on the same directory leaves the first alone.
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer lock.release()
	key, err := demoKey(filepath.Join(cfg.DataDir, "demo-encryption.key"))
	if err != nil {
		return err
	}
	cfg.EncryptionKey = key
	log := m.newLogger(cfg.LogLevel)
	db, err := m.openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()

	password, err := demoAdmin(ctx, db)
	if err != nil {
		return err
	}
	prev, _, err := demoSubscription(ctx, db) // zero before the first run
	if err != nil {
		return err
	}
	ln, err := listenSink(sinkAddr, prev, cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close() // when serve fails before the sink runs; harmless after
	sinkURL := "http://" + ln.Addr().String() + "/"

	// serve calls Ready once the hub listens, before its workers start; the
	// banner waits until the sink's subscription exists and the demo data
	// is in, so whoever sees it (a person, or a test through Ready) finds
	// both.
	ready := m.Ready
	hubURL := make(chan string, 1)
	m.Ready = func(base string) { hubURL <- base }
	banner := func(base string) {
		fmt.Fprintf(m.Stdout, "\nSentry Hub demo is running.\n\n"+
			"  Admin UI:     %s/\n"+
			"  Email:        %s\n"+
			"  Password:     %s   (one-time: a new one is printed at every demo start)\n"+
			"  Webhook sink: %s (deliveries signed by the hub, verified here)\n\n"+
			"Data lives in %s. Press Ctrl+C to stop.\n\n",
			base, demoEmail, password, sinkURL, cfg.DataDir)
		if ready != nil {
			ready(base)
		}
	}
	return m.serve(ctx, cfg, db, log, func(ctx context.Context, h *hub) error {
		ds, err := newDemoSink(h, ln, prev, log.With(slog.String("component", "demo_sink")))
		if err != nil {
			return err
		}
		h.workers = append(h.workers, func(ctx context.Context) error {
			return ds.run(ctx, func(ctx context.Context) error {
				if err := ds.ensureSubscription(ctx, h.webhooks); err != nil {
					return err
				}
				// After the subscription: it starts at the end of the event
				// log, so it receives the seeded events.
				if err := seedDemo(ctx, h); err != nil {
					return err
				}
				select {
				case base := <-hubURL:
					banner(base)
				case <-ctx.Done():
					return ctx.Err()
				}
				return nil
			})
		})
		return nil
	})
}

// parseSinkAddr validates the sink's listen address: a loopback IP literal
// and a port, because the demo exempts exactly that IP from the SSRF guard.
// It returns the problem, naming the variable, when there is one.
func parseSinkAddr(s string) (netip.AddrPort, string) {
	ap, err := netip.ParseAddrPort(strings.TrimSpace(s))
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		return netip.AddrPort{}, fmt.Sprintf("SENTRY_DEMO_SINK_ADDR: must be a loopback IP and port such as 127.0.0.1:0, got %q", s)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ""
}

// demoSubscription returns the subscription feeding the demo sink, and
// false before the first demo start on this data directory.
func demoSubscription(ctx context.Context, db *store.DB) (store.Subscription, bool, error) {
	subs, err := db.Subscriptions(ctx)
	if err != nil {
		return store.Subscription{}, false, err
	}
	for _, s := range subs {
		if s.Name == demoSinkName {
			return s, true, nil
		}
	}
	return store.Subscription{}, false, nil
}

// listenSink opens the sink's listener on addr. With port 0 it first tries
// the port the demo's subscription already points at (unless the hub wants
// it), so a restart keeps the URL and deliveries left queued by the last
// run go straight to the new sink.
func listenSink(addr netip.AddrPort, prev store.Subscription, hubAddr string) (net.Listener, error) {
	if addr.Port() == 0 && prev.URL != "" {
		if u, err := url.Parse(prev.URL); err == nil {
			_, hubPort, _ := net.SplitHostPort(hubAddr)
			p, err := netip.ParseAddrPort(u.Host)
			if err == nil && p.Addr() == addr.Addr() && p.Port() != 0 && strconv.Itoa(int(p.Port())) != hubPort {
				if ln, err := net.Listen("tcp", p.String()); err == nil {
					return ln, nil
				}
			}
		}
	}
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		return nil, fmt.Errorf("listen on %s (SENTRY_DEMO_SINK_ADDR): %w", addr, err)
	}
	return ln, nil
}

// demoSink is the demo's webhook consumer (a sink.Sink on its own loopback
// listener) and the subscription that feeds it.
type demoSink struct {
	ln    net.Listener
	url   string // the subscription's URL: the sink's webhook path
	sink  *sink.Sink
	vault *vault.Vault
	log   *slog.Logger
	subID atomic.Int64 // 0 until the subscription is known
}

// newDemoSink builds the sink over h's vault. prev is the subscription
// found at start (zero on the first run).
func newDemoSink(h *hub, ln net.Listener, prev store.Subscription, log *slog.Logger) (*demoSink, error) {
	ds := &demoSink{ln: ln, url: "http://" + ln.Addr().String() + sink.WebhookPath, vault: h.vault, log: log}
	// Known before the dispatcher starts, which may at once resend
	// deliveries the last run left open.
	ds.subID.Store(prev.ID)
	s, err := sink.New(sink.Config{Secrets: ds, Log: log})
	if err != nil {
		return nil, err
	}
	ds.sink = s
	return ds, nil
}

// Secret is the sink's secret store: the subscription's generations as the
// vault holds them now. The sink does not keep a copy of the secret shown
// at creation; reading per delivery (an indexed row and a Fernet decrypt)
// means a restart needs no rotation, and a rotation made in the admin UI
// is verified at once (generation 1 new, generation 2 the old one for
// 24 hours), as a consumer that updated its secret store would. This is
// the dispatcher's own plaintext path (vault.WebhookSecrets): the secret
// stays in the process, in a vault.Secret, and is never printed.
func (ds *demoSink) Secret(ctx context.Context, generation int) (vault.Secret, bool, error) {
	id := ds.subID.Load()
	if id == 0 {
		return vault.Secret{}, false, nil
	}
	gen1, gen2, err := ds.vault.WebhookSecrets(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return vault.Secret{}, false, nil // deleted in the admin UI
	case err != nil:
		return vault.Secret{}, false, err
	case generation == 1:
		return gen1, true, nil
	case generation == 2 && gen2 != nil:
		return *gen2, true, nil
	}
	return vault.Secret{}, false, nil
}

// run serves the sink until ctx ends, then shuts it down gracefully, and
// meanwhile runs setup (which needs the dispatcher running). A setup error
// stops the sink and, through the hub's errgroup, the hub.
func (ds *demoSink) run(ctx context.Context, setup func(context.Context) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		srv := web.NewHTTPServer(ds.ln.Addr().String(), ds.sink, ds.log)
		ds.log.Info("demo webhook sink listening", slog.String("url", "http://"+ds.ln.Addr().String()+"/"))
		err := web.Serve(gctx, srv, ds.ln, 5*time.Second)
		ds.log.Info("demo webhook sink stopped")
		return err
	})
	g.Go(func() error {
		err := setup(gctx)
		if err != nil && gctx.Err() != nil {
			// Stopped during setup (the dispatcher then answers
			// ErrStopped): a clean stop, not a failure.
			return gctx.Err()
		}
		return err
	})
	return g.Wait()
}

// ensureSubscription makes sure the Demo sink subscription exists and
// points at this run's sink, through the dispatcher's admin operations
// (validated, SSRF-checked and audited as actor "demo"): created on the
// first start, its URL updated when the port changed, left alone
// otherwise. A paused subscription stays paused: resuming is the admin's
// decision.
func (ds *demoSink) ensureSubscription(ctx context.Context, d *dispatcher.Dispatcher) error {
	subs, err := d.Subscriptions(ctx)
	if err != nil {
		return err
	}
	for _, s := range subs {
		if s.Name != demoSinkName {
			continue
		}
		ds.subID.Store(s.ID)
		if s.URL != ds.url {
			if _, _, err := d.UpdateSubscription(ctx, demoActor, s.ID, store.SubscriptionPatch{URL: &ds.url}); err != nil {
				return fmt.Errorf("point the demo sink subscription at %s: %w", ds.url, err)
			}
			ds.log.Info("demo sink subscription moved to the new sink port", slog.Int64("subscription_id", s.ID), slog.String("url", ds.url))
		}
		if s.Status == store.SubscriptionPaused {
			ds.log.Warn("the demo sink subscription is paused; resume it on the Webhooks page to see deliveries",
				slog.Int64("subscription_id", s.ID), slog.String("pause_reason", string(s.PauseReason)))
		}
		return nil
	}
	// The secret comes back once here; the sink reads it from the vault
	// instead (see Secret), so this copy is dropped.
	s, _, err := d.CreateSubscription(ctx, demoActor, store.SubscriptionCreate{Name: demoSinkName, URL: ds.url})
	if err != nil {
		return fmt.Errorf("create the demo sink subscription: %w", err)
	}
	ds.subID.Store(s.ID)
	ds.log.Info("demo sink subscription created", slog.Int64("subscription_id", s.ID), slog.String("url", ds.url))
	return nil
}

// demoKey reads the demo's key file, creating it (0600) on first use.
func demoKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if _, err := parseKey(string(b)); err != nil {
			return "", fmt.Errorf("demo key file %s: %v", path, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read demo key: %w", err)
	}
	var k fernet.Key
	if err := k.Generate(); err != nil {
		return "", fmt.Errorf("generate demo key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("create demo key file: %w", err)
	}
	if _, err := f.WriteString(k.Encode() + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("write demo key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write demo key file: %w", err)
	}
	return k.Encode(), nil
}

// demoAdmin makes sure the demo admin exists and gives it a fresh random
// password, returned for printing once. A reset also revokes the admin's
// sessions (SetPassword does, in its transaction): a browser logged in
// with the previous run's password is logged out.
func demoAdmin(ctx context.Context, db *store.DB) (string, error) {
	pw := rand.Text()[:20]
	u, err := db.UserByEmail(ctx, demoEmail)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if _, err := db.CreateUser(ctx, demoActor, demoEmail, store.RoleAdmin, pw); err != nil {
			return "", fmt.Errorf("create demo admin: %w", err)
		}
	case err != nil:
		return "", err
	default:
		if err := db.SetPassword(ctx, demoActor, u.ID, pw); err != nil {
			return "", fmt.Errorf("reset demo admin password: %w", err)
		}
	}
	return pw, nil
}

// seedDemo adds a warehouse, items, stock and orders in various states the
// first time the demo runs on a data directory.
func seedDemo(ctx context.Context, h *hub) error {
	db := h.db
	whs, err := db.ListWarehouses(ctx)
	if err != nil || len(whs) > 0 {
		return err
	}
	meta := store.OpMeta{Actor: demoActor}
	wh, err := db.CreateWarehouse(ctx, meta, store.WarehouseInput{Code: "MAIN", Name: "Main warehouse"})
	if err != nil {
		return fmt.Errorf("seed demo warehouse: %w", err)
	}
	whID := wh.Value.ID
	items := []struct {
		sku, name, barcode string
		stock              int64
	}{
		{"WIDGET-1", "Blue widget", "4006381333931", 120},
		{"GADGET-9", "Gadget, large", "4006381333948", 40},
		{"BOX-S", "Shipping box, small", "", 500},
		{"TAPE-50", "Packing tape 50 m", "", 60},
	}
	for _, it := range items {
		if _, err := db.UpsertItem(ctx, meta, store.ItemInput{SKU: it.sku, Name: it.name, Barcode: it.barcode}); err != nil {
			return fmt.Errorf("seed demo item: %w", err)
		}
		if _, err := db.ApplyAdjustment(ctx, meta, store.AdjustmentInput{WarehouseID: whID, SKU: it.sku, Delta: it.stock, Reason: "opening stock"}); err != nil {
			return fmt.Errorf("seed demo stock: %w", err)
		}
	}
	shipTo := []byte(`{"name":"Ada Lovelace","street":"12 Analytical Way","city":"London","postal_code":"N1 9GU","country":"GB"}`)
	for i, stage := range []string{"shipped", "packed", "picked", "open", "open"} {
		so, err := db.CreateSalesOrder(ctx, meta, store.SalesOrderInput{
			OrderNumber: fmt.Sprintf("SO-%d", 1001+i), WarehouseID: whID, ShipTo: shipTo,
			Lines: []store.OrderLine{{SKU: "WIDGET-1", Qty: int64(1 + i)}, {SKU: "BOX-S", Qty: 1}},
		})
		if err != nil {
			return fmt.Errorf("seed demo order: %w", err)
		}
		id := so.Value.ID
		steps := map[string]int{"open": 0, "picked": 1, "packed": 2, "shipped": 3}[stage]
		if steps >= 1 {
			if _, err := db.PickSalesOrder(ctx, meta, id); err != nil {
				return fmt.Errorf("seed demo pick: %w", err)
			}
		}
		if steps >= 2 {
			if _, err := db.PackSalesOrder(ctx, meta, id); err != nil {
				return fmt.Errorf("seed demo pack: %w", err)
			}
		}
		if steps >= 3 {
			if _, err := db.ShipSalesOrder(ctx, meta, id, store.ShipInput{Carrier: "UPS", Tracking: "1Z999AA10123456784"}); err != nil {
				return fmt.Errorf("seed demo ship: %w", err)
			}
		}
	}
	if _, err := db.CreatePurchaseOrder(ctx, meta, store.PurchaseOrderInput{PONumber: "PO-2001", WarehouseID: whID, Supplier: "ACME Supplies",
		Lines: []store.OrderLine{{SKU: "GADGET-9", Qty: 24}, {SKU: "TAPE-50", Qty: 12}}}); err != nil {
		return fmt.Errorf("seed demo purchase order: %w", err)
	}
	h.log.Info("demo data seeded", slog.Int64("warehouse_id", whID))
	return nil
}
