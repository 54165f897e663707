package manifests_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/manifest"
	"sentryhub/connectors/manifests"
	"sentryhub/connectors/manifests/tinyshopfake"
)

func tinyshop(t *testing.T, n int) (*tinyshopfake.Fake, *connectors.Registry, map[string]string, map[string]string) {
	t.Helper()
	fake := tinyshopfake.New(t, n)
	reg := connectors.NewRegistry()
	if err := manifest.Register(reg, manifests.Examples, "examples/tinyshop", manifest.Options{}); err != nil {
		t.Fatal(err)
	}
	return fake, reg, map[string]string{"api_url": fake.URL(), "page_size": "7"}, map[string]string{"api_key": fake.Key}
}

func TestTinyShopConformance(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := tinyshop(t, 30)
	connectortest.RunConformance(t, connectortest.Fixture{
		Registry: reg, Name: "tinyshop", Settings: settings, Secrets: secrets,
		Push: connectors.FulfillmentRequest{OrderID: "so-1", SourceID: "o3", OrderNumber: "T1003", Carrier: "UPS",
			Tracking: "1Z999", Lines: []connectors.Line{{SKU: "SKU-00003", Qty: 1}}, IdempotencyKey: "ful-1"},
		Fulfillments: fake.Shipments,
		Reject:       fake.Reject,
	})
}

func TestTinyShopSyncs(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := tinyshop(t, 30)
	k := connectortest.New(t)
	c := k.Connector(reg, "tinyshop", settings, secrets)
	ctx := context.Background()

	fake.Throttle(2) // two 429s, retried after Retry-After
	res, err := c.SyncItems(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 30 {
		t.Fatalf("items: %+v %v", res, err)
	}
	it := k.Sink.Items()["p29"]
	if it.SKU != "SKU-00029" || it.Name != "Widget 29" || it.UpdatedAt.IsZero() {
		t.Fatalf("item p29 = %+v", it)
	}
	if want := time.Date(2026, 3, 1, 0, 29, 0, 0, time.UTC); !res.MaxSeen.Equal(want) {
		t.Fatalf("MaxSeen %s, want %s", res.MaxSeen, want)
	}

	res, err = c.SyncOrders(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 30 {
		t.Fatalf("orders: %+v %v", res, err)
	}
	o := k.Sink.Orders()["o4"]
	if o.OrderNumber != "T1004" || o.ShipTo.City != "London" || o.ShipTo.CountryCode != "GB" || len(o.Lines) != 1 || o.Lines[0].Qty != 2 {
		t.Fatalf("order o4 = %+v", o)
	}

	res, err = c.SyncInventory(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 30 {
		t.Fatalf("inventory: %+v %v", res, err)
	}
	if l := k.Sink.Inventory()["SKU-00005"]; l.OnHand != 15 || l.SourceID != "s5" {
		t.Fatalf("stock s5 = %+v", l)
	}

	// Incremental: since minus the 5m overlap reads the last 6 products.
	res, err = c.SyncItems(ctx, time.Date(2026, 3, 1, 0, 29, 0, 0, time.UTC))
	if err != nil || res.RecordsSynced != 6 {
		t.Fatalf("incremental items: %+v %v", res, err)
	}
}

func TestTinyShopWriteVerifiedAndRolledBack(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := tinyshop(t, 5)
	k := connectortest.New(t)
	c := k.Connector(reg, "tinyshop", settings, secrets).(*manifest.Conn)
	ctx := context.Background()
	push := connectors.FulfillmentRequest{SourceID: "o1", Carrier: "DHL", Tracking: `JD"01`, IdempotencyKey: "k1",
		Lines: []connectors.Line{{SKU: "SKU-00001", Qty: 2}}}
	r, err := c.PushFulfillment(ctx, push)
	if err != nil || !r.Success || r.UpstreamRef == "" || fake.Shipments() != 1 {
		t.Fatalf("verified push: %+v %v (%d shipments)", r, err, fake.Shipments())
	}

	fake.Corrupt(true)
	push.IdempotencyKey = "k2"
	_, err = c.PushFulfillment(ctx, push)
	var ve *manifest.VerificationError
	if !errors.As(err, &ve) || !ve.RolledBack || !errors.Is(err, connectors.ErrPermanent) {
		t.Fatalf("corrupted write: %v, want a rolled-back verification error", err)
	}
	if fake.Shipments() != 1 {
		t.Fatalf("rollback left %d shipments, want 1", fake.Shipments())
	}

	// A 422 names the upstream's field.
	fake.Corrupt(false)
	push.Tracking, push.IdempotencyKey = "", "k3"
	_, err = c.PushFulfillment(ctx, push)
	var he *connectors.HTTPError
	if !errors.As(err, &he) || !errors.Is(err, connectors.ErrData) || he.Fields["tracking"] != "can't be blank" {
		t.Fatalf("422: %v (%+v)", err, he)
	}
}
