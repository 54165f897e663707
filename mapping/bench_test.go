package mapping

import (
	"os"
	"testing"
)

// BenchmarkApplyOrder maps a ten-field sales order with three lines
// (testdata/bench_order.*). The target is 100,000 documents/s on one
// core: at most 10 µs/op.
func BenchmarkApplyOrder(b *testing.B) {
	benchApply(b, "testdata/bench_order.yaml", "")
}

// BenchmarkApplyOrderExpr is the same order with one expression per line
// (a filter), which makes Apply build the expressions' view of the
// document.
func BenchmarkApplyOrderExpr(b *testing.B) {
	benchApply(b, "testdata/bench_order.yaml", "  filter: 'line.quantity != 0'\n")
}

func benchApply(b *testing.B, mappingFile, extra string) {
	src, err := os.ReadFile(mappingFile)
	if err != nil {
		b.Fatal(err)
	}
	src = append(src, extra...)
	m, err := Parse(src)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile("testdata/bench_order.json")
	if err != nil {
		b.Fatal(err)
	}
	in, err := Decode(raw)
	if err != nil {
		b.Fatal(err)
	}
	if _, errs := m.Apply(in); errs != nil {
		b.Fatal(errs)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, errs := m.Apply(in); errs != nil {
			b.Fatal(errs)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}
