package store_test

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"sentryhub/store"
)

func TestConnectorSettings(t *testing.T) {
	e, _ := syncEnv(t)
	if _, err := e.db.GetConnectorSettings(e.ctx, "shopify", e.wh1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("before put: %v", err)
	}
	if err := e.db.PutConnectorSettings(e.ctx, "user:a", "shopify", e.wh1, map[string]string{"shop_domain": "acme.myshopify.com", "location_id": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.PutConnectorSettings(e.ctx, "user:a", "shopify", e.wh1, map[string]string{"location_id": "2"}); err != nil {
		t.Fatal(err)
	}
	s, err := e.db.GetConnectorSettings(e.ctx, "shopify", e.wh1)
	if err != nil || s.Values["shop_domain"] != "acme.myshopify.com" || s.Values["location_id"] != "2" {
		t.Fatalf("merged settings: %+v %v", s, err)
	}
	if _, err := e.db.GetConnectorSettings(e.ctx, "shopify", e.wh2); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("settings leaked across warehouses")
	}
	entries, _ := e.db.ListAudit(e.ctx, 0, 10)
	if len(entries) != 2 || entries[0].Action != "connector.settings.put" || string(entries[0].Diff) != `{"keys":["location_id"]}` {
		t.Fatalf("audit: %+v", entries)
	}
	for _, en := range entries {
		if strings.Contains(string(en.Diff), "acme.myshopify.com") {
			t.Fatalf("audit diff carries a value: %s", en.Diff)
		}
	}
	for name, tc := range map[string]struct {
		values map[string]string
		field  string
	}{
		"no values":   {map[string]string{}, "values"},
		"empty key":   {map[string]string{"": "x"}, "values"},
		"huge value":  {map[string]string{"k": strings.Repeat("x", 5000)}, "values.k"},
		"control key": {map[string]string{"a\nb": "x"}, "values"},
	} {
		err := e.db.PutConnectorSettings(e.ctx, "user:a", "shopify", e.wh1, tc.values)
		if _, ok := errFields(err)[tc.field]; !ok {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := e.db.DeleteConnectorSettings(e.ctx, "user:a", "shopify", e.wh1); err != nil {
		t.Fatal(err)
	}
	if err := e.db.DeleteConnectorSettings(e.ctx, "user:a", "shopify", e.wh1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestSchedulesReplaceAndAdvance(t *testing.T) {
	e, fc := syncEnv(t)
	next := fc.Now().Add(5 * time.Minute)
	got, err := e.db.ReplaceSchedules(e.ctx, "user:a", "shopify", e.wh1, []store.ScheduleInput{
		{SyncType: "orders", IntervalSeconds: 300, Enabled: true, NextRunAt: next},
		{SyncType: "items", Cron: "0 * * * *", Enabled: false, NextRunAt: next.Add(time.Hour)},
	})
	if err != nil || len(got) != 2 || got[0].SyncType != "items" || got[1].IntervalSeconds != 300 || !got[1].NextRunAt.Equal(next) || got[1].UpdatedBy != "user:a" {
		t.Fatalf("replace: %+v %v", got, err)
	}
	// Replacing drops sync types not listed.
	got, err = e.db.ReplaceSchedules(e.ctx, "user:a", "shopify", e.wh1, []store.ScheduleInput{
		{SyncType: "orders", IntervalSeconds: 600, Enabled: true, NextRunAt: next}})
	if err != nil || len(got) != 1 {
		t.Fatalf("second replace: %+v %v", got, err)
	}
	k := got[0].SyncKey
	// Compare-and-set: only the caller that saw the current next_run_at wins.
	var wg sync.WaitGroup
	wins := make(chan bool, 4)
	for range 4 {
		wg.Go(func() {
			ok, err := e.db.AdvanceSchedule(e.ctx, k, next, next.Add(10*time.Minute))
			if err != nil {
				t.Error(err)
			}
			wins <- ok
		})
	}
	wg.Wait()
	close(wins)
	n := 0
	for ok := range wins {
		if ok {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d schedulers fired the same slot", n)
	}
	all, _ := e.db.ListSchedules(e.ctx, "", 0)
	if len(all) != 1 || !all[0].NextRunAt.Equal(next.Add(10*time.Minute)) || all[0].LastRunAt == nil {
		t.Fatalf("after advance: %+v", all)
	}

	for name, in := range map[string]store.ScheduleInput{
		"both":      {SyncType: "orders", IntervalSeconds: 60, Cron: "* * * * *", NextRunAt: next},
		"neither":   {SyncType: "orders", NextRunAt: next},
		"no type":   {IntervalSeconds: 60, NextRunAt: next},
		"negative":  {SyncType: "orders", IntervalSeconds: -5, NextRunAt: next},
		"no next":   {SyncType: "orders", IntervalSeconds: 60},
		"duplicate": {SyncType: "items", IntervalSeconds: 60, NextRunAt: next},
	} {
		ins := []store.ScheduleInput{in}
		if name == "duplicate" {
			ins = append(ins, in)
		}
		_, err := e.db.ReplaceSchedules(e.ctx, "user:a", "shopify", e.wh1, ins)
		var ve *store.ValidationError
		if !errors.As(err, &ve) || !strings.HasPrefix(strings.Join(keysOf(ve.Fields), ","), "schedules[") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestShipQueuesFulfillmentPush checks that shipping an order from a
// connector queues its push in the ship transaction, and that orders
// without a source queue nothing.
func TestShipQueuesFulfillmentPush(t *testing.T) {
	e, fc := syncEnv(t)
	e.stock(e.wh1, "WIDGET-1", 10)
	src := &store.SourceRef{Name: "shopify", ID: "gid://shopify/Order/1"}
	r, err := e.db.CreateSalesOrder(e.ctx, e.meta(), store.SalesOrderInput{OrderNumber: "#1001", WarehouseID: e.wh1,
		ShipTo: json.RawMessage(`{"name":"Ada"}`), Lines: []store.OrderLine{{SKU: "WIDGET-1", Qty: 2}}, Source: src})
	if err != nil {
		t.Fatal(err)
	}
	local := e.order("LOCAL-1", e.wh1, store.OrderLine{SKU: "WIDGET-1", Qty: 1})
	e.advance(local, store.SalesOrderShipped)
	if _, err := e.db.GetFulfillmentPush(e.ctx, local.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("local order queued a push: %v", err)
	}

	so := r.Value
	e.advance(so, store.SalesOrderPacked)
	meta := e.meta()
	if _, err := e.db.ShipSalesOrder(e.ctx, meta, so.ID, store.ShipInput{Carrier: "UPS", Tracking: "1Z999"}); err != nil {
		t.Fatal(err)
	}
	// A replayed ship request queues nothing more.
	if res, err := e.db.ShipSalesOrder(e.ctx, meta, so.ID, store.ShipInput{Carrier: "UPS", Tracking: "1Z999"}); err != nil || !res.Replayed {
		t.Fatalf("replay: %+v %v", res, err)
	}
	p, err := e.db.GetFulfillmentPush(e.ctx, so.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Connector != "shopify" || p.SourceID != src.ID || p.WarehouseID != e.wh1 || p.Carrier != "UPS" ||
		p.Tracking != "1Z999" || p.IdempotencyKey != meta.RequestID || p.Status != store.FulfillmentPending ||
		len(p.Lines) != 1 || p.Lines[0].Qty != 2 || p.OrderNumber != "#1001" {
		t.Fatalf("push: %+v", p)
	}
	if n := countRows(t, e.db, "fulfillment_pushes"); n != 1 {
		t.Fatalf("%d pushes", n)
	}

	keys, err := e.db.DueFulfillmentKeys(e.ctx)
	if err != nil || len(keys) != 1 || keys[0].Connector != "shopify" {
		t.Fatalf("due keys: %+v %v", keys, err)
	}
	// A transient failure reschedules it; it is not due until then.
	if err := e.db.RecordFulfillmentAttempt(e.ctx, p.ID, store.FulfillmentAttempt{Status: store.FulfillmentPending,
		NextAttemptAt: fc.Now().Add(30 * time.Second), Error: "503", Counted: true}); err != nil {
		t.Fatal(err)
	}
	if due, _ := e.db.ListFulfillmentPushes(e.ctx, store.FulfillmentFilter{DueOnly: true}); len(due) != 0 {
		t.Fatalf("due before its retry time: %+v", due)
	}
	fc.Advance(30 * time.Second)
	due, _ := e.db.ListFulfillmentPushes(e.ctx, store.FulfillmentFilter{Connector: "shopify", WarehouseID: e.wh1, DueOnly: true})
	if len(due) != 1 || due[0].Attempts != 1 || due[0].LastError != "503" {
		t.Fatalf("due: %+v", due)
	}
	if err := e.db.RecordFulfillmentAttempt(e.ctx, p.ID, store.FulfillmentAttempt{Status: store.FulfillmentFailed,
		Error: "401", Counted: true}); err != nil {
		t.Fatal(err)
	}
	// Settled pushes refuse further attempts; an admin can requeue them.
	if err := e.db.RecordFulfillmentAttempt(e.ctx, p.ID, store.FulfillmentAttempt{Status: store.FulfillmentSucceeded}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("attempt on a failed push: %v", err)
	}
	// A requeued push gets a fresh attempt budget.
	if rp, err := e.db.RetryFulfillmentPush(e.ctx, "user:a", "shopify", p.ID); err != nil || rp.Attempts != 0 || rp.Status != store.FulfillmentPending {
		t.Fatalf("retry: %+v %v", rp, err)
	}
	if got, _ := e.db.GetFulfillmentPush(e.ctx, so.ID); got.Attempts != 0 {
		t.Fatalf("stored attempts after retry: %d", got.Attempts)
	}
	if _, err := e.db.RetryFulfillmentPush(e.ctx, "user:a", "shopify", p.ID); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("retry of a pending push: %v", err)
	}
	if err := e.db.RecordFulfillmentAttempt(e.ctx, p.ID, store.FulfillmentAttempt{Status: store.FulfillmentSucceeded,
		UpstreamRef: "gid://shopify/Fulfillment/9", Counted: true}); err != nil {
		t.Fatal(err)
	}
	p, _ = e.db.GetFulfillmentPush(e.ctx, so.ID)
	if p.Status != store.FulfillmentSucceeded || p.Attempts != 1 || p.UpstreamRef != "gid://shopify/Fulfillment/9" || p.CompletedAt == nil {
		t.Fatalf("final: %+v", p)
	}
	if _, err := e.db.RetryFulfillmentPush(e.ctx, "user:a", "shopify", 999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("retry of unknown push: %v", err)
	}
	if _, err := e.db.RetryFulfillmentPush(e.ctx, "user:a", "other", p.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("retry through another connector: %v", err)
	}
}

// TestShipRollsBackWithItsPush: if queueing the push fails, the shipment
// does not commit either (one transaction).
func TestShipRollsBackWithItsPush(t *testing.T) {
	e, _ := syncEnv(t)
	e.stock(e.wh1, "WIDGET-1", 10)
	mk := func(num, srcID string) store.SalesOrder {
		r, err := e.db.CreateSalesOrder(e.ctx, e.meta(), store.SalesOrderInput{OrderNumber: num, WarehouseID: e.wh1,
			ShipTo: json.RawMessage(`{}`), Lines: []store.OrderLine{{SKU: "WIDGET-1", Qty: 1}},
			Source: &store.SourceRef{Name: "shopify", ID: srcID}})
		if err != nil {
			t.Fatal(err)
		}
		e.advance(r.Value, store.SalesOrderPacked)
		return r.Value
	}
	a, b := mk("A-1", "1"), mk("B-1", "2")
	meta := e.meta()
	if _, err := e.db.ShipSalesOrder(e.ctx, meta, a.ID, store.ShipInput{Carrier: "UPS"}); err != nil {
		t.Fatal(err)
	}
	// Make every later push insert fail.
	if _, err := e.db.Writer().ExecContext(e.ctx, `CREATE TRIGGER fail_push BEFORE INSERT ON fulfillment_pushes
		BEGIN SELECT RAISE(ABORT, 'injected'); END`); err != nil {
		t.Fatal(err)
	}
	before := e.onHand(e.wh1, "WIDGET-1")
	events := e.latestEventID()
	if _, err := e.db.ShipSalesOrder(e.ctx, e.meta(), b.ID, store.ShipInput{Carrier: "UPS"}); err == nil {
		t.Fatal("ship succeeded though its push could not be queued")
	}
	got, _ := e.db.GetSalesOrder(e.ctx, b.ID)
	if got.Status != store.SalesOrderPacked || e.onHand(e.wh1, "WIDGET-1") != before || e.latestEventID() != events {
		t.Fatalf("partial ship committed: status %s, on hand %d, events %d->%d", got.Status, e.onHand(e.wh1, "WIDGET-1"), events, e.latestEventID())
	}
}
