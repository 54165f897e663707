package shopify

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sentryhub/connectors"
	"sentryhub/connectors/manifest"
)

// Shopify's webhook streams, declared like a manifest's so the hub's
// receiver verifies X-Shopify-Hmac-Sha256, drops redeliveries by
// X-Shopify-Webhook-Id and stores each event before answering. Payloads
// are the REST resources; their admin_graphql_api_id is the id the GraphQL
// syncs use, so a webhook and a poll update the same record.
var webhookStreams = []*manifest.Stream{
	{Key: "orders", Mode: "webhook", Record: manifest.RecordOrder,
		Signature: &manifest.Signature{Kind: manifest.SigShopify},
		EventID:   "header:X-Shopify-Webhook-Id", EventType: "header:X-Shopify-Topic",
		Events: []string{"orders/create", "orders/updated", "orders/cancelled"},
		Setup: "In the Shopify admin, open Settings > Notifications > Webhooks (or your app's webhook subscriptions), " +
			"and create subscriptions for Order creation, Order update and Order cancellation in JSON format, " +
			"delivering to the URL above."},
	{Key: "products", Mode: "webhook", Record: manifest.RecordItem,
		Signature: &manifest.Signature{Kind: manifest.SigShopify},
		EventID:   "header:X-Shopify-Webhook-Id", EventType: "header:X-Shopify-Topic",
		Events: []string{"products/create", "products/update"},
		Setup:  "Create subscriptions for Product creation and Product update in JSON format, delivering to the URL above."},
	{Key: "inventory_levels", Mode: "webhook", Record: manifest.RecordInventoryLevel,
		Signature: &manifest.Signature{Kind: manifest.SigShopify},
		EventID:   "header:X-Shopify-Webhook-Id", EventType: "header:X-Shopify-Topic",
		Events: []string{"inventory_levels/update"},
		Setup:  "Create a subscription for Inventory level update in JSON format, delivering to the URL above."},
}

// WebhookStream returns the Shopify webhook stream called key.
func (c *Connector) WebhookStream(key string) *manifest.Stream {
	for _, s := range webhookStreams {
		if s.Key == key {
			return s
		}
	}
	return nil
}

// WebhookSecret is the key Shopify signs this shop's webhooks with: the
// app's API secret key (webhook_secret), or client_secret when that is
// the same app.
func (c *Connector) WebhookSecret(*manifest.Stream) []byte {
	if s := c.env.Secret("webhook_secret"); !s.IsZero() {
		return s.Reveal()
	}
	return c.env.Secret("client_secret").Reveal()
}

// restAddress is a REST shipping address.
type restAddress struct {
	Name        string `json:"name"`
	Company     string `json:"company"`
	Address1    string `json:"address1"`
	Address2    string `json:"address2"`
	City        string `json:"city"`
	Province    string `json:"province"`
	Zip         string `json:"zip"`
	Country     string `json:"country"`
	CountryCode string `json:"country_code"`
	Phone       string `json:"phone"`
}

// restOrder is the part of a REST order webhook the hub reads.
type restOrder struct {
	GID             string       `json:"admin_graphql_api_id"`
	Name            string       `json:"name"`
	CancelledAt     *string      `json:"cancelled_at"`
	UpdatedAt       time.Time    `json:"updated_at"`
	ShippingAddress *restAddress `json:"shipping_address"`
	LineItems       []struct {
		SKU              *string `json:"sku"`
		Quantity         int64   `json:"quantity"`
		CurrentQuantity  *int64  `json:"current_quantity"`
		RequiresShipping bool    `json:"requires_shipping"`
	} `json:"line_items"`
}

// restProduct is the part of a REST product webhook the hub reads.
type restProduct struct {
	Title    string `json:"title"`
	Variants []struct {
		GID       string    `json:"admin_graphql_api_id"`
		SKU       *string   `json:"sku"`
		Title     string    `json:"title"`
		Barcode   *string   `json:"barcode"`
		UpdatedAt time.Time `json:"updated_at"`
	} `json:"variants"`
}

// ProcessWebhook maps one stored webhook event and writes it through the
// sink, with the same rules as the polls (cancelled orders and lines
// without shipping are skipped, items need a sku).
func (c *Connector) ProcessWebhook(ctx context.Context, stream string, body []byte) (connectors.SyncResult, error) {
	var res connectors.SyncResult
	switch stream {
	case "orders":
		var o restOrder
		if err := json.Unmarshal(body, &o); err != nil || o.GID == "" {
			return res, &connectors.HTTPError{Kind: connectors.KindPermanent, Message: "order webhook is not a Shopify order"}
		}
		res.See(o.UpdatedAt)
		if o.CancelledAt != nil {
			res.Skip()
			return res, nil
		}
		var lines []connectors.Line
		for i, li := range o.LineItems {
			qty := li.Quantity
			if li.CurrentQuantity != nil {
				qty = *li.CurrentQuantity
			}
			if !li.RequiresShipping || qty <= 0 {
				continue
			}
			if li.SKU == nil || strings.TrimSpace(*li.SKU) == "" {
				res.Fail(o.GID, fmt.Sprintf("line %d needs shipping but has no sku", i+1))
				return res, nil
			}
			lines = append(lines, connectors.Line{SKU: strings.TrimSpace(*li.SKU), Qty: qty})
		}
		if len(lines) == 0 {
			res.Skip()
			return res, nil
		}
		out := connectors.Order{SourceID: o.GID, OrderNumber: o.Name, Lines: lines, UpdatedAt: o.UpdatedAt}
		if a := o.ShippingAddress; a != nil {
			out.ShipTo = connectors.Address{Name: a.Name, Company: a.Company, Address1: a.Address1, Address2: a.Address2,
				City: a.City, Province: a.Province, Zip: a.Zip, Country: a.Country, CountryCode: a.CountryCode, Phone: a.Phone}
		}
		err := connectors.WriteOrders(ctx, c.env.Sink, &res, []connectors.Order{out})
		return res, err
	case "products":
		var p restProduct
		if err := json.Unmarshal(body, &p); err != nil {
			return res, &connectors.HTTPError{Kind: connectors.KindPermanent, Message: "product webhook is not a Shopify product"}
		}
		var items []connectors.Item
		for _, v := range p.Variants {
			res.See(v.UpdatedAt)
			if v.GID == "" || v.SKU == nil || strings.TrimSpace(*v.SKU) == "" {
				res.Skip()
				continue
			}
			name := p.Title
			if v.Title != "" && v.Title != "Default Title" {
				name += " - " + v.Title
			}
			if name = capBytes(connectors.SanitizeMessage(name, maxItemName), maxItemName); name == "" {
				name = capBytes(strings.TrimSpace(*v.SKU), maxItemName)
			}
			barcode := ""
			if v.Barcode != nil {
				barcode = strings.TrimSpace(*v.Barcode)
			}
			items = append(items, connectors.Item{SourceID: v.GID, SKU: strings.TrimSpace(*v.SKU), Name: name,
				Barcode: barcode, UpdatedAt: v.UpdatedAt})
		}
		err := connectors.WriteItems(ctx, c.env.Sink, &res, items)
		return res, err
	case "inventory_levels":
		// The payload reports "available", not the on-hand quantity the hub
		// keeps, and names the item by inventory item id, not sku: take it
		// as a signal and re-read the levels that changed at the mapped
		// location since just before it, with the inventory sync's query.
		var l struct {
			LocationID int64     `json:"location_id"`
			UpdatedAt  time.Time `json:"updated_at"`
		}
		if err := json.Unmarshal(body, &l); err != nil || l.LocationID == 0 {
			return res, &connectors.HTTPError{Kind: connectors.KindPermanent, Message: "inventory level webhook is not a Shopify inventory level"}
		}
		if err := c.needLocation(); err != nil {
			return res, err
		}
		if locationGID(strconv.FormatInt(l.LocationID, 10)) != c.loc {
			res.Skip() // another location: not this warehouse's stock
			return res, nil
		}
		return c.SyncInventory(ctx, l.UpdatedAt.Add(-time.Minute))
	}
	return res, fmt.Errorf("shopify has no webhook stream %q", stream)
}

// WebhookStreams lists the streams, for the connector page.
func (c *Connector) WebhookStreams() []*manifest.Stream { return webhookStreams }
