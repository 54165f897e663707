package connectors_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/store"
)

// TestRunProgress: while a sync runs, its state shows the attempt, the
// records written so far (page by page) and, after a failed attempt, the
// error that ended it. The scripted connector stands in for an upstream
// with three pages of two items; after each page it tells the test and
// waits, so the test reads the state between pages.
func TestRunProgress(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	wrote := make(chan int) // the connector wrote page n and waits
	next := make(chan struct{})
	h.s.sync = func(ctx context.Context, env connectors.Env, n int) (connectors.SyncResult, error) {
		var res connectors.SyncResult
		for p := 1; p <= 3; p++ {
			var page []connectors.Item
			for i := range 2 {
				id := fmt.Sprintf("v%d", 2*(p-1)+i)
				page = append(page, connectors.Item{SourceID: id, SKU: "SKU-" + id, Name: "Item " + id})
			}
			if err := connectors.WriteItems(ctx, env.Sink, &res, page); err != nil {
				return res, err
			}
			select {
			case wrote <- p:
			case <-ctx.Done():
				return res, ctx.Err()
			}
			<-next
			if n == 1 {
				return res, transient("upstream answered 503 on page 2")
			}
		}
		return res, nil
	}
	want := func(what string, attempt, synced int, errText string) {
		t.Helper()
		st := h.state(connectors.SyncItems)
		p := st.Progress
		if st.Status != store.SyncRunning || p == nil || p.Trigger != "test" || p.Attempt != attempt ||
			p.RecordsSynced != synced || p.RecordsFailed != 0 || (errText == "") != (p.Error == "") || !strings.Contains(p.Error, errText) {
			t.Fatalf("%s: %s %+v", what, st.Status, p)
		}
	}

	done := h.execute(h.ctx, connectors.SyncItems)
	<-h.s.started
	if p := <-wrote; p != 1 {
		t.Fatalf("page %d", p)
	}
	want("first attempt, one page", 1, 2, "")
	next <- struct{}{}

	// The attempt failed: while the runner waits to retry, the page shows
	// the attempt due next, no records yet and why the last one failed.
	h.waitWaiters(2) // the retry delay and the heartbeat
	want("retry delay", 2, 0, "upstream answered 503 on page 2")
	h.clock.Advance(30 * time.Second)
	<-h.s.started
	for p := 1; p <= 3; p++ {
		if got := <-wrote; got != p {
			t.Fatalf("page %d, want %d", got, p)
		}
		want(fmt.Sprintf("second attempt, page %d", p), 2, 2*p, "upstream answered 503 on page 2")
		next <- struct{}{}
	}
	out := <-done
	if out.Status != store.RunSuccess || out.Attempts != 2 || out.Result.RecordsSynced != 6 {
		t.Fatalf("%+v", out)
	}
	if st := h.state(connectors.SyncItems); st.Progress != nil {
		t.Fatalf("progress after the run: %+v", st.Progress)
	}
}
