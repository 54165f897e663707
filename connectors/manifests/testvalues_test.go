package manifests_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
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
	"sentryhub/store/vault"
)

// The Test button with typed values: validated, tried against the
// upstream, and never saved.
func TestTestValuesBeforeSaving(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), store.FileName), store.WithAuditKey(store.DeriveAuditKey([]byte("t"))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	fc := clock.NewFake(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	db.Now = fc.Now
	key, err := vault.ParseKey(vault.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	v := vault.New(db, key)
	fake := tinyshopfake.New(t, 3)
	reg := connectors.NewRegistry()
	if err := manifest.Register(reg, manifests.Examples, "examples/tinyshop", manifest.Options{}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	pool := connectortest.NewPool(t, connectors.HTTPConfig{AllowHTTP: true}, ssrf.New(ssrf.Config{AllowPrivate: connectortest.Loopback()}), fc, log)
	runner := connectortest.NewRunner(t, connectors.RunnerConfig{}, connectors.RunnerDeps{Registry: reg, DB: db, Vault: v, HTTP: pool, Clock: fc, Log: log})
	svc := connectors.NewService(connectors.ServiceConfig{Registry: reg, DB: db, Vault: v, HTTP: pool, Runner: runner, Clock: fc, Log: log})
	w, err := db.CreateWarehouse(ctx, store.OpMeta{}, store.WarehouseInput{Code: "W1", Name: "Main"})
	if err != nil {
		t.Fatal(err)
	}
	values := func(s string) map[string]json.RawMessage {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	u, _ := json.Marshal(fake.URL())
	res, err := svc.TestValues(ctx, "tinyshop", w.Value.ID, values(`{"api_url": `+string(u)+`, "api_key": "tiny_wrong"}`))
	if err != nil || res.OK {
		t.Fatalf("wrong key: %+v %v", res, err)
	}
	res, err = svc.TestValues(ctx, "tinyshop", w.Value.ID, values(`{"api_url": `+string(u)+`, "api_key": "`+fake.Key+`"}`))
	if err != nil || !res.OK {
		t.Fatalf("right key: %+v %v", res, err)
	}
	var ve *store.ValidationError
	if _, err := svc.TestValues(ctx, "tinyshop", w.Value.ID, values(`{"api_url": "ftp://x", "api_key": "k"}`)); !errors.As(err, &ve) || ve.Fields["api_url"] == "" {
		t.Fatalf("bad url: %v", err)
	}
	if _, err := svc.GetCredentials(ctx, "tinyshop", w.Value.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("testing saved something: %v", err)
	}
}
