package manifests_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/fakes/netsuite"
	"sentryhub/connectors/manifest"
)

// An item fulfillment is transformed from the order with the hub's key as
// its memo; a repeated push finds it by SuiteQL instead of sending the key
// again (which NetSuite refuses); a write the read cannot confirm fails.
func TestNetSuiteFulfillment(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := netsuiteSetup(t, netsuite.Config{Seed: 9, Items: 10, Orders: 3})
	k := connectortest.New(t)
	c := k.Connector(reg, "netsuite", settings, secrets)
	ctx := context.Background()
	o := fake.Orders()[1]
	push := connectors.FulfillmentRequest{SourceID: strconv.Itoa(o.ID), Carrier: "FedEx", Tracking: "7946", IdempotencyKey: "ful-ns-1"}

	r1, err := c.PushFulfillment(ctx, push)
	if err != nil || !r1.Success || r1.UpstreamRef == "" {
		t.Fatalf("first push: %+v %v", r1, err)
	}
	fs := fake.Fulfillments()
	if len(fs) != 1 || strconv.Itoa(fs[0].ID) != r1.UpstreamRef || fs[0].OrderID != o.ID || fs[0].Memo != "ful-ns-1" ||
		len(fs[0].Tracking) != 1 || fs[0].Tracking[0] != "7946" {
		t.Fatalf("fulfillments = %+v, ref %s", fs, r1.UpstreamRef)
	}
	r2, err := c.PushFulfillment(ctx, push)
	if err != nil || r2.UpstreamRef != r1.UpstreamRef || len(fake.Fulfillments()) != 1 {
		t.Fatalf("repeated push: %+v %v, %d fulfillments", r2, err, len(fake.Fulfillments()))
	}

	// A transform NetSuite answers but does not keep is not confirmed.
	other := fake.Orders()[2]
	bad := connectors.FulfillmentRequest{SourceID: strconv.Itoa(other.ID), Tracking: "x", IdempotencyKey: "ful-ns-2"}
	fake.DropWrites(true)
	_, err = c.PushFulfillment(ctx, bad)
	fake.DropWrites(false)
	if !errors.Is(err, manifest.ErrVerification) || len(fake.Fulfillments()) != 1 {
		t.Fatalf("dropped write: %v, %d fulfillments", err, len(fake.Fulfillments()))
	}
}
