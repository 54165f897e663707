package manifests_test

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"sentryhub/clock"
	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/manifest"
	"sentryhub/connectors/manifests"
	"sentryhub/connectors/manifests/tinyshopfake"
	"sentryhub/ssrf"
	"sentryhub/store"
	"sentryhub/store/storetest"
	"sentryhub/store/vault"
)

const webhookSecret = "whsec_tiny_test"

// storeHub is Tiny Shop wired to a real SQLite store through the runner.
type storeHub struct {
	ctx    context.Context
	db     *store.DB
	clock  *clock.Fake
	fake   *tinyshopfake.Fake
	runner *connectors.Runner
	wh     int64
}

func newStoreHub(t testing.TB, n int) *storeHub {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, filepath.Join(t.TempDir(), store.FileName), store.WithAuditKey(store.DeriveAuditKey([]byte("test"))), store.WithPasswordHashing(store.PasswordHashing{MemoryKiB: 8, Threads: 1}))
	fc := clock.NewFake(time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC))
	db.Now = fc.Now
	fake := tinyshopfake.New(t, n)
	reg := connectors.NewRegistry()
	if err := manifest.Register(reg, manifests.Examples, "examples/tinyshop", manifest.Options{}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	v := connectortest.NewFakeVault()
	pool := connectortest.NewPool(t, connectors.HTTPConfig{AllowHTTP: true}, ssrf.New(ssrf.Config{AllowPrivate: connectortest.Loopback()}), fc, log)
	r := connectortest.NewRunner(t, connectors.RunnerConfig{}, connectors.RunnerDeps{Registry: reg, DB: db, Vault: v, HTTP: pool, Clock: fc, Log: log})
	w, err := db.CreateWarehouse(ctx, store.OpMeta{}, store.WarehouseInput{Code: "W1", Name: "Main"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutConnectorSettings(ctx, "test", "tinyshop", w.Value.ID, map[string]string{"api_url": fake.URL(), "page_size": "250"}); err != nil {
		t.Fatal(err)
	}
	if err := v.PutCredentials(ctx, "test", "tinyshop", w.Value.ID, map[string]vault.Secret{
		"api_key": vault.NewSecret(fake.Key), "webhook_secret": vault.NewSecret(webhookSecret)}); err != nil {
		t.Fatal(err)
	}
	return &storeHub{ctx: ctx, db: db, clock: fc, fake: fake, runner: r, wh: w.Value.ID}
}

func (h *storeHub) sync(t testing.TB, syncType string) connectors.Outcome {
	t.Helper()
	out, err := h.runner.Run(h.ctx, store.SyncKey{Connector: "tinyshop", WarehouseID: h.wh, SyncType: syncType}, connectors.RunOptions{Trigger: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != store.RunSuccess {
		t.Fatalf("%s sync: %+v", syncType, out)
	}
	return out
}

func TestTinyShopWebhooks(t *testing.T) {
	t.Parallel()
	h := newStoreHub(t, 10)
	h.sync(t, connectors.SyncItems) // orders name these skus

	rx := manifest.NewReceiver(h.runner, h.db, h.clock, nil)
	rx.Processed.Init(t, "webhook event processed")
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- rx.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	body := h.fake.OrderEvent("evt_1", "order.created", 3)
	signed := func(sig string) http.Header { return http.Header{"X-Tiny-Signature": {sig}} }
	good := signed(tinyshopfake.SignWebhook(webhookSecret, body))

	for _, tc := range []struct {
		name   string
		stream string
		h      http.Header
		body   []byte
		status int
	}{
		{"forged", "order_events", signed(tinyshopfake.SignWebhook("guess", body)), body, 401},
		{"unsigned", "order_events", http.Header{}, body, 401},
		{"tampered body", "order_events", good, append([]byte(" "), body...), 401},
		{"unknown stream", "refunds", good, body, 404},
		{"valid", "order_events", good, body, 202},
		{"redelivery", "order_events", good, body, 200},
	} {
		rep := rx.Receive(h.ctx, "tinyshop", h.wh, tc.stream, tc.h, tc.body)
		if rep.Status != tc.status {
			t.Fatalf("%s: %+v, want %d", tc.name, rep, tc.status)
		}
	}
	ev := rx.Processed.WaitOrTimeout()
	if ev.Status != store.WebhookEventDone || ev.EventID != "evt_1" {
		t.Fatalf("processed %+v", ev)
	}
	counts, err := h.db.ConnectorWebhookCounts(h.ctx, "tinyshop", h.wh)
	if err != nil {
		t.Fatal(err)
	}
	if counts.ByStatus["done"] != 1 || counts.Rejections["signature_invalid"] != 2 || counts.Rejections["signature_missing"] != 1 {
		t.Fatalf("counts %+v", counts)
	}
	var id string
	if err := h.db.Reader().QueryRow(`SELECT id FROM sales_orders WHERE source_name = 'tinyshop' AND source_id = 'o3'`).Scan(&id); err != nil {
		t.Fatalf("order o3 not stored by the webhook: %v (event result %q)", err, ev.Result)
	}
	so, err := h.db.GetSalesOrder(h.ctx, id)
	if err != nil || so.OrderNumber != "T1003" || len(so.Lines) != 1 {
		t.Fatalf("order o3 = %+v, %v", so, err)
	}
}
