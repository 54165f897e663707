package connectors_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"sentryhub/clock"
	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/ssrf"
	"sentryhub/store"
	"sentryhub/store/storetest"
	"sentryhub/store/vault"
)

const secretValue = "sk_test_secret_0123456789"

// scripted is a connector whose behaviour a test sets per call.
type scripted struct {
	mu    sync.Mutex
	calls int
	since []time.Time
	// sync is called for each sync call (any sync type).
	sync func(ctx context.Context, env connectors.Env, n int) (connectors.SyncResult, error)
	// push is called for each fulfillment push.
	push   func(ctx context.Context, req connectors.FulfillmentRequest) (connectors.PushResult, error)
	pushes []connectors.FulfillmentRequest
	caps   []connectors.Capability
	schema connectors.Schema
	// started receives the call number as each sync call begins.
	started chan int
}

func newScripted() *scripted {
	return &scripted{
		caps:    []connectors.Capability{connectors.CapSyncOrders, connectors.CapSyncItems, connectors.CapPushFulfillment},
		schema:  connectors.Schema{Fields: []connectors.Field{{Name: "api_key", Type: connectors.TypeString, Secret: true, Required: true, Label: "Key"}}},
		started: make(chan int, 100),
	}
}

func (s *scripted) factory(env connectors.Env) connectors.Connector {
	return &scriptedConn{s: s, env: env}
}

type scriptedConn struct {
	s   *scripted
	env connectors.Env
}

func (c *scriptedConn) run(ctx context.Context, since time.Time) (connectors.SyncResult, error) {
	c.s.mu.Lock()
	c.s.calls++
	n := c.s.calls
	c.s.since = append(c.s.since, since)
	f := c.s.sync
	c.s.mu.Unlock()
	c.s.started <- n
	if f == nil {
		return connectors.SyncResult{}, nil
	}
	return f(ctx, c.env, n)
}

func (c *scriptedConn) SyncOrders(ctx context.Context, since time.Time) (connectors.SyncResult, error) {
	return c.run(ctx, since)
}
func (c *scriptedConn) SyncItems(ctx context.Context, since time.Time) (connectors.SyncResult, error) {
	return c.run(ctx, since)
}
func (c *scriptedConn) SyncInventory(context.Context, time.Time) (connectors.SyncResult, error) {
	return connectors.SyncResult{}, connectors.Unsupported("scripted", connectors.CapSyncInventory)
}
func (c *scriptedConn) PushFulfillment(ctx context.Context, req connectors.FulfillmentRequest) (connectors.PushResult, error) {
	c.s.mu.Lock()
	c.s.pushes = append(c.s.pushes, req)
	f := c.s.push
	c.s.mu.Unlock()
	if f == nil {
		return connectors.PushResult{Success: true, UpstreamRef: "ful-" + req.OrderNumber}, nil
	}
	return f(ctx, req)
}
func (c *scriptedConn) TestConnection(context.Context) (connectors.ConnectionResult, error) {
	return connectors.NewConnectionResult(true, "ok"), nil
}
func (c *scriptedConn) ConfigSchema() connectors.Schema       { return c.s.schema }
func (c *scriptedConn) Capabilities() []connectors.Capability { return c.s.caps }

func (s *scripted) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *scripted) sinces() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.since...)
}

// harness is a migrated SQLite store with a warehouse and two items, a fake
// clock shared by the store and the runner, a vault, and the scripted
// connector registered as "scripted" (and a connector that cannot push as
// "nopush").
type harness struct {
	t      *testing.T
	ctx    context.Context
	db     *store.DB
	clock  *clock.Fake
	vault  *vault.Vault
	reg    *connectors.Registry
	pool   *connectors.HTTPPool
	runner *connectors.Runner
	s      *scripted
	wh     int64
	done   <-chan connectors.Outcome
}

func newHarness(t *testing.T, cfg connectors.RunnerConfig) *harness {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, filepath.Join(t.TempDir(), store.FileName), store.WithAuditKey(store.DeriveAuditKey([]byte("test"))))
	fc := clock.NewFake(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	db.Now = fc.Now
	key, err := vault.ParseKey(vault.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, ctx: ctx, db: db, clock: fc, vault: vault.New(db, key), reg: connectors.NewRegistry(),
		s: newScripted()}
	if err := h.reg.Register("scripted", h.s.factory); err != nil {
		t.Fatal(err)
	}
	nopush := newScripted()
	nopush.caps = []connectors.Capability{connectors.CapSyncOrders}
	nopush.schema = connectors.Schema{}
	if err := h.reg.Register("nopush", nopush.factory); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	h.pool = connectortest.NewPool(t, connectors.HTTPConfig{AllowHTTP: true}, ssrf.New(ssrf.Config{AllowPrivate: connectortest.Loopback()}), fc, log)
	deps := connectors.RunnerDeps{Registry: h.reg, DB: db, Vault: h.vault, HTTP: h.pool, Clock: fc, Log: log}
	deps.Finished.InitSize(t, "a sync run's outcome", 100)
	h.done = deps.Finished.C()
	h.runner = connectortest.NewRunner(t, cfg, deps)
	w, err := db.CreateWarehouse(ctx, store.OpMeta{}, store.WarehouseInput{Code: "W1", Name: "Main"})
	if err != nil {
		t.Fatal(err)
	}
	h.wh = w.Value.ID
	for _, sku := range []string{"WIDGET-1", "GADGET-9"} {
		if _, err := db.UpsertItem(ctx, store.OpMeta{}, store.ItemInput{SKU: sku, Name: sku}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.vault.PutCredentials(ctx, "test", "scripted", h.wh, map[string]vault.Secret{"api_key": vault.NewSecret(secretValue)}); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) key(syncType string) store.SyncKey {
	return store.SyncKey{Connector: "scripted", WarehouseID: h.wh, SyncType: syncType}
}

func (h *harness) state(syncType string) store.SyncState {
	h.t.Helper()
	st, err := h.db.GetSyncState(h.ctx, h.key(syncType))
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// waitWaiters blocks until the fake clock has at least n pending waiters:
// the code under test is asleep, and the test may advance time.
func (h *harness) waitWaiters(n int) {
	for h.clock.Waiters() < n {
		<-h.clock.WaiterAdded()
	}
}

// execute runs key in the background and returns a channel with its outcome.
func (h *harness) execute(ctx context.Context, syncType string) <-chan connectors.Outcome {
	h.t.Helper()
	run, err := h.runner.Claim(h.ctx, h.key(syncType), connectors.RunOptions{Trigger: "test"})
	if err != nil {
		h.t.Fatal(err)
	}
	out := make(chan connectors.Outcome, 1)
	go func() { out <- run.Execute(ctx) }()
	return out
}

// shippedOrder creates an order from source, ships it, and returns it.
func (h *harness) shippedOrder(source, number string) store.SalesOrder {
	h.t.Helper()
	if _, err := h.db.ApplyAdjustment(h.ctx, store.OpMeta{}, store.AdjustmentInput{WarehouseID: h.wh, SKU: "WIDGET-1", Delta: 1, Reason: "test"}); err != nil {
		h.t.Fatal(err)
	}
	r, err := h.db.CreateSalesOrder(h.ctx, store.OpMeta{}, store.SalesOrderInput{OrderNumber: number, WarehouseID: h.wh,
		ShipTo: json.RawMessage(`{"name":"Ada"}`), Lines: []store.OrderLine{{SKU: "WIDGET-1", Qty: 1}},
		Source: &store.SourceRef{Name: source, ID: "src-" + number}})
	if err != nil {
		h.t.Fatal(err)
	}
	id := r.Value.ID
	if _, err := h.db.PickSalesOrder(h.ctx, store.OpMeta{}, id); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.db.PackSalesOrder(h.ctx, store.OpMeta{}, id); err != nil {
		h.t.Fatal(err)
	}
	res, err := h.db.ShipSalesOrder(h.ctx, store.OpMeta{RequestID: uuid.NewString()}, id, store.ShipInput{Carrier: "UPS", Tracking: "1Z-" + number})
	if err != nil {
		h.t.Fatal(err)
	}
	return res.Value
}
