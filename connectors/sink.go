package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"sentryhub/store"
)

// Sink is where a connector writes canonical records: the only way a
// connector changes the hub's data. Each call is one ordinary store
// operation keyed by the record's source reference (this connector's name
// and the record's id upstream), so writing the same record twice never
// duplicates it.
//
// A record the hub refuses (unknown sku, an order that can no longer
// change) returns an error matching ErrRecord, which SyncResult.Track
// counts; any other error should end the sync.
type Sink interface {
	UpsertItem(ctx context.Context, it Item) error
	UpsertOrder(ctx context.Context, o Order) error
	SetInventory(ctx context.Context, l InventoryLevel) error
}

// Item is an item master record from upstream.
type Item struct {
	SourceID string `json:"source_id"`
	SKU      string `json:"sku"`
	Name     string `json:"name"`
	Barcode  string `json:"barcode,omitempty"`
	// UpdatedAt is the upstream modification time; it makes a re-sync of
	// an unchanged record a no-op (see StoreSink).
	UpdatedAt time.Time `json:"updated_at"`
}

// Address is a shipping address; it becomes the order's ship_to object.
type Address struct {
	Name        string `json:"name,omitempty"`
	Company     string `json:"company,omitempty"`
	Address1    string `json:"address1,omitempty"`
	Address2    string `json:"address2,omitempty"`
	City        string `json:"city,omitempty"`
	Province    string `json:"province,omitempty"`
	Zip         string `json:"zip,omitempty"`
	Country     string `json:"country,omitempty"`
	CountryCode string `json:"country_code,omitempty"`
	Phone       string `json:"phone,omitempty"`
}

// Order is a sales order from upstream, to ship from the warehouse the
// connector instance is bound to.
type Order struct {
	SourceID    string    `json:"source_id"`
	OrderNumber string    `json:"order_number"`
	ShipTo      Address   `json:"ship_to"`
	Lines       []Line    `json:"lines"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// InventoryLevel is the quantity on hand of a sku at the warehouse.
type InventoryLevel struct {
	SourceID  string    `json:"source_id"`
	SKU       string    `json:"sku"`
	OnHand    int64     `json:"on_hand"`
	UpdatedAt time.Time `json:"updated_at"`
}

// StoreSink is the Sink over the store, for one connector and warehouse.
//
// Each write carries a request id derived from the record's content
// (including its upstream UpdatedAt), so re-reading an unchanged record —
// which the cursor overlap window does on purpose — replays the stored
// result without writing anything. A record without UpdatedAt gets a fresh
// id per write: still no duplicate (the upsert is keyed by source
// reference), only an idempotency row per write.
type StoreSink struct {
	db          *store.DB
	connector   string
	warehouseID int64
	// check, when set, runs before each write; a non-nil error (the run
	// lost its lease) is returned instead of writing.
	check func() error
}

// NewStoreSink returns the sink of connector in warehouseID. check may be
// nil.
func NewStoreSink(db *store.DB, connector string, warehouseID int64, check func() error) *StoreSink {
	return &StoreSink{db: db, connector: connector, warehouseID: warehouseID, check: check}
}

func (s *StoreSink) meta(kind string, rec any, updated time.Time) (store.OpMeta, error) {
	m := store.OpMeta{Actor: "connector:" + s.connector}
	if updated.IsZero() {
		return m, nil
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return m, fmt.Errorf("fingerprint %s record: %w", kind, err)
	}
	key := s.connector + "\x00" + strconv.FormatInt(s.warehouseID, 10) + "\x00" + kind + "\x00" + string(b)
	m.RequestID = uuid.NewSHA1(uuid.NameSpaceURL, []byte(key)).String()
	return m, nil
}

func (s *StoreSink) before() error {
	if s.check != nil {
		return s.check()
	}
	return nil
}

// UpsertItem creates or updates the item with the source reference
// (connector, it.SourceID).
func (s *StoreSink) UpsertItem(ctx context.Context, it Item) error {
	if err := s.before(); err != nil {
		return err
	}
	meta, err := s.meta("item", it, it.UpdatedAt)
	if err != nil {
		return err
	}
	_, err = s.db.UpsertItemBySource(ctx, meta, store.SourceRef{Name: s.connector, ID: it.SourceID},
		store.ItemInput{SKU: it.SKU, Name: it.Name, Barcode: it.Barcode})
	return recordError(it.SourceID, err)
}

// UpsertOrder creates or updates the sales order with the source reference
// (connector, o.SourceID) in the sink's warehouse. Lines repeating a sku are
// merged.
func (s *StoreSink) UpsertOrder(ctx context.Context, o Order) error {
	if err := s.before(); err != nil {
		return err
	}
	meta, err := s.meta("order", o, o.UpdatedAt)
	if err != nil {
		return err
	}
	shipTo, err := json.Marshal(o.ShipTo)
	if err != nil {
		return fmt.Errorf("encode ship_to of order %s: %w", o.SourceID, err)
	}
	_, err = s.db.CreateSalesOrder(ctx, meta, store.SalesOrderInput{
		OrderNumber: o.OrderNumber, WarehouseID: s.warehouseID, ShipTo: shipTo,
		Lines: mergeLines(o.Lines), Source: &store.SourceRef{Name: s.connector, ID: o.SourceID}})
	return recordError(o.SourceID, err)
}

// SetInventory sets the on-hand quantity of l.SKU in the sink's warehouse
// to l.OnHand, recorded as a cycle count (which appends
// cycle_count.adjusted when the quantity changed).
func (s *StoreSink) SetInventory(ctx context.Context, l InventoryLevel) error {
	if err := s.before(); err != nil {
		return err
	}
	meta, err := s.meta("inventory", l, l.UpdatedAt)
	if err != nil {
		return err
	}
	qty := l.OnHand
	_, err = s.db.RecordCycleCount(ctx, meta, store.CycleCountInput{WarehouseID: s.warehouseID, SKU: l.SKU, CountedQty: &qty})
	return recordError(l.SourceID, err)
}

// mergeLines sums lines repeating a sku, keeping first-seen order.
func mergeLines(lines []Line) []store.OrderLine {
	out := make([]store.OrderLine, 0, len(lines))
	at := make(map[string]int, len(lines))
	for _, l := range lines {
		if i, ok := at[l.SKU]; ok {
			out[i].Qty += l.Qty
			continue
		}
		at[l.SKU] = len(out)
		out = append(out, store.OrderLine{SKU: l.SKU, Qty: l.Qty})
	}
	return out
}

// recordError turns the store's refusals of one record into a
// *RecordError; other errors pass through.
func recordError(sourceID string, err error) error {
	if err == nil {
		return nil
	}
	var ve *store.ValidationError
	var ce *store.ConflictError
	switch {
	case errors.As(err, &ve):
		return &RecordError{SourceID: sourceID, Message: ve.Message, Fields: ve.Fields, err: err}
	case errors.As(err, &ce):
		return &RecordError{SourceID: sourceID, Message: ce.Message, Fields: ce.Fields, err: err}
	case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrConflict):
		return &RecordError{SourceID: sourceID, Message: err.Error(), err: err}
	}
	return err
}
