package integrations

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"sentryhub/clock"
	"sentryhub/store"
	"sentryhub/testsignal"
)

// AlertKinds lists the rule kinds with what each needs, for validation
// and the UI.
var AlertKinds = []struct{ Kind, Label string }{
	{store.AlertSyncFailing, "A connector sync fails N times in a row"},
	{store.AlertSubscriptionPaused, "A webhook subscription is paused"},
	{store.AlertDLQAbove, "A subscription's DLQ holds more than N deliveries"},
	{store.AlertStockBelow, "Stock of a SKU in a warehouse falls below N"},
	{store.AlertOrderUnshipped, "An order is not shipped N hours after it was packed"},
}

// AlertRuleInput is a new rule as an admin gives it.
type AlertRuleInput struct {
	Name        string            `json:"name"`
	Kind        string            `json:"kind"`
	Params      store.AlertParams `json:"params"`
	Integration string            `json:"integration"`
}

// Normalize checks in, returning a *store.ValidationError naming each bad
// field.
func (in AlertRuleInput) Normalize() (AlertRuleInput, error) {
	fields := map[string]string{}
	in.Name = text(in.Name, "name", 100, true, fields)
	in.Integration = strings.TrimSpace(in.Integration)
	if in.Integration == "" {
		fields["integration"] = "is required: the integration to notify"
	}
	p := in.Params
	positive := func(v int64, name string) {
		if v <= 0 {
			fields["params."+name] = "must be a positive integer"
		}
	}
	switch in.Kind {
	case store.AlertSyncFailing:
		if p.Connector == "" {
			fields["params.connector"] = "is required"
		}
		positive(p.WarehouseID, "warehouse_id")
		positive(p.Threshold, "threshold")
	case store.AlertSubscriptionPaused:
		positive(p.SubscriptionID, "subscription_id")
	case store.AlertDLQAbove:
		positive(p.SubscriptionID, "subscription_id")
		if p.Threshold < 0 {
			fields["params.threshold"] = "must not be negative"
		}
	case store.AlertStockBelow:
		positive(p.WarehouseID, "warehouse_id")
		if p.SKU == "" {
			fields["params.sku"] = "is required"
		}
		positive(p.Threshold, "threshold")
	case store.AlertOrderUnshipped:
		positive(p.Hours, "hours")
		if p.WarehouseID < 0 {
			fields["params.warehouse_id"] = "must be a warehouse id, or 0 for every warehouse"
		}
	default:
		var kinds []string
		for _, k := range AlertKinds {
			kinds = append(kinds, k.Kind)
		}
		fields["kind"] = "must be one of " + strings.Join(kinds, ", ")
	}
	if len(fields) > 0 {
		return in, &store.ValidationError{Message: "invalid alert rule", Fields: fields}
	}
	return in, nil
}

// CreateAlertRule validates in and stores it.
func (s *Service) CreateAlertRule(ctx context.Context, actor string, in AlertRuleInput) (store.AlertRule, error) {
	in, err := in.Normalize()
	if err != nil {
		return store.AlertRule{}, err
	}
	return s.db.CreateAlertRule(ctx, actor, in.Integration, store.AlertRule{Name: in.Name, Kind: in.Kind, Params: in.Params})
}

// Alerts evaluates the alert rules in process: on a ticker (conditions
// that change with time, or through writes that do not announce
// themselves, like the dispatcher's) and whenever the store commits. A rule
// notifies its integration once when its condition starts to hold and once
// when it stops; the state lives in the rule's row, so a restart neither
// repeats nor loses a notification.
type Alerts struct {
	db       *store.DB
	clock    clock.Clock
	interval time.Duration
	log      *slog.Logger
	// Evaluated, when initialised by a test, receives the number of state
	// changes after each evaluation pass.
	Evaluated testsignal.Signal[int]
}

// NewAlerts returns an evaluator passing every interval (default 30 s).
func NewAlerts(db *store.DB, c clock.Clock, interval time.Duration, log *slog.Logger) *Alerts {
	return &Alerts{db: db, clock: c, interval: cmp.Or(interval, 30*time.Second), log: log}
}

// Run evaluates until ctx ends.
func (a *Alerts) Run(ctx context.Context) error {
	for {
		changed := a.db.Changed() // before evaluating: a commit during the pass wakes the next
		n, err := a.Evaluate(ctx)
		if err != nil && ctx.Err() == nil {
			a.log.Error("alert evaluation failed", slog.Any("error", err))
		}
		a.Evaluated.Signal(n)
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-a.clock.After(a.interval):
		}
	}
}

// Evaluate runs one pass over every rule and returns how many changed
// state (each notified and audited).
func (a *Alerts) Evaluate(ctx context.Context) (int, error) {
	rules, err := a.db.AlertRules(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rules {
		firing, detail, err := a.db.ObserveAlert(ctx, r, a.clock.Now())
		if err != nil {
			return n, fmt.Errorf("alert rule %d: %w", r.ID, err)
		}
		if firing == r.Firing {
			continue
		}
		changed, err := a.db.SetAlertState(ctx, r, firing, detail)
		if err != nil {
			return n, err
		}
		if changed {
			n++
		}
	}
	return n, nil
}
