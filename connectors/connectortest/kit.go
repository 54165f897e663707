package connectortest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"sentryhub/clock"
	"sentryhub/connectors"
	"sentryhub/ssrf"
	"sentryhub/store"
	"sentryhub/store/vault"
)

// Start returns the kit clock's initial time.
func Start() time.Time { return time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) }

// AutoClock is a clock that never blocks: After(d) moves time forward by d
// and fires at once. Retries, backoff and throttle waits take no real time,
// and Sleeps tells what was waited. Use it for code that waits in one
// goroutine (a connector call); for concurrent loops use clock.Fake.
type AutoClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

// NewAutoClock returns an AutoClock at start.
func NewAutoClock(start time.Time) *AutoClock { return &AutoClock{now: start} }

// Now returns the current fake time.
func (c *AutoClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After advances the clock by d and returns a channel that has fired.
func (c *AutoClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
		c.sleeps = append(c.sleeps, d)
	}
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// Sleeps returns every positive wait so far, in order.
func (c *AutoClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

// Loopback is the SSRF allow-list that lets connectors reach httptest
// servers (127.0.0.1 and ::1) and nothing else private.
func Loopback() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// Kit is one test's connector runtime.
type Kit struct {
	T     testing.TB
	Clock *AutoClock
	Sink  *RecordingSink
	Vault *FakeVault
	Pool  *connectors.HTTPPool
	Log   *slog.Logger
	logs  *syncBuffer
}

// New returns a kit whose HTTP helper may reach loopback addresses only,
// retries with deterministic jitter on an AutoClock, and logs to a buffer
// (Logs).
func New(t testing.TB) *Kit {
	return NewWithConfig(t, connectors.HTTPConfig{})
}

// NewWithConfig is New with an HTTP configuration (zero fields default;
// Rand defaults to 0.5 for reproducible backoff). Plain http is always
// allowed: the kit's fake upstreams are httptest servers on loopback.
func NewWithConfig(t testing.TB, cfg connectors.HTTPConfig) *Kit {
	if cfg.Rand == nil {
		cfg.Rand = func() float64 { return 0.5 }
	}
	cfg.AllowHTTP = true
	buf := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clk := NewAutoClock(Start())
	pool := NewPool(t, cfg, ssrf.New(ssrf.Config{AllowPrivate: Loopback()}), clk, log)
	return &Kit{
		T:     t,
		Clock: clk,
		Sink:  NewRecordingSink(),
		Vault: NewFakeVault(),
		Pool:  pool,
		Log:   log,
		logs:  buf,
	}
}

// Logs returns everything logged so far.
func (k *Kit) Logs() string { return k.logs.String() }

// Env returns an Env for connector in warehouse 1 with settings and secrets,
// whose secrets are registered for scrubbing and whose saved credentials go
// to the kit's vault.
func (k *Kit) Env(connector string, settings, secrets map[string]string) connectors.Env {
	client := k.Pool.Client(connector, 1)
	env := connectors.Env{Connector: connector, WarehouseID: 1, Settings: connectors.Values{},
		Secrets: map[string]vault.Secret{}, HTTP: client, Sink: k.Sink, Clock: k.Clock,
		Log: k.Log.With(slog.String("connector", connector))}
	maps.Copy(env.Settings, settings)
	for name, v := range secrets {
		env.Secrets[name] = vault.NewSecret(v)
		client.AddSecret(v)
	}
	env.Credentials = saver{k.Vault, connector, client}
	return env
}

// Connector builds the connector registered as name with settings (schema
// defaults filled in) and secrets.
func (k *Kit) Connector(reg *connectors.Registry, name string, settings, secrets map[string]string) connectors.Connector {
	k.T.Helper()
	info, factory, ok := reg.Lookup(name)
	if !ok {
		k.T.Fatalf("connector %q is not registered", name)
	}
	all := map[string]string{}
	for _, f := range info.Schema.Fields {
		if f.Default != "" {
			all[f.Name] = f.Default
		}
	}
	maps.Copy(all, settings)
	return factory(k.Env(name, all, secrets))
}

type saver struct {
	v         *FakeVault
	connector string
	client    *connectors.Client
}

func (s saver) SaveCredentials(ctx context.Context, values map[string]vault.Secret) error {
	for _, v := range values {
		s.client.AddSecret(string(v.Reveal()))
	}
	return s.v.PutCredentials(ctx, "connector:"+s.connector, s.connector, 1, values)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// RecordingSink is an in-memory Sink that keeps the latest version of each
// record and counts the writes that changed something, so a test can check
// that re-syncing a window is idempotent.
type RecordingSink struct {
	mu        sync.Mutex
	items     map[string]connectors.Item
	orders    map[string]connectors.Order
	inventory map[string]connectors.InventoryLevel
	writes    int
	changes   int
	// Reject, when set, is asked about every record before it is stored;
	// a non-nil error (usually a *connectors.RecordError) refuses it.
	Reject func(kind string, record any) error
}

// NewRecordingSink returns an empty sink.
func NewRecordingSink() *RecordingSink {
	return &RecordingSink{items: map[string]connectors.Item{}, orders: map[string]connectors.Order{},
		inventory: map[string]connectors.InventoryLevel{}}
}

// RefuseSKU returns a Reject hook refusing items, order lines and levels
// with one of skus, like the store refusing an unknown sku.
func RefuseSKU(skus ...string) func(string, any) error {
	return func(kind string, rec any) error {
		var bad string
		switch r := rec.(type) {
		case connectors.Item:
			if slices.Contains(skus, r.SKU) {
				bad = r.SKU
			}
		case connectors.InventoryLevel:
			if slices.Contains(skus, r.SKU) {
				bad = r.SKU
			}
		case connectors.Order:
			for _, l := range r.Lines {
				if slices.Contains(skus, l.SKU) {
					bad = l.SKU
				}
			}
		}
		if bad == "" {
			return nil
		}
		return &connectors.RecordError{Message: fmt.Sprintf("unknown sku %q", bad), Fields: map[string]string{"sku": "unknown"}}
	}
}

func (s *RecordingSink) reject(kind string, rec any) error {
	if s.Reject == nil {
		return nil
	}
	return s.Reject(kind, rec)
}

// UpsertItem records it by SourceID.
func (s *RecordingSink) UpsertItem(_ context.Context, it connectors.Item) error {
	if err := s.reject("item", it); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if old, ok := s.items[it.SourceID]; !ok || !reflect.DeepEqual(old, it) {
		s.changes++
	}
	s.items[it.SourceID] = it
	return nil
}

// UpsertOrder records o by SourceID.
func (s *RecordingSink) UpsertOrder(_ context.Context, o connectors.Order) error {
	if err := s.reject("order", o); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if old, ok := s.orders[o.SourceID]; !ok || !reflect.DeepEqual(old, o) {
		s.changes++
	}
	s.orders[o.SourceID] = o
	return nil
}

// SetInventory records l by SKU.
func (s *RecordingSink) SetInventory(_ context.Context, l connectors.InventoryLevel) error {
	if err := s.reject("inventory", l); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if old, ok := s.inventory[l.SKU]; !ok || !reflect.DeepEqual(old, l) {
		s.changes++
	}
	s.inventory[l.SKU] = l
	return nil
}

// Items returns the stored items by source id.
func (s *RecordingSink) Items() map[string]connectors.Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.items)
}

// Orders returns the stored orders by source id.
func (s *RecordingSink) Orders() map[string]connectors.Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.orders)
}

// Inventory returns the stored levels by sku.
func (s *RecordingSink) Inventory() map[string]connectors.InventoryLevel {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.inventory)
}

// Writes counts every accepted write; Changes only those that created a
// record or changed it.
func (s *RecordingSink) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// Changes counts the writes that created or changed a record.
func (s *RecordingSink) Changes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changes
}

// Dump renders everything stored as JSON (to search it for leaked secrets).
func (s *RecordingSink) Dump() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"items": s.items, "orders": s.orders, "inventory": s.inventory})
	return string(b)
}

// FakeVault is an in-memory connectors.CredentialVault.
type FakeVault struct {
	mu   sync.Mutex
	data map[string]map[string]vault.Secret
	puts []Put
}

// Put is one recorded PutCredentials call (key names only).
type Put struct {
	Actor, Connector string
	WarehouseID      int64
	Keys             []string
}

// NewFakeVault returns an empty vault.
func NewFakeVault() *FakeVault { return &FakeVault{data: map[string]map[string]vault.Secret{}} }

func vkey(connector string, wh int64) string { return fmt.Sprintf("%s/%d", connector, wh) }

// PutCredentials merges values into the connector's credentials.
func (v *FakeVault) PutCredentials(_ context.Context, actor, connector string, wh int64, values map[string]vault.Secret) error {
	if len(values) == 0 {
		return &store.ValidationError{Message: "no values", Fields: map[string]string{"values": "required"}}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	m := v.data[vkey(connector, wh)]
	if m == nil {
		m = map[string]vault.Secret{}
		v.data[vkey(connector, wh)] = m
	}
	maps.Copy(m, values)
	v.puts = append(v.puts, Put{Actor: actor, Connector: connector, WarehouseID: wh, Keys: slices.Sorted(maps.Keys(values))})
	return nil
}

// DeleteCredentials removes the connector's credentials.
func (v *FakeVault) DeleteCredentials(_ context.Context, _, connector string, wh int64) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.data[vkey(connector, wh)]; !ok {
		return store.ErrNotFound
	}
	delete(v.data, vkey(connector, wh))
	return nil
}

// CredentialKeys lists the stored names.
func (v *FakeVault) CredentialKeys(_ context.Context, connector string, wh int64) ([]string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m, ok := v.data[vkey(connector, wh)]
	if !ok {
		return nil, store.ErrNotFound
	}
	return slices.Sorted(maps.Keys(m)), nil
}

// Credentials returns the stored secrets.
func (v *FakeVault) Credentials(_ context.Context, connector string, wh int64) (map[string]vault.Secret, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m, ok := v.data[vkey(connector, wh)]
	if !ok {
		return nil, store.ErrNotFound
	}
	return maps.Clone(m), nil
}

// Puts returns the recorded PutCredentials calls.
func (v *FakeVault) Puts() []Put {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.puts)
}

// NewPool is connectors.NewHTTPPool for tests: a configuration it refuses
// fails tb.
func NewPool(tb testing.TB, cfg connectors.HTTPConfig, guard *ssrf.Guard, c clock.Clock, log *slog.Logger) *connectors.HTTPPool {
	tb.Helper()
	p, err := connectors.NewHTTPPool(cfg, guard, c, log, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// NewRunner is connectors.NewRunner for tests: a configuration it refuses
// fails tb.
func NewRunner(tb testing.TB, cfg connectors.RunnerConfig, deps connectors.RunnerDeps) *connectors.Runner {
	tb.Helper()
	r, err := connectors.NewRunner(cfg, deps)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}
