package mapping

import "slices"

// Resource names a kind of canonical record a mapping produces.
type Resource string

// The resources a mapping can target; each matches a warehouse write
// operation of the store.
const (
	Items          Resource = "items"
	SalesOrders    Resource = "sales_orders"
	PurchaseOrders Resource = "purchase_orders"
	Inventory      Resource = "inventory" // stock adjustments
	Transfers      Resource = "transfers"
)

// Kind is the type of a canonical field's value.
type Kind uint8

// Field kinds. The zero Kind marks a Value that is not set.
const (
	// KindString is text.
	KindString Kind = iota + 1
	// KindInteger is a whole number (quantities, warehouse ids), an int64.
	KindInteger
	// KindDecimal is an exact decimal number (money), a Decimal.
	KindDecimal
	// KindTime is an instant, a time.Time.
	KindTime
	// KindEnum is text restricted to the field's Values.
	KindEnum
	// KindObject is a JSON object (map[string]any), such as an address.
	KindObject
	// kindAny is a member of a mapped object: any JSON value.
	kindAny
)

func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindInteger:
		return "integer"
	case KindDecimal:
		return "decimal"
	case KindTime:
		return "time"
	case KindEnum:
		return "enum"
	case KindObject:
		return "object"
	case kindAny:
		return "any"
	}
	return "unset"
}

// Field describes one canonical field.
type Field struct {
	// Name is the field's name, the same as the JSON name of the store
	// input it feeds, so store validation errors name the same fields.
	Name string
	Kind Kind
	// Required fields must be mapped (Parse refuses a mapping without
	// them) and must have a value in every document (Apply refuses a
	// document without one).
	Required bool
	// Values lists the allowed values of a KindEnum field.
	Values []string
}

// Schema is the canonical shape of a resource.
type Schema struct {
	Resource Resource
	Fields   []Field
	// Lines are the fields of each line; nil for resources without lines.
	Lines []Field
	// LinesRequired is true when every document must have a lines list.
	LinesRequired bool
}

// schemas is the one table of canonical shapes that Parse validates
// mappings against. It mirrors the store's write inputs (ItemInput,
// SalesOrderInput, PurchaseOrderInput, AdjustmentInput, TransferInput and
// OrderLine); the tests of package storeinput hold it to them. The store
// assigns statuses and timestamps itself, so no resource has a decimal,
// time or enum field yet; the engine supports those kinds for the fields
// to come.
//
// It is never modified; Lookup hands out copies.
var schemas = []Schema{
	{
		Resource: Items,
		Fields: []Field{
			{Name: "sku", Kind: KindString, Required: true},
			{Name: "name", Kind: KindString, Required: true},
			{Name: "barcode", Kind: KindString},
		},
	},
	{
		Resource: SalesOrders,
		Fields: []Field{
			{Name: "order_number", Kind: KindString, Required: true},
			{Name: "warehouse_id", Kind: KindInteger, Required: true},
			{Name: "ship_to", Kind: KindObject, Required: true},
		},
		Lines:         orderLine,
		LinesRequired: true,
	},
	{
		Resource: PurchaseOrders,
		Fields: []Field{
			{Name: "po_number", Kind: KindString, Required: true},
			{Name: "warehouse_id", Kind: KindInteger, Required: true},
			{Name: "supplier", Kind: KindString},
		},
		Lines:         orderLine,
		LinesRequired: true,
	},
	{
		Resource: Inventory,
		Fields: []Field{
			{Name: "warehouse_id", Kind: KindInteger, Required: true},
			{Name: "sku", Kind: KindString, Required: true},
			{Name: "delta", Kind: KindInteger, Required: true},
			{Name: "reason", Kind: KindString, Required: true},
		},
	},
	{
		Resource: Transfers,
		Fields: []Field{
			{Name: "from_warehouse_id", Kind: KindInteger, Required: true},
			{Name: "to_warehouse_id", Kind: KindInteger, Required: true},
		},
		Lines:         orderLine,
		LinesRequired: true,
	},
}

var orderLine = []Field{
	{Name: "sku", Kind: KindString, Required: true},
	{Name: "qty", Kind: KindInteger, Required: true},
}

// Resources returns the names of every resource a mapping can target.
func Resources() []Resource {
	out := make([]Resource, len(schemas))
	for i, s := range schemas {
		out[i] = s.Resource
	}
	return out
}

// Lookup returns the canonical schema of resource, and false when there is
// no such resource. The result is a copy the caller may keep.
func Lookup(resource Resource) (Schema, bool) {
	s := findSchema(schemas, resource)
	if s == nil {
		return Schema{}, false
	}
	return s.clone(), true
}

func findSchema(table []Schema, resource Resource) *Schema {
	for i := range table {
		if table[i].Resource == resource {
			return &table[i]
		}
	}
	return nil
}

func (s *Schema) clone() Schema {
	c := *s
	c.Fields = cloneFields(s.Fields)
	c.Lines = cloneFields(s.Lines)
	return c
}

func cloneFields(fs []Field) []Field {
	if fs == nil {
		return nil
	}
	out := slices.Clone(fs)
	for i := range out {
		out[i].Values = slices.Clone(out[i].Values)
	}
	return out
}

// fieldIndex returns the position of name in fs, or -1.
func fieldIndex(fs []Field, name string) int {
	for i := range fs {
		if fs[i].Name == name {
			return i
		}
	}
	return -1
}
