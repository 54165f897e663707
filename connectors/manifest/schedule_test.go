package manifest_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/manifest"
	"sentryhub/connectors/manifests"
)

// tinyshopWith copies the Tiny Shop example into a MapFS with old replaced
// by new in its manifest, and returns the FS and the 1-based line of new.
func tinyshopWith(t *testing.T, old, new string) (fstest.MapFS, int) {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(manifests.Examples, "examples/tinyshop", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(manifests.Examples, p)
		out[strings.TrimPrefix(p, "examples/")] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	src := string(out["tinyshop/manifest.yaml"].Data)
	i := strings.Index(src, old)
	if i < 0 {
		t.Fatalf("%q not in the example", old)
	}
	out["tinyshop/manifest.yaml"].Data = []byte(src[:i] + new + src[i+len(old):])
	return out, strings.Count(src[:i], "\n") + 1
}

// TestStreamScheduleRefusedWithPosition: a stream schedule that is neither
// an interval in range nor a cron expression is refused when the manifest
// loads, naming file, line and field.
func TestStreamScheduleRefusedWithPosition(t *testing.T) {
	for _, tc := range []struct{ schedule, want string }{
		{`"61 * * * *"`, "cron"},
		{`"*/5 * * *"`, "5-field"},
		{`30s`, "interval must be between"},
		{`every day`, "duration like 15m"},
	} {
		fsys, line := tinyshopWith(t, "schedule: 30m", "schedule: "+tc.schedule)
		_, err := manifest.Load(fsys, "tinyshop")
		prefix := fmt.Sprintf("tinyshop/manifest.yaml:%d:", line)
		if err == nil || !strings.Contains(err.Error(), prefix) || !strings.Contains(err.Error(), "streams[2].schedule") ||
			!strings.Contains(err.Error(), tc.want) {
			t.Errorf("schedule %s: err = %v, want %s...streams[2].schedule...%s", tc.schedule, err, prefix, tc.want)
		}
	}
}

// TestManifestStreamsAndFilter: the registry lists a manifest's poll
// streams with their schedules (webhook streams are not scheduled), and a
// run limited to other streams does not call the upstream for the stream.
func TestManifestStreamsAndFilter(t *testing.T) {
	fsys, _ := tinyshopWith(t, "    schedule: 30m\n", "")
	reg := connectors.NewRegistry()
	if err := manifest.Register(reg, fsys, "tinyshop", manifest.Options{}); err != nil {
		t.Fatal(err)
	}
	info, _, _ := reg.Lookup("tinyshop")
	want := []connectors.StreamInfo{
		{Key: "products", SyncType: "items", Schedule: "15m"},
		{Key: "orders", SyncType: "orders", Schedule: "*/5 * * * *"},
		{Key: "stock", SyncType: "inventory"}, // the connection's schedule
	}
	if !slices.Equal(info.Streams, want) {
		t.Fatalf("streams %+v", info.Streams)
	}
	var calls atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"products": [], "orders": []}`))
	}))
	t.Cleanup(up.Close)
	k := connectortest.New(t)
	conn := k.Connector(reg, "tinyshop", map[string]string{"api_url": up.URL}, map[string]string{"api_key": "tiny_test"})
	ctx := connectors.WithStreams(context.Background(), []string{"products"})
	if _, err := conn.SyncOrders(ctx, time.Time{}); err != nil || calls.Load() != 0 {
		t.Fatalf("orders outside the run's streams: %v, %d calls", err, calls.Load())
	}
	if _, err := conn.SyncItems(ctx, time.Time{}); err != nil || calls.Load() != 1 {
		t.Fatalf("products in the run's streams: %v, %d calls", err, calls.Load())
	}
}
