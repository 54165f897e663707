package manifests_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/fakes/businesscentral"
	"sentryhub/connectors/manifest"
	"sentryhub/connectors/manifests"
)

// requestLog keeps the query of every API request a fake answered.
type requestLog struct {
	mu      sync.Mutex
	queries []url.Values
	prefer  []string
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			l.mu.Lock()
			l.queries = append(l.queries, r.URL.Query())
			l.prefer = append(l.prefer, r.Header.Get("Prefer"))
			l.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (l *requestLog) take() ([]url.Values, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	q, p := l.queries, l.prefer
	l.queries, l.prefer = nil, nil
	return q, p
}

// Business Central pages by following "@odata.nextLink" (a key with a dot,
// escaped in the manifest's path) and sends its $filter only once there
// is a cursor.
func TestBusinessCentralNextLinkAndFilter(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(connectortest.Start().UnixNano())
	fake := businesscentral.New(businesscentral.Config{Seed: 4, Items: 45,
		Now: func() time.Time { return time.Unix(0, now.Load()).UTC() }})
	var log requestLog
	srv := httptest.NewServer(log.wrap(fake))
	t.Cleanup(srv.Close)
	reg := connectors.NewRegistry()
	if err := manifest.Register(reg, manifests.Catalog, "catalog/businesscentral",
		manifest.Options{BaseURL: map[string]string{"businesscentral": srv.URL}}); err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{"tenant": "contoso.onmicrosoft.com", "environment": "production",
		"company_id": fake.CompanyID(), "client_id": "bc-client", "page_size": "20"}
	k := connectortest.New(t)
	c := k.Connector(reg, "businesscentral", settings, map[string]string{"client_secret": "bc-secret"})
	ctx := context.Background()

	// First run: no cursor, no $filter, three server-driven pages.
	res, err := c.SyncItems(ctx, time.Time{})
	if err != nil || res.RecordsSynced != 45 {
		t.Fatalf("first run: %+v %v", res, err)
	}
	qs, prefer := log.take()
	if len(qs) != 3 {
		t.Fatalf("first run made %d requests, want 3 pages: %v", len(qs), qs)
	}
	for i, q := range qs {
		if q.Has("$filter") || q.Has("$skip") || q.Has("$top") {
			t.Fatalf("request %d = %v: want no $filter, $skip or $top", i, q)
		}
		if (i > 0) != q.Has("$skiptoken") {
			t.Fatalf("request %d = %v: only pages after the first follow a nextLink", i, q)
		}
		if prefer[i] != "odata.maxpagesize=20" {
			t.Fatalf("request %d Prefer = %q", i, prefer[i])
		}
	}

	// Two items change after the cursor: the next run asks only for them.
	var newest time.Time
	for _, it := range fake.Items() {
		if it.Modified.After(newest) {
			newest = it.Modified
		}
	}
	now.Store(newest.Add(time.Hour).UnixNano())
	items := fake.Items()
	fake.Touch(items[3].ID, func(it *businesscentral.Item) { it.DisplayName = "Renamed three" })
	fake.Touch(items[40].ID, func(it *businesscentral.Item) { it.DisplayName = "Renamed forty" })
	res, err = c.SyncItems(ctx, newest)
	if err != nil || res.RecordsSynced != 2 {
		t.Fatalf("second run: %+v %v", res, err)
	}
	qs, _ = log.take()
	if len(qs) != 1 || qs[0].Get("$filter") == "" {
		t.Fatalf("second run requests = %v, want one with $filter", qs)
	}
	if got := k.Sink.Items()[items[40].ID].Name; got != "Renamed forty" {
		t.Fatalf("item 40 name = %q", got)
	}
}
