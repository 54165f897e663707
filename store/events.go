package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"sentryhub/broadcast"
	"sentryhub/canonjson"
)

// The event catalog: the seven event types the warehouse operations emit
// and the record events of records.go, all at version 1. Their data payloads are described by the JSON schemas in
// assets/schemas/<type>/1.json.
const (
	EventPickConfirmed      = "pick.confirmed"
	EventPackConfirmed      = "pack.confirmed"
	EventShipConfirmed      = "ship.confirmed"
	EventReceiptCompleted   = "receipt.completed"
	EventAdjustmentApplied  = "adjustment.applied"
	EventCycleCountAdjusted = "cycle_count.adjusted"
	EventTransferCompleted  = "transfer.completed"

	currentEventVersion = 1
	maxEventTypeLen     = 100
)

// Aggregate types: the owning entity of an event. aggregate_id is that
// entity's UUID (for inventory, the inventory level's UUID).
const (
	AggregateSalesOrder    = "sales_order"
	AggregatePurchaseOrder = "purchase_order"
	AggregateInventory     = "inventory"
	AggregateCycleCount    = "cycle_count"
	AggregateTransfer      = "transfer"
	// AggregateIntegration marks an integration's private events
	// (installation.created, alert.triggered, ...): aggregate_id is the
	// integration's uuid, only its own subscription receives them, and the
	// polling API never serves them.
	AggregateIntegration = "integration"
)

// Page sizes of ListEvents.
const (
	DefaultEventPage = 100
	MaxEventPage     = 1000
)

// outbox is the per-DB state of the event outbox and the write path: the
// change broadcast, the newest event committed, and the write statements
// prepared once on the writer.
type outbox struct {
	changed broadcast.Broadcast
	// head is the largest event_id committed through this DB, set before
	// changed fires.
	head atomic.Int64

	mu sync.Mutex
	// stmts maps SQL text to its statement prepared on the writer. It is
	// replaced, never modified, so a transaction reads its snapshot without
	// the lock.
	stmts map[string]*sql.Stmt
	// pending holds SQL a transaction ran unprepared; the next write
	// prepares it.
	pending map[string]struct{}
}

// Changed returns a channel closed at the next commit of a write
// transaction (group commit or WithTx) and then replaced: every listener
// (the dispatcher, the fulfillment worker, the scheduler) wakes at once.
// Take the channel before looking at the state it guards, so a commit in
// between is not missed; a burst of commits wakes a busy listener once.
// The dispatcher's own engine commits and single-statement bookkeeping
// writes (session and token touches, heartbeats, schedule slots) do not
// fire it, and neither do other processes' writes: listeners that must see
// those poll.
func (db *DB) Changed() <-chan struct{} { return db.outbox.changed.Wait() }

// CommittedEventID returns the largest event_id committed through this DB
// (0 before the first), without touching SQLite: a listener woken by
// Changed compares it with what it has seen to know whether events were
// appended.
func (db *DB) CommittedEventID() int64 { return db.outbox.head.Load() }

// committed publishes a commit: head is the last event_id it appended (0:
// none), recorded before the listeners wake.
func (db *DB) committed(head int64) {
	for {
		cur := db.outbox.head.Load()
		if head <= cur || db.outbox.head.CompareAndSwap(cur, head) {
			break
		}
	}
	db.outbox.changed.Fire()
}

const insertEventSQL = `INSERT INTO integration_events
	(event_type, event_version, event_timestamp, aggregate_type, aggregate_id,
	 warehouse_id, source_txn_id, data, visible_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// writeStmts returns the prepared write statements, first preparing the
// event insert (on first use) and any SQL that earlier transactions ran
// unprepared. Each statement is parsed once per DB rather than once per
// transaction, which is most of the CPU of a small write with modernc.
//
// It must be called before beginning the transaction that uses the
// statements: the writer pool has one connection, so preparing on the pool
// from inside a transaction would wait for that transaction forever. For the
// same reason the lock is not held while preparing: a transaction in flight
// may need it (wantPrepared) before it can release the connection.
func (db *DB) writeStmts(ctx context.Context) (map[string]*sql.Stmt, error) {
	ob := &db.outbox
	ob.mu.Lock()
	stmts := ob.stmts
	var todo []string
	if stmts == nil {
		todo = append(todo, insertEventSQL)
	}
	for q := range ob.pending {
		if _, ok := stmts[q]; !ok && q != insertEventSQL {
			todo = append(todo, q)
		}
	}
	ob.mu.Unlock()
	if len(todo) == 0 {
		return stmts, nil
	}

	prepared := make(map[string]*sql.Stmt, len(todo))
	for _, q := range todo {
		st, err := db.w.PrepareContext(ctx, q)
		if err != nil {
			for _, st := range prepared {
				st.Close()
			}
			return nil, fmt.Errorf("prepare write statement: %w", err)
		}
		prepared[q] = st
	}

	ob.mu.Lock()
	next := make(map[string]*sql.Stmt, len(ob.stmts)+len(prepared))
	for q, st := range ob.stmts {
		next[q] = st
	}
	var dup []*sql.Stmt // prepared meanwhile by another writer
	for q, st := range prepared {
		if _, ok := next[q]; ok {
			dup = append(dup, st)
		} else {
			next[q] = st
		}
		delete(ob.pending, q)
	}
	ob.stmts = next
	ob.mu.Unlock()
	for _, st := range dup {
		st.Close()
	}
	return next, nil
}

// wantPrepared asks the next write to prepare q.
func (db *DB) wantPrepared(q string) {
	db.outbox.mu.Lock()
	if db.outbox.pending == nil {
		db.outbox.pending = map[string]struct{}{}
	}
	db.outbox.pending[q] = struct{}{}
	db.outbox.mu.Unlock()
}

// NewEvent is an event to append. Data must be a JSON object; AppendEvents
// stores it in canonical form.
type NewEvent struct {
	EventType     string
	EventVersion  int // 0 means 1
	AggregateType string
	AggregateID   string // a UUID
	WarehouseID   int64
	SourceTxnID   string // a UUID
	Data          json.RawMessage
	// Timestamp is when the operation happened; zero means the commit time.
	Timestamp time.Time
}

// Event is a stored integration event.
type Event struct {
	ID            int64
	EventType     string
	EventVersion  int
	Timestamp     time.Time // event_timestamp, millisecond precision, UTC
	AggregateType string
	AggregateID   string
	WarehouseID   int64
	SourceTxnID   string
	Data          json.RawMessage // canonical JSON object
	VisibleAt     time.Time
}

// writeTx is one write transaction of the store: the clock reading every row
// it writes uses, the prepared statements it runs, and the events it
// appended, which the commit publishes (see DB.Changed).
// Its ExecContext, QueryContext and QueryRowContext run the DB's prepared
// statement for the SQL text when there is one.
type writeTx struct {
	db *DB
	tx *sql.Tx
	// ctx replaces the context callers pass to w's methods: it is never
	// cancelled, because interrupting SQLite mid-statement rolls back the
	// whole transaction, which group commit shares (groupcommit.go).
	ctx      context.Context
	now      time.Time
	nowText  string               // now in TimeFormat
	prepared map[string]*sql.Stmt // the DB's, by SQL text (read-only)
	bound    map[string]*sql.Stmt // prepared, bound to tx on first use
	eventIDs []int64
}

// stmt returns the statement for q bound to the transaction, or nil when q
// is not prepared yet (it will be for the next transaction).
func (w *writeTx) stmt(ctx context.Context, q string) *sql.Stmt {
	if st, ok := w.bound[q]; ok {
		return st
	}
	p, ok := w.prepared[q]
	if !ok {
		w.db.wantPrepared(q)
		return nil
	}
	st := w.tx.StmtContext(w.ctx, p)
	if w.bound == nil {
		w.bound = make(map[string]*sql.Stmt, 8)
	}
	w.bound[q] = st
	return st
}

// ExecContext runs q in the transaction, prepared when possible. It
// ignores ctx in favour of w.ctx (see writeTx).
func (w *writeTx) ExecContext(_ context.Context, q string, args ...any) (sql.Result, error) {
	if st := w.stmt(w.ctx, q); st != nil {
		return st.ExecContext(w.ctx, args...)
	}
	return w.tx.ExecContext(w.ctx, q, args...)
}

// QueryContext runs q in the transaction, prepared when possible. It
// ignores ctx in favour of w.ctx (see writeTx).
func (w *writeTx) QueryContext(_ context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := w.stmt(w.ctx, q); st != nil {
		return st.QueryContext(w.ctx, args...)
	}
	return w.tx.QueryContext(w.ctx, q, args...)
}

// QueryRowContext runs q in the transaction, prepared when possible. It
// ignores ctx in favour of w.ctx (see writeTx).
func (w *writeTx) QueryRowContext(_ context.Context, q string, args ...any) *sql.Row {
	if st := w.stmt(w.ctx, q); st != nil {
		return st.QueryRowContext(w.ctx, args...)
	}
	return w.tx.QueryRowContext(w.ctx, q, args...)
}

// appendEvent inserts one event in w's transaction and returns its event_id.
// ev must already be normalized (see normalizeEvent), its Data canonical.
//
// visible_at is the transaction's clock reading, i.e. the commit time to
// within the transaction's duration. No visibility floor is needed: the seed
// contract's 2-second floor exists because Postgres sequences hand out ids
// before commit, so concurrent transactions can commit out of id order and a
// reader could see event N+1 before N and skip N. Here all writes go through
// the one writer connection, so ids are assigned and committed strictly in
// order and a reader's snapshot never contains a hole that fills later; a
// cursor may advance past anything it has seen. (The dispatcher keeps the
// floor as a setting, DISPATCHER_VISIBILITY_FLOOR_MS, default 0.)
func (w *writeTx) appendEvent(ctx context.Context, ev NewEvent) (int64, error) {
	ts := w.nowText
	if !ev.Timestamp.IsZero() {
		ts = formatTime(ev.Timestamp)
	}
	res, err := w.ExecContext(ctx, insertEventSQL, ev.EventType, ev.EventVersion, ts,
		ev.AggregateType, ev.AggregateID, ev.WarehouseID, ev.SourceTxnID, string(ev.Data), w.nowText)
	if err != nil {
		return 0, fmt.Errorf("append %s event: %w", ev.EventType, interpretError(err))
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("append %s event: %w", ev.EventType, err)
	}
	w.eventIDs = append(w.eventIDs, id)
	return id, nil
}

// emit appends an event produced by a warehouse operation, serializing data
// canonically.
func (w *writeTx) emit(ctx context.Context, eventType, aggregateType, aggregateID string,
	warehouseID int64, sourceTxnID string, data any) (int64, error) {
	b, err := canonjson.Marshal(data)
	if err != nil {
		return 0, fmt.Errorf("encode %s data: %w", eventType, err)
	}
	return w.appendEvent(ctx, NewEvent{
		EventType:     eventType,
		EventVersion:  currentEventVersion,
		AggregateType: aggregateType,
		AggregateID:   aggregateID,
		WarehouseID:   warehouseID,
		SourceTxnID:   sourceTxnID,
		Data:          b,
	})
}

// normalizeEvent checks ev and returns it with canonical data, lowercase
// UUIDs and a version. Field names in errors are prefixed with prefix.
func normalizeEvent(ev NewEvent, prefix string) (NewEvent, map[string]string) {
	bad := map[string]string{}
	if !IsEventName(ev.EventType) {
		bad[prefix+"event_type"] = "must be dot-separated lowercase words, like ship.confirmed"
	}
	if !IsEventName(ev.AggregateType) {
		bad[prefix+"aggregate_type"] = "must be a lowercase word, like sales_order"
	}
	if ev.EventVersion == 0 {
		ev.EventVersion = currentEventVersion
	} else if ev.EventVersion < 0 {
		bad[prefix+"event_version"] = "must be a positive integer"
	}
	if u, err := uuid.Parse(ev.AggregateID); err != nil {
		bad[prefix+"aggregate_id"] = "must be a UUID"
	} else {
		ev.AggregateID = u.String()
	}
	if u, err := uuid.Parse(ev.SourceTxnID); err != nil {
		bad[prefix+"source_txn_id"] = "must be a UUID"
	} else {
		ev.SourceTxnID = u.String()
	}
	if ev.WarehouseID <= 0 {
		bad[prefix+"warehouse_id"] = "must be a positive integer"
	}
	if !ev.Timestamp.IsZero() {
		ev.Timestamp = ev.Timestamp.UTC().Truncate(time.Millisecond)
		if y := ev.Timestamp.Year(); y < 1 || y > 9999 {
			bad[prefix+"timestamp"] = "out of range"
		}
	}
	data, err := canonjson.Canonicalize(ev.Data)
	switch {
	case err != nil:
		bad[prefix+"data"] = "must be valid JSON: " + err.Error()
	case len(data) == 0 || data[0] != '{':
		bad[prefix+"data"] = "must be a JSON object"
	default:
		ev.Data = data
	}
	if len(bad) > 0 {
		return ev, bad
	}
	return ev, nil
}

// IsEventName reports whether s is one or more dot-separated words of
// [a-z0-9_] each starting with a letter: the one grammar of event and
// aggregate type names, kept to this alphabet so they need no escaping
// anywhere (in SQL, URLs, file paths of the schema catalog or logs).
func IsEventName(s string) bool {
	if s == "" || len(s) > maxEventTypeLen {
		return false
	}
	start := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
		case (c >= '0' && c <= '9') || c == '_':
			if start {
				return false
			}
		case c == '.':
			if start {
				return false
			}
			start = true
			continue
		default:
			return false
		}
		start = false
	}
	return !start
}

// AppendEvents appends evs in one write transaction and returns their
// event_ids in order, for connectors and benchmarks; warehouse operations
// append their own events. Every event is checked before anything is
// written: a bad one fails the whole batch with a *ValidationError whose
// fields are named like "events[3].data".
func (db *DB) AppendEvents(ctx context.Context, evs []NewEvent) ([]int64, error) {
	norm := make([]NewEvent, len(evs))
	bad := map[string]string{}
	for i, ev := range evs {
		n, fields := normalizeEvent(ev, "events["+strconv.Itoa(i)+"].")
		for k, v := range fields {
			bad[k] = v
		}
		norm[i] = n
	}
	if len(bad) > 0 {
		return nil, &ValidationError{Message: "invalid events", Fields: bad}
	}
	if len(norm) == 0 {
		return []int64{}, nil
	}
	ids, err := db.update(ctx, func(w *writeTx) error {
		w.eventIDs = make([]int64, 0, len(norm))
		for _, ev := range norm {
			if _, err := w.appendEvent(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("append events: %w", err)
	}
	return ids, nil
}

// EventQuery selects a page of events for polling.
type EventQuery struct {
	After       int64  // return events with event_id > After
	Limit       int    // 1..MaxEventPage; 0 means DefaultEventPage
	EventType   string // optional filter
	WarehouseID int64  // optional filter; 0 means any
}

const selectEventSQL = `SELECT event_id, event_type, event_version, event_timestamp,
	aggregate_type, aggregate_id, warehouse_id, source_txn_id, data, visible_at
	FROM integration_events`

// ListEvents returns up to q.Limit events with event_id > q.After, in
// event_id order, and whether more match. It reads from the reader pool and
// seeks by the rowid (or the (event_type, event_id) / (warehouse_id,
// event_id) index when filtered), so a page costs the same however many
// events the table holds. Every committed event is visible: see appendEvent.
// Bad parameters give a *ValidationError naming them.
func (db *DB) ListEvents(ctx context.Context, q EventQuery) ([]Event, bool, error) {
	bad := map[string]string{}
	if q.After < 0 {
		bad["after"] = "must be a non-negative event_id"
	}
	if q.Limit == 0 {
		q.Limit = DefaultEventPage
	} else if q.Limit < 1 || q.Limit > MaxEventPage {
		bad["limit"] = fmt.Sprintf("must be between 1 and %d", MaxEventPage)
	}
	if q.WarehouseID < 0 {
		bad["warehouse_id"] = "must be a positive integer"
	}
	if len(bad) > 0 {
		return nil, false, &ValidationError{Message: "invalid event query", Fields: bad}
	}

	var sb strings.Builder
	sb.WriteString(selectEventSQL)
	sb.WriteString(" WHERE event_id > ? AND aggregate_type <> '" + AggregateIntegration + "'")
	args := []any{q.After}
	if q.EventType != "" {
		sb.WriteString(" AND event_type = ?")
		args = append(args, q.EventType)
	}
	if q.WarehouseID != 0 {
		sb.WriteString(" AND warehouse_id = ?")
		args = append(args, q.WarehouseID)
	}
	sb.WriteString(" ORDER BY event_id LIMIT ?")
	args = append(args, q.Limit+1)

	rows, err := db.r.QueryContext(ctx, sb.String(), args...)
	if err != nil {
		return nil, false, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	events := make([]Event, 0, min(q.Limit+1, 128))
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, false, fmt.Errorf("list events: %w", err)
		}
		events = append(events, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list events: %w", err)
	}
	hasMore := len(events) > q.Limit
	if hasMore {
		events = events[:q.Limit]
	}
	return events, hasMore, nil
}

func scanEvent(rows interface{ Scan(...any) error }) (Event, error) {
	var ev Event
	var ts, visible string
	var data []byte
	if err := rows.Scan(&ev.ID, &ev.EventType, &ev.EventVersion, &ts, &ev.AggregateType,
		&ev.AggregateID, &ev.WarehouseID, &ev.SourceTxnID, &data, &visible); err != nil {
		return Event{}, err
	}
	var err error
	if ev.Timestamp, err = parseTime(ts); err != nil {
		return Event{}, err
	}
	if ev.VisibleAt, err = parseTime(visible); err != nil {
		return Event{}, err
	}
	ev.Data = data
	return ev, nil
}

// LatestEventID returns the largest event_id, or 0 when there are no events.
func (db *DB) LatestEventID(ctx context.Context) (int64, error) {
	var id int64
	// MAX on the rowid reads the last b-tree entry: constant time.
	err := db.r.QueryRowContext(ctx,
		`SELECT COALESCE(MAX(event_id), 0) FROM integration_events`).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("latest event id: %w", err)
	}
	return id, nil
}

// EventTimeFormat is the envelope's event_timestamp format: RFC 3339 in UTC
// with milliseconds and a Z, like 2026-05-02T14:22:07.413Z.
const EventTimeFormat = "2006-01-02T15:04:05.000Z"

// Envelope returns the event's wire envelope: the canonical JSON bytes the
// polling endpoint serves and the dispatcher signs, identical to CPython's
// json.dumps(envelope, separators=(',', ':'), sort_keys=True). Data is stored
// canonical, so the envelope is assembled around it without re-parsing; the
// keys below are written in sorted order. It fails only if a string field
// cannot be encoded.
func (e Event) Envelope() ([]byte, error) {
	b := make([]byte, 0, 320+len(e.Data))
	var err error
	b = append(b, `{"aggregate_id":`...)
	if b, err = appendJSONString(b, e.AggregateID); err != nil {
		return nil, err
	}
	b = append(b, `,"aggregate_type":`...)
	if b, err = appendJSONString(b, e.AggregateType); err != nil {
		return nil, err
	}
	b = append(b, `,"data":`...)
	b = append(b, e.Data...)
	b = append(b, `,"event_id":`...)
	b = strconv.AppendInt(b, e.ID, 10)
	b = append(b, `,"event_timestamp":"`...)
	b = e.Timestamp.UTC().AppendFormat(b, EventTimeFormat)
	b = append(b, `","event_type":`...)
	if b, err = appendJSONString(b, e.EventType); err != nil {
		return nil, err
	}
	b = append(b, `,"event_version":`...)
	b = strconv.AppendInt(b, int64(e.EventVersion), 10)
	b = append(b, `,"source_txn_id":`...)
	if b, err = appendJSONString(b, e.SourceTxnID); err != nil {
		return nil, err
	}
	b = append(b, `,"warehouse_id":`...)
	b = strconv.AppendInt(b, e.WarehouseID, 10)
	b = append(b, '}')
	return b, nil
}

// appendJSONString appends s as a JSON string the way CPython's ensure_ascii
// encoder does. Strings of printable ASCII other than '"' and '\\' are
// emitted verbatim by that encoder, and every string field of a stored event
// is one (UUIDs, type names); anything else goes through canonjson.
func appendJSONString(b []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			q, err := canonjson.Marshal(s)
			if err != nil {
				return nil, fmt.Errorf("encode envelope string: %w", err)
			}
			return append(b, q...), nil
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}

// LatestEvent returns the newest event in the outbox, or ErrNotFound when
// it is empty. It is one seek at the end of the primary key.
func (db *DB) LatestEvent(ctx context.Context) (Event, error) {
	ev, err := scanEvent(db.r.QueryRowContext(ctx, selectEventSQL+` ORDER BY event_id DESC LIMIT 1`))
	if err != nil {
		return Event{}, fmt.Errorf("latest event: %w", interpretError(err))
	}
	return ev, nil
}
