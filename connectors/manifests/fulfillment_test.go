package manifests_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"sentryhub/connectors"
	"sentryhub/store"
)

// A shipment made in the hub goes out through the manifest's verified
// write action via the durable fulfillment queue, and the fulfillment
// health check sees it pending, then overdue, then done.
func TestTinyShopFulfillmentQueueAndHealth(t *testing.T) {
	t.Parallel()
	h := newStoreHub(t, 5)
	h.sync(t, connectors.SyncItems)
	h.sync(t, connectors.SyncInventory)
	h.sync(t, connectors.SyncOrders)
	var id string
	if err := h.db.Reader().QueryRow(`SELECT id FROM sales_orders WHERE source_name = 'tinyshop' AND source_id = 'o2'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	meta := store.OpMeta{RequestID: uuid.NewString(), Actor: "test"}
	for _, step := range []func() error{
		func() error { _, err := h.db.PickSalesOrder(h.ctx, store.OpMeta{}, id); return err },
		func() error { _, err := h.db.PackSalesOrder(h.ctx, store.OpMeta{}, id); return err },
		func() error {
			_, err := h.db.ShipSalesOrder(h.ctx, meta, id, store.ShipInput{Carrier: "DHL", Tracking: "JD0002"})
			return err
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	health := func() connectors.FulfillmentHealthReport {
		t.Helper()
		r, err := connectors.CheckFulfillmentHealth(h.ctx, h.db, "tinyshop", h.wh, h.clock.Now())
		if err != nil || len(r) != 1 {
			t.Fatalf("health: %+v %v", r, err)
		}
		return r[0]
	}
	if r := health(); r.Pending != 1 || r.Overdue != 0 || !r.Healthy {
		t.Fatalf("just shipped: %+v", r)
	}
	h.clock.Advance(2 * time.Hour)
	if r := health(); r.Overdue != 1 || r.Healthy {
		t.Fatalf("two hours later: %+v", r)
	}
	if err := connectors.NewFulfillmentWorker(h.runner, 0).Drain(h.ctx); err != nil {
		t.Fatal(err)
	}
	if h.fake.Shipments() != 1 {
		t.Fatalf("%d shipments upstream, want 1", h.fake.Shipments())
	}
	p, err := h.db.GetFulfillmentPush(h.ctx, id)
	if err != nil || p.Status != store.FulfillmentSucceeded || p.UpstreamRef == "" {
		t.Fatalf("push %+v %v", p, err)
	}
	if r := health(); r.Pending != 0 || !r.Healthy {
		t.Fatalf("after the push: %+v", r)
	}
}
