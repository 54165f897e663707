package manifests_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/fakes/fakekit"
	"sentryhub/connectors/fakes/netsuite"
	"sentryhub/connectors/manifest"
	"sentryhub/connectors/manifests"
)

func netsuiteSetup(t testing.TB, cfg netsuite.Config) (*netsuite.Fake, *connectors.Registry, map[string]string, map[string]string) {
	t.Helper()
	cfg.Now = cmpNow(cfg.Now)
	fake := netsuite.New(cfg)
	srv := fakekit.Serve(t, fake)
	reg := connectors.NewRegistry()
	if err := manifest.Register(reg, manifests.Catalog, "catalog/netsuite", manifest.Options{BaseURL: map[string]string{"netsuite": srv.URL}}); err != nil {
		t.Fatal(err)
	}
	return fake, reg, map[string]string{"account_id": "1234567_SB1", "account_host": "1234567-sb1"},
		map[string]string{"consumer_key": "ns-ck", "consumer_secret": "ns-cs", "token_id": "ns-tk", "token_secret": "ns-ts"}
}

func TestNetSuiteConformance(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := netsuiteSetup(t, netsuite.Config{Seed: 1, Items: 40, Orders: 3})
	connectortest.RunConformance(t, connectortest.Fixture{Registry: reg, Name: "netsuite", Settings: settings, Secrets: secrets, Reject: fake.Reject,
		Push:         connectors.FulfillmentRequest{SourceID: strconv.Itoa(fake.Orders()[0].ID), Carrier: "UPS", Tracking: "1Z5", IdempotencyKey: "ful-conf"},
		Fulfillments: func() int { return len(fake.Fulfillments()) }})
}

func TestNetSuiteSyncsSignedPages(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := netsuiteSetup(t, netsuite.Config{Seed: 2, Items: 2345})
	k := connectortest.New(t)
	c := k.Connector(reg, "netsuite", settings, secrets)
	ctx := context.Background()

	fake.ThrottleNext(1)
	res, err := c.SyncItems(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 2345 || len(fake.Refusals()) != 0 {
		t.Fatalf("items: %+v %v, refusals %v", res, err, fake.Refusals())
	}
	it := fake.Items()[1500]
	if got := k.Sink.Items()[strconv.Itoa(it.ID)]; got.SKU != it.ItemID || got.Name != it.DisplayName || !got.UpdatedAt.Equal(it.Modified) {
		t.Fatalf("item = %+v, want %+v", got, it)
	}
	res, err = c.SyncItems(ctx, res.MaxSeen)
	if err != nil || res.RecordsSynced != 6 {
		t.Fatalf("incremental: %+v %v", res, err)
	}
	res, err = c.SyncInventory(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 2345 {
		t.Fatalf("stock: %+v %v", res, err)
	}
	if l := k.Sink.Inventory()[it.ItemID]; l.OnHand != it.OnHand {
		t.Fatalf("stock of %s = %+v, want %d", it.ItemID, l, it.OnHand)
	}
}

func TestNetSuiteWrongTokenSecret(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := netsuiteSetup(t, netsuite.Config{Seed: 3, Items: 2})
	secrets["token_secret"] = "guess"
	k := connectortest.New(t)
	_, err := k.Connector(reg, "netsuite", settings, secrets).SyncItems(context.Background(), time.Time{})
	r := fake.Refusals()
	if !errors.Is(err, connectors.ErrPermanent) || len(r) == 0 || !strings.Contains(r[0], "signature mismatch") {
		t.Fatalf("wrong token secret: %v, refusals %v", err, r)
	}
}

func TestNetSuiteWrites(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := netsuiteSetup(t, netsuite.Config{Seed: 4, Items: 3})
	k := connectortest.New(t)
	c := k.Connector(reg, "netsuite", settings, secrets).(*manifest.Conn)
	ctx := context.Background()
	it := fake.Items()[0]
	id := strconv.Itoa(it.ID)

	r, err := c.Write(ctx, "item", "update", manifest.Record{SourceID: id, Name: "Pallet wrap, 500 mm"}, "")
	if err != nil || !r.Verified || fake.Items()[0].DisplayName != "Pallet wrap, 500 mm" {
		t.Fatalf("rename: %+v %v", r, err)
	}
	fake.DropWrites(true)
	_, err = c.Write(ctx, "item", "update", manifest.Record{SourceID: id, Name: "Lost"}, "")
	var ve *manifest.VerificationError
	if !errors.As(err, &ve) || !ve.RolledBack || fake.Items()[0].DisplayName != "Pallet wrap, 500 mm" {
		t.Fatalf("dropped rename: %v", err)
	}
	fake.DropWrites(false)
	if r, err := c.Write(ctx, "item", "delete", manifest.Record{SourceID: id}, ""); err != nil || !r.Verified || len(fake.Items()) != 2 {
		t.Fatalf("delete: %+v %v", r, err)
	}
}

// Sales orders come with their lines: one more SuiteQL request per page of
// orders reads the page's lines (transactionline joined with item).
func TestNetSuiteSyncsOrderLines(t *testing.T) {
	t.Parallel()
	cfg := netsuite.Config{Seed: 5, Items: 30, Orders: 2100, Now: cmpNow(nil)}
	fake := netsuite.New(cfg)
	var mu sync.Mutex
	var queries []string
	srv := fakekit.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/suiteql") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			mu.Lock()
			queries = append(queries, string(body))
			mu.Unlock()
		}
		fake.ServeHTTP(w, r)
	}))
	reg := connectors.NewRegistry()
	if err := manifest.Register(reg, manifests.Catalog, "catalog/netsuite", manifest.Options{BaseURL: map[string]string{"netsuite": srv.URL}}); err != nil {
		t.Fatal(err)
	}
	k := connectortest.New(t)
	c := k.Connector(reg, "netsuite", map[string]string{"account_id": "1234567_SB1", "account_host": "1234567-sb1"},
		map[string]string{"consumer_key": "ns-ck", "consumer_secret": "ns-cs", "token_id": "ns-tk", "token_secret": "ns-ts"})
	ctx := context.Background()

	// One order fully shipped: it is no longer open and is not read.
	shipped := fake.Orders()[7]
	if _, err := c.PushFulfillment(ctx, connectors.FulfillmentRequest{SourceID: strconv.Itoa(shipped.ID), Tracking: "1ZDONE", IdempotencyKey: "k-done"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	queries = nil
	mu.Unlock()

	fake.ThrottleNext(1)
	res, err := c.SyncOrders(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 2099 || res.RecordsFailed != 0 {
		t.Fatalf("orders: %+v %v", res, err)
	}
	var lines int
	for _, q := range queries {
		if strings.Contains(q, "FROM transactionline") {
			lines++
		}
	}
	// Three pages of orders (1000, 1000, 99), each with one lines request
	// (a page's lines fit one answer only when they are few: 2 to 4 lines
	// an order here, so up to 4000 rows make up to 4 answers a page).
	if len(queries)-lines != 3+1 || lines < 3 {
		t.Fatalf("%d order queries (one throttled) and %d lines queries", len(queries)-lines, lines)
	}
	items := map[int]string{}
	for _, it := range fake.Items() {
		items[it.ID] = it.ItemID
	}
	orders := k.Sink.Orders()
	if _, ok := orders[strconv.Itoa(shipped.ID)]; ok {
		t.Fatalf("shipped order %d was read", shipped.ID)
	}
	for _, o := range fake.Orders() {
		if o.ID == shipped.ID {
			continue
		}
		got, ok := orders[strconv.Itoa(o.ID)]
		if !ok || got.OrderNumber != o.TranID || !got.UpdatedAt.Equal(o.Modified.Truncate(time.Second)) || len(got.Lines) != len(o.Lines) {
			t.Fatalf("order %d = %+v, want %+v", o.ID, got, o)
		}
		for i, l := range o.Lines {
			if got.Lines[i].SKU != items[l.ItemID] || got.Lines[i].Qty != l.Qty {
				t.Fatalf("order %d line %d = %+v, want %s x %d", o.ID, i, got.Lines[i], items[l.ItemID], l.Qty)
			}
		}
	}
}

// Stock is written as an inventory adjustment of the difference from the
// snapshot's quantity; a write the verification read disagrees with (a
// shipment posted in between) is rolled back by deleting the adjustment.
func TestNetSuiteStockWrites(t *testing.T) {
	t.Parallel()
	fake := netsuite.New(netsuite.Config{Seed: 6, Items: 4, Now: cmpNow(nil)})
	var mu sync.Mutex
	var afterAdjust func()
	srv := fakekit.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fake.ServeHTTP(w, r)
		mu.Lock()
		after := afterAdjust
		mu.Unlock()
		if after != nil && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/inventoryAdjustment") {
			after()
		}
	}))
	reg := connectors.NewRegistry()
	if err := manifest.Register(reg, manifests.Catalog, "catalog/netsuite", manifest.Options{BaseURL: map[string]string{"netsuite": srv.URL}}); err != nil {
		t.Fatal(err)
	}
	k := connectortest.New(t)
	c := k.Connector(reg, "netsuite", map[string]string{"account_id": "1234567_SB1", "account_host": "1234567-sb1", "location_id": "1", "adjustment_account_id": "58"},
		map[string]string{"consumer_key": "ns-ck", "consumer_secret": "ns-cs", "token_id": "ns-tk", "token_secret": "ns-ts"}).(*manifest.Conn)
	ctx := context.Background()
	it := fake.Items()[2]
	onHand := func() int64 {
		for _, x := range fake.Items() {
			if x.ID == it.ID {
				return x.OnHand
			}
		}
		return -1
	}
	rec := manifest.Record{SourceID: strconv.Itoa(it.ID), SKU: it.ItemID, OnHand: it.OnHand + 7}

	r, err := c.Write(ctx, "inventory_level", "update", rec, "stock-1")
	adj := fake.Adjustments()
	if err != nil || !r.Verified || onHand() != it.OnHand+7 || len(adj) != 1 || adj[0].Lines[0].AdjustQtyBy != 7 ||
		adj[0].Account != "58" || strconv.Itoa(adj[0].ID) != r.Ref || !strings.Contains(adj[0].Memo, "stock-1") {
		t.Fatalf("set stock: %+v %v, on hand %d, adjustments %+v", r, err, onHand(), adj)
	}
	// The same quantity again: nothing to adjust, and nothing is sent.
	if r, err := c.Write(ctx, "inventory_level", "update", rec, "stock-2"); err != nil || !r.Verified || len(fake.Adjustments()) != 1 {
		t.Fatalf("unchanged stock: %+v %v, %d adjustments", r, err, len(fake.Adjustments()))
	}

	// A shipment takes one away right after the adjustment: the read does
	// not show the quantity written, so the adjustment is deleted again
	// and only the shipment's change stays.
	mu.Lock()
	afterAdjust = func() { fake.Touch(it.ID, func(x *netsuite.Item) { x.OnHand-- }) }
	mu.Unlock()
	rec.OnHand = it.OnHand + 10
	_, err = c.Write(ctx, "inventory_level", "update", rec, "stock-3")
	var ve *manifest.VerificationError
	if !errors.As(err, &ve) || !ve.RolledBack || !errors.Is(err, manifest.ErrVerification) {
		t.Fatalf("disagreeing read: %v", err)
	}
	if onHand() != it.OnHand+6 || len(fake.Adjustments()) != 1 {
		t.Fatalf("after rollback on hand %d (want %d), %d adjustments", onHand(), it.OnHand+6, len(fake.Adjustments()))
	}
}
