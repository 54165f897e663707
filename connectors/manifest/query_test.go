package manifest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A query key ending in "?" is left out while one of its placeholders is
// empty; a plain key keeps its literal text around an empty placeholder.
func TestOptionalQueryParam(t *testing.T) {
	src := strings.Replace(authManifest, "AUTH", "  kind: bearer\n  token: \"{{secrets.key}}\"", 1)
	src = strings.Replace(src, "    request: {path: /items}\n", `    request:
      path: /items
      query:
        $filter?: "modified gt {{since}}"
        q: "after '{{since}}'"
        keep?: fixed
    incremental: {field: updated_at, format: rfc3339}
`, 1)
	got := make(chan url.Values, 4)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Query()
		w.Write([]byte(`{"data": []}`))
	}))
	t.Cleanup(up.Close)
	c := authConn(t, src, up.URL)
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		since  time.Time
		filter string
		q      string
	}{
		{"first run", time.Time{}, "", "after ''"},
		{"with cursor", since, "modified gt 2026-03-01T12:00:00Z", "after '2026-03-01T12:00:00Z'"},
	} {
		if _, err := c.SyncItems(context.Background(), tc.since); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		q := <-got
		if q.Get("$filter") != tc.filter || q.Has("$filter") != (tc.filter != "") || q.Get("q") != tc.q ||
			q.Get("keep") != "fixed" || q.Has("$filter?") {
			t.Fatalf("%s: query = %v", tc.name, q)
		}
	}
}
