package shopify

import (
	"encoding/json"
	"testing"
	"time"

	"sentryhub/connectors"
)

// FuzzEnvelope feeds arbitrary response bodies to everything that reads a
// GraphQL response: the envelope parser, the budget reader, the throttle
// check and the data decoding of each query.
func FuzzEnvelope(f *testing.F) {
	f.Add([]byte(`{"data":{"orders":{"pageInfo":{"hasNextPage":true,"endCursor":"abc"},"nodes":[{"id":"gid://shopify/Order/1","name":"#1","updatedAt":"2026-01-01T00:00:00Z","cancelledAt":null,"shippingAddress":null,"lineItems":{"pageInfo":{"hasNextPage":false,"endCursor":null},"nodes":[{"sku":"A","currentQuantity":1,"requiresShipping":true}]}}]}},"extensions":{"cost":{"requestedQueryCost":52,"actualQueryCost":12,"throttleStatus":{"maximumAvailable":1000,"currentlyAvailable":988,"restoreRate":50}}}}`))
	f.Add([]byte(`{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}],"extensions":{"cost":{"requestedQueryCost":1000,"actualQueryCost":null,"throttleStatus":{"maximumAvailable":1000,"currentlyAvailable":1e308,"restoreRate":0}}}}`))
	f.Add([]byte(`{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}],"extensions":{"cost":{"requestedQueryCost":-5,"throttleStatus":{"restoreRate":-1}}}}`))
	f.Add([]byte(`{"data":null}`))
	f.Add([]byte(`[1,2]`))
	p := provider()
	f.Fuzz(func(t *testing.T, body []byte) {
		resp := &connectors.Response{Status: 200, Body: body}
		if b, ok := p.Budget(resp, time.Time{}); ok && (b.Remaining < 0 || b.RestorePerSecond < 0) {
			t.Fatalf("negative budget %+v", b)
		}
		if wait, ok := p.Throttled(resp); ok && (wait < time.Second || wait > time.Hour) {
			t.Fatalf("throttle wait %s", wait)
		}
		g := &gqlClient{http: nil, endpoint: "https://x.myshopify.com/admin/api/2025-10/graphql.json"}
		for _, out := range []any{&ordersPage{}, &variantsPage{}, &inventoryPage{}, &fulfillmentOrdersData{}} {
			_ = decodeQuiet(g, resp, out)
		}
	})
}

// decodeQuiet is gqlClient.decode without a client (no scrubbing needed
// for fuzzing: it only must not panic).
func decodeQuiet(g *gqlClient, resp *connectors.Response, out any) error {
	e, err := envelopeOf(resp)
	if err != nil || len(e.Errors) > 0 || len(e.Data) == 0 {
		return err
	}
	return json.Unmarshal(e.Data, out)
}

func FuzzTokenResponse(f *testing.F) {
	f.Add([]byte(`{"access_token":"shpat_x","scope":"read_orders","expires_in":86399}`))
	f.Add([]byte(`{"access_token":"","expires_in":1}`))
	f.Add([]byte(`{"access_token":"t","expires_in":-4}`))
	f.Add([]byte(`{"access_token":"t","expires_in":9223372036854775807}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		tr, err := parseTokenResponse(body)
		if err != nil {
			return
		}
		if tr.AccessToken == "" || tr.ExpiresIn <= 0 || tr.ExpiresIn > 366*24*3600 {
			t.Fatalf("accepted %+v", tr)
		}
	})
}

func TestSearchFilter(t *testing.T) {
	t.Parallel()
	lo := time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600))
	hi := lo.Add(time.Hour)
	for _, tc := range []struct {
		lo, hi time.Time
		want   string
	}{
		{time.Time{}, time.Time{}, ""},
		{lo, time.Time{}, "updated_at:>='2026-01-02T02:04:05Z'"},
		{time.Time{}, hi, "updated_at:<='2026-01-02T03:04:05Z'"},
		{lo, hi, "updated_at:>='2026-01-02T02:04:05Z' AND updated_at:<='2026-01-02T03:04:05Z'"},
	} {
		if got := updatedFilter(tc.lo, tc.hi); got != tc.want {
			t.Errorf("got %q want %q", got, tc.want)
		}
	}
}
