package manifests_test

import (
	"context"
	"errors"
	"testing"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/fakes/businesscentral"
	"sentryhub/connectors/manifest"
)

// shipAndInvoice posts the order once: a repeated push finds the posted
// shipment for the order number and ships nothing more; a post the
// service answers but does not keep is not confirmed.
func TestBusinessCentralShipOrder(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := businessCentralSetup(t, businesscentral.Config{Seed: 5, Items: 10, Orders: 3})
	k := connectortest.New(t)
	c := k.Connector(reg, "businesscentral", settings, secrets)
	ctx := context.Background()
	orders := fake.Orders() // a fully shipped order leaves the list
	o := orders[1]
	push := connectors.FulfillmentRequest{SourceID: o.ID, OrderNumber: o.Number, Carrier: "DHL", Tracking: "JD7", IdempotencyKey: "ful-bc-1"}

	for i := range 2 {
		r, err := c.PushFulfillment(ctx, push)
		if err != nil || !r.Success {
			t.Fatalf("push %d: %+v %v", i+1, r, err)
		}
		ships := fake.Shipments()
		if len(ships) != 1 || ships[0].OrderNumber != o.Number || len(ships[0].Lines) == 0 {
			t.Fatalf("after push %d: shipments = %+v", i+1, ships)
		}
	}

	other := orders[2]
	fake.DropWrites(true)
	_, err := c.PushFulfillment(ctx, connectors.FulfillmentRequest{SourceID: other.ID, OrderNumber: other.Number, IdempotencyKey: "ful-bc-2"})
	fake.DropWrites(false)
	if !errors.Is(err, manifest.ErrVerification) || len(fake.Shipments()) != 1 {
		t.Fatalf("dropped post: %v, %d shipments", err, len(fake.Shipments()))
	}
}
