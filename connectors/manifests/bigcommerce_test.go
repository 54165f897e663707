package manifests_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/fakes/bigcommerce"
	"sentryhub/connectors/fakes/fakekit"
	"sentryhub/connectors/manifest"
	"sentryhub/connectors/manifests"
)

// bigcommerceSetup serves a generated store and registers the manifest
// against it.
func bigcommerceSetup(t testing.TB, cfg bigcommerce.Config) (*bigcommerce.Fake, *connectors.Registry, map[string]string, map[string]string) {
	t.Helper()
	cfg.Now = cmpNow(cfg.Now)
	if cfg.Quota == 0 {
		cfg.Quota = 10_000
	}
	fake := bigcommerce.New(cfg)
	srv := fakekit.Serve(t, fake)
	reg := connectors.NewRegistry()
	if err := manifest.Register(reg, manifests.Catalog, "catalog/bigcommerce", manifest.Options{BaseURL: map[string]string{"bigcommerce": srv.URL},
		Hooks: manifest.Hooks{Bodies: manifests.BodyHooks()}}); err != nil {
		t.Fatal(err)
	}
	return fake, reg, map[string]string{"store_hash": "abc123", "page_size": "50"}, map[string]string{"access_token": "bc-token"}
}

// cmpNow puts a fake on the kit's starting time, so the upstream's clock and
// the connector's agree (signatures, token expiry, windows).
func cmpNow(now func() time.Time) func() time.Time {
	if now != nil {
		return now
	}
	return connectortest.NewAutoClock(connectortest.Start()).Now
}

func TestBigCommerceConformance(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := bigcommerceSetup(t, bigcommerce.Config{Seed: 1, Products: 60, Orders: 20})
	connectortest.RunConformance(t, connectortest.Fixture{Registry: reg, Name: "bigcommerce", Settings: settings, Secrets: secrets, Reject: fake.Reject,
		Push: bigcommercePush(fake.Orders()[0], "1Z999"), Fulfillments: func() int { return len(fake.Shipments()) }})
}

func TestBigCommerceSyncsPages(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := bigcommerceSetup(t, bigcommerce.Config{Seed: 2, Products: 120, Orders: 23})
	k := connectortest.New(t)
	c := k.Connector(reg, "bigcommerce", settings, secrets)
	ctx := context.Background()

	fake.ThrottleNext(2) // two 429s with the rate-limit headers, then served
	res, err := c.SyncItems(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 120 || fake.Throttled() != 2 {
		t.Fatalf("items: %+v %v (throttled %d)", res, err, fake.Throttled())
	}
	if len(k.Clock.Sleeps()) < 2 {
		t.Fatalf("throttled requests were not waited for: %v", k.Clock.Sleeps())
	}
	p := fake.Products()[41]
	if it := k.Sink.Items()[itoa(p.ID)]; it.SKU != p.SKU || it.Name != p.Name || !it.UpdatedAt.Equal(p.Modified) {
		t.Fatalf("item %d = %+v, want %+v", p.ID, it, p)
	}
	if want := fake.Products()[119].Modified; !res.MaxSeen.Equal(want) {
		t.Fatalf("MaxSeen %s, want %s", res.MaxSeen, want)
	}
	// Incremental: the 5 minute overlap before the last change re-reads 6.
	res, err = c.SyncItems(ctx, res.MaxSeen)
	if err != nil || res.RecordsSynced != 6 {
		t.Fatalf("incremental items: %+v %v", res, err)
	}

	res, err = c.SyncOrders(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 23 {
		t.Fatalf("orders: %+v %v", res, err)
	}
	o := fake.Orders()[4]
	got := k.Sink.Orders()[itoa(o.ID)]
	if got.OrderNumber != itoa(o.ID) || got.ShipTo.City != o.Ship.City || len(got.Lines) != len(o.Lines) || got.Lines[0].SKU != o.Lines[0].SKU || got.Lines[0].Qty != o.Lines[0].Qty {
		t.Fatalf("order = %+v, want %+v", got, o)
	}

	res, err = c.SyncInventory(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 120 {
		t.Fatalf("stock: %+v %v", res, err)
	}
	if l := k.Sink.Inventory()[p.SKU]; l.OnHand != p.Inventory {
		t.Fatalf("stock of %s = %+v, want %d", p.SKU, l, p.Inventory)
	}
}

func TestBigCommerceWrites(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := bigcommerceSetup(t, bigcommerce.Config{Seed: 3, Products: 5})
	k := connectortest.New(t)
	c := k.Connector(reg, "bigcommerce", settings, secrets).(*manifest.Conn)
	ctx := context.Background()
	p := fake.Products()[2]

	r, err := c.Write(ctx, "inventory_level", "update", manifest.Record{SKU: p.SKU, OnHand: 77}, "")
	if err != nil || !r.Verified || fake.Products()[2].Inventory != 77 {
		t.Fatalf("verified stock write: %+v %v (stock %d)", r, err, fake.Products()[2].Inventory)
	}

	fake.DropWrites(true) // the upstream answers 200 but keeps nothing
	_, err = c.Write(ctx, "inventory_level", "update", manifest.Record{SKU: p.SKU, OnHand: 5}, "")
	var ve *manifest.VerificationError
	if !errors.As(err, &ve) || !ve.RolledBack || !errors.Is(err, connectors.ErrPermanent) || fake.Products()[2].Inventory != 77 {
		t.Fatalf("dropped stock write: %v, stock %d", err, fake.Products()[2].Inventory)
	}
	_, err = c.Write(ctx, "item", "update", manifest.Record{SourceID: itoa(p.ID), Name: "Lost name"}, "")
	if !errors.As(err, &ve) || !ve.RolledBack || fake.Products()[2].Name != p.Name {
		t.Fatalf("dropped rename: %v", err)
	}
	fake.DropWrites(false)

	r, err = c.Write(ctx, "item", "update", manifest.Record{SourceID: itoa(p.ID), Name: `Crate "XL"`}, "")
	if err != nil || !r.Verified || r.Ref != itoa(p.ID) || fake.Products()[2].Name != `Crate "XL"` {
		t.Fatalf("rename: %+v %v", r, err)
	}
	r, err = c.Write(ctx, "item", "delete", manifest.Record{SourceID: itoa(p.ID)}, "")
	if err != nil || !r.Verified || len(fake.Products()) != 4 {
		t.Fatalf("delete: %+v %v", r, err)
	}
	// A 422 names BigCommerce's field.
	_, err = c.Write(ctx, "item", "update", manifest.Record{SourceID: itoa(fake.Products()[0].ID), Name: ""}, "")
	var he *connectors.HTTPError
	if !errors.As(err, &he) || !errors.Is(err, connectors.ErrData) {
		t.Fatalf("empty name: %v", err)
	}
}

func TestBigCommerceRefusedToken(t *testing.T) {
	t.Parallel()
	_, reg, settings, _ := bigcommerceSetup(t, bigcommerce.Config{Seed: 4, Products: 2})
	k := connectortest.New(t)
	c := k.Connector(reg, "bigcommerce", settings, map[string]string{"access_token": "wrong"})
	_, err := c.SyncItems(context.Background(), time.Time{})
	if !errors.Is(err, connectors.ErrPermanent) {
		t.Fatalf("bad token: %v, want a permanent error", err)
	}
}
