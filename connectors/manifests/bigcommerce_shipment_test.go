package manifests_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/fakes/bigcommerce"
)

func bigcommercePush(o bigcommerce.Order, tracking string) connectors.FulfillmentRequest {
	req := connectors.FulfillmentRequest{OrderID: "hub-" + strconv.Itoa(o.ID), SourceID: strconv.Itoa(o.ID),
		Carrier: "DHL", Tracking: tracking, IdempotencyKey: "ful-" + strconv.Itoa(o.ID)}
	for _, l := range o.Lines {
		req.Lines = append(req.Lines, connectors.Line{SKU: l.SKU, Qty: l.Qty - l.Shipped})
	}
	return req
}

// A shipment names its lines by order_product_id (found by SKU in the
// order's products); a repeated push finds the shipment carrying its
// tracking number and creates no second one.
func TestBigCommerceShipment(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := bigcommerceSetup(t, bigcommerce.Config{Seed: 7, Products: 20, Orders: 4})
	k := connectortest.New(t)
	c := k.Connector(reg, "bigcommerce", settings, secrets)
	ctx := context.Background()
	o := fake.Orders()[1]
	push := bigcommercePush(o, "JD0001")

	r1, err := c.PushFulfillment(ctx, push)
	if err != nil || !r1.Success || r1.UpstreamRef == "" {
		t.Fatalf("first push: %+v %v", r1, err)
	}
	ships := fake.Shipments()
	if len(ships) != 1 || ships[0].Tracking != "JD0001" || ships[0].OrderID != o.ID || len(ships[0].Items) != len(o.Lines) {
		t.Fatalf("shipments = %+v", ships)
	}
	for i, it := range ships[0].Items {
		if it.OrderProductID != o.Lines[i].ID || it.Qty != o.Lines[i].Qty {
			t.Fatalf("item %d = %+v, want line %+v", i, it, o.Lines[i])
		}
	}
	r2, err := c.PushFulfillment(ctx, push)
	if err != nil || r2.UpstreamRef != r1.UpstreamRef || len(fake.Shipments()) != 1 {
		t.Fatalf("repeated push: %+v %v, %d shipments", r2, err, len(fake.Shipments()))
	}

	for _, tc := range []struct {
		name string
		mod  func(*connectors.FulfillmentRequest)
		want string
	}{
		{"unknown sku", func(r *connectors.FulfillmentRequest) { r.Lines = []connectors.Line{{SKU: "NOPE", Qty: 1}} }, `no product with SKU "NOPE"`},
		{"no lines", func(r *connectors.FulfillmentRequest) { r.Lines = nil }, "has no lines"},
	} {
		p := bigcommercePush(fake.Orders()[2], "JD-"+tc.name)
		tc.mod(&p)
		if _, err := c.PushFulfillment(ctx, p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	if n := len(fake.Shipments()); n != 1 {
		t.Fatalf("%d shipments after refused pushes", n)
	}
}
