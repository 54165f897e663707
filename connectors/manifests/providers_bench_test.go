package manifests_test

import (
	"context"
	"testing"
	"time"

	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/fakes/bigcommerce"
	"sentryhub/connectors/fakes/netsuite"
	"sentryhub/connectors/fakes/quickbooks"
)

// BenchmarkManifestSync measures a manifest connector reading a fake
// upstream page by page and mapping every record into the recording sink
// (the store is left out: this is the connector's share). Reported as
// records/s.
func BenchmarkProviderManifestSync(b *testing.B) {
	const n = 20_000
	b.Run("bigcommerce products", func(b *testing.B) {
		_, reg, settings, secrets := bigcommerceSetup(b, bigcommerce.Config{Seed: 1, Products: n, Quota: 1 << 30})
		settings["page_size"] = "250"
		k := connectortest.New(b)
		c := k.Connector(reg, "bigcommerce", settings, secrets)
		b.ResetTimer()
		for b.Loop() {
			res, err := c.SyncItems(context.Background(), time.Time{})
			if err != nil || res.RecordsSynced != n {
				b.Fatalf("%+v %v", res, err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("netsuite items", func(b *testing.B) {
		_, reg, settings, secrets := netsuiteSetup(b, netsuite.Config{Seed: 1, Items: n})
		k := connectortest.New(b)
		c := k.Connector(reg, "netsuite", settings, secrets)
		b.ResetTimer()
		for b.Loop() {
			res, err := c.SyncItems(context.Background(), time.Time{})
			if err != nil || res.RecordsSynced != n {
				b.Fatalf("%+v %v", res, err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	})
	// Orders with their lines: a second SuiteQL request per page of 1000
	// orders (a join in the fake) and 2 to 4 lines an order.
	b.Run("netsuite orders with lines", func(b *testing.B) {
		_, reg, settings, secrets := netsuiteSetup(b, netsuite.Config{Seed: 1, Items: 50, Orders: n})
		k := connectortest.New(b)
		c := k.Connector(reg, "netsuite", settings, secrets)
		b.ResetTimer()
		for b.Loop() {
			res, err := c.SyncOrders(context.Background(), time.Time{})
			if err != nil || res.RecordsSynced != n {
				b.Fatalf("%+v %v", res, err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("quickbooks receipts and invoices", func(b *testing.B) {
		_, reg, settings, secrets := quickbooksSetup(b, quickbooks.Config{Seed: 1, Items: 50, Orders: n})
		k := connectortest.New(b)
		c := k.Connector(reg, "quickbooks", settings, secrets)
		b.ResetTimer()
		for b.Loop() {
			res, err := c.SyncOrders(context.Background(), time.Time{})
			if err != nil || res.RecordsSynced != n {
				b.Fatalf("%+v %v", res, err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	})
}
