package manifests_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/fakes/fakekit"
	"sentryhub/connectors/fakes/netsuite"
	"sentryhub/connectors/manifest"
	"sentryhub/connectors/manifests"
)

func netsuiteSetup(t testing.TB, cfg netsuite.Config) (*netsuite.Fake, *connectors.Registry, map[string]string, map[string]string) {
	t.Helper()
	cfg.Now = cmpNow(cfg.Now)
	fake := netsuite.New(cfg)
	srv := fakekit.Serve(t, fake)
	reg := connectors.NewRegistry()
	if err := manifest.Register(reg, manifests.Catalog, "catalog/netsuite", manifest.Options{BaseURL: map[string]string{"netsuite": srv.URL}}); err != nil {
		t.Fatal(err)
	}
	return fake, reg, map[string]string{"account_id": "1234567_SB1", "account_host": "1234567-sb1"},
		map[string]string{"consumer_key": "ns-ck", "consumer_secret": "ns-cs", "token_id": "ns-tk", "token_secret": "ns-ts"}
}

func TestNetSuiteConformance(t *testing.T) {
	fake, reg, settings, secrets := netsuiteSetup(t, netsuite.Config{Seed: 1, Items: 40, Orders: 3})
	connectortest.RunConformance(t, connectortest.Fixture{Registry: reg, Name: "netsuite", Settings: settings, Secrets: secrets, Reject: fake.Reject,
		Push:         connectors.FulfillmentRequest{SourceID: strconv.Itoa(fake.Orders()[0].ID), Carrier: "UPS", Tracking: "1Z5", IdempotencyKey: "ful-conf"},
		Fulfillments: func() int { return len(fake.Fulfillments()) }})
}

func TestNetSuiteSyncsSignedPages(t *testing.T) {
	fake, reg, settings, secrets := netsuiteSetup(t, netsuite.Config{Seed: 2, Items: 2345})
	k := connectortest.New(t)
	c := k.Connector(reg, "netsuite", settings, secrets)
	ctx := context.Background()

	fake.ThrottleNext(1)
	res, err := c.SyncItems(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 2345 || len(fake.Refusals()) != 0 {
		t.Fatalf("items: %+v %v, refusals %v", res, err, fake.Refusals())
	}
	it := fake.Items()[1500]
	if got := k.Sink.Items()[strconv.Itoa(it.ID)]; got.SKU != it.ItemID || got.Name != it.DisplayName || !got.UpdatedAt.Equal(it.Modified) {
		t.Fatalf("item = %+v, want %+v", got, it)
	}
	res, err = c.SyncItems(ctx, res.MaxSeen)
	if err != nil || res.RecordsSynced != 6 {
		t.Fatalf("incremental: %+v %v", res, err)
	}
	res, err = c.SyncInventory(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 2345 {
		t.Fatalf("stock: %+v %v", res, err)
	}
	if l := k.Sink.Inventory()[it.ItemID]; l.OnHand != it.OnHand {
		t.Fatalf("stock of %s = %+v, want %d", it.ItemID, l, it.OnHand)
	}
}

func TestNetSuiteWrongTokenSecret(t *testing.T) {
	fake, reg, settings, secrets := netsuiteSetup(t, netsuite.Config{Seed: 3, Items: 2})
	secrets["token_secret"] = "guess"
	k := connectortest.New(t)
	_, err := k.Connector(reg, "netsuite", settings, secrets).SyncItems(context.Background(), time.Time{})
	r := fake.Refusals()
	if !errors.Is(err, connectors.ErrPermanent) || len(r) == 0 || !strings.Contains(r[0], "signature mismatch") {
		t.Fatalf("wrong token secret: %v, refusals %v", err, r)
	}
}

func TestNetSuiteWrites(t *testing.T) {
	fake, reg, settings, secrets := netsuiteSetup(t, netsuite.Config{Seed: 4, Items: 3})
	k := connectortest.New(t)
	c := k.Connector(reg, "netsuite", settings, secrets).(*manifest.Conn)
	ctx := context.Background()
	it := fake.Items()[0]
	id := strconv.Itoa(it.ID)

	r, err := c.Write(ctx, "item", "update", manifest.Record{SourceID: id, Name: "Pallet wrap, 500 mm"}, "")
	if err != nil || !r.Verified || fake.Items()[0].DisplayName != "Pallet wrap, 500 mm" {
		t.Fatalf("rename: %+v %v", r, err)
	}
	fake.DropWrites(true)
	_, err = c.Write(ctx, "item", "update", manifest.Record{SourceID: id, Name: "Lost"}, "")
	var ve *manifest.VerificationError
	if !errors.As(err, &ve) || !ve.RolledBack || fake.Items()[0].DisplayName != "Pallet wrap, 500 mm" {
		t.Fatalf("dropped rename: %v", err)
	}
	fake.DropWrites(false)
	if r, err := c.Write(ctx, "item", "delete", manifest.Record{SourceID: id}, ""); err != nil || !r.Verified || len(fake.Items()) != 2 {
		t.Fatalf("delete: %+v %v", r, err)
	}
}
