package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
)

// WebhookEngine is the dispatcher's hot path into the database: statements
// prepared once on the writer, each taking a whole batch as one JSON array
// parameter (read back with json_each), so fanning out a thousand events or
// recording a thousand outcomes is one statement, not a thousand. It counts
// every statement it executes, BEGIN and COMMIT included, for the
// statement-budget metric.
//
// One goroutine (the dispatcher's committer) uses it; it is not meant for
// concurrent transactions.
type WebhookEngine struct {
	db         *DB
	events     *sql.Stmt
	insert     *sql.Stmt
	outcomes   *sql.Stmt
	progress   *sql.Stmt
	statements atomic.Uint64
}

const (
	engineEventsSQL = selectEventSQL + ` WHERE event_id > ? ORDER BY event_id LIMIT ?`

	// Rows are inserted in the array's order, so AUTOINCREMENT hands out
	// ascending ids in that order: lane FIFO order is id order. One
	// element per row: insertRow.
	engineInsertSQL = `INSERT INTO webhook_deliveries (subscription_id, event_id, status, replay_of, created_at)
		SELECT ?, j.value ->> '$.event_id', 'pending', j.value ->> '$.replay_of', ?
		FROM json_each(?) AS j ORDER BY j.key
		RETURNING id`

	// One element per delivery: outcomeRow. Without an attempt (an
	// in-flight mark, a dead-letter transition) the last-attempt columns
	// and the log stay as they are. Terminal rows are never touched.
	engineOutcomesSQL = `UPDATE webhook_deliveries AS d SET
		status = j.value ->> '$.status',
		attempts = j.value ->> '$.attempts',
		next_attempt_at = j.value ->> '$.next_attempt_at',
		last_attempt_at = COALESCE(j.value ->> '$.attempt.t', d.last_attempt_at),
		last_status_code = CASE WHEN j.value ->> '$.attempt.t' IS NULL THEN d.last_status_code ELSE j.value ->> '$.attempt.c' END,
		last_error_kind = CASE WHEN j.value ->> '$.attempt.t' IS NULL THEN d.last_error_kind ELSE j.value ->> '$.attempt.k' END,
		attempt_log = CASE WHEN j.value ->> '$.attempt.t' IS NULL THEN d.attempt_log
			ELSE json_insert(d.attempt_log, '$[#]', json(j.value -> '$.attempt')) END,
		completed_at = j.value ->> '$.completed_at'
		FROM json_each(?) AS j
		WHERE d.id = j.value ->> '$.id' AND d.status IN ('pending', 'in_flight')`

	// One element per subscription: progressRow.
	engineProgressSQL = `UPDATE webhook_subscriptions AS s SET
		cursor = max(s.cursor, COALESCE(j.value ->> '$.cursor', s.cursor)),
		last_failure_at = COALESCE(j.value ->> '$.last_failure_at', s.last_failure_at),
		last_failure_kind = CASE WHEN j.value ->> '$.last_failure_at' IS NULL THEN s.last_failure_kind
			ELSE j.value ->> '$.failure_kind' END,
		last_failure_status = CASE WHEN j.value ->> '$.last_failure_at' IS NULL THEN s.last_failure_status
			ELSE j.value ->> '$.failure_status' END
		FROM json_each(?) AS j
		WHERE s.id = j.value ->> '$.id'`
)

// The batch statements take their rows as one JSON array of these objects,
// read back by key ('$.field'). A field left out reads as NULL.
type (
	insertRow struct {
		EventID  int64 `json:"event_id"`
		ReplayOf int64 `json:"replay_of,omitzero"` // the delivery replayed, if any
	}
	outcomeRow struct {
		ID            int64          `json:"id"`
		Status        DeliveryStatus `json:"status"`
		Attempts      int            `json:"attempts"`
		NextAttemptAt string         `json:"next_attempt_at,omitzero"` // TimeFormat
		Attempt       *storedAttempt `json:"attempt,omitzero"`
		CompletedAt   string         `json:"completed_at,omitzero"` // TimeFormat
	}
	progressRow struct {
		ID            int64     `json:"id"`
		Cursor        int64     `json:"cursor,omitzero"`          // 0: unchanged
		LastFailureAt string    `json:"last_failure_at,omitzero"` // TimeFormat; absent: no failure
		FailureKind   ErrorKind `json:"failure_kind"`
		FailureStatus int       `json:"failure_status,omitzero"`
	}
)

// timeText formats t for a batch row: "" (left out, NULL) when zero.
func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return formatTime(t)
}

// EngineStatements lists the engine's hot statements, for tests that check
// their query plans.
func EngineStatements() map[string]string {
	return map[string]string{
		"events": engineEventsSQL, "insert": engineInsertSQL,
		"outcomes": engineOutcomesSQL, "progress": engineProgressSQL,
	}
}

// NewWebhookEngine prepares the engine's statements on the writer. Call it
// outside any transaction.
func (db *DB) NewWebhookEngine(ctx context.Context) (*WebhookEngine, error) {
	e := &WebhookEngine{db: db}
	for _, p := range []struct {
		st  **sql.Stmt
		sql string
	}{{&e.events, engineEventsSQL}, {&e.insert, engineInsertSQL}, {&e.outcomes, engineOutcomesSQL}, {&e.progress, engineProgressSQL}} {
		st, err := db.w.PrepareContext(ctx, p.sql)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("prepare webhook engine statement: %w", err)
		}
		*p.st = st
	}
	return e, nil
}

// Close releases the prepared statements.
func (e *WebhookEngine) Close() error {
	for _, st := range []*sql.Stmt{e.events, e.insert, e.outcomes, e.progress} {
		if st != nil {
			st.Close()
		}
	}
	return nil
}

// Statements returns how many SQL statements the engine has executed.
func (e *WebhookEngine) Statements() uint64 { return e.statements.Load() }

// CountStatements adds n statements executed on the engine's behalf by
// other code (the audit append of an automatic pause, say).
func (e *WebhookEngine) CountStatements(n int) { e.statements.Add(uint64(n)) }

// EngineTx is one engine write transaction.
type EngineTx struct {
	e   *WebhookEngine
	tx  *sql.Tx
	ctx context.Context
}

// Update runs fn in one write transaction and commits it when fn returns
// nil. Never call it from inside another transaction on the writer.
func (e *WebhookEngine) Update(ctx context.Context, fn func(t *EngineTx) error) error {
	e.statements.Add(1)
	tx, err := e.db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(&EngineTx{e: e, tx: tx, ctx: ctx}); err != nil {
		return err
	}
	e.statements.Add(1)
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", interpretError(err))
	}
	return nil
}

// AppendAudit appends an audit entry in the engine's transaction, so it
// commits with the change it records.
func (t *EngineTx) AppendAudit(a Audit) error { return t.e.db.appendAuditTx(t.ctx, t.tx, a) }

// EventsAfter returns up to limit events with event_id > after, in order:
// a seek on the rowid, so its cost does not depend on the log's length.
func (t *EngineTx) EventsAfter(after int64, limit int) ([]Event, error) {
	t.e.statements.Add(1)
	rows, err := t.tx.StmtContext(t.ctx, t.e.events).QueryContext(t.ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("events after %d: %w", after, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("events after %d: %w", after, err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events after %d: %w", after, err)
	}
	return out, nil
}

// InsertDeliveries inserts one pending delivery per event id for a
// subscription, in order, and returns their ids (ascending, in the same
// order). replayOf is nil, or holds for each row the delivery it replays
// (0 for none).
func (t *EngineTx) InsertDeliveries(subscriptionID int64, eventIDs []int64, replayOf []int64, now time.Time) ([]int64, error) {
	if len(eventIDs) == 0 {
		return nil, nil
	}
	rs := make([]insertRow, len(eventIDs))
	for i, id := range eventIDs {
		rs[i].EventID = id
		if replayOf != nil {
			rs[i].ReplayOf = replayOf[i]
		}
	}
	b, err := json.Marshal(rs)
	if err != nil {
		return nil, fmt.Errorf("insert deliveries for subscription %d: %w", subscriptionID, err)
	}
	t.e.statements.Add(1)
	rows, err := t.tx.StmtContext(t.ctx, t.e.insert).QueryContext(t.ctx, subscriptionID, formatTime(now), string(b))
	if err != nil {
		return nil, fmt.Errorf("insert deliveries for subscription %d: %w", subscriptionID, err)
	}
	defer rows.Close()
	ids := make([]int64, 0, len(eventIDs))
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("insert deliveries for subscription %d: %w", subscriptionID, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert deliveries for subscription %d: %w", subscriptionID, err)
	}
	if len(ids) != len(eventIDs) {
		return nil, fmt.Errorf("insert deliveries for subscription %d: %d rows returned for %d events", subscriptionID, len(ids), len(eventIDs))
	}
	// RETURNING order is unspecified; ids were assigned in insertion order.
	slices.Sort(ids)
	return ids, nil
}

// DeliveryUpdate is the new state of one open delivery.
type DeliveryUpdate struct {
	ID            int64
	Status        DeliveryStatus // pending, in_flight, succeeded or dead
	Attempts      int
	NextAttemptAt time.Time // zero: NULL
	// Attempt, when set, is appended to the history and becomes the last
	// attempt.
	Attempt     *Attempt
	CompletedAt time.Time // zero: NULL
}

// ApplyDeliveryUpdates writes the updates in one statement. Each delivery
// may appear at most once (the caller splits repeated ones into separate
// calls, in order). Rows already terminal are left alone.
func (t *EngineTx) ApplyDeliveryUpdates(us []DeliveryUpdate) error {
	if len(us) == 0 {
		return nil
	}
	rs := make([]outcomeRow, len(us))
	for i, u := range us {
		rs[i] = outcomeRow{ID: u.ID, Status: u.Status, Attempts: u.Attempts,
			NextAttemptAt: timeText(u.NextAttemptAt), CompletedAt: timeText(u.CompletedAt)}
		if a := u.Attempt; a != nil {
			rs[i].Attempt = &storedAttempt{T: a.At, MS: a.DurationMS, C: a.StatusCode, K: a.ErrorKind}
		}
	}
	b, err := json.Marshal(rs)
	if err != nil {
		return fmt.Errorf("record %d delivery outcomes: %w", len(us), err)
	}
	t.e.statements.Add(1)
	if _, err := t.tx.StmtContext(t.ctx, t.e.outcomes).ExecContext(t.ctx, string(b)); err != nil {
		return fmt.Errorf("record %d delivery outcomes: %w", len(us), err)
	}
	return nil
}

// SubscriptionProgress is what one batch changed on a subscription row:
// its cursor (0: unchanged) and its latest failed attempt (zero: none).
type SubscriptionProgress struct {
	ID            int64
	Cursor        int64
	LastFailureAt time.Time
	FailureKind   ErrorKind
	FailureStatus int
}

// UpdateProgress writes every subscription's progress in one statement.
// Cursors only move forward.
func (t *EngineTx) UpdateProgress(ps []SubscriptionProgress) error {
	if len(ps) == 0 {
		return nil
	}
	rs := make([]progressRow, len(ps))
	for i, p := range ps {
		rs[i] = progressRow{ID: p.ID, Cursor: max(p.Cursor, 0), LastFailureAt: timeText(p.LastFailureAt),
			FailureKind: p.FailureKind, FailureStatus: max(p.FailureStatus, 0)}
	}
	b, err := json.Marshal(rs)
	if err != nil {
		return fmt.Errorf("record subscription progress: %w", err)
	}
	t.e.statements.Add(1)
	if _, err := t.tx.StmtContext(t.ctx, t.e.progress).ExecContext(t.ctx, string(b)); err != nil {
		return fmt.Errorf("record subscription progress: %w", err)
	}
	return nil
}

// PauseSubscription pauses an active subscription for reason (a ceiling)
// and appends the audit row with actor "dispatcher", both in this
// transaction. It reports false, changing nothing, when the subscription is
// not active any more (an admin got there first).
func (t *EngineTx) PauseSubscription(id int64, reason PauseReason, diff map[string]any) (bool, error) {
	now := formatTime(t.e.db.now())
	t.e.statements.Add(1)
	res, err := t.tx.ExecContext(t.ctx, `UPDATE webhook_subscriptions SET status = 'paused',
		pause_reason = ?, paused_at = ?, updated_at = ? WHERE id = ? AND status = 'active'`, reason, now, now, id)
	if err != nil {
		return false, fmt.Errorf("pause subscription %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	t.e.statements.Add(2)
	err = t.e.db.appendAuditTx(t.ctx, t.tx, Audit{Actor: "dispatcher", Action: "webhook.pause",
		Target: fmt.Sprintf("webhook:%d", id), Diff: diff})
	return err == nil, err
}

// PurgeDeliveries deletes up to limit deliveries of a subscription marked
// for deletion, and the subscription row itself once none are left. It
// reports whether the purge is complete.
func (t *EngineTx) PurgeDeliveries(subscriptionID int64, limit int) (bool, error) {
	t.e.statements.Add(1)
	res, err := t.tx.ExecContext(t.ctx, `DELETE FROM webhook_deliveries WHERE id IN
		(SELECT id FROM webhook_deliveries WHERE subscription_id = ? ORDER BY id LIMIT ?)`, subscriptionID, limit)
	if err != nil {
		return false, fmt.Errorf("purge deliveries of subscription %d: %w", subscriptionID, err)
	}
	if n, _ := res.RowsAffected(); n == int64(limit) {
		return false, nil
	}
	t.e.statements.Add(1)
	if _, err := t.tx.ExecContext(t.ctx, `DELETE FROM webhook_subscriptions WHERE id = ? AND status = 'deleting'`, subscriptionID); err != nil {
		return false, fmt.Errorf("purge subscription %d: %w", subscriptionID, err)
	}
	return true, nil
}

// EngineSubscriptions lists every subscription, those being deleted
// included, for the dispatcher's start-up.
func (t *EngineTx) EngineSubscriptions() ([]Subscription, error) {
	t.e.statements.Add(1)
	return listSubscriptions(t.ctx, t.tx, true)
}

// ReleaseInFlight turns a subscription's in_flight rows back into pending:
// after a crash or a shutdown nothing is in flight any more, and the lane
// will send them again (at-least-once). It returns how many it released.
func (t *EngineTx) ReleaseInFlight(subscriptionID int64) (int64, error) {
	t.e.statements.Add(1)
	res, err := t.tx.ExecContext(t.ctx, `UPDATE webhook_deliveries SET status = 'pending'
		WHERE subscription_id = ? AND status = 'in_flight'`, subscriptionID)
	if err != nil {
		return 0, fmt.Errorf("release in-flight deliveries of subscription %d: %w", subscriptionID, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// OpenDelivery is a pending delivery loaded at start-up with its event.
type OpenDelivery struct {
	ID            int64
	Attempts      int
	NextAttemptAt time.Time // zero: due now
	LastAttemptAt time.Time
	Event         Event
}

// OpenDeliveries returns a subscription's pending and in-flight deliveries
// with their events, in id (lane FIFO) order, and its dead count. Both are
// seeks on (subscription_id, status, id).
func (t *EngineTx) OpenDeliveries(subscriptionID int64) ([]OpenDelivery, int64, error) {
	t.e.statements.Add(2)
	var dead int64
	if err := t.tx.QueryRowContext(t.ctx, `SELECT COUNT(*) FROM webhook_deliveries
		WHERE subscription_id = ? AND status = 'dead'`, subscriptionID).Scan(&dead); err != nil {
		return nil, 0, fmt.Errorf("count dead deliveries of subscription %d: %w", subscriptionID, err)
	}
	rows, err := t.tx.QueryContext(t.ctx, `SELECT d.id, d.attempts, d.next_attempt_at, d.last_attempt_at,
		e.event_id, e.event_type, e.event_version, e.event_timestamp, e.aggregate_type, e.aggregate_id,
		e.warehouse_id, e.source_txn_id, e.data, e.visible_at
		FROM webhook_deliveries d JOIN integration_events e ON e.event_id = d.event_id
		WHERE d.subscription_id = ? AND d.status IN ('pending', 'in_flight') ORDER BY d.id`, subscriptionID)
	if err != nil {
		return nil, 0, fmt.Errorf("load open deliveries of subscription %d: %w", subscriptionID, err)
	}
	defer rows.Close()
	var out []OpenDelivery
	for rows.Next() {
		var od OpenDelivery
		var next, last sql.NullString
		var ts, visible string
		var data []byte
		ev := &od.Event
		if err := rows.Scan(&od.ID, &od.Attempts, &next, &last, &ev.ID, &ev.EventType, &ev.EventVersion, &ts,
			&ev.AggregateType, &ev.AggregateID, &ev.WarehouseID, &ev.SourceTxnID, &data, &visible); err != nil {
			return nil, 0, fmt.Errorf("load open deliveries of subscription %d: %w", subscriptionID, err)
		}
		ev.Data = data
		var err error
		if ev.Timestamp, err = parseTime(ts); err != nil {
			return nil, 0, err
		}
		if ev.VisibleAt, err = parseTime(visible); err != nil {
			return nil, 0, err
		}
		if next.Valid {
			if od.NextAttemptAt, err = parseTime(next.String); err != nil {
				return nil, 0, err
			}
		}
		if last.Valid {
			if od.LastAttemptAt, err = parseTime(last.String); err != nil {
				return nil, 0, err
			}
		}
		out = append(out, od)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("load open deliveries of subscription %d: %w", subscriptionID, err)
	}
	return out, dead, nil
}

// ReplaySource is a delivery or event chosen for replay.
type ReplaySource struct {
	EventID    int64
	DeliveryID int64 // the dead delivery replayed; 0 for a backfill
}

// ReplayQuery selects what POST /{id}/replay-batch queues: events in
// [FromEventID, ToEventID] (0: unbounded) matching Filter; with Status
// "dead", the subscription's dead deliveries of such events instead.
type ReplayQuery struct {
	Filter      SubscriptionFilter `json:"subscription_filter"`
	FromEventID int64              `json:"from_event_id"`
	ToEventID   int64              `json:"to_event_id"`
	Status      DeliveryStatus     `json:"status"`
}

// Normalize validates q. A backfill (no status) needs an event_id range so
// a typo cannot queue the whole log. It returns a *ValidationError.
func (q ReplayQuery) Normalize() (ReplayQuery, error) {
	fields := map[string]string{}
	q.Filter = whNonNilFilter(NormalizeFilter(q.Filter, "subscription_filter.", fields))
	if q.FromEventID < 0 {
		fields["from_event_id"] = "must be a non-negative event_id"
	}
	if q.ToEventID < 0 {
		fields["to_event_id"] = "must be a non-negative event_id"
	}
	if q.ToEventID > 0 && q.FromEventID > q.ToEventID {
		fields["to_event_id"] = "must not be below from_event_id"
	}
	switch q.Status {
	case "":
		if q.FromEventID == 0 && q.ToEventID == 0 {
			fields["from_event_id"] = `give an event_id range (from_event_id, to_event_id), or status "dead" to requeue the DLQ`
		}
	case DeliveryDead:
	default:
		fields["status"] = `must be "dead" or absent`
	}
	if len(fields) > 0 {
		return q, &ValidationError{Message: "invalid replay batch", Fields: fields}
	}
	return q, nil
}

func webhookFilterArgs(f SubscriptionFilter) []any {
	types, _ := json.Marshal(f.EventTypes)
	whs, _ := json.Marshal(f.WarehouseIDs)
	aggs, _ := json.Marshal(f.AggregateIDs)
	return []any{len(f.EventTypes), string(types), len(f.WarehouseIDs), string(whs), len(f.AggregateIDs), string(aggs)}
}

const webhookFilterSQL = ` AND (? = 0 OR e.event_type IN (SELECT value FROM json_each(?)))
	AND (? = 0 OR e.warehouse_id IN (SELECT value FROM json_each(?)))
	AND (? = 0 OR e.aggregate_id IN (SELECT value FROM json_each(?)))`

// ReplayCandidates returns up to limit sources matching q for a
// subscription, in event (or dead delivery) order. q must be normalized.
func (t *EngineTx) ReplayCandidates(subscriptionID int64, q ReplayQuery, limit int) ([]ReplaySource, error) {
	to := q.ToEventID
	if to == 0 {
		to = 1<<63 - 1
	}
	var query string
	var args []any
	if q.Status == DeliveryDead {
		query = `SELECT d.event_id, d.id FROM webhook_deliveries d
			JOIN integration_events e ON e.event_id = d.event_id
			WHERE d.subscription_id = ? AND d.status = 'dead' AND d.event_id BETWEEN ? AND ?` + webhookFilterSQL +
			` ORDER BY d.id LIMIT ?`
		args = append([]any{subscriptionID, q.FromEventID, to}, webhookFilterArgs(q.Filter)...)
	} else {
		// A backfill queues only events the subscription receives: its own
		// filter applies as well as the request's, and it never reaches an
		// integration's private events, which were only ever meant for the
		// subscription that got them. (Dead deliveries were chosen by the
		// filter when they were made, so the DLQ branch replays them as
		// they are.)
		t.e.statements.Add(1)
		var stored string
		if err := t.tx.QueryRowContext(t.ctx, `SELECT filter FROM webhook_subscriptions WHERE id = ?`, subscriptionID).Scan(&stored); err != nil {
			return nil, fmt.Errorf("filter of subscription %d: %w", subscriptionID, interpretError(err))
		}
		own, err := decodeSubscriptionFilter(stored)
		if err != nil {
			return nil, err
		}
		query = `SELECT e.event_id, 0 FROM integration_events e WHERE e.event_id BETWEEN ? AND ?
			AND e.aggregate_type <> '` + AggregateIntegration + `'` + webhookFilterSQL + webhookFilterSQL +
			` ORDER BY e.event_id LIMIT ?`
		args = append(append([]any{q.FromEventID, to}, webhookFilterArgs(q.Filter)...), webhookFilterArgs(own)...)
	}
	t.e.statements.Add(1)
	rows, err := t.tx.QueryContext(t.ctx, query, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("select replay candidates: %w", err)
	}
	defer rows.Close()
	var out []ReplaySource
	for rows.Next() {
		var r ReplaySource
		if err := rows.Scan(&r.EventID, &r.DeliveryID); err != nil {
			return nil, fmt.Errorf("select replay candidates: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ReplaySourceOf returns the event of one delivery of a subscription (for a
// single replay), or ErrNotFound.
func (t *EngineTx) ReplaySourceOf(subscriptionID, deliveryID int64) (ReplaySource, DeliveryStatus, error) {
	t.e.statements.Add(1)
	var r ReplaySource
	var status DeliveryStatus
	err := t.tx.QueryRowContext(t.ctx, `SELECT event_id, id, status FROM webhook_deliveries
		WHERE id = ? AND subscription_id = ?`, deliveryID, subscriptionID).Scan(&r.EventID, &r.DeliveryID, &status)
	if err != nil {
		return r, "", fmt.Errorf("delivery %d of subscription %d: %w", deliveryID, subscriptionID, interpretError(err))
	}
	return r, status, nil
}

// MarkReplayed moves dead deliveries that were queued again to replayed,
// so they leave the DLQ. Others are left alone.
func (t *EngineTx) MarkReplayed(deliveryIDs []int64) (int64, error) {
	if len(deliveryIDs) == 0 {
		return 0, nil
	}
	ids, _ := json.Marshal(deliveryIDs)
	t.e.statements.Add(1)
	res, err := t.tx.ExecContext(t.ctx, `UPDATE webhook_deliveries SET status = 'replayed'
		WHERE id IN (SELECT value FROM json_each(?)) AND status = 'dead'`, string(ids))
	if err != nil {
		return 0, fmt.Errorf("mark replayed deliveries: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// EventsByID returns the events with the given ids (any order).
func (t *EngineTx) EventsByID(ids []int64) ([]Event, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	js, _ := json.Marshal(ids)
	t.e.statements.Add(1)
	rows, err := t.tx.QueryContext(t.ctx, selectEventSQL+` WHERE event_id IN (SELECT value FROM json_each(?))`, string(js))
	if err != nil {
		return nil, fmt.Errorf("events by id: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("events by id: %w", err)
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}
