package connectors_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/store"
	"sentryhub/store/vault"
)

// streamed is the scripted connector made of named streams: two order
// streams with schedules of their own (an interval and a cron) and an item
// stream without one (it runs on the connection's schedule).
type streamed struct{ scriptedConn }

func (streamed) Streams() []connectors.StreamInfo {
	return []connectors.StreamInfo{
		{Key: "receipts", SyncType: connectors.SyncOrders, Schedule: "5m"},
		{Key: "invoices", SyncType: connectors.SyncOrders, Schedule: "*/15 * * * *"},
		{Key: "products", SyncType: connectors.SyncItems},
	}
}

var streamKeys = []string{"receipts", "invoices", "products"}

// syncTypeKey tags a call with the sync type it is for: runs of two types
// go concurrently, so the order calls arrive in says nothing.
type syncTypeKey struct{}

func (c *streamed) SyncOrders(ctx context.Context, since time.Time) (connectors.SyncResult, error) {
	return c.scriptedConn.SyncOrders(context.WithValue(ctx, syncTypeKey{}, connectors.SyncOrders), since)
}

func (c *streamed) SyncItems(ctx context.Context, since time.Time) (connectors.SyncResult, error) {
	return c.scriptedConn.SyncItems(context.WithValue(ctx, syncTypeKey{}, connectors.SyncItems), since)
}

// TestStreamSchedules: each stream runs on its own schedule, as a run of
// its sync type limited to the due streams (the connector sees only
// those); a run that leaves a sibling stream out keeps the cursor; a
// stream without a schedule runs on the connection's schedule, with every
// stream of its type; a disabled connection schedule pauses the streams
// of its type.
func TestStreamSchedules(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t)
	s := newScripted()
	s.caps = []connectors.Capability{connectors.CapSyncOrders, connectors.CapSyncItems}
	type call struct {
		syncType string
		streams  []string // the streams the call was limited to
		since    time.Time
	}
	seen := make(chan call, 20)
	s.sync = func(ctx context.Context, _ connectors.Env, n int) (connectors.SyncResult, error) {
		var got []string
		for _, k := range streamKeys {
			if connectors.StreamWanted(ctx, k) {
				got = append(got, k)
			}
		}
		st, _ := ctx.Value(syncTypeKey{}).(string)
		seen <- call{st, got, s.sinces()[n-1]}
		return connectors.SyncResult{RecordsSynced: 1}, nil
	}
	if err := e.reg.Register("streamed", func(env connectors.Env) connectors.Connector {
		return &streamed{scriptedConn{s: s, env: env}}
	}); err != nil {
		t.Fatal(err)
	}
	info, _, _ := e.reg.Lookup("streamed")
	if len(info.Streams) != 3 {
		t.Fatalf("registered streams %+v", info.Streams)
	}
	if err := e.vault.PutCredentials(e.ctx, "test", "streamed", e.wh, map[string]vault.Secret{"api_key": vault.NewSecret(secretValue)}); err != nil {
		t.Fatal(err)
	}
	// The connection's schedule of items: every 10 minutes.
	if _, err := e.svc.PutSchedules(e.ctx, "user:a", "streamed", e.wh, []connectors.ScheduleRequest{{SyncType: "items", IntervalSeconds: 600}}); err != nil {
		t.Fatal(err)
	}
	start := e.clock.Now() // 09:00
	key := func(t string) store.SyncKey {
		return store.SyncKey{Connector: "streamed", WarehouseID: e.wh, SyncType: t}
	}
	stop := e.start(e.sch)
	defer stop()

	type ran struct {
		syncType string
		streams  string
		since    string // "" for a full read
	}
	// step advances the clock to at and collects the runs that start.
	step := func(at time.Time, want ...ran) {
		t.Helper()
		e.wantTick("wake-up before "+at.Format("15:04"), at)
		e.clock.Advance(at.Sub(e.clock.Now()))
		var got []ran
		for range want {
			o := <-e.done
			if o.Status != store.RunSuccess {
				t.Fatalf("%s: %+v", at.Format("15:04"), o)
			}
			c := <-seen // not necessarily o's: c says which type it was for
			r := ran{c.syncType, strings.Join(c.streams, ","), ""}
			if !c.since.IsZero() {
				r.since = c.since.Format("15:04")
			}
			got = append(got, r)
		}
		// Concurrent runs of two sync types finish in either order.
		slices.SortFunc(got, func(a, b ran) int { return strings.Compare(a.syncType, b.syncType) })
		if !slices.Equal(got, want) {
			t.Fatalf("%s: ran %+v, want %+v", at.Format("15:04"), got, want)
		}
	}

	step(start.Add(5*time.Minute), ran{"orders", "receipts", ""})
	status, err := e.svc.SyncStatus(e.ctx, "streamed", e.wh)
	if err != nil || len(status.Streams) != 3 || status.Streams[0].NextRunAt == nil ||
		!status.Streams[0].NextRunAt.Equal(start.Add(10*time.Minute)) || status.Streams[1].LastRunAt != nil ||
		!status.Streams[1].NextRunAt.Equal(start.Add(15*time.Minute)) || status.Streams[2].NextRunAt != nil {
		t.Fatalf("stream status %+v %v", status.Streams, err)
	}
	if st := e.stateOf(key("orders")); st.Cursor != nil {
		t.Fatalf("a run without invoices moved the orders cursor to %v", st.Cursor)
	}
	// 09:10: receipts reads from where its 09:05 run got to (minus the 2m
	// overlap), though the orders cursor has not moved.
	step(start.Add(10*time.Minute), ran{"items", "receipts,invoices,products", ""}, ran{"orders", "receipts", "09:03"})
	// 09:15: both order streams are due, in one run, which reads from the
	// orders cursor (none yet: invoices never ran) and moves it.
	step(start.Add(15*time.Minute), ran{"orders", "receipts,invoices", ""})
	if st := e.stateOf(key("orders")); st.Cursor == nil || !st.Cursor.Equal(start.Add(15*time.Minute)) {
		t.Fatalf("orders cursor %v after a run of all its streams", st.Cursor)
	}
	runs, err := e.db.ListSyncRuns(e.ctx, store.SyncRunFilter{Connector: "streamed", SyncType: "orders"})
	if err != nil || len(runs) != 3 || runs[0].Trigger != "schedule" || runs[0].Notes != "streams: receipts, invoices" ||
		runs[2].Notes != "streams: receipts" {
		t.Fatalf("history %+v %v", runs, err)
	}

	// 09:20: receipts alone again, from the later of the orders cursor
	// (09:15) and its own (09:10).
	step(start.Add(20*time.Minute), ran{"items", "receipts,invoices,products", "09:08"}, ran{"orders", "receipts", "09:13"})

	// Pausing the orders connection schedule pauses its streams: the
	// scheduler then waits for the items schedule only.
	off := false
	if _, err := e.svc.PutSchedules(e.ctx, "user:a", "streamed", e.wh, []connectors.ScheduleRequest{
		{SyncType: "items", IntervalSeconds: 600}, {SyncType: "orders", IntervalSeconds: 600, Enabled: &off}}); err != nil {
		t.Fatal(err)
	}
	step(start.Add(30*time.Minute), ran{"items", "receipts,invoices,products", "09:18"})
	if status, err := e.svc.SyncStatus(e.ctx, "streamed", e.wh); err != nil || !status.Streams[0].Paused || status.Streams[2].Paused {
		t.Fatalf("stream status after the pause %+v %v", status.Streams, err)
	}
	e.wantTick("after the pause", start.Add(40*time.Minute))
}

func (h *harness) stateOf(k store.SyncKey) store.SyncState {
	h.t.Helper()
	st, err := h.db.GetSyncState(h.ctx, k)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// TestStreamRunValidation: a run limited to a stream the sync type does
// not have is refused before it claims anything, and a stream schedule
// that does not parse is refused at registration.
func TestStreamRunValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, connectors.RunnerConfig{})
	s := newScripted()
	if err := h.reg.Register("streamed", func(env connectors.Env) connectors.Connector {
		return &streamed{scriptedConn{s: s, env: env}}
	}); err != nil {
		t.Fatal(err)
	}
	_, err := h.runner.Run(h.ctx, store.SyncKey{Connector: "streamed", WarehouseID: h.wh, SyncType: "items"},
		connectors.RunOptions{Streams: []string{"receipts"}})
	var ve *store.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Message, "no items stream receipts") {
		t.Fatalf("err = %v", err)
	}

	bad := connectors.NewRegistry()
	err = bad.Register("badsched", func(env connectors.Env) connectors.Connector {
		return &badStreams{scriptedConn{s: s, env: env}}
	})
	if err == nil || !strings.Contains(err.Error(), `schedule "61 * * * *"`) || !strings.Contains(err.Error(), `sync type "inventory"`) {
		t.Fatalf("err = %v", err)
	}
}

type badStreams struct{ scriptedConn }

func (badStreams) Streams() []connectors.StreamInfo {
	return []connectors.StreamInfo{{Key: "a", SyncType: "orders", Schedule: "61 * * * *"}, {Key: "b", SyncType: "inventory"}}
}
