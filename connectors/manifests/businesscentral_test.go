package manifests_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/fakes/businesscentral"
	"sentryhub/connectors/fakes/fakekit"
	"sentryhub/connectors/manifest"
	"sentryhub/connectors/manifests"
)

func businessCentralSetup(t *testing.T, cfg businesscentral.Config) (*businesscentral.Fake, *connectors.Registry, map[string]string, map[string]string) {
	t.Helper()
	cfg.Now = cmpNow(cfg.Now)
	fake := businesscentral.New(cfg)
	srv := fakekit.Serve(t, fake)
	reg := connectors.NewRegistry()
	if err := manifest.Register(reg, manifests.Catalog, "catalog/businesscentral", manifest.Options{BaseURL: map[string]string{"businesscentral": srv.URL}}); err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{"tenant": "contoso.onmicrosoft.com", "environment": "production", "company_id": fake.CompanyID(),
		"client_id": "bc-client", "page_size": "20"}
	return fake, reg, settings, map[string]string{"client_secret": "bc-secret"}
}

func TestBusinessCentralConformance(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := businessCentralSetup(t, businesscentral.Config{Seed: 1, Items: 30, Orders: 10})
	o := fake.Orders()[0]
	connectortest.RunConformance(t, connectortest.Fixture{Registry: reg, Name: "businesscentral", Settings: settings, Secrets: secrets, Reject: fake.Reject,
		Push:         connectors.FulfillmentRequest{SourceID: o.ID, OrderNumber: o.Number, Carrier: "UPS", Tracking: "1Z4", IdempotencyKey: "ful-bc"},
		Fulfillments: func() int { return len(fake.Shipments()) }})
}

func TestBusinessCentralSyncs(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := businessCentralSetup(t, businesscentral.Config{Seed: 2, Items: 55, Orders: 21, RetryAfter: 2 * time.Second})
	k := connectortest.New(t)
	c := k.Connector(reg, "businesscentral", settings, secrets)
	ctx := context.Background()

	fake.ThrottleNext(1)
	res, err := c.SyncItems(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 55 || fake.Throttled() != 1 {
		t.Fatalf("items: %+v %v", res, err)
	}
	if s := k.Clock.Sleeps(); len(s) == 0 || s[0] != 2*time.Second {
		t.Fatalf("Retry-After not honoured: slept %v", s)
	}
	it := fake.Items()[33]
	if got := k.Sink.Items()[it.ID]; got.SKU != it.Number || got.Name != it.DisplayName || !got.UpdatedAt.Equal(it.Modified) {
		t.Fatalf("item = %+v, want %+v", got, it)
	}

	// The hour-long token expires: the 401 gets one new token, then the
	// sync goes on.
	fake.Tokens.ExpireAll()
	grants := fake.Tokens.Grants()
	res, err = c.SyncOrders(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 21 || fake.Tokens.Grants() != grants+1 {
		t.Fatalf("orders after expiry: %+v %v, grants %d→%d", res, err, grants, fake.Tokens.Grants())
	}
	o := fake.Orders()[6]
	got := k.Sink.Orders()[o.ID]
	if got.OrderNumber != o.Number || got.ShipTo.City != o.Ship.City || len(got.Lines) != len(o.Lines) || got.Lines[0].Qty != int64(o.Lines[0].Qty) {
		t.Fatalf("order = %+v, want %+v", got, o)
	}

	res, err = c.SyncInventory(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 55 {
		t.Fatalf("stock: %+v %v", res, err)
	}
	if l := k.Sink.Inventory()[it.Number]; float64(l.OnHand) != it.Inventory {
		t.Fatalf("stock of %s = %+v, want %v", it.Number, l, it.Inventory)
	}
}

func TestBusinessCentralWrites(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := businessCentralSetup(t, businesscentral.Config{Seed: 3, Items: 4})
	k := connectortest.New(t)
	c := k.Connector(reg, "businesscentral", settings, secrets).(*manifest.Conn)
	ctx := context.Background()
	it := fake.Items()[1]

	r, err := c.Write(ctx, "item", "update", manifest.Record{SourceID: it.ID, Name: "Renamed bin"}, "")
	if err != nil || !r.Verified || r.Ref != it.ID || fake.Items()[1].DisplayName != "Renamed bin" {
		t.Fatalf("rename: %+v %v", r, err)
	}
	fake.DropWrites(true)
	_, err = c.Write(ctx, "item", "update", manifest.Record{SourceID: it.ID, Name: "Never kept"}, "")
	var ve *manifest.VerificationError
	if !errors.As(err, &ve) || !ve.RolledBack || fake.Items()[1].DisplayName != "Renamed bin" {
		t.Fatalf("dropped rename: %v", err)
	}
	_, err = c.Write(ctx, "item", "delete", manifest.Record{SourceID: it.ID}, "")
	if !errors.As(err, &ve) || len(fake.Items()) != 4 {
		t.Fatalf("dropped delete: %v (a delete is done only when the item is gone)", err)
	}
	fake.DropWrites(false)
	r, err = c.Write(ctx, "item", "delete", manifest.Record{SourceID: it.ID}, "")
	if err != nil || !r.Verified || len(fake.Items()) != 3 {
		t.Fatalf("delete: %+v %v", r, err)
	}
}

func TestBusinessCentralWrongSecret(t *testing.T) {
	t.Parallel()
	_, reg, settings, _ := businessCentralSetup(t, businesscentral.Config{Seed: 4, Items: 1})
	k := connectortest.New(t)
	c := k.Connector(reg, "businesscentral", settings, map[string]string{"client_secret": "nope"})
	_, err := c.SyncItems(context.Background(), time.Time{})
	if !errors.Is(err, connectors.ErrPermanent) || k.Sink.Changes() != 0 {
		t.Fatalf("wrong secret: %v", err)
	}
}

// Stock is written through the items page's "inventory", which posts an
// adjustment of the difference; a write the verification read does not
// confirm is set back to the snapshot's inventory.
func TestBusinessCentralStockWrites(t *testing.T) {
	t.Parallel()
	cfg := businesscentral.Config{Seed: 7, Items: 3, Now: cmpNow(nil)}
	fake := businesscentral.New(cfg)
	var mu sync.Mutex
	var afterPatch func()
	srv := fakekit.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fake.ServeHTTP(w, r)
		mu.Lock()
		after := afterPatch
		mu.Unlock()
		if after != nil && r.Method == http.MethodPatch {
			after()
		}
	}))
	reg := connectors.NewRegistry()
	if err := manifest.Register(reg, manifests.Catalog, "catalog/businesscentral", manifest.Options{BaseURL: map[string]string{"businesscentral": srv.URL}}); err != nil {
		t.Fatal(err)
	}
	k := connectortest.New(t)
	c := k.Connector(reg, "businesscentral", map[string]string{"tenant": "contoso.onmicrosoft.com", "environment": "production",
		"company_id": fake.CompanyID(), "client_id": "bc-client"}, map[string]string{"client_secret": "bc-secret"}).(*manifest.Conn)
	ctx := context.Background()
	it := fake.Items()[0]
	inventory := func() float64 { return fake.Items()[0].Inventory }
	start := it.Inventory

	r, err := c.Write(ctx, "inventory_level", "update", manifest.Record{SourceID: it.ID, SKU: it.Number, OnHand: int64(start) + 5}, "")
	want := []businesscentral.Entry{{ItemNumber: it.Number, EntryType: "Positive Adjmt.", Quantity: 5}}
	if err != nil || !r.Verified || r.Ref != it.ID || inventory() != start+5 || !slices.Equal(fake.Entries(), want) {
		t.Fatalf("set inventory: %+v %v, inventory %v, entries %v", r, err, inventory(), fake.Entries())
	}

	// A write Business Central drops is not confirmed; the rollback sets
	// the snapshot's inventory, which is already there: nothing is posted.
	fake.DropWrites(true)
	_, err = c.Write(ctx, "inventory_level", "update", manifest.Record{SourceID: it.ID, OnHand: 1}, "")
	fake.DropWrites(false)
	var ve *manifest.VerificationError
	if !errors.As(err, &ve) || !ve.RolledBack || inventory() != start+5 || len(fake.Entries()) != 1 {
		t.Fatalf("dropped write: %v, inventory %v, entries %v", err, inventory(), fake.Entries())
	}

	// A shipment posts right after the write: the read shows one less, and
	// the rollback posts the opposite adjustment back to the snapshot.
	mu.Lock()
	afterPatch = func() {
		mu.Lock()
		afterPatch = nil // only after the write, not after the rollback
		mu.Unlock()
		fake.Touch(it.ID, func(x *businesscentral.Item) { x.Inventory-- })
	}
	mu.Unlock()
	_, err = c.Write(ctx, "inventory_level", "update", manifest.Record{SourceID: it.ID, OnHand: int64(start) + 8}, "")
	want = append(want, businesscentral.Entry{ItemNumber: it.Number, EntryType: "Positive Adjmt.", Quantity: 3},
		businesscentral.Entry{ItemNumber: it.Number, EntryType: "Negative Adjmt.", Quantity: 2})
	if !errors.As(err, &ve) || !ve.RolledBack || inventory() != start+5 || !slices.Equal(fake.Entries(), want) {
		t.Fatalf("disagreeing read: %v, inventory %v, entries %v", err, inventory(), fake.Entries())
	}
}
