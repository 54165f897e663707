package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"sentryhub/store"
)

// Document is a source document mapped to the canonical shape of its
// resource: the source's id for it, an optional idempotency key, the
// resource's fields and, for resources with lines, its lines.
type Document struct {
	Resource Resource
	// SourceID is the document's id in the source system; together with
	// the source's name it identifies the record for upserts.
	SourceID string
	// IdempotencyKey is the mapping's idempotency_key value, "" when the
	// mapping declares none.
	IdempotencyKey string

	schema *Schema
	fields []Value // in schema.Fields order
	lines  []Value // nLines rows of len(schema.Lines) values
	nLines int
}

// Field returns the value of the canonical field name; unset when the
// mapping left it empty or the resource has no such field.
func (d *Document) Field(name string) Value {
	if i := fieldIndex(d.schema.Fields, name); i >= 0 {
		return d.fields[i]
	}
	return Value{}
}

// NumLines returns the number of lines.
func (d *Document) NumLines() int { return d.nLines }

// LineField returns the value of field name of line i (0-based).
func (d *Document) LineField(i int, name string) Value {
	j := fieldIndex(d.schema.Lines, name)
	if i < 0 || i >= d.nLines || j < 0 {
		return Value{}
	}
	return d.lines[i*len(d.schema.Lines)+j]
}

// Map returns the document as JSON-ready data: source_id, idempotency_key
// (when set), every set field, and lines. It is what a dry run shows.
func (d *Document) Map() map[string]any {
	out := make(map[string]any, len(d.fields)+3)
	out["source_id"] = d.SourceID
	if d.IdempotencyKey != "" {
		out["idempotency_key"] = d.IdempotencyKey
	}
	for i, f := range d.schema.Fields {
		if v := d.fields[i]; v.IsSet() {
			out[f.Name] = v.JSON()
		}
	}
	if d.schema.Lines != nil {
		lines := make([]map[string]any, d.nLines)
		for i := range lines {
			ln := make(map[string]any, len(d.schema.Lines))
			for j, f := range d.schema.Lines {
				if v := d.lines[i*len(d.schema.Lines)+j]; v.IsSet() {
					ln[f.Name] = v.JSON()
				}
			}
			lines[i] = ln
		}
		out["lines"] = lines
	}
	return out
}

// MarshalJSON writes Map as JSON.
func (d *Document) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.Map())
}

// Decode reads one JSON document for Apply, keeping numbers as
// json.Number so that no digit is lost. It refuses trailing data.
func Decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode document: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode document: data after the JSON value")
	}
	return v, nil
}

// ErrWrongResource is returned when a Document is converted to the store
// input of another resource.
var ErrWrongResource = errors.New("document is of another resource")

func (d *Document) want(r Resource) error {
	if d.Resource != r {
		return fmt.Errorf("%s document as %s: %w", d.Resource, r, ErrWrongResource)
	}
	return nil
}

// Source returns the store reference of the document from the named
// source.
func (d *Document) Source(name string) store.SourceRef {
	return store.SourceRef{Name: name, ID: d.SourceID}
}

func (d *Document) orderLines() []store.OrderLine {
	lines := make([]store.OrderLine, d.nLines)
	for i := range lines {
		lines[i] = store.OrderLine{SKU: d.LineField(i, "sku").Text(), Qty: d.LineField(i, "qty").Int()}
	}
	return lines
}

// ItemInput returns an items document as the input of
// store.UpsertItemBySource (with d.Source). It returns ErrWrongResource
// for other documents.
func (d *Document) ItemInput() (store.ItemInput, error) {
	if err := d.want(Items); err != nil {
		return store.ItemInput{}, err
	}
	return store.ItemInput{
		SKU:     d.Field("sku").Text(),
		Name:    d.Field("name").Text(),
		Barcode: d.Field("barcode").Text(),
	}, nil
}

// SalesOrderInput returns a sales_orders document as the input of
// store.CreateSalesOrder, keyed by source for upserts. It returns
// ErrWrongResource for other documents.
func (d *Document) SalesOrderInput(source string) (store.SalesOrderInput, error) {
	if err := d.want(SalesOrders); err != nil {
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
	src := d.Source(source)
	return store.SalesOrderInput{
		OrderNumber: d.Field("order_number").Text(),
		WarehouseID: d.Field("warehouse_id").Int(),
		ShipTo:      shipTo,
		Lines:       d.orderLines(),
		Source:      &src,
	}, nil
}

// PurchaseOrderInput returns a purchase_orders document as the input of
// store.CreatePurchaseOrder, keyed by source for upserts. It returns
// ErrWrongResource for other documents.
func (d *Document) PurchaseOrderInput(source string) (store.PurchaseOrderInput, error) {
	if err := d.want(PurchaseOrders); err != nil {
		return store.PurchaseOrderInput{}, err
	}
	src := d.Source(source)
	return store.PurchaseOrderInput{
		PONumber:    d.Field("po_number").Text(),
		WarehouseID: d.Field("warehouse_id").Int(),
		Supplier:    d.Field("supplier").Text(),
		Lines:       d.orderLines(),
		Source:      &src,
	}, nil
}

// AdjustmentInput returns an inventory document as the input of
// store.ApplyAdjustment. It returns ErrWrongResource for other documents.
func (d *Document) AdjustmentInput() (store.AdjustmentInput, error) {
	if err := d.want(Inventory); err != nil {
		return store.AdjustmentInput{}, err
	}
	return store.AdjustmentInput{
		WarehouseID: d.Field("warehouse_id").Int(),
		SKU:         d.Field("sku").Text(),
		Delta:       d.Field("delta").Int(),
		Reason:      d.Field("reason").Text(),
	}, nil
}

// TransferInput returns a transfers document as the input of
// store.CreateTransfer. It returns ErrWrongResource for other documents.
func (d *Document) TransferInput() (store.TransferInput, error) {
	if err := d.want(Transfers); err != nil {
		return store.TransferInput{}, err
	}
	return store.TransferInput{
		FromWarehouseID: d.Field("from_warehouse_id").Int(),
		ToWarehouseID:   d.Field("to_warehouse_id").Int(),
		Lines:           d.orderLines(),
	}, nil
}
