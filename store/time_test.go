package store

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestWebhookRowsAreTyped: webhook rows carry time.Time values read once
// at the SQL edge, and their JSON keeps the stored TimeFormat (milliseconds,
// UTC) the admin API has always shown.
func TestWebhookRowsAreTyped(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	now := time.Date(2026, 3, 2, 9, 0, 0, 123456789, time.FixedZone("CET", 3600))
	db.Now = func() time.Time { return now }
	in, err := SubscriptionCreate{Name: "erp", URL: "https://x.example/h"}.Normalize(false)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := db.CreateSubscription(ctx, "test", in, func() ([]byte, error) { return []byte("sealed"), nil })
	if err != nil {
		t.Fatal(err)
	}
	want := now.UTC().Truncate(time.Millisecond)
	if !sub.CreatedAt.Equal(want) || sub.CreatedAt.Location() != time.UTC || sub.PausedAt != nil {
		t.Fatalf("created_at = %v, paused_at = %v; want %v and nil", sub.CreatedAt, sub.PausedAt, want)
	}
	if sub.Status != SubscriptionActive {
		t.Fatalf("status = %q", sub.Status)
	}
	b, err := json.Marshal(sub)
	if err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{`"status":"active"`, `"created_at":"2026-03-02T08:00:00.123Z"`, `"paused_at":null`, `"last_success_at":null`} {
		if !strings.Contains(string(b), frag) {
			t.Errorf("JSON %s lacks %s", b, frag)
		}
	}
	if TimeOf(now) != sub.CreatedAt {
		t.Errorf("TimeOf(now) = %v, want the stored %v", TimeOf(now), sub.CreatedAt)
	}

	a := Attempt{At: TimeOf(now), DurationMS: 5}
	b, _ = json.Marshal(a)
	if string(b) != `{"at":"2026-03-02T08:00:00.123Z","duration_ms":5}` {
		t.Errorf("attempt JSON = %s", b)
	}
	var back storedAttempt
	if err := json.Unmarshal([]byte(`{"t":"2026-03-02T08:00:00.123Z","ms":5}`), &back); err != nil || back.T != TimeOf(now) {
		t.Errorf("stored attempt read back as %v, %v", back.T, err)
	}
}
