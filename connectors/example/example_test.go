package example_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/example"
)

const apiKey = "ex_live_0123456789abcdef"

func setup(t *testing.T) (*connectors.Registry, *example.Fake, string) {
	t.Helper()
	fake := example.NewFake(apiKey)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	reg := connectors.NewRegistry()
	if err := example.Register(reg); err != nil {
		t.Fatal(err)
	}
	t0 := connectortest.Start()
	for i, sku := range []string{"WIDGET-1", "GADGET-9", "GIZMO-3"} {
		fake.AddItem(example.APIItem{ID: "it_" + sku, SKU: sku, Name: sku, UpdatedAt: t0.Add(time.Duration(i) * time.Minute)})
	}
	fake.AddOrder(example.APIOrder{ID: "o_1", Number: "EX-1001", UpdatedAt: t0, ShipTo: connectors.Address{Name: "Ada", City: "London"},
		Lines: []connectors.Line{{SKU: "WIDGET-1", Qty: 2}}})
	fake.AddOrder(example.APIOrder{ID: "o_2", Number: "EX-1002", UpdatedAt: t0.Add(time.Minute), Status: "cancelled",
		Lines: []connectors.Line{{SKU: "WIDGET-1", Qty: 1}}})
	return reg, fake, srv.URL
}

func TestConformance(t *testing.T) {
	reg, fake, url := setup(t)
	connectortest.RunConformance(t, connectortest.Fixture{
		Registry: reg, Name: example.Name,
		Settings:     map[string]string{"base_url": url, "page_size": "2"},
		Secrets:      map[string]string{"api_key": apiKey},
		Push:         connectors.FulfillmentRequest{SourceID: "o_1", OrderNumber: "EX-1001", Carrier: "UPS", Tracking: "1Z", IdempotencyKey: "key-1"},
		Fulfillments: fake.Fulfillments,
		Reject:       fake.Reject,
	})
}

// TestSyncItemsPaginates reads like the seed's route test: a fake upstream,
// the connector, and assertions on what reached the sink.
func TestSyncItemsPaginates(t *testing.T) {
	reg, _, url := setup(t)
	kit := connectortest.New(t)
	c := kit.Connector(reg, example.Name, map[string]string{"base_url": url, "page_size": "2"}, map[string]string{"api_key": apiKey})
	res, err := c.SyncItems(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if res.RecordsSynced != 3 || len(kit.Sink.Items()) != 3 || kit.Sink.Items()["it_GADGET-9"].SKU != "GADGET-9" {
		t.Fatalf("result %+v, items %+v", res, kit.Sink.Items())
	}
	if want := connectortest.Start().Add(2 * time.Minute); !res.MaxSeen.Equal(want) {
		t.Fatalf("max seen %s, want %s", res.MaxSeen, want)
	}
}

func TestSyncOrdersSkipsAndCountsRefusals(t *testing.T) {
	reg, fake, url := setup(t)
	fake.AddOrder(example.APIOrder{ID: "o_3", Number: "EX-1003", UpdatedAt: connectortest.Start(),
		Lines: []connectors.Line{{SKU: "UNKNOWN", Qty: 1}}})
	fake.AddOrder(example.APIOrder{ID: "o_4", Number: "EX-1004", UpdatedAt: connectortest.Start()})
	kit := connectortest.New(t)
	kit.Sink.Reject = connectortest.RefuseSKU("UNKNOWN")
	c := kit.Connector(reg, example.Name, map[string]string{"base_url": url}, map[string]string{"api_key": apiKey})
	res, err := c.SyncOrders(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if res.RecordsSynced != 1 || res.RecordsSkipped != 1 || res.RecordsFailed != 2 || len(res.Failures) != 2 {
		t.Fatalf("result %+v", res)
	}
}

func TestUnconfigured(t *testing.T) {
	reg, _, _ := setup(t)
	kit := connectortest.New(t)
	c := kit.Connector(reg, example.Name, nil, nil)
	res, err := c.TestConnection(context.Background())
	if err != nil || res.OK || !strings.Contains(res.Message, "base_url") {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := c.SyncItems(context.Background(), time.Time{}); !errors.Is(err, connectors.ErrNotConfigured) {
		t.Fatalf("sync without settings: %v", err)
	}
}

func FuzzParseOrdersPage(f *testing.F) {
	f.Add([]byte(`{"orders":[{"id":"o1","number":"1","lines":[{"sku":"A","qty":1}],"updated_at":"2026-01-01T00:00:00Z"}],"next_cursor":"2"}`))
	f.Add([]byte(`{"orders":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := example.ParseOrdersPage(b)
		if err != nil {
			return
		}
		for _, o := range p.Orders {
			if o.ID == "" || o.Number == "" {
				t.Fatalf("accepted order without id or number: %+v", o)
			}
		}
	})
}

func FuzzParseItemsPage(f *testing.F) {
	f.Add([]byte(`{"items":[{"id":"i1","sku":"A","name":"x","updated_at":"2026-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"items":[{"sku":"A"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := example.ParseItemsPage(b)
		if err == nil {
			for _, it := range p.Items {
				if it.ID == "" {
					t.Fatal("accepted item without id")
				}
			}
		}
	})
}
