package integrations

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"sentryhub/store"
)

func meta() store.OpMeta {
	return store.OpMeta{RequestID: uuid.NewString(), Scope: "test", Actor: "test"}
}

// alertEvents returns the integration's private alert events, in order.
func alertEvents(t *testing.T, db *store.DB, integration string) []string {
	t.Helper()
	var out []string
	after := int64(0)
	for {
		evs, err := db.IntegrationEvents(context.Background(), integration, after, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return out
		}
		for _, ev := range evs {
			after = ev.ID
			if strings.HasPrefix(ev.EventType, "alert.") {
				var d struct{ Detail string }
				_ = json.Unmarshal(ev.Data, &d)
				out = append(out, ev.EventType+": "+d.Detail)
			}
		}
	}
}

// TestAlertRulesFireAndResolveOnce: a stock rule and an unshipped-order
// rule each notify once when their condition starts and once when it ends,
// however many passes run in between; the run loop wakes on commits.
func TestAlertRulesFireAndResolveOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.create(t, Spec{Kind: store.IntegrationInternal, Name: "Pager", WebhookURL: "https://pager.example/hook", AlertAction: true})
	if _, err := e.db.CreateWarehouse(ctx, meta(), store.WarehouseInput{Code: "MAIN", Name: "Main"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.UpsertItem(ctx, meta(), store.ItemInput{SKU: "BOLT", Name: "Bolt"}); err != nil {
		t.Fatal(err)
	}
	adjust := func(delta int64) {
		t.Helper()
		if _, err := e.db.ApplyAdjustment(ctx, meta(), store.AdjustmentInput{WarehouseID: 1, SKU: "BOLT", Delta: delta, Reason: "count"}); err != nil {
			t.Fatal(err)
		}
	}
	adjust(20)
	for _, in := range []AlertRuleInput{
		{Name: "Bolts low", Kind: store.AlertStockBelow, Integration: "pager", Params: store.AlertParams{WarehouseID: 1, SKU: "BOLT", Threshold: 10}},
		{Name: "Slow ship", Kind: store.AlertOrderUnshipped, Integration: "pager", Params: store.AlertParams{Hours: 4}},
	} {
		if _, err := e.svc.CreateAlertRule(ctx, "user:admin", in); err != nil {
			t.Fatal(err)
		}
	}
	// A rule for an integration without an alert action is refused.
	e.create(t, internalSpec("Plain"))
	_, err := e.svc.CreateAlertRule(ctx, "user:admin", AlertRuleInput{Name: "x", Kind: store.AlertSubscriptionPaused, Integration: "plain",
		Params: store.AlertParams{SubscriptionID: 1}})
	var ve *store.ValidationError
	if !errors.As(err, &ve) || ve.Fields["integration"] == "" {
		t.Fatalf("rule for an integration without alert action: %v", err)
	}

	a := NewAlerts(e.db, e.clock, time.Minute, slog.New(slog.DiscardHandler))
	pass := func(want int) {
		t.Helper()
		n, err := a.Evaluate(ctx)
		if err != nil || n != want {
			t.Fatalf("pass: %d changes, %v; want %d", n, err, want)
		}
	}
	pass(0)
	adjust(-15) // 5 left
	pass(1)
	pass(0)
	adjust(1) // 6: still low, no second notification
	pass(0)
	adjust(10) // 16
	pass(1)
	pass(0)

	// An order packed and not shipped for 4 hours.
	so, err := e.db.CreateSalesOrder(ctx, meta(), store.SalesOrderInput{OrderNumber: "SO-1", WarehouseID: 1,
		ShipTo: json.RawMessage(`{"name":"A"}`), Lines: []store.OrderLine{{SKU: "BOLT", Qty: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.PickSalesOrder(ctx, meta(), so.Value.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.PackSalesOrder(ctx, meta(), so.Value.ID); err != nil {
		t.Fatal(err)
	}
	pass(0)
	e.clock.Advance(4 * time.Hour)
	pass(1)
	pass(0)
	if _, err := e.db.ShipSalesOrder(ctx, meta(), so.Value.ID, store.ShipInput{Carrier: "UPS"}); err != nil {
		t.Fatal(err)
	}
	pass(1)

	got := alertEvents(t, e.db, c.Integration.UUID)
	want := []string{"alert.triggered: BOLT in warehouse 1: 5 on hand (threshold 10)",
		"alert.resolved: BOLT in warehouse 1: 16 on hand (threshold 10)",
		"alert.triggered: 1 orders packed over 4 h ago are not shipped (first: SO-1)",
		"alert.resolved: 0 orders packed over 4 h ago are not shipped (first: )"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("alert events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if audit := e.auditActions(t); strings.Count(audit, "alerts alert.triggered") != 2 || strings.Count(audit, "alerts alert.resolved") != 2 {
		t.Fatalf("audit: %s", audit)
	}

	// The run loop: a commit wakes it, and it notifies once.
	a.Evaluated.Init(t, "alert pass")
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	if n := a.Evaluated.WaitOrTimeout(); n != 0 {
		t.Fatalf("first pass: %d", n)
	}
	adjust(-10) // 6 left: the commit wakes the loop
	if n := a.Evaluated.WaitOrTimeout(); n != 1 {
		t.Fatalf("pass after the commit: %d", n)
	}
	// Its own commit wakes it once more, with nothing to do.
	if n := a.Evaluated.WaitOrTimeout(); n != 0 {
		t.Fatalf("pass after its own commit: %d", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rules, err := e.db.AlertRules(context.Background())
	if err != nil || !rules[0].Firing || rules[1].Firing {
		t.Fatalf("rules: %+v %v", rules, err)
	}
}

// TestAlertKindsOverHubState: the sync, subscription and DLQ rules read
// the hub's own tables.
func TestAlertKindsOverHubState(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.create(t, Spec{Kind: store.IntegrationInternal, Name: "Pager", WebhookURL: "https://pager.example/hook", AlertAction: true})
	sub := *c.Integration.SubscriptionID
	for _, in := range []AlertRuleInput{
		{Name: "Shopify failing", Kind: store.AlertSyncFailing, Integration: "pager", Params: store.AlertParams{Connector: "shopify", WarehouseID: 1, Threshold: 3}},
		{Name: "Hook paused", Kind: store.AlertSubscriptionPaused, Integration: "pager", Params: store.AlertParams{SubscriptionID: sub}},
		{Name: "DLQ", Kind: store.AlertDLQAbove, Integration: "pager", Params: store.AlertParams{SubscriptionID: sub, Threshold: 0}},
	} {
		if _, err := e.svc.CreateAlertRule(ctx, "user:admin", in); err != nil {
			t.Fatal(err)
		}
	}
	a := NewAlerts(e.db, e.clock, 0, slog.New(slog.DiscardHandler))
	firing := func() []string {
		t.Helper()
		if _, err := a.Evaluate(ctx); err != nil {
			t.Fatal(err)
		}
		rules, err := e.db.AlertRules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rules {
			if r.Firing {
				out = append(out, r.Name)
			}
		}
		return out
	}
	if f := firing(); len(f) != 0 {
		t.Fatalf("firing at rest: %v", f)
	}
	k := store.SyncKey{Connector: "shopify", WarehouseID: 1, SyncType: "orders"}
	for i := range 3 {
		run := uuid.NewString()
		if _, err := e.db.ClaimSync(ctx, k, store.ClaimOptions{RunID: run}); err != nil {
			t.Fatal(err)
		}
		if err := e.db.FinishSync(ctx, k, run, store.SyncRunRecord{Status: store.RunFailed, Error: "upstream 503"}); err != nil {
			t.Fatal(err)
		}
		if f := firing(); (i < 2) != (len(f) == 0) {
			t.Fatalf("after %d failures: %v", i+1, f)
		}
	}
	cur, err := e.db.Subscription(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	next := cur
	next.Status, next.PauseReason = store.SubscriptionPaused, store.PauseManual
	if _, err := e.db.UpdateSubscription(ctx, "user:admin", cur, next); err != nil {
		t.Fatal(err)
	}
	if f := firing(); strings.Join(f, ",") != "Shopify failing,Hook paused" {
		t.Fatalf("firing: %v", f)
	}
}
