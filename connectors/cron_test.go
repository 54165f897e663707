package connectors_test

import (
	"strings"
	"testing"
	"time"

	"sentryhub/connectors"
)

func TestCronNext(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04 Mon", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		expr, from, want string
	}{
		{"* * * * *", "2026-01-01 10:00 Thu", "2026-01-01 10:01 Thu"},
		{"*/15 * * * *", "2026-01-01 10:07 Thu", "2026-01-01 10:15 Thu"},
		{"*/15 * * * *", "2026-01-01 10:45 Thu", "2026-01-01 11:00 Thu"},
		{"5 4 * * *", "2026-01-01 04:05 Thu", "2026-01-02 04:05 Fri"},
		{"0 9-17/4 * * *", "2026-01-01 13:00 Thu", "2026-01-01 17:00 Thu"},
		{"30 2 1 * *", "2026-01-31 00:00 Sat", "2026-02-01 02:30 Sun"},
		{"0 0 29 2 *", "2026-03-01 00:00 Sun", "2028-02-29 00:00 Tue"}, // leap day
		{"0 0 * * MON-FRI", "2026-01-02 23:00 Fri", "2026-01-05 00:00 Mon"},
		{"0 12 * * 7", "2026-01-01 00:00 Thu", "2026-01-04 12:00 Sun"}, // 7 is Sunday
		{"0 0 * jan,jul sun", "2026-01-01 00:00 Thu", "2026-01-04 00:00 Sun"},
		// Both day fields restricted: either matches (the 13th, or a Friday).
		{"0 0 13 * 5", "2026-01-01 00:00 Thu", "2026-01-02 00:00 Fri"},
		{"0 0 13 * 5", "2026-01-09 01:00 Fri", "2026-01-13 00:00 Tue"},
		// A * day field: the other one alone decides.
		{"0 0 */2 * 1", "2026-01-01 00:00 Thu", "2026-01-05 00:00 Mon"},
		{"@hourly", "2026-01-01 10:59 Thu", "2026-01-01 11:00 Thu"},
		{"@daily", "2026-01-01 10:59 Thu", "2026-01-02 00:00 Fri"},
		{"@weekly", "2026-01-01 10:59 Thu", "2026-01-04 00:00 Sun"},
		{"@monthly", "2026-01-01 10:59 Thu", "2026-02-01 00:00 Sun"},
		{"@yearly", "2026-01-01 10:59 Thu", "2027-01-01 00:00 Fri"},
		{"7/20 * * * *", "2026-01-01 10:08 Thu", "2026-01-01 10:27 Thu"},
	} {
		c, err := connectors.ParseCron(tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if got := c.Next(at(tc.from)); !got.Equal(at(tc.want)) {
			t.Errorf("%s after %s: %s, want %s", tc.expr, tc.from, got.Format("2006-01-02 15:04 Mon"), tc.want)
		}
	}
}

func TestCronRefusals(t *testing.T) {
	t.Parallel()
	for expr, want := range map[string]string{
		"":                "want 5 fields",
		"* * * *":         "want 5 fields",
		"* * * * * *":     "want 5 fields",
		"60 * * * *":      "minute field",
		"* 24 * * *":      "hour field",
		"* * 0 * *":       "day-of-month field",
		"* * * 13 *":      "month field",
		"* * * * 8":       "day-of-week field",
		"*/0 * * * *":     "step",
		"5-1 * * * *":     "backwards",
		"a * * * *":       "value",
		"1,,2 * * * *":    "value",
		"0 0 30 2 *":      "never fires",
		"0 0 31 4,6,9 *":  "never fires",
		"-1 * * * *":      "value",
		"+1 * * * *":      "value",
		"@every 5m":       "want 5 fields",
		"* * * * L":       "day-of-week",
		"1-2-3 * * * *":   "value",
		"*/100 * * * *":   "step",
		"0 0 ? * *":       "day-of-month",
		"0 0 1W * *":      "day-of-month",
		"0 0 * * MON#2":   "day-of-week",
		"\x00 * * * *":    "value",
		"5 4 * * * extra": "want 5 fields",
	} {
		_, err := connectors.ParseCron(expr)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error mentioning %q", expr, err, want)
		}
	}
}

// FuzzParseCron: cron expressions come from admins. Parsing never panics,
// and an accepted expression's next time is strictly later, on a whole
// minute, and stable (Next of a fire time minus a minute is that time).
func FuzzParseCron(f *testing.F) {
	for _, s := range []string{"* * * * *", "*/7 3-9/2 1,15 jan-mar mon-fri", "@daily", "0 0 29 2 *", "59 23 31 12 7", "1-59/58 * * * *"} {
		f.Add(s, int64(1767225600))
	}
	f.Fuzz(func(t *testing.T, expr string, unix int64) {
		c, err := connectors.ParseCron(expr)
		if err != nil {
			return
		}
		from := time.Unix(unix%(4e9), 0).UTC()
		next := c.Next(from)
		if next.IsZero() {
			return // nothing within five years of from (e.g. a leap day from a far date)
		}
		if !next.After(from) || next.Second() != 0 || next.Nanosecond() != 0 {
			t.Fatalf("%q from %s: %s", expr, from, next)
		}
		if again := c.Next(next.Add(-time.Minute)); !again.Equal(next) {
			t.Fatalf("%q: Next(%s - 1m) = %s", expr, next, again)
		}
	})
}

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	if s, bad := connectors.ParseSchedule(300, ""); bad != nil || s.Interval != 5*time.Minute {
		t.Fatalf("%+v %v", s, bad)
	}
	if s, bad := connectors.ParseSchedule(0, "*/5 * * * *"); bad != nil || s.Cron == nil {
		t.Fatalf("%+v %v", s, bad)
	}
	for _, tc := range []struct {
		interval int64
		cron     string
		field    string
	}{
		{0, "", "interval_seconds"}, {60, "* * * * *", "interval_seconds"}, {30, "", "interval_seconds"},
		{8 * 24 * 3600, "", "interval_seconds"}, {0, "61 * * * *", "cron"},
	} {
		if _, bad := connectors.ParseSchedule(tc.interval, tc.cron); bad[tc.field] == "" {
			t.Errorf("%d %q: %v", tc.interval, tc.cron, bad)
		}
	}
}
