package manifests_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/fakes/fakekit"
	"sentryhub/connectors/fakes/quickbooks"
	"sentryhub/connectors/manifest"
	"sentryhub/connectors/manifests"
)

// quickbooksSetup serves a generated company and registers the manifest
// against it. The connection is already made: the secrets hold the tokens
// the Connect flow would have stored in the vault.
func quickbooksSetup(t testing.TB, cfg quickbooks.Config) (*quickbooks.Fake, *connectors.Registry, map[string]string, map[string]string) {
	t.Helper()
	cfg.Now = cmpNow(cfg.Now)
	fake := quickbooks.New(cfg)
	srv := fakekit.Serve(t, fake)
	reg := connectors.NewRegistry()
	if err := manifest.Register(reg, manifests.Catalog, "catalog/quickbooks", manifest.Options{BaseURL: map[string]string{"quickbooks": srv.URL}}); err != nil {
		t.Fatal(err)
	}
	access, refresh := fake.Grant()
	return fake, reg, map[string]string{"realm_id": "9130350000000000", "client_id": "qb-client"},
		map[string]string{"client_secret": "qb-secret", manifest.KeyAccessToken: access, manifest.KeyRefreshToken: refresh,
			manifest.KeyExpiry: connectortest.Start().Add(time.Hour).Format(time.RFC3339)}
}

func TestQuickBooksConformance(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := quickbooksSetup(t, quickbooks.Config{Seed: 3, Items: 30, Orders: 10})
	var receipt string
	for _, s := range fake.Sales() {
		if s.Kind == "SalesReceipt" {
			receipt = s.ID
			break
		}
	}
	shipped := func() int {
		n := 0
		for _, s := range fake.Sales() {
			if s.TrackingNum != "" {
				n++
			}
		}
		return n
	}
	conn := map[string]string{}
	for _, k := range []string{manifest.KeyAccessToken, manifest.KeyRefreshToken, manifest.KeyExpiry} {
		conn[k] = secrets[k]
		delete(secrets, k)
	}
	connectortest.RunConformance(t, connectortest.Fixture{Registry: reg, Name: "quickbooks", Settings: settings, Secrets: secrets, Connection: conn,
		Push:         connectors.FulfillmentRequest{SourceID: receipt, Carrier: "UPS", Tracking: "1Z7", IdempotencyKey: "ful-1"},
		Fulfillments: shipped, Reject: fake.Reject})
}

func TestQuickBooksSyncsPagesAndRefreshes(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := quickbooksSetup(t, quickbooks.Config{Seed: 1, Items: 2100, Orders: 40})
	k := connectortest.New(t)
	c := k.Connector(reg, "quickbooks", settings, secrets)
	ctx := context.Background()

	fake.ThrottleNext(2)
	res, err := c.SyncItems(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 2100 || fake.Throttled() != 2 {
		t.Fatalf("items: %+v %v", res, err)
	}
	if n := fake.Calls("GET", "/v3/company/9130350000000000/query"); n != 2+3 {
		t.Fatalf("%d query requests, want 2 throttled and 3 pages", n)
	}
	it := fake.Items()[1234]
	if got := k.Sink.Items()[it.ID]; got.SKU != it.SKU || got.Name != it.Description || !got.UpdatedAt.Equal(it.Updated) {
		t.Fatalf("item = %+v, want %+v", got, it)
	}
	res, err = c.SyncItems(ctx, res.MaxSeen)
	if err != nil || res.RecordsSynced != 6 {
		t.Fatalf("incremental: %+v %v", res, err)
	}

	// The hour is up early: the API answers 401, the connector refreshes
	// once (the refresh token rotates) and carries on.
	fake.Tokens.ExpireAll()
	grants := fake.Tokens.Grants()
	res, err = c.SyncOrders(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 40 || fake.Tokens.Grants() != grants+1 {
		t.Fatalf("receipts and invoices after expiry: %+v %v (grants %d→%d)", res, err, grants, fake.Tokens.Grants())
	}
	var receipt quickbooks.Sale
	for _, s := range fake.Sales() {
		if s.Kind == "SalesReceipt" {
			receipt = s
			break
		}
	}
	o := k.Sink.Orders()[receipt.ID]
	if o.OrderNumber != receipt.DocNumber || o.ShipTo.City != receipt.Ship.City || len(o.Lines) != len(receipt.Lines) || o.Lines[0].SKU != receipt.Lines[0].ItemName {
		t.Fatalf("order = %+v, want %+v", o, receipt)
	}

	res, err = c.SyncInventory(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 2100 {
		t.Fatalf("stock: %+v %v", res, err)
	}
	if l := k.Sink.Inventory()[it.SKU]; float64(l.OnHand) != it.QtyOnHand {
		t.Fatalf("stock = %+v, want %v", l, it.QtyOnHand)
	}

	// An app disconnected in QuickBooks: the refresh is refused, and the
	// connection says it must be connected again.
	fake.Tokens.RevokeRefresh()
	fake.Tokens.ExpireAll()
	_, err = c.SyncItems(ctx, time.Time{})
	if err == nil || !strings.Contains(err.Error(), "reconnect needed") {
		t.Fatalf("revoked refresh token: %v", err)
	}
}

func TestQuickBooksWrites(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := quickbooksSetup(t, quickbooks.Config{Seed: 2, Items: 5, Orders: 4})
	k := connectortest.New(t)
	c := k.Connector(reg, "quickbooks", settings, secrets).(*manifest.Conn)
	ctx := context.Background()
	var ids []string
	for _, s := range fake.Sales() {
		if s.Kind == "SalesReceipt" {
			ids = append(ids, s.ID)
		}
	}
	tracking := func(id string) string {
		for _, s := range fake.Sales() {
			if s.ID == id {
				return s.TrackingNum
			}
		}
		return ""
	}

	push := connectors.FulfillmentRequest{SourceID: ids[0], Carrier: "UPS", Tracking: "1Z42", IdempotencyKey: "k1"}
	for range 2 { // a repeated push is an update to the same value
		if r, err := c.PushFulfillment(ctx, push); err != nil || !r.Success {
			t.Fatalf("push: %+v %v", r, err)
		}
	}
	if tracking(ids[0]) != "1Z42" {
		t.Fatalf("tracking %q", tracking(ids[0]))
	}

	fake.DropWrites(true)
	push.SourceID = ids[1]
	_, err := c.PushFulfillment(ctx, push)
	var ve *manifest.VerificationError
	// The dropped write left SyncToken as it was, so the rollback, which
	// uses the token the write answered, is refused as stale: either way
	// QuickBooks holds the snapshot's value.
	if !errors.As(err, &ve) || (!ve.RolledBack && ve.RollbackErr == nil) || tracking(ids[1]) != "" {
		t.Fatalf("dropped push: %v", err)
	}
	fake.DropWrites(false)

	it := fake.Items()[2]
	if r, err := c.Write(ctx, "inventory_level", "update", manifest.Record{SourceID: it.ID, SKU: it.SKU, OnHand: 64}, ""); err != nil || !r.Verified {
		t.Fatalf("quantity: %+v %v", r, err)
	}
	if r, err := c.Write(ctx, "item", "update", manifest.Record{SourceID: it.ID, Name: "Quiet Stool, oak"}, ""); err != nil || !r.Verified {
		t.Fatalf("rename: %+v %v", r, err)
	}
	got, _ := fake.ItemBySKU(it.SKU)
	if got.QtyOnHand != 64 || got.Description != "Quiet Stool, oak" || got.SyncToken != 2 {
		t.Fatalf("item after writes %+v", got)
	}
	if r, err := c.Write(ctx, "item", "delete", manifest.Record{SourceID: it.ID}, ""); err != nil || !r.Verified {
		t.Fatalf("deactivate: %+v %v", r, err)
	}
	res, err := c.SyncItems(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 4 {
		t.Fatalf("inactive item still listed: %+v %v", res, err)
	}
}

// Invoices are orders beside sales receipts. QuickBooks may give an Invoice
// the Id of a SalesReceipt; the invoice stream's prefix keeps the two
// orders apart, and a push for an invoice order updates the invoice.
func TestQuickBooksInvoices(t *testing.T) {
	t.Parallel()
	fake, reg, settings, secrets := quickbooksSetup(t, quickbooks.Config{Seed: 4, Items: 5, Orders: 6})
	k := connectortest.New(t)
	c := k.Connector(reg, "quickbooks", settings, secrets).(*manifest.Conn)
	ctx := context.Background()
	var receipt quickbooks.Sale
	for _, s := range fake.Sales() {
		if s.Kind == "SalesReceipt" {
			receipt = s
			break
		}
	}
	twin := receipt
	twin.Kind, twin.DocNumber, twin.Lines = "Invoice", "INV-"+receipt.DocNumber, receipt.Lines[:1]
	twin.Lines[0].Qty = 7
	fake.AddSale(twin)

	res, err := c.SyncOrders(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 7 || res.RecordsFailed != 0 {
		t.Fatalf("orders: %+v %v", res, err)
	}
	orders := k.Sink.Orders()
	r, inv := orders[receipt.ID], orders["invoice:"+receipt.ID]
	if r.OrderNumber != receipt.DocNumber || inv.OrderNumber != twin.DocNumber {
		t.Fatalf("receipt %+v, invoice %+v: the same Id must not collide", r, inv)
	}
	if len(inv.Lines) != 1 || inv.Lines[0].SKU != twin.Lines[0].ItemName || inv.Lines[0].Qty != 7 || inv.ShipTo.City != twin.Ship.City {
		t.Fatalf("invoice order %+v", inv)
	}
	for _, s := range fake.Sales() {
		if s.Kind == "Invoice" && s.ID != twin.ID {
			if o, ok := orders["invoice:"+s.ID]; !ok || o.OrderNumber != s.DocNumber {
				t.Fatalf("invoice %s synced as %+v", s.ID, o)
			}
		}
	}
	// The two streams share the sync's cursor: the latest change seen.
	var latest time.Time
	for _, s := range fake.Sales() {
		if s.Updated.After(latest) {
			latest = s.Updated
		}
	}
	if !res.MaxSeen.Equal(latest) {
		t.Fatalf("max seen %v, want %v", res.MaxSeen, latest)
	}

	// A scheduled run of the invoice stream alone (its own schedule) reads
	// invoices only: the receipts wait for their own run.
	only := connectors.WithStreams(ctx, []string{"invoices"})
	part, err := c.SyncOrders(only, time.Time{})
	invoices := 0
	for _, s := range fake.Sales() {
		if s.Kind == "Invoice" {
			invoices++
		}
	}
	if err != nil || part.RecordsSynced+part.RecordsSkipped != invoices {
		t.Fatalf("invoice stream alone: %+v %v, want %d invoices", part, err, invoices)
	}

	tracking := func(kind, id string) string {
		for _, s := range fake.Sales() {
			if s.Kind == kind && s.ID == id {
				return s.TrackingNum
			}
		}
		return "(none)"
	}
	push := connectors.FulfillmentRequest{SourceID: "invoice:" + receipt.ID, Carrier: "UPS", Tracking: "1ZINV", IdempotencyKey: "k-inv"}
	if got, err := c.PushFulfillment(ctx, push); err != nil || !got.Success {
		t.Fatalf("invoice push: %+v %v", got, err)
	}
	if tracking("Invoice", receipt.ID) != "1ZINV" || tracking("SalesReceipt", receipt.ID) != "" {
		t.Fatalf("invoice push wrote receipt %q invoice %q", tracking("SalesReceipt", receipt.ID), tracking("Invoice", receipt.ID))
	}
	if n := fake.Calls("POST", "/v3/company/9130350000000000/salesreceipt"); n != 0 {
		t.Fatalf("%d receipt writes for an invoice push", n)
	}

	// A write QuickBooks drops is not confirmed; the invoice keeps its
	// earlier value.
	fake.DropWrites(true)
	push.Tracking = "1ZLOST"
	_, err = c.PushFulfillment(ctx, push)
	var ve *manifest.VerificationError
	if !errors.As(err, &ve) || (!ve.RolledBack && ve.RollbackErr == nil) || tracking("Invoice", receipt.ID) != "1ZINV" {
		t.Fatalf("dropped invoice push: %v (tracking %q)", err, tracking("Invoice", receipt.ID))
	}
	if n := fake.Calls("POST", "/v3/company/9130350000000000/invoice"); n != 3 {
		t.Fatalf("%d invoice writes, want the push, the dropped push and its rollback", n)
	}
}
