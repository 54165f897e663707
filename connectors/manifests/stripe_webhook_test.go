package manifests_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"sentryhub/clock"
	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/fakes/fakekit"
	"sentryhub/connectors/fakes/stripe"
	"sentryhub/connectors/manifest"
	"sentryhub/connectors/manifests"
	"sentryhub/ssrf"
	"sentryhub/store"
	"sentryhub/store/storetest"
	"sentryhub/store/vault"
)

// TestStripeWebhookDeliveries sends the fake's signed, forged, stale and
// unsigned product events to the platform's receiver, over HTTP, with a
// real store: only the valid one is stored and written, once.
func TestStripeWebhookDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t, filepath.Join(t.TempDir(), store.FileName), store.WithAuditKey(store.DeriveAuditKey([]byte("test"))), store.WithPasswordHashing(store.PasswordHashing{MemoryKiB: 8, Threads: 1}))
	fc := clock.NewFake(time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC))
	db.Now = fc.Now
	fake := stripe.New(stripe.Config{Seed: 5, Products: 3, Now: fc.Now, WebhookSecret: "whsec_hub"})
	up := fakekit.Serve(t, fake)
	reg := connectors.NewRegistry()
	if err := manifest.Register(reg, manifests.Catalog, "catalog/stripe", manifest.Options{BaseURL: map[string]string{"stripe": up.URL}}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	v := connectortest.NewFakeVault()
	pool := connectortest.NewPool(t, connectors.HTTPConfig{AllowHTTP: true}, ssrf.New(ssrf.Config{AllowPrivate: connectortest.Loopback()}), fc, log)
	runner := connectortest.NewRunner(t, connectors.RunnerConfig{}, connectors.RunnerDeps{Registry: reg, DB: db, Vault: v, HTTP: pool, Clock: fc, Log: log})
	w, err := db.CreateWarehouse(ctx, store.OpMeta{}, store.WarehouseInput{Code: "W1", Name: "Main"})
	if err != nil {
		t.Fatal(err)
	}
	wh := w.Value.ID
	if err := db.PutConnectorSettings(ctx, "test", "stripe", wh, map[string]string{"page_size": "100"}); err != nil {
		t.Fatal(err)
	}
	if err := v.PutCredentials(ctx, "test", "stripe", wh, map[string]vault.Secret{
		"api_key": vault.NewSecret("sk_test_fake"), "webhook_secret": vault.NewSecret("whsec_hub")}); err != nil {
		t.Fatal(err)
	}

	rx := manifest.NewReceiver(runner, db, fc, nil)
	rx.Processed.Init(t, "webhook event processed")
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rx.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	// The hub's endpoint, as the provider sees it.
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rep := rx.Receive(r.Context(), "stripe", wh, "product_events", r.Header, body)
		w.WriteHeader(rep.Status)
	}))
	t.Cleanup(hub.Close)

	p := fake.Products()[0]
	evt := fake.Event("product.updated", map[string]any{"id": p.ID, "object": "product", "name": "Renamed in Stripe",
		"updated": fc.Now().Unix(), "metadata": map[string]any{"sku": p.Metadata["sku"]}})
	ignored := fake.Event("price.created", map[string]any{"id": "price_x", "object": "price"})
	for _, tc := range []struct {
		name   string
		evt    stripe.Event
		mode   stripe.Delivery
		status int
	}{
		{"forged", evt, stripe.Forged, 401},
		{"stale", evt, stripe.Stale, 401},
		{"unsigned", evt, stripe.Unsigned, 401},
		{"valid", evt, stripe.Valid, 202},
		{"redelivered", evt, stripe.Valid, 200},
		{"not subscribed", ignored, stripe.Valid, 200},
	} {
		resp, err := fake.Deliver(ctx, nil, hub.URL, tc.evt, tc.mode)
		if err != nil || resp.StatusCode != tc.status {
			t.Fatalf("%s: %v %v, want %d", tc.name, resp, err, tc.status)
		}
	}
	ev := rx.Processed.WaitOrTimeout()
	if ev.Status != store.WebhookEventDone || ev.EventID != evt.ID {
		t.Fatalf("processed %+v", ev)
	}
	it, err := db.GetItem(ctx, p.Metadata["sku"])
	if err != nil || it.Name != "Renamed in Stripe" || it.Source == nil || it.Source.ID != p.ID {
		t.Fatalf("item from the webhook: %+v %v (result %q)", it, err, ev.Result)
	}
	counts, err := db.ConnectorWebhookCounts(ctx, "stripe", wh)
	if err != nil {
		t.Fatal(err)
	}
	if counts.ByStatus["done"] != 1 || counts.Rejections["signature_invalid"] != 1 || counts.Rejections["signature_stale"] != 1 || counts.Rejections["signature_missing"] != 1 {
		t.Fatalf("counts %+v", counts)
	}
}
