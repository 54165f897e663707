package store_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"sentryhub/assets"
	"sentryhub/canonjson"
	"sentryhub/store"
)

// envelopeViaMap builds the envelope the slow way: a map encoded and
// canonicalized as a whole.
func envelopeViaMap(tb testing.TB, ev store.Event) []byte {
	tb.Helper()
	b, err := json.Marshal(map[string]any{
		"event_id":        ev.ID,
		"event_type":      ev.EventType,
		"event_version":   ev.EventVersion,
		"event_timestamp": ev.Timestamp.UTC().Format(store.EventTimeFormat),
		"aggregate_type":  ev.AggregateType,
		"aggregate_id":    ev.AggregateID,
		"warehouse_id":    ev.WarehouseID,
		"source_txn_id":   ev.SourceTxnID,
		"data":            ev.Data,
	})
	if err != nil {
		tb.Fatal(err)
	}
	c, err := canonjson.Canonicalize(b)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestEnvelope(t *testing.T) {
	contractData, err := canonjson.Canonicalize([]byte(`{"order_number":"SO-1001","carrier":"UPS",
		"tracking":"1Z999AA10123456784","lines":[{"sku":"WIDGET-1","qty":2},{"sku":"GADGET-9","qty":1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	nonASCII, err := canonjson.Canonicalize([]byte(`{"name":"Bügel «Zürich» 🧲","note":"tab\there \"quoted\" \\ <&> \u007f","n":[1,2.5,-0.0,1e300]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ev   store.Event
		want string // exact bytes, when known independently
	}{
		{
			name: "the contract's example",
			ev: store.Event{ID: 48213906, EventType: "ship.confirmed", EventVersion: 1,
				Timestamp:     time.Date(2026, 5, 2, 14, 22, 7, 413_000_000, time.UTC),
				AggregateType: "sales_order", AggregateID: "2a8c34e2-5b7c-4d1e-9f3a-0c1d2e3f4a5b",
				WarehouseID: 3, SourceTxnID: "6f9e7c6a-1b2c-4d5e-8f90-a1b2c3d4e5f6", Data: contractData},
			// canonjson/testdata/vectors.json, case "envelope".
			want: `{"aggregate_id":"2a8c34e2-5b7c-4d1e-9f3a-0c1d2e3f4a5b","aggregate_type":"sales_order","data":{"carrier":"UPS","lines":[{"qty":2,"sku":"WIDGET-1"},{"qty":1,"sku":"GADGET-9"}],"order_number":"SO-1001","tracking":"1Z999AA10123456784"},"event_id":48213906,"event_timestamp":"2026-05-02T14:22:07.413Z","event_type":"ship.confirmed","event_version":1,"source_txn_id":"6f9e7c6a-1b2c-4d5e-8f90-a1b2c3d4e5f6","warehouse_id":3}`,
		},
		{
			name: "non-ASCII data, whole milliseconds, non-UTC clock",
			ev: store.Event{ID: 1, EventType: "adjustment.applied", EventVersion: 2,
				Timestamp:     time.Date(2026, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600)),
				AggregateType: "inventory", AggregateID: uuid.NewString(), WarehouseID: 9_007_199_254_740_993,
				SourceTxnID: uuid.NewString(), Data: nonASCII},
		},
		{
			name: "string fields that need escaping",
			ev: store.Event{ID: 7, EventType: "t\"ype\\ü\n", EventVersion: 1, Timestamp: whEpoch,
				AggregateType: "agg\u2028€", AggregateID: "😀", WarehouseID: 1, SourceTxnID: "\x7f\x1f",
				Data: json.RawMessage(`{}`)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ev.Envelope()
			if err != nil {
				t.Fatal(err)
			}
			if want := envelopeViaMap(t, tt.ev); string(got) != string(want) {
				t.Errorf("envelope\n got %s\nwant %s", got, want)
			}
			if tt.want != "" && string(got) != tt.want {
				t.Errorf("envelope\n got %s\nwant %s", got, tt.want)
			}
			for _, c := range got {
				if c > 0x7e {
					t.Fatalf("envelope is not ASCII: %s", got)
				}
			}
		})
	}
	if got, _ := tests[1].ev.Envelope(); !strings.Contains(string(got), `"event_timestamp":"2026-01-01T00:00:00.000Z"`) {
		t.Errorf("timestamp not UTC with milliseconds: %s", got)
	}
}

// TestStoredEventsEnvelope checks envelopes of events as stored and read back.
func TestStoredEventsEnvelope(t *testing.T) {
	e := newWHEnv(t)
	e.stock(e.wh2, "BÜGEL-7", 3)
	ids, err := e.db.AppendEvents(e.ctx, []store.NewEvent{{
		EventType: "pick.confirmed", AggregateType: "sales_order", AggregateID: uuid.NewString(),
		WarehouseID: 2, SourceTxnID: uuid.NewString(),
		Data: json.RawMessage(`{"order_number": "Ω-1", "lines": [{"sku": "BÜGEL-7", "qty": 1}]}`),
	}})
	if err != nil {
		t.Fatal(err)
	}
	evs, _, err := e.db.ListEvents(e.ctx, store.EventQuery{})
	if err != nil || len(evs) != 2 || evs[1].ID != ids[0] {
		t.Fatalf("events %v, %v", evs, err)
	}
	for _, ev := range evs {
		got, err := ev.Envelope()
		if err != nil {
			t.Fatal(err)
		}
		if want := envelopeViaMap(t, ev); string(got) != string(want) {
			t.Errorf("envelope\n got %s\nwant %s", got, want)
		}
	}
	if want := `{"lines":[{"qty":1,"sku":"B\u00dcGEL-7"}],"order_number":"\u03a9-1"}`; string(evs[1].Data) != want {
		t.Errorf("stored data %s, want %s", evs[1].Data, want)
	}
}

func TestAppendEvents(t *testing.T) {
	e := newWHEnv(t)
	agg, txn := uuid.New(), uuid.New()
	at := time.Date(2025, 12, 31, 23, 59, 59, 999_999_999, time.FixedZone("X", -3600))
	ids, err := e.db.AppendEvents(e.ctx, []store.NewEvent{
		{EventType: "ship.confirmed", AggregateType: "sales_order", AggregateID: strings.ToUpper(agg.String()),
			WarehouseID: 1, SourceTxnID: "{" + txn.String() + "}", Data: json.RawMessage(` {"b": 1.0, "a": [] } `),
			Timestamp: at},
		{EventType: "ship.confirmed", EventVersion: 3, AggregateType: "sales_order", AggregateID: agg.String(),
			WarehouseID: 1, SourceTxnID: txn.String(), Data: json.RawMessage(`{}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[1] != ids[0]+1 {
		t.Fatalf("ids %v", ids)
	}
	ev := e.event(ids[0])
	if ev.AggregateID != agg.String() || ev.SourceTxnID != txn.String() || ev.EventVersion != 1 ||
		string(ev.Data) != `{"a":[],"b":1.0}` || !ev.Timestamp.Equal(at.Truncate(time.Millisecond)) {
		t.Errorf("stored %+v", ev)
	}
	if ev2 := e.event(ids[1]); ev2.EventVersion != 3 || !ev2.Timestamp.Equal(ev2.VisibleAt) {
		t.Errorf("second %+v", ev2)
	}

	valid := store.NewEvent{EventType: "ship.confirmed", AggregateType: "sales_order",
		AggregateID: uuid.NewString(), WarehouseID: 1, SourceTxnID: uuid.NewString(), Data: json.RawMessage(`{}`)}
	tests := []struct {
		field string
		edit  func(*store.NewEvent)
	}{
		{"event_type", func(ev *store.NewEvent) { ev.EventType = "Ship.Confirmed" }},
		{"event_type", func(ev *store.NewEvent) { ev.EventType = "ship..confirmed" }},
		{"event_type", func(ev *store.NewEvent) { ev.EventType = "" }},
		{"aggregate_type", func(ev *store.NewEvent) { ev.AggregateType = "sales order" }},
		{"aggregate_id", func(ev *store.NewEvent) { ev.AggregateID = "SO-1" }},
		{"source_txn_id", func(ev *store.NewEvent) { ev.SourceTxnID = "" }},
		{"warehouse_id", func(ev *store.NewEvent) { ev.WarehouseID = 0 }},
		{"event_version", func(ev *store.NewEvent) { ev.EventVersion = -1 }},
		{"data", func(ev *store.NewEvent) { ev.Data = json.RawMessage(`[1]`) }},
		{"data", func(ev *store.NewEvent) { ev.Data = json.RawMessage(`{"a":`) }},
		{"data", func(ev *store.NewEvent) { ev.Data = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			before := e.latestEventID()
			bad := valid
			tt.edit(&bad)
			_, err := e.db.AppendEvents(e.ctx, []store.NewEvent{valid, bad})
			var ve *store.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v, want a validation error", err)
			}
			if _, ok := ve.Fields["events[1]."+tt.field]; !ok {
				t.Errorf("fields %v, want events[1].%s", ve.Fields, tt.field)
			}
			if e.latestEventID() != before {
				t.Error("a refused batch appended events")
			}
		})
	}
}

// appendMix appends n events cycling through three types and two
// warehouses: event i has type types[i%3] and warehouse 1+i%2.
func appendMix(tb testing.TB, e *whEnv, n int) []int64 {
	tb.Helper()
	evs := make([]store.NewEvent, n)
	for i := range evs {
		evs[i] = store.NewEvent{EventType: mixTypes[i%3], AggregateType: "sales_order",
			AggregateID: uuid.NewString(), WarehouseID: int64(1 + i%2), SourceTxnID: uuid.NewString(),
			Data: json.RawMessage(`{"i":` + strconv.Itoa(i) + `}`)}
	}
	ids, err := e.db.AppendEvents(e.ctx, evs)
	if err != nil {
		tb.Fatal(err)
	}
	return ids
}

var mixTypes = [3]string{store.EventPickConfirmed, store.EventPackConfirmed, store.EventShipConfirmed}

func TestListEvents(t *testing.T) {
	e := newWHEnv(t)
	if id := e.latestEventID(); id != 0 {
		t.Fatalf("latest event of an empty outbox: %d", id)
	}
	ids := appendMix(t, e, 25)
	if id := e.latestEventID(); id != ids[24] {
		t.Errorf("latest event %d, want %d", id, ids[24])
	}
	// want lists the indexes (into ids) matching a filter.
	match := func(keep func(i int) bool) []int64 {
		var out []int64
		for i, id := range ids {
			if keep(i) {
				out = append(out, id)
			}
		}
		return out
	}
	tests := []struct {
		name string
		q    store.EventQuery
		want []int64
	}{
		{"all", store.EventQuery{}, ids},
		{"by type", store.EventQuery{EventType: store.EventPackConfirmed}, match(func(i int) bool { return i%3 == 1 })},
		{"by warehouse", store.EventQuery{WarehouseID: 2}, match(func(i int) bool { return i%2 == 1 })},
		{"by both", store.EventQuery{EventType: store.EventShipConfirmed, WarehouseID: 1},
			match(func(i int) bool { return i%3 == 2 && i%2 == 0 })},
		{"unknown type", store.EventQuery{EventType: "nope.nope"}, nil},
		{"after a filtered cursor", store.EventQuery{After: ids[10], WarehouseID: 1},
			match(func(i int) bool { return i > 10 && i%2 == 0 })},
	}
	for _, tt := range tests {
		for _, limit := range []int{1, 4, 10, 1000} {
			t.Run(tt.name+"/limit "+strconv.Itoa(limit), func(t *testing.T) {
				var got []int64
				q := tt.q
				q.Limit = limit
				for pages := 0; ; pages++ {
					evs, more, err := e.db.ListEvents(e.ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					if len(evs) > limit || (more && len(evs) != limit) {
						t.Fatalf("page of %d (more %v) with limit %d", len(evs), more, limit)
					}
					for _, ev := range evs {
						if ev.ID <= q.After {
							t.Fatalf("event %d not after cursor %d", ev.ID, q.After)
						}
						got = append(got, ev.ID)
						q.After = ev.ID
					}
					if !more {
						break
					}
					if pages > len(ids) {
						t.Fatal("paging does not end")
					}
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("events %v, want %v", got, tt.want)
				}
			})
		}
	}

	evs, more, err := e.db.ListEvents(e.ctx, store.EventQuery{Limit: 0})
	if err != nil || len(evs) != 25 || more {
		t.Errorf("default limit: %d events, more %v, %v", len(evs), more, err)
	}
	evs, more, err = e.db.ListEvents(e.ctx, store.EventQuery{After: ids[24]})
	if err != nil || len(evs) != 0 || more {
		t.Errorf("past the end: %v, more %v, %v", evs, more, err)
	}
	for _, bad := range []struct {
		q     store.EventQuery
		field string
	}{
		{store.EventQuery{Limit: store.MaxEventPage + 1}, "limit"},
		{store.EventQuery{Limit: -1}, "limit"},
		{store.EventQuery{After: -1}, "after"},
		{store.EventQuery{WarehouseID: -2}, "warehouse_id"},
	} {
		_, _, err := e.db.ListEvents(e.ctx, bad.q)
		if _, ok := errFields(err)[bad.field]; !ok || !errors.Is(err, store.ErrInvalid) {
			t.Errorf("ListEvents(%+v) = %v, want a validation error naming %s", bad.q, err, bad.field)
		}
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Changed fires after every commit of a write and only then, every
// listener sees it, and CommittedEventID tells a listener whether the
// commit appended events.
func TestChangedFiresAfterCommits(t *testing.T) {
	e := newWHEnv(t)
	steps := []struct {
		name   string
		do     func(meta store.OpMeta) error
		fires  bool
		events int64
	}{
		{"create without event", func(m store.OpMeta) error {
			_, err := e.db.CreateWarehouse(e.ctx, m, store.WarehouseInput{Code: "W3", Name: "3"})
			return err
		}, true, 0},
		{"adjustment", func(m store.OpMeta) error {
			_, err := e.db.ApplyAdjustment(e.ctx, m, store.AdjustmentInput{WarehouseID: 1, SKU: "WIDGET-1", Delta: 1, Reason: "x"})
			return err
		}, true, 1},
		{"refused", func(m store.OpMeta) error {
			_, err := e.db.ApplyAdjustment(e.ctx, m, store.AdjustmentInput{WarehouseID: 1, SKU: "WIDGET-1", Delta: -9, Reason: "x"})
			if !errors.Is(err, store.ErrConflict) {
				return errors.New("expected a conflict")
			}
			return nil
		}, false, 0},
		{"batch", func(store.OpMeta) error { appendMix(t, e, 3); return nil }, true, 3},
		// A write through the store's own transactions (not group commit).
		{"withTx", func(store.OpMeta) error {
			_, err := e.db.CreateUser(e.ctx, "test", "changed@example.com", store.RoleViewer, "correct horse battery")
			return err
		}, true, 0},
		{"withTx rolled back", func(store.OpMeta) error {
			_, err := e.db.CreateUser(e.ctx, "test", "changed@example.com", store.RoleViewer, "correct horse battery")
			if !errors.Is(err, store.ErrConflict) {
				return errors.New("expected a conflict")
			}
			return nil
		}, false, 0},
	}
	for _, s := range steps {
		a, b := e.db.Changed(), e.db.Changed() // two listeners
		head := e.db.CommittedEventID()
		if err := s.do(e.meta()); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if isClosed(a) != s.fires || isClosed(b) != s.fires {
			t.Errorf("%s: fired %v/%v, want %v", s.name, isClosed(a), isClosed(b), s.fires)
		}
		if got := e.db.CommittedEventID() - head; got != s.events {
			t.Errorf("%s: committed event id moved by %d, want %d", s.name, got, s.events)
		}
		if s.events > 0 && e.db.CommittedEventID() != e.latestEventID() {
			t.Errorf("%s: committed event id %d, log head %d", s.name, e.db.CommittedEventID(), e.latestEventID())
		}
		if isClosed(e.db.Changed()) {
			t.Fatalf("%s: the next channel is already closed", s.name)
		}
	}
	// A replay appends nothing.
	m := e.meta()
	in := store.AdjustmentInput{WarehouseID: 1, SKU: "WIDGET-1", Delta: 1, Reason: "y"}
	if _, err := e.db.ApplyAdjustment(e.ctx, m, in); err != nil {
		t.Fatal(err)
	}
	head := e.db.CommittedEventID()
	if r, err := e.db.ApplyAdjustment(e.ctx, m, in); err != nil || !r.Replayed || e.db.CommittedEventID() != head {
		t.Errorf("replay: %+v, %v, committed event %d -> %d", r, err, head, e.db.CommittedEventID())
	}
}

// TestCatalog checks the embedded catalog against the store's event types
// and the schema files: seven types at version 1, each with a 2020-12
// schema that refuses unknown properties.
func TestCatalog(t *testing.T) {
	schemas, aggs := eventSchemas(t)
	want := map[string]string{
		store.EventPickConfirmed:      store.AggregateSalesOrder,
		store.EventPackConfirmed:      store.AggregateSalesOrder,
		store.EventShipConfirmed:      store.AggregateSalesOrder,
		store.EventReceiptCompleted:   store.AggregatePurchaseOrder,
		store.EventAdjustmentApplied:  store.AggregateInventory,
		store.EventCycleCountAdjusted: store.AggregateCycleCount,
		store.EventTransferCompleted:  store.AggregateTransfer,

		store.EventSalesOrderCreated:    store.AggregateSalesOrder,
		store.EventSalesOrderUpdated:    store.AggregateSalesOrder,
		store.EventPurchaseOrderCreated: store.AggregatePurchaseOrder,
		store.EventPurchaseOrderUpdated: store.AggregatePurchaseOrder,
	}
	if len(aggs) != len(want) || len(schemas) != len(want) {
		t.Errorf("catalog %v, want %v", aggs, want)
	}
	for typ, agg := range want {
		if aggs[typ] != agg {
			t.Errorf("catalog aggregate of %s is %q, want %q", typ, aggs[typ], agg)
		}
	}
	err := fs.WalkDir(assets.Schemas, "schemas", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == "schemas/catalog.json" {
			return err
		}
		typ := path.Base(path.Dir(p))
		if _, ok := want[typ]; !ok || path.Base(p) != "1.json" {
			t.Errorf("%s is not in the catalog", p)
		}
		b, err := fs.ReadFile(assets.Schemas, p)
		if err != nil {
			return err
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			return err
		}
		if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" ||
			doc["additionalProperties"] != false || len(doc["required"].([]any)) == 0 {
			t.Errorf("%s: want $schema 2020-12, additionalProperties false, required fields", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Schemas refuse what they should.
	for _, bad := range []struct{ typ, data string }{
		{store.EventShipConfirmed, `{"order_number":"1","carrier":"UPS","tracking":"","lines":[{"sku":"A","qty":1}],"extra":1}`},
		{store.EventShipConfirmed, `{"order_number":"1","carrier":"UPS","lines":[{"sku":"A","qty":1}]}`},
		{store.EventPickConfirmed, `{"order_number":"1","lines":[{"sku":"A","qty":0}]}`},
		{store.EventAdjustmentApplied, `{"sku":"A","delta":0,"reason":"x","on_hand":1}`},
		{store.EventReceiptCompleted, `{"po_number":"1","status":"open","lines":[{"sku":"A","qty":1}]}`},
	} {
		inst, _ := jsonschemaUnmarshal(bad.data)
		if err := schemas[bad.typ].Validate(inst); err == nil {
			t.Errorf("%s schema accepts %s", bad.typ, bad.data)
		}
	}
}

// TestConcurrentWritersAndPoller runs operations and batch appends from
// several goroutines on a fresh database (so statements are prepared while
// transactions are in flight) while a poller follows the outbox by cursor:
// the poller must see every event exactly once, in id order, with no holes,
// which is why no visibility floor is needed with one writer.
func TestConcurrentWritersAndPoller(t *testing.T) {
	e := newWHEnv(t)
	const writers, perWriter = 4, 25
	start := e.latestEventID()
	done := make(chan struct{})
	seen := make(chan []int64, 1)
	go func() {
		var ids []int64
		after := start
		for {
			finished := false
			select {
			case <-done:
				finished = true
			default:
			}
			for {
				evs, more, err := e.db.ListEvents(e.ctx, store.EventQuery{After: after, Limit: 7})
				if err != nil {
					t.Error(err)
					seen <- ids
					return
				}
				for _, ev := range evs {
					ids = append(ids, ev.ID)
					after = ev.ID
				}
				if !more {
					break
				}
			}
			if finished {
				seen <- ids
				return
			}
		}
	}()
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range perWriter {
				var err error
				if i%5 == 0 {
					_, err = e.db.AppendEvents(e.ctx, []store.NewEvent{{EventType: "pick.confirmed",
						AggregateType: "sales_order", AggregateID: uuid.NewString(), WarehouseID: int64(1 + w%2),
						SourceTxnID: uuid.NewString(), Data: json.RawMessage(`{}`)}})
				} else {
					_, err = e.db.ApplyAdjustment(e.ctx, e.meta(), store.AdjustmentInput{
						WarehouseID: int64(1 + w%2), SKU: "WIDGET-1", Delta: 1, Reason: "concurrent"})
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	ids := <-seen
	if len(ids) != writers*perWriter {
		t.Fatalf("poller saw %d events, want %d", len(ids), writers*perWriter)
	}
	for i, id := range ids {
		if id != start+int64(i)+1 {
			t.Fatalf("poller saw %v: not every id in order", ids)
		}
	}
	adjusted := int64(writers * perWriter * 4 / 5)
	if got := e.onHand(1, "WIDGET-1") + e.onHand(2, "WIDGET-1"); got != adjusted {
		t.Errorf("on hand %d, want %d", got, adjusted)
	}
}
