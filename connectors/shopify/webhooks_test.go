package shopify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"testing"
	"time"

	"sentryhub/connectors/manifest"
	"sentryhub/connectors/shopify"
	"sentryhub/store"
)

const hookSecret = "shpss_webhook_secret_for_tests"

func shopifyHeaders(topic, id string, body []byte, secret string) http.Header {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return http.Header{"X-Shopify-Topic": {topic}, "X-Shopify-Webhook-Id": {id},
		"X-Shopify-Hmac-Sha256": {base64.StdEncoding.EncodeToString(m.Sum(nil))}}
}

// Products then an order arrive by webhook, through the real store.
func TestShopifyWebhookStreams(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	rx := manifest.NewReceiver(h.runner, h.db, h.clock, nil)
	rx.Processed.Init(t, "shopify webhook processed")
	ctx := h.ctx

	product := []byte(`{"id": 9, "title": "Hook Widget", "variants": [
		{"admin_graphql_api_id": "gid://shopify/ProductVariant/901", "sku": "HOOK-1", "title": "Blue", "barcode": "123", "updated_at": "2026-04-01T07:00:00Z"},
		{"admin_graphql_api_id": "gid://shopify/ProductVariant/902", "sku": "", "title": "No sku", "updated_at": "2026-04-01T07:00:00Z"}]}`)
	order := []byte(`{"admin_graphql_api_id": "gid://shopify/Order/555", "name": "#1555", "cancelled_at": null,
		"updated_at": "2026-04-01T07:30:00Z", "shipping_address": {"name": "Ada", "city": "Leeds", "country_code": "GB"},
		"line_items": [{"sku": "HOOK-1", "quantity": 3, "current_quantity": 2, "requires_shipping": true},
		               {"sku": "GIFT", "quantity": 1, "requires_shipping": false}]}`)

	for _, tc := range []struct {
		name, stream, topic, id string
		body                    []byte
		secret                  string
		status                  int
	}{
		{"forged", "products", "products/create", "w1", product, "not-the-secret", 401},
		{"product", "products", "products/create", "w1", product, hookSecret, 202},
		{"redelivered", "products", "products/create", "w1", product, hookSecret, 200},
		{"unsubscribed topic", "products", "products/delete", "w2", product, hookSecret, 200},
		{"order", "orders", "orders/create", "w3", order, hookSecret, 202},
	} {
		rep := rx.Receive(ctx, shopify.Name, h.wh, tc.stream, shopifyHeaders(tc.topic, tc.id, tc.body, tc.secret), tc.body)
		if rep.Status != tc.status {
			t.Fatalf("%s: %+v, want %d", tc.name, rep, tc.status)
		}
	}
	done := make(chan error, 1)
	runCtx, cancel := context.WithCancel(ctx)
	go func() { done <- rx.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	for range 2 {
		if ev := rx.Processed.WaitOrTimeout(); ev.Status != store.WebhookEventDone {
			t.Fatalf("event %s: %+v", ev.EventID, ev)
		}
	}
	it, err := h.db.GetItem(ctx, "HOOK-1")
	if err != nil || it.Name != "Hook Widget - Blue" {
		t.Fatalf("item HOOK-1 = %+v, %v", it, err)
	}
	// An inventory level webhook re-reads the exact on-hand quantity of
	// what changed at this location; another location's is ignored.
	h.fake.SetLevel(shopify.FakeLevel{LocationID: loc, SKU: "HOOK-1", Tracked: true, OnHand: 12, UpdatedAt: h.clock.Now()})
	for i, location := range []string{"99", "77"} {
		body := []byte(`{"inventory_item_id": 1, "location_id": ` + location + `, "available": 11, "updated_at": "` + h.clock.Now().Format(time.RFC3339) + `"}`)
		if rep := rx.Receive(ctx, shopify.Name, h.wh, "inventory_levels", shopifyHeaders("inventory_levels/update", "inv"+strconv.Itoa(i), body, hookSecret), body); rep.Status != 202 {
			t.Fatalf("inventory webhook: %+v", rep)
		}
		if ev := rx.Processed.WaitOrTimeout(); ev.Status != store.WebhookEventDone {
			t.Fatalf("inventory event: %+v", ev)
		}
	}
	inv, _ := h.db.ListInventory(ctx, store.InventoryFilter{WarehouseID: h.wh, SKU: "HOOK-1"})
	if len(inv) != 1 || inv[0].OnHand != 12 {
		t.Fatalf("inventory of HOOK-1 after the webhook: %+v", inv)
	}

	var id string
	if err := h.db.Reader().QueryRow(`SELECT id FROM sales_orders WHERE source_name = 'shopify' AND source_id = 'gid://shopify/Order/555'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	so, err := h.db.GetSalesOrder(ctx, id)
	if err != nil || so.OrderNumber != "#1555" || len(so.Lines) != 1 || so.Lines[0].Qty != 2 {
		t.Fatalf("order = %+v, %v", so, err)
	}
}
