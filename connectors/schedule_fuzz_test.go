package connectors_test

import (
	"testing"
	"time"

	"sentryhub/connectors"
)

// FuzzParseScheduleText: a stream schedule comes from a manifest (operator
// input). It parses to an interval in range or a cron whose next run is
// after now, or is refused; it never panics.
func FuzzParseScheduleText(f *testing.F) {
	for _, s := range []string{"15m", "1h30m", "30s", "169h", "*/5 * * * *", "0 3 * * MON-FRI", "@daily", "61 * * * *", "", "-1m"} {
		f.Add(s)
	}
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := connectors.ParseScheduleText(s)
		if err != nil {
			return
		}
		switch {
		case spec.Cron != nil:
			if next := spec.Next(now); !next.IsZero() && !next.After(now) {
				t.Fatalf("%q: next run %v not after %v", s, next, now)
			}
		case spec.Interval < connectors.MinScheduleInterval || spec.Interval > connectors.MaxScheduleInterval:
			t.Fatalf("%q: interval %v accepted", s, spec.Interval)
		}
	})
}
