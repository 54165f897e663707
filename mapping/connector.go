package mapping

// The resources of declarative connectors: the records a connector's
// streams hand to its sink (connectors.Item, Order and InventoryLevel).
// They differ from the inbound resources: the connector instance is bound
// to a warehouse, so orders carry no warehouse_id, and inventory is an
// absolute level, not an adjustment.
const (
	ConnectorItems           Resource = "items"
	ConnectorOrders          Resource = "orders"
	ConnectorInventoryLevels Resource = "inventory_levels"
)

var connectorSchemas = []Schema{
	{
		Resource: ConnectorItems,
		Fields: []Field{
			{Name: "sku", Kind: KindString, Required: true},
			{Name: "name", Kind: KindString, Required: true},
			{Name: "barcode", Kind: KindString},
			{Name: "updated_at", Kind: KindTime},
		},
	},
	{
		Resource: ConnectorOrders,
		Fields: []Field{
			{Name: "order_number", Kind: KindString, Required: true},
			{Name: "ship_to", Kind: KindObject},
			{Name: "updated_at", Kind: KindTime},
		},
		Lines:         orderLine,
		LinesRequired: true,
	},
	{
		Resource: ConnectorInventoryLevels,
		Fields: []Field{
			{Name: "sku", Kind: KindString, Required: true},
			{Name: "on_hand", Kind: KindInteger, Required: true},
			{Name: "updated_at", Kind: KindTime},
		},
	},
}

// ParseConnector compiles a mapping document of a declarative connector's
// stream: the same language as Parse, against the connector resources
// (items, orders, inventory_levels).
func ParseConnector(src []byte) (*Mapping, error) {
	return parse(src, connectorSchemas)
}
