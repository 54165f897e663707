package manifest_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sentryhub/clock"
	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/manifest"
	"sentryhub/ssrf"
	"sentryhub/store"
	"sentryhub/store/storetest"
	"sentryhub/store/vault"
)

// TestWebhookOnlyManifest: a manifest with only a webhook stream (no poll
// stream, no write, no base URL, no schedule) registers without
// capabilities, is listed with the others, tests as "nothing to call", and
// its stream takes a verified delivery into the store while a forged one
// is refused and counted.
func TestWebhookOnlyManifest(t *testing.T) {
	ctx := context.Background()
	fsys := os.DirFS("testdata")
	m, err := manifest.Load(fsys, "pimhooks")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Caps) != 0 || len(m.WebhookStreams()) != 1 {
		t.Fatalf("caps %v, webhook streams %d", m.Caps, len(m.WebhookStreams()))
	}
	reg := connectors.NewRegistry()
	if err := manifest.Register(reg, fsys, "pimhooks", manifest.Options{}); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, info := range reg.Infos() {
		if info.Name == "pimhooks" {
			found = true
			if len(info.Capabilities) != 0 || len(info.SyncTypes) != 0 || info.Capabilities == nil {
				t.Fatalf("info %+v", info)
			}
		}
	}
	if !found {
		t.Fatalf("pimhooks not listed: %v", reg.Names())
	}

	db := storetest.Open(t, filepath.Join(t.TempDir(), store.FileName), store.WithAuditKey(store.DeriveAuditKey([]byte("test"))))
	fc := clock.NewFake(time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC))
	db.Now = fc.Now
	log := slog.New(slog.DiscardHandler)
	v := connectortest.NewFakeVault()
	pool := connectortest.NewPool(t, connectors.HTTPConfig{}, ssrf.New(ssrf.Config{}), fc, log)
	runner := connectortest.NewRunner(t, connectors.RunnerConfig{}, connectors.RunnerDeps{Registry: reg, DB: db, Vault: v, HTTP: pool, Clock: fc, Log: log})
	w, err := db.CreateWarehouse(ctx, store.OpMeta{}, store.WarehouseInput{Code: "W1", Name: "Main"})
	if err != nil {
		t.Fatal(err)
	}
	wh := w.Value.ID
	const secret = "pim_whsec_test_5b1e"
	if err := v.PutCredentials(ctx, "test", "pimhooks", wh, map[string]vault.Secret{"webhook_secret": vault.NewSecret(secret)}); err != nil {
		t.Fatal(err)
	}
	_, conn, err := runner.Instance(ctx, "pimhooks", wh)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := conn.TestConnection(ctx); err != nil || !res.OK || !strings.Contains(res.Message, "only sends webhooks") {
		t.Fatalf("test connection: %+v %v", res, err)
	}

	rx := manifest.NewReceiver(runner, db, fc, nil)
	rx.Processed.Init(t, "webhook event processed")
	processed := rx.Processed.C()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rx.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })

	body := []byte(`{"event_id":"ev_1","kind":"product.changed","product":{"id":"p_9","sku":" PIM-9 ","title":"Lamp","ean":"4006381333931"}}`)
	sign := func(key string) http.Header {
		m := hmac.New(sha256.New, []byte(key))
		m.Write(body)
		return http.Header{"X-Pim-Signature": {"sha256=" + hex.EncodeToString(m.Sum(nil))}}
	}
	if rep := rx.Receive(ctx, "pimhooks", wh, "product_events", sign("not-the-secret"), body); rep.Status != http.StatusUnauthorized {
		t.Fatalf("forged: %+v", rep)
	}
	if rep := rx.Receive(ctx, "pimhooks", wh, "product_events", sign(secret), body); rep.Status != http.StatusAccepted {
		t.Fatalf("signed: %+v", rep)
	}
	select {
	case ev := <-processed:
		if ev.Status != store.WebhookEventDone {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("event not processed")
	}
	it, err := db.GetItem(ctx, "PIM-9")
	if err != nil || it.Name != "Lamp" {
		t.Fatalf("item %+v %v", it, err)
	}
	counts, err := db.ConnectorWebhookCounts(ctx, "pimhooks", wh)
	if err != nil || counts.Rejections["signature_invalid"] != 1 || counts.ByStatus[store.WebhookEventDone] != 1 {
		t.Fatalf("counts %+v %v", counts, err)
	}
}

// TestWebhookOnlyStillNeedsAStream: a manifest with nothing to do (no
// stream, no write) is still refused, with its position.
func TestWebhookOnlyStillNeedsAStream(t *testing.T) {
	src := "key: empty\nname: Empty\nprovider: X\nversion: 1.0.0\nsettings: {type: object, properties: {}}\n"
	_, err := manifest.Parse("empty/manifest.yaml", []byte(src), os.DirFS("testdata"), "empty")
	if err == nil || !strings.Contains(err.Error(), "declares nothing to do") {
		t.Fatalf("err = %v", err)
	}
}
