package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestOwnedSubscriptionMatching: an integration's private events reach the
// subscription it owns and no other; an owned subscription with no event
// types receives no catalog events, one with types receives those.
func TestOwnedSubscriptionMatching(t *testing.T) {
	const owner, other = "11111111-0000-4000-8000-000000000001", "11111111-0000-4000-8000-000000000002"
	private := &Event{EventType: EventInstallationCreated, AggregateType: AggregateIntegration, AggregateID: owner}
	catalog := &Event{EventType: EventShipConfirmed, AggregateType: AggregateSalesOrder, AggregateID: other, WarehouseID: 1}
	for _, tc := range []struct {
		name             string
		sub              Subscription
		private, catalog bool
	}{
		{"ordinary, no filter", Subscription{}, false, true},
		{"ordinary, filtered", Subscription{Filter: SubscriptionFilter{EventTypes: []string{EventShipConfirmed}}}, false, true},
		{"owner, not installed", Subscription{Owner: owner}, true, false},
		{"owner, installed", Subscription{Owner: owner, Filter: SubscriptionFilter{EventTypes: []string{EventShipConfirmed}}}, true, true},
		{"owner, other types", Subscription{Owner: owner, Filter: SubscriptionFilter{EventTypes: []string{EventPickConfirmed}}}, true, false},
		{"another integration", Subscription{Owner: other, Filter: SubscriptionFilter{EventTypes: []string{EventShipConfirmed}}}, false, true},
	} {
		m := tc.sub.Matcher()
		if m.Match(private) != tc.private || m.Match(catalog) != tc.catalog {
			t.Errorf("%s: private %v catalog %v, want %v %v", tc.name, m.Match(private), m.Match(catalog), tc.private, tc.catalog)
		}
	}
}

// TestPrivateEventsNotPolled: the polling API and a backfill never serve an
// integration's private events; IntegrationEvents serves them to its page.
func TestPrivateEventsNotPolled(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "hub.db"), WithAuditKey(DeriveAuditKey([]byte("k"))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const id = "11111111-0000-4000-8000-000000000001"
	if err := db.withTx(ctx, func(tx *sql.Tx) error {
		var head int64
		return db.appendIntegrationEvent(ctx, tx, &head, id, EventInstallationCreated, map[string]any{"code": "shing_secret"})
	}); err != nil {
		t.Fatal(err)
	}
	evs, _, err := db.ListEvents(ctx, EventQuery{})
	if err != nil || len(evs) != 0 {
		t.Fatalf("polled: %+v %v", evs, err)
	}
	own, err := db.IntegrationEvents(ctx, id, 0, 10)
	if err != nil || len(own) != 1 || own[0].EventType != EventInstallationCreated {
		t.Fatalf("integration events: %+v %v", own, err)
	}
	if others, err := db.IntegrationEvents(ctx, "11111111-0000-4000-8000-000000000002", 0, 10); err != nil || len(others) != 0 {
		t.Fatalf("another integration's events: %+v %v", others, err)
	}
}

// BenchmarkLookupIntegrationToken measures authenticating one request with
// an integration token (three-table join by token hash), against an API
// token's single-table lookup, with 20 tokens per integration and 50
// integrations.
func BenchmarkLookupIntegrationToken(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "hub.db"), WithAuditKey(DeriveAuditKey([]byte("k"))))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	var tok string
	for i := range 50 {
		slug := "bench-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		_, _, first, err := db.CreateIntegration(ctx, "bench", IntegrationCreate{Kind: IntegrationInternal, Name: slug, Slug: slug,
			Permissions: map[string]string{"orders": "read"}, ClientID: slug, ClientSecretHash: HashSecret(slug),
			Secret: func() ([]byte, error) { return []byte("sealed"), nil }})
		if err != nil {
			b.Fatal(err)
		}
		tok = first
		for range 19 {
			if _, _, err := db.CreateIntegrationToken(ctx, "bench", slug); err != nil {
				b.Fatal(err)
			}
		}
	}
	apiTok, _, err := db.CreateToken(ctx, "bench", "api", []string{ScopeAdmin})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("integration", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.LookupIntegrationToken(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("api-token", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.LookupToken(ctx, apiTok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
