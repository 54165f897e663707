package manifests_test

import (
	"context"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/fakes/bigcommerce"
	"sentryhub/connectors/fakes/netsuite"
	"sentryhub/connectors/fakes/quickbooks"
)

// BenchmarkProviderManifestSync measures a manifest connector reading a
// fake upstream page by page and mapping every record into the recording
// sink (the store is left out: this is the connector's share). Reported
// as records/s.
func BenchmarkProviderManifestSync(b *testing.B) {
	const n = 20_000
	type setup func(b *testing.B) (reg *connectors.Registry, settings, secrets map[string]string)
	orders := func(c connectors.Connector) (connectors.SyncResult, error) {
		return c.SyncOrders(context.Background(), time.Time{})
	}
	items := func(c connectors.Connector) (connectors.SyncResult, error) {
		return c.SyncItems(context.Background(), time.Time{})
	}
	for _, bc := range []struct {
		name, key string
		setup     setup
		sync      func(connectors.Connector) (connectors.SyncResult, error)
	}{
		{"bigcommerce products", "bigcommerce", func(b *testing.B) (*connectors.Registry, map[string]string, map[string]string) {
			_, reg, settings, secrets := bigcommerceSetup(b, bigcommerce.Config{Seed: 1, Products: n, Quota: 1 << 30})
			settings["page_size"] = "250"
			return reg, settings, secrets
		}, items},
		{"netsuite items", "netsuite", func(b *testing.B) (*connectors.Registry, map[string]string, map[string]string) {
			_, reg, settings, secrets := netsuiteSetup(b, netsuite.Config{Seed: 1, Items: n})
			return reg, settings, secrets
		}, items},
		// Orders with their lines: a second SuiteQL request per page of
		// 1000 orders (a join in the fake) and 2 to 4 lines an order.
		{"netsuite orders with lines", "netsuite", func(b *testing.B) (*connectors.Registry, map[string]string, map[string]string) {
			_, reg, settings, secrets := netsuiteSetup(b, netsuite.Config{Seed: 1, Items: 50, Orders: n})
			return reg, settings, secrets
		}, orders},
		{"quickbooks receipts and invoices", "quickbooks", func(b *testing.B) (*connectors.Registry, map[string]string, map[string]string) {
			_, reg, settings, secrets := quickbooksSetup(b, quickbooks.Config{Seed: 1, Items: 50, Orders: n})
			return reg, settings, secrets
		}, orders},
	} {
		b.Run(bc.name, func(b *testing.B) {
			reg, settings, secrets := bc.setup(b)
			c := connectortest.New(b).Connector(reg, bc.key, settings, secrets)
			b.ResetTimer()
			for b.Loop() {
				res, err := bc.sync(c)
				if err != nil || res.RecordsSynced != n {
					b.Fatalf("%+v %v", res, err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
