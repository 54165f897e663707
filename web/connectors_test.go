package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/shopify"
	"sentryhub/ssrf"
	"sentryhub/store"
	"sentryhub/store/vault"
)

const (
	shopToken = "shpat_web_test_0123456789"
	shopLoc   = "gid://shopify/Location/55"
)

// connectorEnv is the web test env with the connector framework wired as
// the app wires it, the Shopify connector pointed at a fake shop.
type connectorEnv struct {
	*testEnv
	fake   *shopify.Fake
	svc    *connectors.Service
	worker *connectors.FulfillmentWorker
	done   <-chan connectors.Outcome
	admin  string
	wh     int64
}

func newConnectorEnv(t *testing.T) *connectorEnv {
	t.Helper()
	e := &connectorEnv{testEnv: newTestEnv(t)}
	e.fake = shopify.NewFake(shopify.FakeConfig{Now: e.clock.Now, AccessToken: shopToken})
	e.fake.AddLocation(shopLoc, "Main")
	shop := httptest.NewServer(e.fake)
	t.Cleanup(shop.Close)
	reg := connectors.NewRegistry()
	if err := shopify.Register(reg, shopify.Options{BaseURL: func(string) string { return shop.URL }}); err != nil {
		t.Fatal(err)
	}
	key, err := vault.ParseKey(vault.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	v := vault.New(e.db, key)
	log := slog.New(slog.DiscardHandler)
	pool := connectortest.NewPool(t, connectors.HTTPConfig{AllowHTTP: true}, ssrf.New(ssrf.Config{AllowPrivate: connectortest.Loopback()}), e.clock, log)
	deps := connectors.RunnerDeps{Registry: reg, DB: e.db, Vault: v, HTTP: pool, Clock: e.clock, Log: log}
	deps.Finished.InitSize(t, "a sync run's outcome", 20)
	e.done = deps.Finished.C()
	runner := connectortest.NewRunner(t, connectors.RunnerConfig{}, deps)
	e.worker = connectors.NewFulfillmentWorker(runner, 0)
	e.svc = connectors.NewService(connectors.ServiceConfig{Registry: reg, DB: e.db, Vault: v, HTTP: pool, Runner: runner,
		Clock: e.clock, Log: log})
	e.s.SetConnectors(e.svc)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { e.svc.Serve(ctx); close(served) }()
	t.Cleanup(func() { cancel(); <-served })
	e.admin = e.token(store.ScopeAdmin)
	w, err := e.db.CreateWarehouse(context.Background(), store.OpMeta{}, store.WarehouseInput{Code: "W1", Name: "Main"})
	if err != nil {
		t.Fatal(err)
	}
	e.wh = w.Value.ID
	return e
}

// call sends an admin request and decodes the JSON answer into out (when
// not nil), failing unless the status is want.
func (e *connectorEnv) call(method, path, body string, want int, out any) string {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	resp := e.do(nil, method, path, map[string]string{"X-WMS-Token": e.admin, "Content-Type": "application/json"}, rd)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return string(b)
}

// sync triggers a sync and waits for its outcome.
func (e *connectorEnv) sync(syncType string) connectors.Outcome {
	e.t.Helper()
	var t connectors.RunTicket
	e.call("POST", "/api/admin/connectors/shopify/sync/"+syncType+"?warehouse_id=1", "", http.StatusAccepted, &t)
	o := <-e.done
	if o.RunID != t.RunID || o.Status != store.RunSuccess {
		e.t.Fatalf("%s run: %+v", syncType, o)
	}
	return o
}

func TestConnectorAdminAPIEndToEnd(t *testing.T) {
	t.Parallel()
	e := newConnectorEnv(t)
	t0 := e.clock.Now().Add(-time.Hour)
	e.fake.AddVariant(shopify.FakeVariant{SKU: "WIDGET-1", ProductTitle: "Widget", Title: "Default Title", UpdatedAt: t0})
	e.fake.SetLevel(shopify.FakeLevel{LocationID: shopLoc, SKU: "WIDGET-1", Tracked: true, OnHand: 9, UpdatedAt: t0})
	order := e.fake.AddOrder(shopify.FakeOrder{Name: "#1001", UpdatedAt: t0, LocationID: shopLoc,
		Lines: []shopify.FakeLine{{SKU: "WIDGET-1", Qty: 2, RequiresShipping: true}}, Address: map[string]string{"name": "Ada"}})

	// 1. The registry, and the form.
	var list struct {
		Connectors []connectors.Info `json:"connectors"`
	}
	e.call("GET", "/api/admin/connectors", "", 200, &list)
	if len(list.Connectors) != 1 || list.Connectors[0].Name != "shopify" || len(list.Connectors[0].Capabilities) != 4 ||
		len(list.Connectors[0].Schema.Fields) == 0 {
		t.Fatalf("list %+v", list)
	}
	var schema struct {
		Fields []connectors.Field `json:"fields"`
	}
	e.call("GET", "/api/admin/connectors/shopify/config-schema", "", 200, &schema)
	secret := map[string]bool{}
	for _, f := range schema.Fields {
		secret[f.Name] = f.Secret
	}
	if !secret["access_token"] || !secret["client_secret"] || secret["shop_domain"] {
		t.Fatalf("schema %+v", schema)
	}

	// 2. Credentials: validated against the schema, 422 naming the field.
	for _, tc := range []struct{ body, field string }{
		{`{"warehouse_id":1,"values":{"shop_domain":"acme.myshopify.com","acess_token":"x"}}`, "acess_token"},
		{`{"warehouse_id":1,"values":{"shop_domain":"169.254.169.254","access_token":"x"}}`, "shop_domain"},
		{`{"warehouse_id":1,"values":{"shop_domain":"acme.myshopify.com"}}`, "access_token"},
		{`{"warehouse_id":1,"values":{"shop_domain":"acme.myshopify.com","access_token":"****"}}`, "access_token"},
		{`{"warehouse_id":1,"values":{"shop_domain":"acme.myshopify.com","access_token":"x","api_version":"2019-04"}}`, "api_version"},
		{`{"warehouse_id":1,"values":{"shop_domain":["acme.myshopify.com"],"access_token":"x"}}`, "shop_domain"},
		{`{"warehouse_id":99,"values":{"shop_domain":"acme.myshopify.com","access_token":"x"}}`, "warehouse_id"},
	} {
		var errBody errorBody
		e.call("POST", "/api/admin/connectors/shopify/credentials", tc.body, 422, &errBody)
		if errBody.Error.Fields[tc.field] == "" {
			t.Errorf("%s: fields %v", tc.body, errBody.Error.Fields)
		}
	}
	var view connectors.CredentialView
	body := e.call("POST", "/api/admin/connectors/shopify/credentials",
		`{"warehouse_id":1,"values":{"shop_domain":"acme.myshopify.com","access_token":"`+shopToken+`","location_id":"`+shopLoc+`"}}`, 200, &view)
	if view.Values["access_token"] != "****" || view.Values["shop_domain"] != "acme.myshopify.com" || strings.Contains(body, shopToken) {
		t.Fatalf("put: %s", body)
	}
	body = e.call("GET", "/api/admin/connectors/shopify/credentials?warehouse_id=1", "", 200, &view)
	if view.Values["access_token"] != "****" || view.Values["api_version"] != shopify.DefaultAPIVersion || strings.Contains(body, shopToken) {
		t.Fatalf("get: %s", body)
	}

	// 3. Test button.
	var res connectors.ConnectionResult
	e.call("POST", "/api/admin/connectors/shopify/test", `{"warehouse_id":1}`, 200, &res)
	if !res.OK || !strings.Contains(res.Message, "Acme Test Shop") || !strings.Contains(res.Message, "location Main") {
		t.Fatalf("test: %+v", res)
	}

	// 4. Syncs through the admin endpoint, in the order a warehouse needs.
	e.sync("items")
	e.sync("inventory")
	o := e.sync("orders")
	if o.Result.RecordsSynced != 1 {
		t.Fatalf("orders %+v", o)
	}
	inv, _ := e.db.ListInventory(context.Background(), store.InventoryFilter{WarehouseID: e.wh, SKU: "WIDGET-1"})
	if len(inv) != 1 || inv[0].OnHand != 9 {
		t.Fatalf("inventory %+v", inv)
	}
	// The order changes upstream and is re-synced in place.
	e.clock.Advance(5 * time.Minute)
	e.fake.UpdateOrder(order, func(o *shopify.FakeOrder) { o.Lines[0].Qty = 3 })
	e.clock.Advance(time.Minute)
	e.sync("orders")
	var orders []string
	rows, _ := e.db.Reader().Query(`SELECT id FROM sales_orders WHERE source_name = 'shopify'`)
	for rows.Next() {
		var id string
		rows.Scan(&id)
		orders = append(orders, id)
	}
	rows.Close()
	if len(orders) != 1 {
		t.Fatalf("%d sales orders after the re-sync", len(orders))
	}
	so, _ := e.db.GetSalesOrder(context.Background(), orders[0])
	if so.Lines[0].Qty != 3 {
		t.Fatalf("not updated: %+v", so.Lines)
	}

	var status connectors.SyncStatus
	e.call("GET", "/api/admin/connectors/shopify/sync-status?warehouse_id=1", "", 200, &status)
	states := map[string]store.SyncState{}
	for _, st := range status.States {
		states[st.SyncType] = st
	}
	if len(status.States) != 5 || states["orders"].LastSuccessAt == nil || states["orders"].Status != store.SyncIdle ||
		states["fulfillment"].LastSuccessAt != nil || len(status.Runs) != 4 || status.Circuit.State != connectors.BreakerClosed {
		t.Fatalf("status %+v", status)
	}
	var runs struct {
		Runs []store.SyncRun `json:"runs"`
	}
	e.call("GET", "/api/admin/connectors/shopify/runs?warehouse_id=1&sync_type=orders&limit=5", "", 200, &runs)
	if len(runs.Runs) != 2 || runs.Runs[0].Trigger != "manual" {
		t.Fatalf("runs %+v", runs)
	}

	// 5. Ship the order: its push is queued, then sent by the worker.
	ctx := context.Background()
	for _, step := range []func() error{
		func() error { _, err := e.db.PickSalesOrder(ctx, store.OpMeta{}, so.ID); return err },
		func() error { _, err := e.db.PackSalesOrder(ctx, store.OpMeta{}, so.ID); return err },
		func() error {
			_, err := e.db.ShipSalesOrder(ctx, store.OpMeta{RequestID: uuid.NewString()}, so.ID, store.ShipInput{Carrier: "UPS", Tracking: "1ZWEB"})
			return err
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	var fl struct {
		Fulfillments []store.FulfillmentPush `json:"fulfillments"`
	}
	e.call("GET", "/api/admin/connectors/shopify/fulfillments?warehouse_id=1&status=pending", "", 200, &fl)
	if len(fl.Fulfillments) != 1 || fl.Fulfillments[0].OrderID != so.ID {
		t.Fatalf("queue %+v", fl)
	}
	if err := e.worker.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	<-e.done
	e.call("GET", "/api/admin/connectors/shopify/fulfillments?warehouse_id=1", "", 200, &fl)
	if fl.Fulfillments[0].Status != store.FulfillmentSucceeded {
		t.Fatalf("pushed %+v", fl)
	}
	if st, nums := e.fake.OrderFulfillment(order); st != "CLOSED" || len(nums) != 1 || nums[0] != "1ZWEB" {
		t.Fatalf("upstream %s %v", st, nums)
	}
	// The order itself reports the push's outcome.
	var got struct {
		Status      string `json:"status"`
		Fulfillment *struct {
			Connector   string     `json:"connector"`
			Status      string     `json:"status"`
			Attempts    int        `json:"attempts"`
			CompletedAt *time.Time `json:"completed_at"`
		} `json:"fulfillment"`
	}
	e.call("GET", "/api/v1/sales-orders/"+so.ID, "", 200, &got)
	if f := got.Fulfillment; got.Status != "shipped" || f == nil || f.Connector != "shopify" ||
		f.Status != "succeeded" || f.Attempts != 1 || f.CompletedAt == nil {
		t.Fatalf("order after push: %+v %+v", got, got.Fulfillment)
	}
	e.call("POST", "/api/admin/connectors/shopify/fulfillments/"+itoa(fl.Fulfillments[0].ID)+"/retry", "", 409, nil)

	// 6. Schedules.
	var sch struct {
		Schedules []store.ConnectorSchedule `json:"schedules"`
	}
	e.call("PUT", "/api/admin/connectors/shopify/schedules", `{"warehouse_id":1,"schedules":[{"sync_type":"orders","interval_seconds":300},{"sync_type":"items","cron":"0 3 * * *"}]}`, 200, &sch)
	if len(sch.Schedules) != 2 {
		t.Fatalf("schedules %+v", sch)
	}
	var bad errorBody
	e.call("PUT", "/api/admin/connectors/shopify/schedules", `{"warehouse_id":1,"schedules":[{"sync_type":"orders","cron":"* * *"}]}`, 422, &bad)
	if bad.Error.Fields["schedules[0].cron"] == "" {
		t.Fatalf("bad cron: %+v", bad)
	}
	e.call("GET", "/api/admin/connectors/shopify/schedules?warehouse_id=1", "", 200, &sch)
	if len(sch.Schedules) != 2 {
		t.Fatalf("schedules %+v", sch)
	}

	// 7. The audit trail names keys, never values.
	entries, _ := e.db.ListAudit(ctx, 0, 100)
	actions := map[string]bool{}
	for _, en := range entries {
		actions[en.Action] = true
		if strings.Contains(string(en.Diff), shopToken) {
			t.Fatalf("audit leaks the token: %+v", en)
		}
	}
	for _, a := range []string{"credentials.put", "connector.settings.put", "connector.sync.trigger", "connector.schedules.put"} {
		if !actions[a] {
			t.Errorf("no %s audit entry (%v)", a, actions)
		}
	}

	// 8. Delete.
	e.call("DELETE", "/api/admin/connectors/shopify/credentials?warehouse_id=1", "", 204, nil)
	e.call("GET", "/api/admin/connectors/shopify/credentials?warehouse_id=1", "", 404, nil)
	e.call("DELETE", "/api/admin/connectors/shopify/credentials?warehouse_id=1", "", 404, nil)
}

func TestConnectorAdminAPIErrors(t *testing.T) {
	t.Parallel()
	e := newConnectorEnv(t)
	e.call("POST", "/api/admin/connectors/shopify/credentials",
		`{"warehouse_id":1,"values":{"shop_domain":"acme.myshopify.com","access_token":"`+shopToken+`","location_id":"`+shopLoc+`"}}`, 200, nil)
	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/api/admin/connectors/nope/config-schema", "", 404, "not_found"},
		{"GET", "/api/admin/connectors/shopify/credentials", "", 400, "bad_request"},
		{"GET", "/api/admin/connectors/shopify/credentials?warehouse_id=abc", "", 400, "bad_request"},
		{"POST", "/api/admin/connectors/shopify/credentials?warehouse_id=2", `{"warehouse_id":1,"values":{}}`, 400, "bad_request"},
		{"POST", "/api/admin/connectors/shopify/credentials", `{"warehouse_id":1}`, 400, "bad_request"},
		{"POST", "/api/admin/connectors/shopify/credentials", `{"warehouse_id":1,"values":{},"extra":1}`, 400, "bad_request"},
		{"POST", "/api/admin/connectors/shopify/sync/everything?warehouse_id=1", "", 422, "validation_failed"},
		{"POST", "/api/admin/connectors/nope/sync/orders?warehouse_id=1", "", 404, "not_found"},
		{"POST", "/api/admin/connectors/shopify/test", "", 400, "bad_request"},
		{"GET", "/api/admin/connectors/shopify/fulfillments?warehouse_id=1&status=lost", "", 422, "validation_failed"},
		{"GET", "/api/admin/connectors/shopify/runs?warehouse_id=1&sync_type=bogus", "", 422, "validation_failed"},
		{"POST", "/api/admin/connectors/shopify/fulfillments/999/retry", "", 404, "not_found"},
	} {
		var b errorBody
		e.call(tc.method, tc.path, tc.body, tc.status, &b)
		if b.Error.Code != tc.code {
			t.Errorf("%s %s: code %q", tc.method, tc.path, b.Error.Code)
		}
	}
	// A sync already running is a conflict.
	if _, err := e.db.ClaimSync(context.Background(), store.SyncKey{Connector: "shopify", WarehouseID: 1, SyncType: "orders"},
		store.ClaimOptions{RunID: uuid.NewString()}); err != nil {
		t.Fatal(err)
	}
	var b errorBody
	e.call("POST", "/api/admin/connectors/shopify/sync/orders?warehouse_id=1", "", 409, &b)
	if !strings.Contains(b.Error.Message, "already running") {
		t.Fatalf("409 message %q", b.Error.Message)
	}
	// A failing upstream shows in the test result, not as an error, and
	// without the token.
	e.fake.Reject()
	var res connectors.ConnectionResult
	e.call("POST", "/api/admin/connectors/shopify/test?warehouse_id=1", "", 200, &res)
	if res.OK || strings.Contains(res.Message, shopToken) || !strings.Contains(res.Message, "401") {
		t.Fatalf("rejected: %+v", res)
	}
}

func TestConnectorAdminAPIAuth(t *testing.T) {
	t.Parallel()
	e := newConnectorEnv(t)
	reader := e.token(store.ScopeEventsRead)
	for _, tc := range []struct {
		token string
		want  int
	}{{"", 401}, {reader, 403}, {e.admin, 200}} {
		hdr := map[string]string{"Content-Type": "application/json"}
		if tc.token != "" {
			hdr["X-WMS-Token"] = tc.token
		}
		for _, path := range []string{"/api/admin/connectors", "/api/admin/connectors/shopify/config-schema"} {
			if resp := e.do(nil, "GET", path, hdr, nil); resp.StatusCode != tc.want {
				t.Errorf("%s with %q: %d, want %d", path, tc.token, resp.StatusCode, tc.want)
			}
		}
		resp := e.do(nil, "POST", "/api/admin/connectors/shopify/credentials", hdr, strings.NewReader(`{"warehouse_id":1,"values":{}}`))
		if tc.want != 200 && resp.StatusCode != tc.want {
			t.Errorf("credentials write with %q: %d", tc.token, resp.StatusCode)
		}
	}
}
