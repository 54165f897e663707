package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Alert rule kinds: conditions over the hub's own state.
const (
	AlertSyncFailing        = "sync_failing"        // a connector's sync failed Threshold times in a row
	AlertSubscriptionPaused = "subscription_paused" // a webhook subscription is paused
	AlertDLQAbove           = "dlq_above"           // a subscription's DLQ holds more than Threshold
	AlertStockBelow         = "stock_below"         // a SKU's stock in a warehouse is below Threshold
	AlertOrderUnshipped     = "order_unshipped"     // an order is still unshipped Hours after it was packed
)

// AlertParams are a rule's parameters; which apply depends on its kind.
type AlertParams struct {
	Connector      string `json:"connector,omitempty"`
	SyncType       string `json:"sync_type,omitempty"`
	WarehouseID    int64  `json:"warehouse_id,omitempty"`
	SubscriptionID int64  `json:"subscription_id,omitempty"`
	SKU            string `json:"sku,omitempty"`
	Threshold      int64  `json:"threshold,omitempty"`
	Hours          int64  `json:"hours,omitempty"`
}

// AlertRule is a stored rule with its last evaluated state.
type AlertRule struct {
	ID              int64       `json:"id"`
	Name            string      `json:"name"`
	Kind            string      `json:"kind"`
	Params          AlertParams `json:"params"`
	IntegrationID   int64       `json:"-"`
	IntegrationSlug string      `json:"integration"`
	Firing          bool        `json:"firing"`
	FiredAt         *string     `json:"fired_at"`
	ResolvedAt      *string     `json:"resolved_at"`
	Detail          string      `json:"detail"`
	CreatedBy       string      `json:"created_by"`
	CreatedAt       string      `json:"created_at"`
}

// AlertTarget is the audit target of an alert rule.
func AlertTarget(id int64) string { return "alert_rule:" + strconv.FormatInt(id, 10) }

const alertCols = `r.id, r.name, r.kind, r.params, r.integration_id, i.slug, r.firing, r.fired_at, r.resolved_at,
	r.detail, r.created_by, r.created_at`

func scanAlertRule(sc interface{ Scan(...any) error }) (AlertRule, error) {
	var a AlertRule
	var params string
	if err := sc.Scan(&a.ID, &a.Name, &a.Kind, &params, &a.IntegrationID, &a.IntegrationSlug, &a.Firing, &a.FiredAt,
		&a.ResolvedAt, &a.Detail, &a.CreatedBy, &a.CreatedAt); err != nil {
		return a, interpretError(err)
	}
	if err := json.Unmarshal([]byte(params), &a.Params); err != nil {
		return a, fmt.Errorf("alert rule %d params: %w", a.ID, err)
	}
	return a, nil
}

// AlertRules lists every rule by id.
func (db *DB) AlertRules(ctx context.Context) ([]AlertRule, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+alertCols+` FROM alert_rules r JOIN integrations i ON i.id = r.integration_id ORDER BY r.id`)
	if err != nil {
		return nil, fmt.Errorf("list alert rules: %w", err)
	}
	defer rows.Close()
	out := []AlertRule{}
	for rows.Next() {
		a, err := scanAlertRule(rows)
		if err != nil {
			return nil, fmt.Errorf("list alert rules: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// CreateAlertRule stores a rule (validated by the caller) notifying
// integration slug, which must offer an alert action.
func (db *DB) CreateAlertRule(ctx context.Context, actor, slug string, r AlertRule) (AlertRule, error) {
	var out AlertRule
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		it, err := getIntegration(ctx, tx, `i.slug = ?`, slug)
		if errors.Is(err, ErrNotFound) {
			return &ValidationError{Message: "invalid alert rule", Fields: map[string]string{"integration": "no such integration"}}
		}
		if err != nil {
			return err
		}
		if !it.AlertAction || it.SubscriptionID == nil {
			return &ValidationError{Message: "invalid alert rule", Fields: map[string]string{"integration": "this integration offers no alert action"}}
		}
		params, _ := json.Marshal(r.Params)
		res, err := tx.ExecContext(ctx, `INSERT INTO alert_rules (name, kind, params, integration_id, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, r.Name, r.Kind, string(params), it.ID, actor, formatTime(db.now()))
		if err != nil {
			return fmt.Errorf("create alert rule: %w", err)
		}
		id, _ := res.LastInsertId()
		if out, err = scanAlertRule(tx.QueryRowContext(ctx, `SELECT `+alertCols+` FROM alert_rules r JOIN integrations i
			ON i.id = r.integration_id WHERE r.id = ?`, id)); err != nil {
			return err
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "alert_rule.create", Target: AlertTarget(id),
			Diff: map[string]any{"name": r.Name, "kind": r.Kind, "params": r.Params, "integration": slug}})
	})
	return out, err
}

// DeleteAlertRule deletes rule id, or returns ErrNotFound.
func (db *DB) DeleteAlertRule(ctx context.Context, actor string, id int64) error {
	return db.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM alert_rules WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete alert rule %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("alert rule %d: %w", id, ErrNotFound)
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "alert_rule.delete", Target: AlertTarget(id)})
	})
}

// ObserveAlert reports whether rule's condition holds now, and a detail
// saying what was seen. Each kind is one indexed lookup.
func (db *DB) ObserveAlert(ctx context.Context, r AlertRule, now time.Time) (bool, string, error) {
	p := r.Params
	var n int64
	var err error
	switch r.Kind {
	case AlertSyncFailing:
		err = db.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(consecutive_errors), 0) FROM sync_state
			WHERE connector_name = ? AND warehouse_id = ? AND (? = '' OR sync_type = ?)`,
			p.Connector, p.WarehouseID, p.SyncType, p.SyncType).Scan(&n)
		return n >= p.Threshold, fmt.Sprintf("%s in warehouse %d failed %d times in a row (threshold %d)", p.Connector, p.WarehouseID, n, p.Threshold), err
	case AlertSubscriptionPaused:
		var status string
		var reason sql.NullString
		err = db.r.QueryRowContext(ctx, `SELECT status, pause_reason FROM webhook_subscriptions WHERE id = ?`, p.SubscriptionID).Scan(&status, &reason)
		if errors.Is(err, sql.ErrNoRows) {
			return false, fmt.Sprintf("subscription %d no longer exists", p.SubscriptionID), nil
		}
		return status == string(SubscriptionPaused), fmt.Sprintf("subscription %d is %s %s", p.SubscriptionID, status, reason.String), err
	case AlertDLQAbove:
		err = db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_deliveries WHERE subscription_id = ? AND status = 'dead'`,
			p.SubscriptionID).Scan(&n)
		return n > p.Threshold, fmt.Sprintf("subscription %d has %d dead deliveries (threshold %d)", p.SubscriptionID, n, p.Threshold), err
	case AlertStockBelow:
		err = db.r.QueryRowContext(ctx, `SELECT COALESCE((SELECT on_hand FROM inventory_levels WHERE warehouse_id = ? AND sku = ?), 0)`,
			p.WarehouseID, p.SKU).Scan(&n)
		return n < p.Threshold, fmt.Sprintf("%s in warehouse %d: %d on hand (threshold %d)", p.SKU, p.WarehouseID, n, p.Threshold), err
	case AlertOrderUnshipped:
		var oldest sql.NullString
		var count int64
		err = db.r.QueryRowContext(ctx, `SELECT COUNT(*), MIN(order_number) FROM sales_orders WHERE status = 'packed' AND packed_at <= ?
			AND (? = 0 OR warehouse_id = ?)`, formatTime(now.Add(-time.Duration(p.Hours)*time.Hour)), p.WarehouseID, p.WarehouseID).Scan(&count, &oldest)
		return count > 0, fmt.Sprintf("%d orders packed over %d h ago are not shipped (first: %s)", count, p.Hours, oldest.String), err
	}
	return false, "", fmt.Errorf("alert rule %d: unknown kind %q", r.ID, r.Kind)
}

// SetAlertState records that rule r started (firing) or stopped firing,
// appends alert.triggered or alert.resolved for its integration's webhook
// and audits it, in one transaction. It changes nothing (and reports
// false) when the stored state already is firing, so a rule notifies once
// per change even if two evaluations race.
func (db *DB) SetAlertState(ctx context.Context, r AlertRule, firing bool, detail string) (bool, error) {
	changed := false
	var head int64
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		now := formatTime(db.now())
		col := "resolved_at"
		action, eventType := "alert.resolved", EventAlertResolved
		if firing {
			col, action, eventType = "fired_at", "alert.triggered", EventAlertTriggered
		}
		res, err := tx.ExecContext(ctx, `UPDATE alert_rules SET firing = ?, detail = ?, `+col+` = ? WHERE id = ? AND firing = ?`,
			firing, detail, now, r.ID, !firing)
		if err != nil {
			return fmt.Errorf("alert rule %d state: %w", r.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		changed = true
		it, err := getIntegration(ctx, tx, `i.id = ?`, r.IntegrationID)
		if err != nil {
			return err
		}
		data := map[string]any{"action": map[bool]string{true: "triggered", false: "resolved"}[firing],
			"rule": map[string]any{"id": r.ID, "name": r.Name, "kind": r.Kind, "params": r.Params}, "detail": detail, "at": now}
		if err := db.appendIntegrationEvent(ctx, tx, &head, it.UUID, eventType, data); err != nil {
			return err
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: "alerts", Action: action, Target: AlertTarget(r.ID),
			Diff: map[string]any{"rule": r.Name, "integration": it.Slug, "detail": detail}})
	})
	if err == nil {
		db.publishEvents(head)
	}
	return changed, err
}
