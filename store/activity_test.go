package store_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"sentryhub/store"
)

// TestActivity buckets events by the hour they became visible; the
// binary search must find the window's first row whatever the table size.
func TestActivity(t *testing.T) {
	e := newWHEnv(t)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now := base
	e.db.Now = func() time.Time { return now }
	// Events at hours 0..29 (the first six fall outside the 24-hour window
	// ending in hour 29), two per hour in hour 29.
	for h := range 30 {
		now = base.Add(time.Duration(h)*time.Hour + time.Minute)
		n := 1
		if h == 29 {
			n = 2
		}
		for range n {
			if _, err := e.db.AppendEvents(e.ctx, []store.NewEvent{{EventType: "ship.confirmed", AggregateType: "sales_order",
				AggregateID: uuid.NewString(), WarehouseID: 1, SourceTxnID: uuid.NewString(), Data: json.RawMessage(`{}`)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := e.db.Activity(e.ctx, now, 24)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 24 || !got[0].Hour.Equal(base.Add(6*time.Hour)) || !got[23].Hour.Equal(base.Add(29*time.Hour)) {
		t.Fatalf("hours %v .. %v", got[0].Hour, got[len(got)-1].Hour)
	}
	var total int64
	for i, h := range got {
		want := int64(1)
		if i == 23 {
			want = 2
		}
		if h.Events != want {
			t.Errorf("hour %v: %d events, want %d", h.Hour, h.Events, want)
		}
		total += h.Events
	}
	if total != 25 {
		t.Fatalf("total %d", total)
	}
}
