package manifests_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/fakes/fakekit"
	"sentryhub/connectors/fakes/stripe"
	"sentryhub/connectors/manifest"
	"sentryhub/connectors/manifests"
)

func stripeSetup(t *testing.T, cfg stripe.Config) (*stripe.Fake, *connectors.Registry, map[string]string, map[string]string) {
	t.Helper()
	cfg.Now = cmpNow(cfg.Now)
	fake := stripe.New(cfg)
	srv := fakekit.Serve(t, fake)
	reg := connectors.NewRegistry()
	if err := manifest.Register(reg, manifests.Catalog, "catalog/stripe", manifest.Options{BaseURL: map[string]string{"stripe": srv.URL}}); err != nil {
		t.Fatal(err)
	}
	return fake, reg, map[string]string{"page_size": "100"}, map[string]string{"api_key": "sk_test_fake", "webhook_secret": "whsec_fake"}
}

// shipped counts sessions with a shipment recorded in their metadata.
func shipped(f *stripe.Fake) int {
	n := 0
	for _, s := range f.Sessions() {
		if s.Metadata["tracking_number"] != "" {
			n++
		}
	}
	return n
}

func TestStripeConformance(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := stripeSetup(t, stripe.Config{Seed: 1, Products: 30, Sessions: 12})
	s := fake.Sessions()[3]
	connectortest.RunConformance(t, connectortest.Fixture{Registry: reg, Name: "stripe", Settings: settings, Secrets: secrets,
		Push: connectors.FulfillmentRequest{SourceID: s.ID, OrderNumber: s.Metadata["order_number"], Carrier: "UPS", Tracking: "1Z999AA1",
			Lines: []connectors.Line{{SKU: "SKU-00001", Qty: 1}}, IdempotencyKey: "ful-1"},
		Fulfillments: func() int { return shipped(fake) },
		Reject:       fake.Reject,
	})
}

func TestStripeSyncsCursorPages(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := stripeSetup(t, stripe.Config{Seed: 2, Products: 250, Sessions: 130})
	k := connectortest.New(t)
	c := k.Connector(reg, "stripe", settings, secrets)
	ctx := context.Background()

	fake.ThrottleNext(1)
	res, err := c.SyncItems(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 250 || fake.Throttled() != 1 {
		t.Fatalf("products: %+v %v", res, err)
	}
	p := fake.Products()[77]
	if it := k.Sink.Items()[p.ID]; it.SKU != p.Metadata["sku"] || it.Name != p.Name || it.UpdatedAt.Unix() != p.Updated {
		t.Fatalf("item = %+v, want %+v", it, p)
	}

	res, err = c.SyncOrders(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 130 {
		t.Fatalf("sessions: %+v %v", res, err)
	}
	s := fake.Sessions()[40]
	o := k.Sink.Orders()[s.ID]
	if o.OrderNumber != s.Metadata["order_number"] || o.ShipTo.City != s.Ship.City || len(o.Lines) != len(s.Lines) || o.Lines[0].Qty != s.Lines[0].Qty {
		t.Fatalf("order = %+v, want %+v", o, s)
	}
	// created[gte] with the 10 minute overlap: sessions are a minute apart.
	res, err = c.SyncOrders(ctx, res.MaxSeen)
	if err != nil || res.RecordsSynced != 11 {
		t.Fatalf("incremental sessions: %+v %v", res, err)
	}

	res, err = c.SyncInventory(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 250 {
		t.Fatalf("stock: %+v %v", res, err)
	}
	if l := k.Sink.Inventory()[p.Metadata["sku"]]; strconv.FormatInt(l.OnHand, 10) != p.Metadata["on_hand"] {
		t.Fatalf("stock = %+v, want %s", l, p.Metadata["on_hand"])
	}
}

func TestStripeWrites(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := stripeSetup(t, stripe.Config{Seed: 3, Products: 4, Sessions: 3})
	k := connectortest.New(t)
	c := k.Connector(reg, "stripe", settings, secrets).(*manifest.Conn)
	ctx := context.Background()
	s := fake.Sessions()[0]

	push := connectors.FulfillmentRequest{SourceID: s.ID, Carrier: "DHL Express", Tracking: "JD0142", IdempotencyKey: "k1"}
	if r, err := c.PushFulfillment(ctx, push); err != nil || !r.Success || r.UpstreamRef != s.ID {
		t.Fatalf("push: %+v %v", r, err)
	}
	if md := fake.Sessions()[0].Metadata; md["tracking_number"] != "JD0142" || md["carrier"] != "DHL Express" {
		t.Fatalf("metadata %v", md)
	}

	fake.DropWrites(true)
	push.SourceID, push.IdempotencyKey = fake.Sessions()[1].ID, "k2"
	_, err := c.PushFulfillment(ctx, push)
	var ve *manifest.VerificationError
	if !errors.As(err, &ve) || !ve.RolledBack || shipped(fake) != 1 {
		t.Fatalf("dropped push: %v (%d shipped)", err, shipped(fake))
	}
	fake.DropWrites(false)

	p := fake.Products()[2]
	if r, err := c.Write(ctx, "inventory_level", "update", manifest.Record{SourceID: p.ID, SKU: p.Metadata["sku"], OnHand: 321}, "stock-1"); err != nil || !r.Verified {
		t.Fatalf("stock: %+v %v", r, err)
	}
	// "&", "=" and "+" in a value must reach Stripe as one form value.
	const name = "Steel Hook & Eye = 2+2"
	if r, err := c.Write(ctx, "item", "update", manifest.Record{SourceID: p.ID, Name: name}, "name-1"); err != nil || !r.Verified || fake.Products()[2].Name != name {
		t.Fatalf("rename: %+v %v", r, err)
	}
	// Stripe refuses to delete a product that has prices.
	_, err = c.Write(ctx, "item", "delete", manifest.Record{SourceID: p.ID}, "")
	if !errors.Is(err, connectors.ErrData) || len(fake.Products()) != 4 {
		t.Fatalf("delete of a priced product: %v", err)
	}
}

// The webhook stream maps the object of a product event with the same
// mapping as the poll stream (deliveries end to end:
// TestStripeWebhookDeliveries).
func TestStripeWebhookStream(t *testing.T) {
	t.Parallel()
	fake, _, _, _ := stripeSetup(t, stripe.Config{Seed: 4, Products: 2})
	m, err := manifest.Load(manifests.Catalog, "catalog/stripe")
	if err != nil {
		t.Fatal(err)
	}
	hooks := m.WebhookStreams()
	if len(hooks) != 1 || hooks[0].Signature == nil || hooks[0].Signature.Kind != "stripe" || hooks[0].Signature.Tolerance != 5*time.Minute {
		t.Fatalf("webhook streams %+v", hooks)
	}
	p := fake.Products()[1]
	evt := fake.Event("product.updated", map[string]any{"id": p.ID, "object": "product", "name": p.Name, "updated": p.Updated,
		"metadata": map[string]any{"sku": p.Metadata["sku"]}})
	var body any
	b, _ := json.Marshal(evt)
	_ = json.Unmarshal(b, &body)
	obj := body.(map[string]any)["data"].(map[string]any)["object"]
	doc, ferrs := hooks[0].Mapping.Apply(obj)
	if len(ferrs) > 0 || doc.SourceID != p.ID || doc.Field("sku").Text() != p.Metadata["sku"] {
		t.Fatalf("mapped %+v %v", doc, ferrs)
	}
}
