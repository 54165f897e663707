package connectors

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

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
	// UpdatedAt is the upstream modification time (the sync's cursor);
	// the store finds unchanged records by content, not by it.
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

// BatchSink is a Sink that can also write a page of records at once, in
// one store transaction: what a connector should use when it reads records
// a page at a time (see WriteOrders). The per-record errors are in input
// order: nil for a record written (or unchanged), a *RecordError for one
// the hub refused. The error is for the page as a whole (nothing of it
// was written).
type BatchSink interface {
	Sink
	UpsertItems(ctx context.Context, items []Item) ([]error, error)
	UpsertOrders(ctx context.Context, orders []Order) ([]error, error)
	SetInventoryLevels(ctx context.Context, levels []InventoryLevel) ([]error, error)
}

// WriteItems writes a page of items through sink, in one batch when it is
// a BatchSink and one by one otherwise, and tracks each in res. It
// returns an error only when the sync must stop.
func WriteItems(ctx context.Context, sink Sink, res *SyncResult, items []Item) error {
	return writePage(ctx, sink, res, items, func(it Item) string { return it.SourceID },
		BatchSink.UpsertItems, Sink.UpsertItem)
}

// WriteOrders is WriteItems for orders.
func WriteOrders(ctx context.Context, sink Sink, res *SyncResult, orders []Order) error {
	return writePage(ctx, sink, res, orders, func(o Order) string { return o.SourceID },
		BatchSink.UpsertOrders, Sink.UpsertOrder)
}

// WriteInventoryLevels is WriteItems for inventory levels.
func WriteInventoryLevels(ctx context.Context, sink Sink, res *SyncResult, levels []InventoryLevel) error {
	return writePage(ctx, sink, res, levels, func(l InventoryLevel) string { return l.SourceID },
		BatchSink.SetInventoryLevels, Sink.SetInventory)
}

func writePage[T any](ctx context.Context, sink Sink, res *SyncResult, recs []T, id func(T) string,
	batch func(BatchSink, context.Context, []T) ([]error, error), one func(Sink, context.Context, T) error) error {
	if len(recs) == 0 {
		return nil
	}
	if bs, ok := sink.(BatchSink); ok {
		errs, err := batch(bs, ctx, recs)
		if err != nil {
			return err
		}
		for i, r := range recs {
			if err := res.Track(id(r), errs[i]); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range recs {
		if err := res.Track(id(r), one(sink, ctx, r)); err != nil {
			return err
		}
	}
	return nil
}

// StoreSink is the Sink over the store, for one connector and warehouse.
// It is a BatchSink: a page is one store transaction (store.UpsertRecords),
// each record in its own savepoint, keyed by its source reference (the
// connector's name and the record's id upstream). A record equal to what
// is stored is unchanged: nothing is written and no event appended, so
// re-reading records (which the cursor overlap window does on purpose)
// costs a read each. The single-record methods are batches of one.
type StoreSink struct {
	db          *store.DB
	connector   string
	warehouseID int64
	// check, when set, runs before each write; a non-nil error (the run
	// lost its lease) is returned instead of writing.
	check func() error
	// run, when set, is the sync run whose progress each page adds to.
	run *sinkRun
}

// sinkRun names the running sync a sink writes for.
type sinkRun struct {
	key store.SyncKey
	id  string
}

// countFor makes every later page add its outcome to the progress of run
// id of key (store.UpsertSyncPage). The runner calls it before the sync
// starts writing.
func (s *StoreSink) countFor(key store.SyncKey, id string) { s.run = &sinkRun{key: key, id: id} }

// NewStoreSink returns the sink of connector in warehouseID. check may be
// nil.
func NewStoreSink(db *store.DB, connector string, warehouseID int64, check func() error) *StoreSink {
	return &StoreSink{db: db, connector: connector, warehouseID: warehouseID, check: check}
}

func (s *StoreSink) before() error {
	if s.check != nil {
		return s.check()
	}
	return nil
}

func (s *StoreSink) src(id string) store.SourceRef { return store.SourceRef{Name: s.connector, ID: id} }

// write runs one batch and turns refusals into *RecordErrors.
func (s *StoreSink) write(ctx context.Context, recs []store.SourceRecord) ([]error, error) {
	if err := s.before(); err != nil {
		return nil, err
	}
	meta := store.OpMeta{Actor: "connector:" + s.connector}
	var res []store.RecordResult
	var err error
	if s.run != nil {
		res, err = s.db.UpsertSyncPage(ctx, meta, s.run.key, s.run.id, recs)
	} else {
		res, err = s.db.UpsertRecords(ctx, meta, recs)
	}
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(res))
	for i, r := range res {
		if r.Outcome == store.OutcomeRefused {
			errs[i] = &RecordError{SourceID: recs[i].Source.ID, Message: r.Message, Fields: r.Fields, err: r.Err}
		}
	}
	return errs, nil
}

func one(errs []error, err error) error {
	if err != nil {
		return err
	}
	return errs[0]
}

// UpsertItems creates or updates items by their source reference.
func (s *StoreSink) UpsertItems(ctx context.Context, items []Item) ([]error, error) {
	recs := make([]store.SourceRecord, len(items))
	for i, it := range items {
		recs[i] = store.SourceRecord{Source: s.src(it.SourceID),
			Item: &store.ItemInput{SKU: it.SKU, Name: it.Name, Barcode: it.Barcode}}
	}
	return s.write(ctx, recs)
}

// UpsertOrders creates or updates sales orders by their source reference
// in the sink's warehouse. Lines repeating a sku are merged.
func (s *StoreSink) UpsertOrders(ctx context.Context, orders []Order) ([]error, error) {
	recs := make([]store.SourceRecord, len(orders))
	for i, o := range orders {
		shipTo, err := json.Marshal(o.ShipTo)
		if err != nil {
			return nil, fmt.Errorf("encode ship_to of order %s: %w", o.SourceID, err)
		}
		recs[i] = store.SourceRecord{Source: s.src(o.SourceID), SalesOrder: &store.SalesOrderInput{
			OrderNumber: o.OrderNumber, WarehouseID: s.warehouseID, ShipTo: shipTo, Lines: mergeLines(o.Lines)}}
	}
	return s.write(ctx, recs)
}

// SetInventoryLevels sets on-hand quantities in the sink's warehouse, each
// recorded as a cycle count (which appends cycle_count.adjusted) when the
// quantity changed; a level already at its quantity is unchanged.
func (s *StoreSink) SetInventoryLevels(ctx context.Context, levels []InventoryLevel) ([]error, error) {
	recs := make([]store.SourceRecord, len(levels))
	for i, l := range levels {
		qty := l.OnHand
		recs[i] = store.SourceRecord{Source: s.src(l.SourceID),
			Level: &store.CycleCountInput{WarehouseID: s.warehouseID, SKU: l.SKU, CountedQty: &qty}}
	}
	return s.write(ctx, recs)
}

// UpsertItem is UpsertItems for one item.
func (s *StoreSink) UpsertItem(ctx context.Context, it Item) error {
	return one(s.UpsertItems(ctx, []Item{it}))
}

// UpsertOrder is UpsertOrders for one order.
func (s *StoreSink) UpsertOrder(ctx context.Context, o Order) error {
	return one(s.UpsertOrders(ctx, []Order{o}))
}

// SetInventory is SetInventoryLevels for one level.
func (s *StoreSink) SetInventory(ctx context.Context, l InventoryLevel) error {
	return one(s.SetInventoryLevels(ctx, []InventoryLevel{l}))
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

// PageWriter writes pages of records in the background, one page at a
// time, so a connector reads its next page while the store writes the
// last one (on a machine with two cores the two overlap). Outcomes are
// tracked into a private SyncResult by the writing goroutine and merged
// into the connector's at the next Write and at Wait, in the connector's
// goroutine, so the connector keeps using its SyncResult freely.
//
// The writing goroutine is owned by the PageWriter: every path out of the
// sync must call Wait (defer it), which returns once no page is in
// flight. The context is the sync's: cancelling it stops the write.
type PageWriter[T any] struct {
	ctx   context.Context
	res   *SyncResult
	write func(ctx context.Context, res *SyncResult, page []T) error
	done  chan pageOutcome // nil when no page is in flight
}

type pageOutcome struct {
	res SyncResult
	err error
}

// NewPageWriter returns a writer that writes each page with write
// (WriteOrders and the like) and tracks into res.
func NewPageWriter[T any](ctx context.Context, res *SyncResult, write func(ctx context.Context, res *SyncResult, page []T) error) *PageWriter[T] {
	return &PageWriter[T]{ctx: ctx, res: res, write: write}
}

// Write waits for the page in flight, then starts writing page. It
// returns the error that should end the sync (of the earlier page); the
// caller must not reuse page's backing array.
func (w *PageWriter[T]) Write(page []T) error {
	if err := w.Wait(); err != nil {
		return err
	}
	if len(page) == 0 {
		return nil
	}
	done := make(chan pageOutcome, 1)
	w.done = done
	go func() {
		var r SyncResult
		err := w.write(w.ctx, &r, page)
		done <- pageOutcome{res: r, err: err}
	}()
	return nil
}

// Wait waits for the page in flight, if any, merges its outcome and
// returns its error.
func (w *PageWriter[T]) Wait() error {
	if w.done == nil {
		return nil
	}
	out := <-w.done
	w.done = nil
	w.res.RecordsSynced += out.res.RecordsSynced
	w.res.RecordsFailed += out.res.RecordsFailed
	for _, f := range out.res.Failures {
		if len(w.res.Failures) < maxFailures {
			w.res.Failures = append(w.res.Failures, f)
		}
	}
	return out.err
}
