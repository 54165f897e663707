package connectors

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Cron is a parsed standard 5-field cron expression, evaluated in UTC:
//
//	minute hour day-of-month month day-of-week
//
// Each field takes *, a number, a range a-b, a step */n or a-b/n or a/n
// (from a to the field's maximum), or a comma-separated list of those.
// Months and weekdays also take three-letter English names (JAN-DEC,
// SUN-SAT), and day-of-week 7 is Sunday. As in Vixie cron, when neither
// day field starts with * a day matching either runs; otherwise it must
// match both.
// The macros @yearly (@annually), @monthly, @weekly, @daily (@midnight) and
// @hourly are accepted. Seconds, years, L, W, # and ? are not.
type Cron struct {
	expr                   string
	minute, hour, dom, dow uint64
	month                  uint64
	domStar, dowStar       bool
}

type cronField struct {
	name     string
	min, max int
	names    []string // index i names value min+i
}

func cronFields() [5]cronField {
	return [5]cronField{
		{name: "minute", min: 0, max: 59},
		{name: "hour", min: 0, max: 23},
		{name: "day-of-month", min: 1, max: 31},
		{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
		{name: "day-of-week", min: 0, max: 7, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
	}
}

const maxCronLen = 200

// ParseCron parses expr. The error names the field and the problem; an
// expression that can never fire (0 0 30 2 *) is refused too.
func ParseCron(expr string) (*Cron, error) {
	if len(expr) > maxCronLen {
		return nil, fmt.Errorf("cron expression longer than %d bytes", maxCronLen)
	}
	s := strings.TrimSpace(expr)
	switch strings.ToLower(s) {
	case "@yearly", "@annually":
		s = "0 0 1 1 *"
	case "@monthly":
		s = "0 0 1 * *"
	case "@weekly":
		s = "0 0 * * 0"
	case "@daily", "@midnight":
		s = "0 0 * * *"
	case "@hourly":
		s = "0 * * * *"
	}
	parts := strings.Fields(s)
	if len(parts) != 5 {
		return nil, fmt.Errorf("cron expression %q: want 5 fields (minute hour day-of-month month day-of-week), got %d", expr, len(parts))
	}
	c := &Cron{expr: strings.TrimSpace(expr)}
	defs := cronFields()
	dst := []*uint64{&c.minute, &c.hour, &c.dom, &c.month, &c.dow}
	for i, p := range parts {
		set, err := parseCronField(p, defs[i])
		if err != nil {
			return nil, fmt.Errorf("cron expression %q: %s field %q: %w", expr, defs[i].name, p, err)
		}
		*dst[i] = set
	}
	if c.dow&(1<<7) != 0 { // 7 is Sunday
		c.dow = c.dow&^(1<<7) | 1
	}
	// Vixie cron: a day field starting with * (*, */2) is "unrestricted";
	// if either is, a day must match both, otherwise either.
	c.domStar = strings.HasPrefix(parts[2], "*")
	c.dowStar = strings.HasPrefix(parts[4], "*")
	if c.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("cron expression %q never fires", expr)
	}
	return c, nil
}

func parseCronField(s string, f cronField) (uint64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty")
	}
	var set uint64
	for _, item := range strings.Split(s, ",") {
		rangePart, stepPart, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepPart)
			if err != nil || n < 1 || n > f.max-f.min+1 {
				return 0, fmt.Errorf("step %q must be a number from 1 to %d", stepPart, f.max-f.min+1)
			}
			step = n
		}
		var lo, hi int
		switch {
		case rangePart == "*":
			lo, hi = f.min, f.max
			if f.name == "day-of-week" {
				hi = 6 // * is every day once, not Sunday twice
			}
		default:
			a, b, isRange := strings.Cut(rangePart, "-")
			var err error
			if lo, err = cronValue(a, f); err != nil {
				return 0, err
			}
			hi = lo
			if isRange {
				if hi, err = cronValue(b, f); err != nil {
					return 0, err
				}
				if hi < lo {
					return 0, fmt.Errorf("range %q runs backwards", rangePart)
				}
			} else if hasStep {
				hi = f.max // a/n: from a to the maximum
			}
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << v
		}
	}
	return set, nil
}

func cronValue(s string, f cronField) (int, error) {
	for i, n := range f.names {
		if strings.EqualFold(s, n) {
			return f.min + i, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < f.min || n > f.max || s == "" || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("value %q must be a number from %d to %d", s, f.min, f.max)
	}
	return n, nil
}

// String returns the expression as written.
func (c *Cron) String() string { return c.expr }

// Next returns the first time strictly after t (in UTC, to the minute) that
// matches, or the zero time when none does within five years.
func (c *Cron) Next(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Minute).Add(time.Minute)
	limit := t.AddDate(5, 0, 0)
	for t.Before(limit) {
		if c.month&(1<<int(t.Month())) == 0 {
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if !c.dayMatches(t) {
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if c.hour&(1<<t.Hour()) == 0 {
			t = t.Truncate(time.Hour).Add(time.Hour)
			continue
		}
		if c.minute&(1<<t.Minute()) == 0 {
			// Jump straight to the next allowed minute in this hour.
			rest := c.minute >> (t.Minute() + 1) << (t.Minute() + 1)
			if rest == 0 {
				t = t.Truncate(time.Hour).Add(time.Hour)
				continue
			}
			t = t.Truncate(time.Hour).Add(time.Duration(bits.TrailingZeros64(rest)) * time.Minute)
			continue
		}
		return t
	}
	return time.Time{}
}

func (c *Cron) dayMatches(t time.Time) bool {
	dom := c.dom&(1<<t.Day()) != 0
	dow := c.dow&(1<<int(t.Weekday())) != 0
	if c.domStar || c.dowStar {
		return dom && dow
	}
	return dom || dow
}

// ScheduleSpec is a parsed schedule: an interval or a cron expression.
type ScheduleSpec struct {
	Interval time.Duration
	Cron     *Cron
}

// Limits of interval schedules.
const (
	MinScheduleInterval = time.Minute
	MaxScheduleInterval = 7 * 24 * time.Hour
)

// Next returns the first run after t, without jitter.
func (s ScheduleSpec) Next(t time.Time) time.Time {
	if s.Cron != nil {
		return s.Cron.Next(t)
	}
	return t.Add(s.Interval)
}

// ParseSchedule parses an interval in seconds or a cron expression (exactly
// one must be set) into a spec. Its errors name the field.
func ParseSchedule(intervalSeconds int64, cron string) (ScheduleSpec, map[string]string) {
	switch {
	case (intervalSeconds != 0) == (cron != ""):
		return ScheduleSpec{}, map[string]string{"interval_seconds": "set exactly one of interval_seconds and cron"}
	case cron != "":
		c, err := ParseCron(cron)
		if err != nil {
			return ScheduleSpec{}, map[string]string{"cron": err.Error()}
		}
		return ScheduleSpec{Cron: c}, nil
	}
	d := time.Duration(intervalSeconds) * time.Second
	if intervalSeconds < int64(MinScheduleInterval/time.Second) || intervalSeconds > int64(MaxScheduleInterval/time.Second) {
		return ScheduleSpec{}, map[string]string{"interval_seconds": fmt.Sprintf("must be between %d and %d",
			int64(MinScheduleInterval/time.Second), int64(MaxScheduleInterval/time.Second))}
	}
	return ScheduleSpec{Interval: d}, nil
}

// ParseScheduleText parses a schedule as a manifest writes it: a Go
// duration of at least MinScheduleInterval and at most MaxScheduleInterval
// ("15m", "1h30m"), or a 5-field cron expression (UTC).
func ParseScheduleText(s string) (ScheduleSpec, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < MinScheduleInterval || d > MaxScheduleInterval {
			return ScheduleSpec{}, fmt.Errorf("an interval must be between %s and %s", MinScheduleInterval, MaxScheduleInterval)
		}
		return ScheduleSpec{Interval: d}, nil
	}
	c, err := ParseCron(s)
	if err != nil {
		return ScheduleSpec{}, fmt.Errorf("must be a duration like 15m or a 5-field cron expression: %w", err)
	}
	return ScheduleSpec{Cron: c}, nil
}
