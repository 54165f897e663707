package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// erpOrders is a mapping for a German ERP's order export: field names,
// nesting, decimal commas and warehouse codes are the ERP's own.
const erpOrders = `version: 1
resource: sales_orders
source_id: $.Beleg.Nummer
fields:
  order_number: {concat: [{const: "ERP-"}, {path: $.Beleg.Nummer}]}
  warehouse_id: {path: $.Beleg.Lager, lookup: {ZL: 1}}
  ship_to:
    fields:
      name: {path: $.Kunde.Name, transforms: [trim]}
      city: {path: $.Kunde.Ort, required: true}
      country: {path: $.Kunde.Land, transforms: [upper]}
lines:
  path: $.Positionen
  fields:
    sku: {path: $.Artikel, transforms: [trim]}
    qty: {path: $.Menge, number: {decimal_separator: ",", group_separator: "."}}
`

func erpOrder(nr, city, qty string) map[string]any {
	return map[string]any{
		"Beleg":      map[string]any{"Nummer": nr, "Lager": "ZL"},
		"Kunde":      map[string]any{"Name": " Erika Mustermann ", "Ort": city, "Land": "de"},
		"Positionen": []any{map[string]any{"Artikel": "WIDGET-1 ", "Menge": qty}},
	}
}

// TestInboundPushEndToEnd starts the real server, subscribes an httptest
// webhook consumer, sets up a source with a mapping through the admin API
// and pushes a batch of ERP-shaped orders with the source's token: the
// mapped orders arrive at the consumer as sales_order.created events, the
// document that does not map is refused by name, and a repeat of the batch
// delivers nothing more.
func TestInboundPushEndToEnd(t *testing.T) {
	t.Parallel()
	getenv := env("SENTRY_ENCRYPTION_KEY", testKey(t), "SENTRY_DATA_DIR", t.TempDir(), "SENTRY_LOG_LEVEL", "warn",
		"SENTRY_ALLOW_PRIVATE_TARGETS", "127.0.0.0/8")
	type delivery struct{ Type, OrderNumber, City string }
	got := make(chan delivery, 16)
	consumer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var env struct {
			EventType string `json:"event_type"`
			Data      struct {
				OrderNumber string            `json:"order_number"`
				ShipTo      map[string]string `json:"ship_to"`
			} `json:"data"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got <- delivery{env.EventType, env.Data.OrderNumber, env.Data.ShipTo["city"]}
	}))
	t.Cleanup(consumer.Close)

	base := startServe(t, getenv)
	admin := strings.TrimSpace(run(t, getenv, "", "token", "create", "--name", "ops", "--scope", "admin").stdout)
	call(t, "POST", base+"/api/v1/warehouses", admin, `{"code":"ZL","name":"Zentrallager"}`, 201)
	call(t, "PUT", base+"/api/v1/items/WIDGET-1", admin, `{"name":"Widget"}`, 201)
	call(t, "POST", base+"/api/admin/webhooks", admin, `{"name":"shop","url":"`+consumer.URL+`/hook",
		"subscription_filter":{"event_types":["sales_order.created","sales_order.updated"]}}`, 201)

	call(t, "POST", base+"/api/admin/inbound/sources", admin, `{"name":"erp"}`, 201)
	var tok struct{ Token string }
	json.Unmarshal(call(t, "POST", base+"/api/admin/inbound/sources/erp/tokens", admin, `{"name":"erp export"}`, 201), &tok)
	m, _ := json.Marshal(map[string]string{"mapping": erpOrders})
	call(t, "PUT", base+"/api/admin/inbound/mappings/erp/sales_orders", admin, string(m), 201)

	batch, _ := json.Marshal([]any{
		erpOrder("4711", "Köln", "2"),
		erpOrder("4712", "", "1"), // no city: refused
		erpOrder("4713", "Bonn", "1.200,000"),
	})
	var res struct {
		Results []struct {
			Outcome string            `json:"outcome"`
			Fields  map[string]string `json:"fields"`
		} `json:"results"`
	}
	json.Unmarshal(call(t, "POST", base+"/api/v1/inbound/sales_orders", tok.Token, string(batch), 200), &res)
	if len(res.Results) != 3 || res.Results[0].Outcome != "created" || res.Results[1].Outcome != "refused" ||
		res.Results[1].Fields["ship_to.city"] == "" || res.Results[2].Outcome != "created" {
		t.Fatalf("push results %+v", res.Results)
	}

	want := map[string]string{"ERP-4711": "Köln", "ERP-4713": "Bonn"}
	timeout := time.After(30 * time.Second)
	for len(want) > 0 {
		select {
		case d := <-got:
			if d.Type != "sales_order.created" || want[d.OrderNumber] != d.City {
				t.Fatalf("unexpected delivery %+v", d)
			}
			delete(want, d.OrderNumber)
		case <-timeout:
			t.Fatalf("the consumer never received %v", want)
		}
	}

	// The same batch again: unchanged, so no event; a changed order is
	// delivered as sales_order.updated, and nothing else arrives before it.
	call(t, "POST", base+"/api/v1/inbound/sales_orders", tok.Token, string(batch), 200)
	one, _ := json.Marshal(erpOrder("4711", "Köln", "3"))
	call(t, "POST", base+"/api/v1/inbound/sales_orders", tok.Token, string(one), 200)
	select {
	case d := <-got:
		if d.Type != "sales_order.updated" || d.OrderNumber != "ERP-4711" {
			t.Fatalf("after the repeat, got %+v, want the update of ERP-4711", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the update was not delivered")
	}
}

// TestBrowserMappingEditor drives the mapping editor in headless Chromium:
// a mistake is shown with its line and the line marked, a dry run shows
// the canonical record beside the YAML without writing anything, and a
// save makes a new version that the sources page lists.
func TestBrowserMappingEditor(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	getenv := adminHub(t)
	base := startServe(t, getenv)

	loginAt(t, ctx, base, "/inbound", "#no-sources")
	if err := chromedp.Do(ctx,
		typeText("#source-name", "erp"),
		chromedp.Click("#create-source"),
		chromedp.WaitVisible("#source-erp"),
		chromedp.Click("#edit-erp-sales_orders"),
		chromedp.WaitVisible("#mapping-yaml"),
	); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "mapping-editor-new")

	// A typo in a transform: the error names line 9 and the line is marked.
	bad := strings.Replace(erpOrders, "transforms: [trim]}\n      city", "transforms: [trimm]}\n      city", 1)
	sample, _ := json.Marshal(erpOrder("4711", "Köln", "2"))
	if err := chromedp.Do(ctx,
		chromedp.SetValue("#mapping-yaml", bad),
		chromedp.SetValue("#sample", string(sample)),
		chromedp.Click("#dry-run"),
		chromedp.WaitVisible("#mapping-errors"),
	); err != nil {
		t.Fatal(err)
	}
	if txt := text(t, ctx, "#mapping-errors"); !strings.Contains(txt, "line 9, column") || !strings.Contains(txt, `"trimm"`) {
		t.Fatalf("mapping errors %q", txt)
	}
	if cls := text(t, ctx, "#L9.bad"); !strings.Contains(cls, "trimm") {
		t.Fatalf("line 9 not marked: %q", cls)
	}
	screenshot(t, ctx, "mapping-editor-error")

	// Fixed: the dry run shows the canonical order beside the YAML.
	if err := chromedp.Do(ctx,
		chromedp.SetValue("#mapping-yaml", erpOrders),
		chromedp.Click("#dry-run"),
		chromedp.WaitVisible("#canonical"),
	); err != nil {
		t.Fatal(err)
	}
	if txt := text(t, ctx, "#canonical"); !strings.Contains(txt, `"order_number": "ERP-4711"`) || !strings.Contains(txt, `"name": "Erika Mustermann"`) {
		t.Fatalf("canonical %q", txt)
	}
	screenshot(t, ctx, "mapping-editor-dry-run")

	// Save: version 1, said on the editor the save redirects to, and
	// listed on the sources page.
	if err := chromedp.Do(ctx, chromedp.Click("#save"), chromedp.WaitVisible(`div.flash[data-flash="ok"]`)); err != nil {
		t.Fatal(err)
	}
	if txt := text(t, ctx, `div.flash[data-flash="ok"]`); !strings.Contains(txt, "version 1") {
		t.Fatalf("saved %q", txt)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/inbound/erp/sales_orders") {
		t.Fatalf("after save at %s, want the editor's URL", loc)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/inbound"), chromedp.WaitVisible("#source-erp")); err != nil {
		t.Fatal(err)
	}
	if txt := text(t, ctx, "#source-erp"); !strings.Contains(txt, "version 1") {
		t.Fatalf("sources page %q", txt)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}
