package manifests_test

import (
	"testing"

	"sentryhub/connectors"
)

// BenchmarkTinyShopItemsThroughStore: the manifest connector syncing
// 20,000 changed products from its fake upstream (250 per page, offset
// pagination, JSON decoding, the mapping engine) into SQLite through the
// runner and StoreSink. Reports records/s.
func BenchmarkTinyShopItemsThroughStore(b *testing.B) {
	const n = 20000
	h := newStoreHub(b, n)
	b.ResetTimer()
	total := 0
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		h.fake.Touch(i)
		b.StartTimer()
		out := h.sync(b, connectors.SyncItems)
		total += out.Result.RecordsSynced
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "records/s")
}
