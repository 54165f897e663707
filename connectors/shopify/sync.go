package shopify

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"sentryhub/connectors"
)

// searchTime formats a time for Shopify's search syntax.
func searchTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// updatedFilter is the search query for [lower, upper].
func updatedFilter(lower, upper time.Time) string {
	var parts []string
	if !lower.IsZero() {
		parts = append(parts, "updated_at:>='"+searchTime(lower)+"'")
	}
	if !upper.IsZero() {
		parts = append(parts, "updated_at:<='"+searchTime(upper)+"'")
	}
	return strings.Join(parts, " AND ")
}

// ordersPage is data.orders of SentryOrders.
type ordersPage struct {
	Orders struct {
		PageInfo pageInfo    `json:"pageInfo"`
		Nodes    []orderNode `json:"nodes"`
	} `json:"orders"`
}

type orderNode struct {
	ID              string     `json:"id"`
	Name            string     `json:"name"`
	UpdatedAt       time.Time  `json:"updatedAt"`
	CancelledAt     *time.Time `json:"cancelledAt"`
	ShippingAddress *struct {
		Name          string `json:"name"`
		Company       string `json:"company"`
		Address1      string `json:"address1"`
		Address2      string `json:"address2"`
		City          string `json:"city"`
		Province      string `json:"province"`
		Zip           string `json:"zip"`
		Country       string `json:"country"`
		CountryCodeV2 string `json:"countryCodeV2"`
		Phone         string `json:"phone"`
	} `json:"shippingAddress"`
	LineItems lineItems `json:"lineItems"`
}

type lineItems struct {
	PageInfo pageInfo   `json:"pageInfo"`
	Nodes    []lineItem `json:"nodes"`
}

type lineItem struct {
	SKU              *string `json:"sku"`
	CurrentQuantity  int64   `json:"currentQuantity"`
	RequiresShipping bool    `json:"requiresShipping"`
}

// SyncOrders pulls orders updated since since, oldest update first, in date
// windows: each window pages with the cursor until Shopify's pagination
// limit (MaxWindowObjects), then a new window starts at the last updated_at
// seen. The upper bound is the run's start, so nothing updated during the
// run is half-read; the framework's overlap re-reads the edges.
func (c *Connector) SyncOrders(ctx context.Context, since time.Time) (res connectors.SyncResult, err error) {
	if c.cfgErr != nil {
		return res, c.cfgErr
	}
	// Each page is written as one batch (one store transaction) while the
	// next is read.
	pw := connectors.NewPageWriter(ctx, &res, func(ctx context.Context, r *connectors.SyncResult, page []connectors.Order) error {
		return connectors.WriteOrders(ctx, c.env.Sink, r, page)
	})
	defer func() {
		if werr := pw.Wait(); err == nil {
			err = werr
		}
	}()
	lower, upper := since, c.env.Clock.Now()
	for {
		after := ""
		seen := 0
		var last time.Time
		for {
			var page ordersPage
			vars := map[string]any{"first": c.d.opts.OrdersPerPage, "query": updatedFilter(lower, upper),
				"lines": c.d.opts.LinesPerOrder}
			if after != "" {
				vars["after"] = after
			}
			if err := c.gql.do(ctx, queryOrders, vars, true, &page); err != nil {
				return res, err
			}
			batch := make([]connectors.Order, 0, len(page.Orders.Nodes))
			for _, n := range page.Orders.Nodes {
				seen++
				last = n.UpdatedAt
				res.See(n.UpdatedAt)
				o, ok, err := c.mapOrder(ctx, &res, n)
				if err != nil {
					return res, err
				}
				if ok {
					batch = append(batch, o)
				}
			}
			if err := pw.Write(batch); err != nil {
				return res, err
			}
			pi := page.Orders.PageInfo
			if !pi.HasNextPage || pi.EndCursor == "" || pi.EndCursor == after {
				return res, nil
			}
			if seen+c.d.opts.OrdersPerPage > c.d.opts.MaxWindowObjects {
				break // the next page would pass the pagination limit: new window
			}
			after = pi.EndCursor
		}
		if !last.After(lower) {
			return res, fmt.Errorf("more than %d orders share updated_at %s; cannot page past them", c.d.opts.MaxWindowObjects, searchTime(last))
		}
		lower = last // inclusive: orders at exactly `last` are re-read, and upserts make that harmless
	}
}

// mapOrder maps one order, reading the rest of its lines when there are
// more than the page carried; ok is false for an order not to write.
// Cancelled orders and orders with nothing left to ship are skipped; lines
// without a sku make the order fail (it could not be picked).
func (c *Connector) mapOrder(ctx context.Context, res *connectors.SyncResult, n orderNode) (o connectors.Order, ok bool, err error) {
	if n.CancelledAt != nil {
		res.Skip()
		return o, false, nil
	}
	items := n.LineItems
	all := items.Nodes
	for after := items.PageInfo.EndCursor; items.PageInfo.HasNextPage && after != ""; {
		var more struct {
			Order *struct {
				LineItems lineItems `json:"lineItems"`
			} `json:"order"`
		}
		if err := c.gql.do(ctx, queryOrderLines, map[string]any{"id": n.ID, "after": after}, true, &more); err != nil {
			return o, false, err
		}
		if more.Order == nil {
			break
		}
		all = append(all, more.Order.LineItems.Nodes...)
		items = more.Order.LineItems
		if items.PageInfo.EndCursor == after {
			break
		}
		after = items.PageInfo.EndCursor
	}
	var lines []connectors.Line
	for i, li := range all {
		if !li.RequiresShipping || li.CurrentQuantity <= 0 {
			continue
		}
		if li.SKU == nil || strings.TrimSpace(*li.SKU) == "" {
			res.Fail(n.ID, fmt.Sprintf("line %d needs shipping but has no sku", i+1))
			return o, false, nil
		}
		lines = append(lines, connectors.Line{SKU: strings.TrimSpace(*li.SKU), Qty: li.CurrentQuantity})
	}
	if len(lines) == 0 {
		res.Skip() // nothing to ship from here (digital, refunded)
		return o, false, nil
	}
	o = connectors.Order{SourceID: n.ID, OrderNumber: n.Name, Lines: lines, UpdatedAt: n.UpdatedAt}
	if a := n.ShippingAddress; a != nil {
		o.ShipTo = connectors.Address{Name: a.Name, Company: a.Company, Address1: a.Address1, Address2: a.Address2,
			City: a.City, Province: a.Province, Zip: a.Zip, Country: a.Country, CountryCode: a.CountryCodeV2, Phone: a.Phone}
	}
	return o, true, nil
}

// variantsPage is data.productVariants of SentryVariants.
type variantsPage struct {
	ProductVariants struct {
		PageInfo pageInfo `json:"pageInfo"`
		Nodes    []struct {
			ID        string    `json:"id"`
			SKU       *string   `json:"sku"`
			Barcode   *string   `json:"barcode"`
			Title     string    `json:"title"`
			UpdatedAt time.Time `json:"updatedAt"`
			Product   *struct {
				Title string `json:"title"`
			} `json:"product"`
		} `json:"nodes"`
	} `json:"productVariants"`
}

const maxItemName = 200

// capBytes cuts s to at most n bytes on a rune boundary (the store limits
// bytes) and trims spaces.
func capBytes(s string, n int) string {
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return strings.TrimSpace(s)
}

// SyncItems pulls product variants updated since since as items: sku,
// barcode, and "Product - Variant" as the name. Variants without a sku are
// skipped.
func (c *Connector) SyncItems(ctx context.Context, since time.Time) (connectors.SyncResult, error) {
	var res connectors.SyncResult
	if c.cfgErr != nil {
		return res, c.cfgErr
	}
	after := ""
	for {
		vars := map[string]any{"first": c.d.opts.VariantsPerPage}
		if q := updatedFilter(since, time.Time{}); q != "" {
			vars["query"] = q
		}
		if after != "" {
			vars["after"] = after
		}
		var page variantsPage
		if err := c.gql.do(ctx, queryVariants, vars, true, &page); err != nil {
			return res, err
		}
		batch := make([]connectors.Item, 0, len(page.ProductVariants.Nodes))
		for _, v := range page.ProductVariants.Nodes {
			res.See(v.UpdatedAt)
			if v.SKU == nil || strings.TrimSpace(*v.SKU) == "" {
				res.Skip()
				continue
			}
			name := v.Title
			if v.Product != nil {
				name = v.Product.Title
				if v.Title != "" && v.Title != "Default Title" {
					name += " - " + v.Title
				}
			}
			if name = capBytes(connectors.SanitizeMessage(name, maxItemName), maxItemName); name == "" {
				name = capBytes(strings.TrimSpace(*v.SKU), maxItemName)
			}
			barcode := ""
			if v.Barcode != nil {
				barcode = strings.TrimSpace(*v.Barcode)
			}
			batch = append(batch, connectors.Item{SourceID: v.ID,
				SKU: strings.TrimSpace(*v.SKU), Name: name, Barcode: barcode, UpdatedAt: v.UpdatedAt})
		}
		if err := connectors.WriteItems(ctx, c.env.Sink, &res, batch); err != nil {
			return res, err
		}
		pi := page.ProductVariants.PageInfo
		if !pi.HasNextPage || pi.EndCursor == "" || pi.EndCursor == after {
			return res, nil
		}
		after = pi.EndCursor
	}
}

// inventoryPage is data.location of SentryInventory.
type inventoryPage struct {
	Location *struct {
		ID              string `json:"id"`
		InventoryLevels struct {
			PageInfo pageInfo `json:"pageInfo"`
			Nodes    []struct {
				ID         string    `json:"id"`
				UpdatedAt  time.Time `json:"updatedAt"`
				Quantities []struct {
					Name     string `json:"name"`
					Quantity int64  `json:"quantity"`
				} `json:"quantities"`
				Item *struct {
					ID      string  `json:"id"`
					SKU     *string `json:"sku"`
					Tracked bool    `json:"tracked"`
				} `json:"item"`
			} `json:"nodes"`
		} `json:"inventoryLevels"`
	} `json:"location"`
}

// SyncInventory pulls the on-hand quantities at the mapped location updated
// since since and sets them in the warehouse. Untracked items and items
// without a sku are skipped; a negative on-hand (oversold) counts as zero.
// This makes Shopify the source of truth for stock: schedule it only where
// it is.
func (c *Connector) SyncInventory(ctx context.Context, since time.Time) (connectors.SyncResult, error) {
	var res connectors.SyncResult
	if c.cfgErr != nil {
		return res, c.cfgErr
	}
	if err := c.needLocation(); err != nil {
		return res, err
	}
	after := ""
	for {
		vars := map[string]any{"location": c.loc, "first": c.d.opts.LevelsPerPage}
		if q := updatedFilter(since, time.Time{}); q != "" {
			vars["query"] = q
		}
		if after != "" {
			vars["after"] = after
		}
		var page inventoryPage
		if err := c.gql.do(ctx, queryInventory, vars, true, &page); err != nil {
			return res, err
		}
		if page.Location == nil {
			return res, &connectors.ConfigError{Connector: Name, Fields: map[string]string{"location_id": "names no location of " + c.shop}}
		}
		lv := page.Location.InventoryLevels
		batch := make([]connectors.InventoryLevel, 0, len(lv.Nodes))
		for _, n := range lv.Nodes {
			res.See(n.UpdatedAt)
			if n.Item == nil || !n.Item.Tracked || n.Item.SKU == nil || strings.TrimSpace(*n.Item.SKU) == "" {
				res.Skip()
				continue
			}
			var qty int64
			found := false
			for _, q := range n.Quantities {
				if q.Name == "on_hand" {
					qty, found = q.Quantity, true
				}
			}
			if !found {
				res.Fail(n.ID, "inventory level has no on_hand quantity")
				continue
			}
			batch = append(batch, connectors.InventoryLevel{SourceID: n.ID,
				SKU: strings.TrimSpace(*n.Item.SKU), OnHand: max(qty, 0), UpdatedAt: n.UpdatedAt})
		}
		if err := connectors.WriteInventoryLevels(ctx, c.env.Sink, &res, batch); err != nil {
			return res, err
		}
		if !lv.PageInfo.HasNextPage || lv.PageInfo.EndCursor == "" || lv.PageInfo.EndCursor == after {
			return res, nil
		}
		after = lv.PageInfo.EndCursor
	}
}

// fulfillmentOrdersData is data of SentryFulfillmentOrders.
type fulfillmentOrdersData struct {
	Order *struct {
		ID           string `json:"id"`
		Name         string `json:"name"`
		Fulfillments []struct {
			ID           string `json:"id"`
			Status       string `json:"status"`
			TrackingInfo []struct {
				Number  *string `json:"number"`
				Company *string `json:"company"`
			} `json:"trackingInfo"`
		} `json:"fulfillments"`
		FulfillmentOrders struct {
			Nodes []struct {
				ID               string `json:"id"`
				Status           string `json:"status"`
				AssignedLocation *struct {
					Location *struct {
						ID string `json:"id"`
					} `json:"location"`
				} `json:"assignedLocation"`
			} `json:"nodes"`
		} `json:"fulfillmentOrders"`
	} `json:"order"`
}

// PushFulfillment creates one fulfillment with the carrier and tracking
// number for the order's open fulfillment orders at the mapped location.
//
// fulfillmentCreate takes no idempotency key, so the push is made
// idempotent by reading first: a fulfillment already carrying this
// tracking number, or an order with no open fulfillment orders left at the
// location but a successful fulfillment, means an earlier attempt got
// through (its response may have been lost), and the push reports success
// without creating another. The mutation itself is never blindly resent.
func (c *Connector) PushFulfillment(ctx context.Context, req connectors.FulfillmentRequest) (connectors.PushResult, error) {
	if c.cfgErr != nil {
		return connectors.PushResult{}, c.cfgErr
	}
	if err := c.needLocation(); err != nil {
		return connectors.PushResult{}, err
	}
	if !strings.HasPrefix(req.SourceID, "gid://shopify/Order/") {
		return connectors.PushResult{}, &connectors.DataError{Message: "order " + req.OrderNumber + " has no Shopify order id",
			Fields: map[string]string{"source_id": "must be a gid://shopify/Order/ id"}}
	}
	var fo fulfillmentOrdersData
	if err := c.gql.do(ctx, queryFulfillmentOrders, map[string]any{"id": req.SourceID}, true, &fo); err != nil {
		return connectors.PushResult{}, err
	}
	if fo.Order == nil {
		return connectors.PushResult{}, &connectors.DataError{Message: "order " + req.SourceID + " not found in " + c.shop,
			Fields: map[string]string{"source_id": "not found upstream"}}
	}
	var done string
	for _, f := range fo.Order.Fulfillments {
		if f.Status != "SUCCESS" {
			continue
		}
		done = f.ID
		for _, ti := range f.TrackingInfo {
			if req.Tracking != "" && ti.Number != nil && *ti.Number == req.Tracking {
				return connectors.PushResult{Success: true, AlreadyDone: true, UpstreamRef: f.ID,
					Message: "fulfillment with this tracking number already exists"}, nil
			}
		}
	}
	var open []map[string]any
	for _, n := range fo.Order.FulfillmentOrders.Nodes {
		if n.Status != "OPEN" && n.Status != "IN_PROGRESS" {
			continue
		}
		if n.AssignedLocation == nil || n.AssignedLocation.Location == nil || n.AssignedLocation.Location.ID != c.loc {
			continue
		}
		open = append(open, map[string]any{"fulfillmentOrderId": n.ID})
	}
	if len(open) == 0 {
		if done != "" {
			return connectors.PushResult{Success: true, AlreadyDone: true, UpstreamRef: done,
				Message: "no open fulfillment orders left at the location; already fulfilled"}, nil
		}
		return connectors.PushResult{}, &connectors.DataError{Message: "order " + fo.Order.Name + " has no open fulfillment orders at location " + c.loc,
			Fields: map[string]string{"location_id": "has no open fulfillment orders for this order"}}
	}
	tracking := map[string]any{"company": req.Carrier}
	if req.Tracking != "" {
		tracking["number"] = req.Tracking
	}
	vars := map[string]any{
		"fulfillment": map[string]any{
			"lineItemsByFulfillmentOrder": open,
			"notifyCustomer":              c.env.Settings.Bool("notify_customer", false),
			"trackingInfo":                tracking,
		},
		"message": "Shipped by Sentry Hub, shipment " + req.IdempotencyKey,
	}
	var out struct {
		FulfillmentCreate struct {
			Fulfillment *struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"fulfillment"`
			UserErrors []userError `json:"userErrors"`
		} `json:"fulfillmentCreate"`
	}
	if err := c.gql.do(ctx, mutationFulfill, vars, false, &out); err != nil {
		return connectors.PushResult{}, err
	}
	if ue := out.FulfillmentCreate.UserErrors; len(ue) > 0 {
		return connectors.PushResult{}, dataError("fulfillmentCreate", ue)
	}
	if out.FulfillmentCreate.Fulfillment == nil {
		return connectors.PushResult{}, &connectors.HTTPError{Kind: connectors.KindTransient, Message: "fulfillmentCreate returned no fulfillment"}
	}
	return connectors.PushResult{Success: true, UpstreamRef: out.FulfillmentCreate.Fulfillment.ID,
		Message: "created for " + strconv.Itoa(len(open)) + " fulfillment order(s)"}, nil
}
