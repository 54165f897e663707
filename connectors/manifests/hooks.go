package manifests

import (
	"fmt"
	"strconv"

	"sentryhub/connectors/manifest"
)

// BodyHooks are the Go body hooks the catalogue's manifests name.
func BodyHooks() map[string]manifest.BodyHook {
	return map[string]manifest.BodyHook{"bigcommerce_shipment": bigcommerceShipment}
}

// bigcommerceShipment builds a v2 shipment: BigCommerce names each line by
// its order_product_id and the shipment by the consignment's
// order_address_id, both read in the snapshot (the order's products), while
// the hub knows lines by SKU.
func bigcommerceShipment(rec manifest.Record, snapshot any) (any, error) {
	products, _ := snapshot.([]any)
	type item struct {
		OrderProductID int64 `json:"order_product_id"`
		Quantity       int64 `json:"quantity"`
	}
	var items []item
	var address int64
	for _, l := range rec.Lines {
		found := false
		for _, p := range products {
			m, _ := p.(map[string]any)
			if sku, _ := m["sku"].(string); sku != l.SKU {
				continue
			}
			id, err1 := strconv.ParseInt(fmt.Sprint(m["id"]), 10, 64)
			addr, err2 := strconv.ParseInt(fmt.Sprint(m["order_address_id"]), 10, 64)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("order %s: product %q has no numeric id and order_address_id", rec.SourceID, l.SKU)
			}
			items = append(items, item{OrderProductID: id, Quantity: l.Qty})
			address, found = addr, true
			break
		}
		if !found {
			return nil, fmt.Errorf("order %s has no product with SKU %q", rec.SourceID, l.SKU)
		}
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("shipment for order %s has no lines", rec.SourceID)
	}
	// shipping_provider takes only BigCommerce's own list; "" with the
	// carrier's name as the method fits any carrier.
	return map[string]any{"order_address_id": address, "tracking_number": rec.Tracking,
		"shipping_provider": "", "shipping_method": rec.Carrier, "items": items}, nil
}
