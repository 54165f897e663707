package clock

import (
	"testing"
	"time"
)

func fired(ch <-chan time.Time) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// At waits for an absolute time, so a fake clock moved between reading
// Now and arming the wait does not push the wake-up later, as
// After(due.Sub(staleNow)) would.
func TestFakeAtWaitsForTheDeadline(t *testing.T) {
	start := time.Date(2026, 5, 2, 14, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		moveFirst time.Duration // how far the clock moves before the wait is armed
		due       time.Duration // the deadline, from start
		advances  []time.Duration
		fireAfter int // the advance after which it fires; 0: at once
	}{
		{"past deadline fires at once", 0, -time.Second, nil, 0},
		{"now fires at once", 0, 0, nil, 0},
		{"fires when reached", 0, 2 * time.Second, []time.Duration{time.Second, time.Second}, 2},
		{"clock moved before arming", 3 * time.Second, 5 * time.Second, []time.Duration{2 * time.Second}, 1},
		{"clock moved past the deadline before arming", 5 * time.Second, 2 * time.Second, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFake(start)
			f.Advance(tc.moveFirst)
			ch := At(f, start.Add(tc.due))
			if got := fired(ch); got != (tc.fireAfter == 0) {
				t.Fatalf("fired at once: %v, want %v", got, tc.fireAfter == 0)
			}
			for i, d := range tc.advances {
				f.Advance(d)
				if got := fired(ch); got != (i+1 == tc.fireAfter) {
					t.Fatalf("after advance %d: fired %v, want %v", i+1, got, i+1 == tc.fireAfter)
				}
			}
		})
	}
}

// A clock without At (Real, or any other) waits the duration left.
func TestAtFallsBackToAfter(t *testing.T) {
	c := durationClock{now: time.Unix(100, 0)}
	At(&c, time.Unix(103, 0))
	if c.asked != 3*time.Second {
		t.Fatalf("After(%v), want 3s", c.asked)
	}
}

type durationClock struct {
	now   time.Time
	asked time.Duration
}

func (c *durationClock) Now() time.Time { return c.now }
func (c *durationClock) After(d time.Duration) <-chan time.Time {
	c.asked = d
	return make(chan time.Time)
}
