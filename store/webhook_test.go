package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func whTestDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestValidateWebhookURL(t *testing.T) {
	for _, tc := range []struct {
		url       string
		allowHTTP bool
		bad       string // substring of the problem, "" for valid
	}{
		{"https://hooks.example.com/sentry", false, ""},
		{"https://hooks.example.com:8443/a?b=c", false, ""},
		{"http://hooks.example.com/", false, "must use https"},
		{"http://127.0.0.1:8080/hook", true, ""},
		{"ftp://example.com/", true, "absolute https"},
		{"//example.com/x", false, "absolute https"},
		{"https://user:pw@example.com/", false, "credentials"},
		{"https://user@example.com/", false, "credentials"},
		{"https:///path", false, "host"},
		{"https://example.com/#frag", false, "fragment"},
		{"https://exa mple.com/", false, "not a valid URL"},
		{"https://example.com/a b", false, "spaces"},
		{"", false, "required"},
		{"https://example.com/" + strings.Repeat("a", 3000), false, "at most"},
		{"mailto:x@example.com", true, "absolute https"},
	} {
		got := ValidateWebhookURL(tc.url, tc.allowHTTP)
		if (tc.bad == "") != (got == "") || !strings.Contains(got, tc.bad) {
			t.Errorf("ValidateWebhookURL(%q, %v) = %q, want %q", tc.url, tc.allowHTTP, got, tc.bad)
		}
	}
}

func TestSubscriptionCreateNormalize(t *testing.T) {
	s, err := SubscriptionCreate{Name: "  erp  ", URL: "https://x.example/h"}.Normalize(false)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "erp" || s.PendingCeiling != DefaultPendingCeiling || s.DLQCeiling != DefaultDLQCeiling ||
		s.MaxInFlight != DefaultMaxInFlight || s.RateLimitPerSec != 0 || s.Status != SubscriptionActive ||
		s.Filter.EventTypes == nil || s.StandardWebhooks {
		t.Fatalf("defaults: %+v", s)
	}
	i64 := func(v int64) *int64 { return &v }
	f64 := func(v float64) *float64 { return &v }
	in := func(v int) *int { return &v }
	for _, tc := range []struct {
		name string
		in   SubscriptionCreate
		bad  []string
	}{
		{"everything wrong", SubscriptionCreate{URL: "http://x/", PendingCeiling: i64(0), DLQCeiling: i64(MaxDLQCeiling + 1),
			RateLimitPerSec: f64(-1), MaxInFlight: in(0)}, []string{"name", "url", "pending_ceiling", "dlq_ceiling", "rate_limit_per_sec", "max_in_flight"}},
		{"control characters in name", SubscriptionCreate{Name: "a\x00b", URL: "https://x/"}, []string{"name"}},
		{"too many in flight", SubscriptionCreate{Name: "a", URL: "https://x/", MaxInFlight: in(MaxMaxInFlight + 1)}, []string{"max_in_flight"}},
		{"bad filter", SubscriptionCreate{Name: "a", URL: "https://x/", Filter: &SubscriptionFilter{
			EventTypes: []string{"ship.confirm"}, WarehouseIDs: []int64{0}, AggregateIDs: []string{"nope"}}},
			[]string{"subscription_filter.event_types", "subscription_filter.warehouse_ids", "subscription_filter.aggregate_external_id_allowlist"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.in.Normalize(false)
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v", err)
			}
			for _, f := range tc.bad {
				if ve.Fields[f] == "" {
					t.Errorf("field %s not reported: %v", f, ve.Fields)
				}
			}
			if len(ve.Fields) != len(tc.bad) {
				t.Errorf("fields %v, want exactly %v", ve.Fields, tc.bad)
			}
		})
	}
}

func TestSubscriptionPatchApply(t *testing.T) {
	cur, err := SubscriptionCreate{Name: "erp", URL: "https://x.example/h"}.Normalize(false)
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	if _, err := (SubscriptionPatch{}).Apply(cur, false); err == nil {
		t.Fatal("an empty patch must be refused")
	}
	next, err := SubscriptionPatch{Status: str("paused")}.Apply(cur, false)
	if err != nil || next.Status != SubscriptionPaused || next.PauseReason != PauseManual {
		t.Fatalf("pause: %+v %v", next, err)
	}
	back, err := SubscriptionPatch{Status: str("active")}.Apply(next, false)
	if err != nil || back.Status != SubscriptionActive || back.PauseReason != "" {
		t.Fatalf("resume: %+v %v", back, err)
	}
	// Pausing a subscription paused at a ceiling keeps its reason.
	ceil := next
	ceil.PauseReason = PauseDLQCeiling
	if again, _ := (SubscriptionPatch{Status: str("paused")}).Apply(ceil, false); again.PauseReason != PauseDLQCeiling {
		t.Fatal("re-pausing must not overwrite the ceiling reason")
	}
	if _, err := (SubscriptionPatch{Status: str("stopped")}).Apply(cur, false); err == nil {
		t.Fatal("bad status accepted")
	}
	if _, err := (SubscriptionPatch{URL: str("http://x/")}).Apply(cur, false); err == nil {
		t.Fatal("http URL accepted without allowHTTP")
	}
	nf, err := SubscriptionPatch{Filter: &SubscriptionFilter{EventTypes: []string{EventShipConfirmed, EventShipConfirmed}}}.Apply(cur, false)
	if err != nil || len(nf.Filter.EventTypes) != 1 || len(cur.Filter.EventTypes) != 0 {
		t.Fatalf("filter patch: %+v (cur %+v) %v", nf.Filter, cur.Filter, err)
	}
	d := SubscriptionDiff(cur, nf)
	if _, ok := d["subscription_filter"]; !ok || len(d) != 1 {
		t.Fatalf("diff %v", d)
	}
}

func TestRedactURL(t *testing.T) {
	if got := RedactURL("https://u:p@x.example/h?token=abc&x=1"); strings.Contains(got, "abc") || strings.Contains(got, "u:p") {
		t.Fatalf("RedactURL = %q", got)
	}
	if got := RedactURL("https://x.example/h"); got != "https://x.example/h" {
		t.Fatalf("RedactURL = %q", got)
	}
}

func TestFilterMatching(t *testing.T) {
	agg := "2a8c34e2-0000-4000-8000-000000000001"
	fields := map[string]string{}
	f := NormalizeFilter(SubscriptionFilter{EventTypes: []string{EventShipConfirmed, EventPickConfirmed},
		WarehouseIDs: []int64{3, 3, 1}, AggregateIDs: []string{strings.ToUpper(agg)}}, "", fields)
	if len(fields) != 0 || len(f.WarehouseIDs) != 2 || f.AggregateIDs[0] != agg {
		t.Fatalf("normalized %+v %v", f, fields)
	}
	m := f.Matcher()
	for _, tc := range []struct {
		typ string
		wh  int64
		agg string
		ok  bool
	}{
		{EventShipConfirmed, 3, agg, true},
		{EventPickConfirmed, 1, agg, true},
		{EventPackConfirmed, 1, agg, false},
		{EventShipConfirmed, 2, agg, false},
		{EventShipConfirmed, 1, "2a8c34e2-0000-4000-8000-000000000002", false},
	} {
		ev := &Event{EventType: tc.typ, WarehouseID: tc.wh, AggregateID: tc.agg}
		if m.Match(ev) != tc.ok || f.Matches(tc.typ, tc.wh, tc.agg) != tc.ok {
			t.Errorf("%+v: match %v, want %v", tc, m.Match(ev), tc.ok)
		}
	}
	if !(SubscriptionFilter{}).Matcher().Match(&Event{EventType: "x"}) {
		t.Fatal("an empty filter matches everything")
	}
}

// FuzzSubscriptionFilter feeds arbitrary JSON through the filter's decoding
// and validation: it must never panic; an accepted filter must survive the
// stored round trip unchanged and its set matcher must agree with the
// linear one.
func FuzzSubscriptionFilter(f *testing.F) {
	f.Add(`{"event_types":["ship.confirmed"],"warehouse_ids":[1,2],"aggregate_external_id_allowlist":["2A8C34E2-0000-4000-8000-000000000001"]}`)
	f.Add(`{"event_types":null,"warehouse_ids":[-1]}`)
	f.Add(`{"aggregate_external_id_allowlist":["{2a8c34e2-0000-4000-8000-000000000001}"]}`)
	f.Add(`{"event_types":["` + strings.Repeat("a", 100) + `"]}`)
	f.Fuzz(func(t *testing.T, raw string) {
		var in SubscriptionFilter
		if json.Unmarshal([]byte(raw), &in) != nil {
			return
		}
		fields := map[string]string{}
		out := NormalizeFilter(in, "f.", fields)
		if len(fields) > 0 {
			for k := range fields {
				if !strings.HasPrefix(k, "f.") {
					t.Fatalf("field %q lacks the prefix", k)
				}
			}
			return
		}
		stored := encodeSubscriptionFilter(out)
		back, err := decodeSubscriptionFilter(stored)
		if err != nil || encodeSubscriptionFilter(back) != stored {
			t.Fatalf("round trip %q -> %q (%v)", stored, encodeSubscriptionFilter(back), err)
		}
		again := NormalizeFilter(back, "f.", fields)
		if encodeSubscriptionFilter(again) != stored || len(fields) > 0 {
			t.Fatal("normalization is not idempotent")
		}
		m := out.Matcher()
		probe := []Event{{EventType: EventShipConfirmed, WarehouseID: 1, AggregateID: "2a8c34e2-0000-4000-8000-000000000001"}}
		for _, typ := range out.EventTypes {
			for _, w := range append(out.WarehouseIDs, 7) {
				for _, a := range append(out.AggregateIDs, "x") {
					probe = append(probe, Event{EventType: typ, WarehouseID: w, AggregateID: a})
				}
			}
		}
		for i := range probe {
			ev := &probe[i]
			if m.Match(ev) != out.Matches(ev.EventType, ev.WarehouseID, ev.AggregateID) {
				t.Fatalf("matchers disagree on %+v", ev)
			}
		}
	})
}

// TestWebhookQueryPlans checks that every hot statement and every listing
// seeks an index (or the rowid) instead of scanning the deliveries table,
// which is what keeps dispatch cost flat as the table grows.
func TestWebhookQueryPlans(t *testing.T) {
	db := whTestDB(t)
	fullScan := regexp.MustCompile(`^SCAN (webhook_deliveries|d|integration_events|e)( |$)`)
	plan := func(name, q string, allow ...string) {
		t.Helper()
		rows, err := db.Reader().Query("EXPLAIN QUERY PLAN "+q, make([]any, strings.Count(q, "?"))...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, detail)
		}
		for _, l := range lines {
			ok := !fullScan.MatchString(l) && !strings.Contains(l, "TEMP B-TREE")
			for _, a := range allow {
				if strings.Contains(l, a) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s scans or sorts: %q\nplan: %v", name, l, lines)
			}
		}
		if len(lines) == 0 {
			t.Errorf("%s: no plan", name)
		}
	}
	for name, q := range EngineStatements() {
		// The insert sorts its own batch (the JSON array) by position,
		// which keeps lane order explicit; that is O(batch), not O(table).
		plan("engine "+name, q, "USE TEMP B-TREE FOR ORDER BY")
	}
	plan("open deliveries", `SELECT d.id FROM webhook_deliveries d JOIN integration_events e ON e.event_id = d.event_id
		WHERE d.subscription_id = ? AND d.status IN ('pending', 'in_flight') ORDER BY d.id`,
		"USE TEMP B-TREE FOR ORDER BY") // the sort is over the open rows only
	plan("dead count", `SELECT COUNT(*) FROM webhook_deliveries WHERE subscription_id = ? AND status = 'dead'`)
	plan("release in flight", `UPDATE webhook_deliveries SET status = 'pending' WHERE subscription_id = ? AND status = 'in_flight'`)
	plan("purge", `DELETE FROM webhook_deliveries WHERE id IN
		(SELECT id FROM webhook_deliveries WHERE subscription_id = ? ORDER BY id LIMIT ?)`)
	plan("history page", `SELECT `+deliveryColumns+` FROM webhook_deliveries d
		LEFT JOIN integration_events e ON e.event_id = d.event_id WHERE d.subscription_id = ? AND d.id < ? ORDER BY d.id DESC LIMIT ?`)
	plan("history page by status", `SELECT `+deliveryColumns+` FROM webhook_deliveries d
		LEFT JOIN integration_events e ON e.event_id = d.event_id WHERE d.subscription_id = ? AND d.status = ? AND d.id > ? ORDER BY d.id LIMIT ?`)
	plan("subscription with its latest success", `SELECT `+subscriptionColumns+` FROM webhook_subscriptions WHERE id = ?`)
	plan("replay candidates", `SELECT e.event_id, 0 FROM integration_events e WHERE e.event_id BETWEEN ? AND ?`+webhookFilterSQL+
		` ORDER BY e.event_id LIMIT ?`)
	plan("errors", `SELECT d.id FROM webhook_deliveries d INDEXED BY webhook_deliveries_failing
		JOIN webhook_subscriptions s ON s.id = d.subscription_id WHERE d.last_error_kind IS NOT NULL ORDER BY d.last_attempt_at DESC LIMIT ?`,
		"SCAN d USING INDEX webhook_deliveries_failing", "SCAN s") // the partial index holds failing rows only
}

// TestSubscriptionOrdering: ordering defaults to global, accepts aggregate,
// names the field for anything else (create and patch), shows in the audit
// diff and view, round-trips through the table, and the column's CHECK
// refuses what validation would.
func TestSubscriptionOrdering(t *testing.T) {
	str := func(s string) *string { return &s }
	def, err := SubscriptionCreate{Name: "erp", URL: "https://x.example/h"}.Normalize(false)
	if err != nil || def.Ordering != OrderingGlobal {
		t.Fatalf("default ordering %q (%v)", def.Ordering, err)
	}
	agg, err := SubscriptionCreate{Name: "erp", URL: "https://x.example/h", Ordering: str(OrderingAggregate)}.Normalize(false)
	if err != nil || agg.Ordering != OrderingAggregate {
		t.Fatalf("aggregate ordering %q (%v)", agg.Ordering, err)
	}
	for _, bad := range []string{"", "Global", "GLOBAL", "fifo", "aggregate ", "per_aggregate"} {
		_, err := SubscriptionCreate{Name: "erp", URL: "https://x.example/h", Ordering: str(bad)}.Normalize(false)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Fields["ordering"] == "" || len(ve.Fields) != 1 {
			t.Errorf("create with ordering %q: %v", bad, err)
		}
		_, err = SubscriptionPatch{Ordering: str(bad)}.Apply(def, false)
		if !errors.As(err, &ve) || ve.Fields["ordering"] == "" || len(ve.Fields) != 1 {
			t.Errorf("patch with ordering %q: %v", bad, err)
		}
	}
	next, err := SubscriptionPatch{Ordering: str(OrderingAggregate)}.Apply(def, false)
	if err != nil || next.Ordering != OrderingAggregate || def.Ordering != OrderingGlobal {
		t.Fatalf("patch: %+v %v", next, err)
	}
	d := SubscriptionDiff(def, next)
	if o, ok := d["ordering"].(map[string]any); !ok || len(d) != 1 || o["from"] != OrderingGlobal || o["to"] != OrderingAggregate {
		t.Fatalf("diff %v", d)
	}
	if v := SubscriptionAuditView(next); v["ordering"] != OrderingAggregate {
		t.Fatalf("audit view %v", v)
	}

	db := whTestDB(t)
	ctx := context.Background()
	var ins Subscription
	if err := db.withTx(ctx, func(tx *sql.Tx) error {
		var err error
		ins, err = db.insertSubscription(ctx, tx, agg)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Subscription(ctx, ins.ID); err != nil || got.Ordering != OrderingAggregate {
		t.Fatalf("stored ordering %q (%v)", got.Ordering, err)
	}
	ins.Ordering = OrderingGlobal
	if err := db.withTx(ctx, func(tx *sql.Tx) error {
		saved, err := db.saveSubscription(ctx, tx, ins)
		if err == nil && saved.Ordering != OrderingGlobal {
			t.Errorf("saved ordering %q", saved.Ordering)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Writer().Exec(`UPDATE webhook_subscriptions SET ordering = 'fifo' WHERE id = ?`, ins.ID); err == nil {
		t.Fatal("the ordering CHECK constraint accepted 'fifo'")
	}
	// Rows written without the column (as every row was before 00006) are
	// per aggregate: the column's DEFAULT stays for them; the application
	// always writes the ordering (see TestOrderingDefault).
	res, err := db.Writer().Exec(`INSERT INTO webhook_subscriptions (name, url, filter, status, pending_ceiling,
		dlq_ceiling, rate_limit_per_sec, max_in_flight, cursor, created_at, updated_at)
		VALUES ('old', 'https://x.example/h', '{}', 'active', 10, 10, 0, 1, 0, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	if got, err := db.Subscription(ctx, id); err != nil || got.Ordering != OrderingAggregate {
		t.Fatalf("default column value %q (%v)", got.Ordering, err)
	}
}
