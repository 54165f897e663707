package app

import (
	"encoding/json"
	"strings"
	"testing"

	"sentryhub/dispatcher/dispatchbench"
	"sentryhub/store"
)

// TestBenchDispatchBothOrderings: `bench dispatch` measures global (the
// default ordering) and aggregate in one run, each with its own summary and
// JSON line, and every delivery verified and in order.
func TestBenchDispatchBothOrderings(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	r := run(t, env(), "", "bench", "dispatch", "--events", "300", "--aggregates", "20", "--in-flight", "8")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var got []dispatchbench.Result
	for line := range strings.SplitSeq(r.stdout, "\n") {
		if strings.HasPrefix(line, "{") {
			var res dispatchbench.Result
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				t.Fatalf("JSON line %q: %v", line, err)
			}
			got = append(got, res)
		}
	}
	if len(got) != 2 || got[0].Ordering != store.OrderingGlobal || got[1].Ordering != store.OrderingAggregate {
		t.Fatalf("runs %+v, want global then aggregate\n%s", got, r.stdout)
	}
	for _, res := range got {
		if res.Deliveries != 300 || res.Duplicates != 0 || res.OutOfOrder != 0 || res.BadSignatures != 0 || res.DeliveriesPerSec <= 0 {
			t.Fatalf("%s: %+v", res.Ordering, res)
		}
	}
	if strings.Count(r.stdout, "ordering            ") != 2 {
		t.Fatalf("want a summary per ordering:\n%s", r.stdout)
	}

	r = run(t, env(), "", "bench", "dispatch", "--events", "50", "--ordering", "aggregate")
	if r.code != 0 || strings.Count(r.stdout, "\n{") != 1 || !strings.Contains(r.stdout, `"ordering":"aggregate"`) {
		t.Fatalf("--ordering aggregate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, env(), "", "bench", "dispatch", "--ordering", "sideways")
	if r.code == 0 || !strings.Contains(r.stderr, "--ordering") {
		t.Fatalf("bad --ordering: exit %d, stderr %q", r.code, r.stderr)
	}
}
