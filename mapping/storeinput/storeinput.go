// Package storeinput turns mapped documents into the store's write
// inputs. It is apart from package mapping so that the mapping engine
// stays a leaf: its tests and fuzzers do not link the database.
package storeinput

import (
	"encoding/json"
	"errors"
	"fmt"

	"sentryhub/mapping"
	"sentryhub/store"
)

// ErrWrongResource is returned when a document is converted to the input
// of another resource.
var ErrWrongResource = errors.New("document is of another resource")

func want(d *mapping.Document, r mapping.Resource) error {
	if d.Resource != r {
		return fmt.Errorf("%s document as %s: %w", d.Resource, r, ErrWrongResource)
	}
	return nil
}

// Source returns the store reference of d as a document of the named
// source: upserts are keyed by it.
func Source(d *mapping.Document, source string) store.SourceRef {
	return store.SourceRef{Name: source, ID: d.SourceID}
}

func orderLines(d *mapping.Document) []store.OrderLine {
	lines := make([]store.OrderLine, d.NumLines())
	for i := range lines {
		lines[i] = store.OrderLine{SKU: d.LineField(i, "sku").Text(), Qty: d.LineField(i, "qty").Int()}
	}
	return lines
}

// Item returns an items document as the input of store.UpsertItemBySource
// (with Source). It returns ErrWrongResource for other documents.
func Item(d *mapping.Document) (store.ItemInput, error) {
	if err := want(d, mapping.Items); err != nil {
		return store.ItemInput{}, err
	}
	return store.ItemInput{
		SKU:     d.Field("sku").Text(),
		Name:    d.Field("name").Text(),
		Barcode: d.Field("barcode").Text(),
	}, nil
}

// SalesOrder returns a sales_orders document as the input of
// store.CreateSalesOrder, keyed by source for upserts. It returns
// ErrWrongResource for other documents.
func SalesOrder(d *mapping.Document, source string) (store.SalesOrderInput, error) {
	if err := want(d, mapping.SalesOrders); err != nil {
		return store.SalesOrderInput{}, err
	}
	var shipTo json.RawMessage
	if o := d.Field("ship_to").Object(); o != nil {
		b, err := json.Marshal(o)
		if err != nil {
			return store.SalesOrderInput{}, fmt.Errorf("encode ship_to: %w", err)
		}
		shipTo = b
	}
	src := Source(d, source)
	return store.SalesOrderInput{
		OrderNumber: d.Field("order_number").Text(),
		WarehouseID: d.Field("warehouse_id").Int(),
		ShipTo:      shipTo,
		Lines:       orderLines(d),
		Source:      &src,
	}, nil
}

// PurchaseOrder returns a purchase_orders document as the input of
// store.CreatePurchaseOrder, keyed by source for upserts. It returns
// ErrWrongResource for other documents.
func PurchaseOrder(d *mapping.Document, source string) (store.PurchaseOrderInput, error) {
	if err := want(d, mapping.PurchaseOrders); err != nil {
		return store.PurchaseOrderInput{}, err
	}
	src := Source(d, source)
	return store.PurchaseOrderInput{
		PONumber:    d.Field("po_number").Text(),
		WarehouseID: d.Field("warehouse_id").Int(),
		Supplier:    d.Field("supplier").Text(),
		Lines:       orderLines(d),
		Source:      &src,
	}, nil
}

// Adjustment returns an inventory document as the input of
// store.ApplyAdjustment. It returns ErrWrongResource for other documents.
func Adjustment(d *mapping.Document) (store.AdjustmentInput, error) {
	if err := want(d, mapping.Inventory); err != nil {
		return store.AdjustmentInput{}, err
	}
	return store.AdjustmentInput{
		WarehouseID: d.Field("warehouse_id").Int(),
		SKU:         d.Field("sku").Text(),
		Delta:       d.Field("delta").Int(),
		Reason:      d.Field("reason").Text(),
	}, nil
}

// Transfer returns a transfers document as the input of
// store.CreateTransfer. It returns ErrWrongResource for other documents.
func Transfer(d *mapping.Document) (store.TransferInput, error) {
	if err := want(d, mapping.Transfers); err != nil {
		return store.TransferInput{}, err
	}
	return store.TransferInput{
		FromWarehouseID: d.Field("from_warehouse_id").Int(),
		ToWarehouseID:   d.Field("to_warehouse_id").Int(),
		Lines:           orderLines(d),
	}, nil
}
