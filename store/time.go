package store

import (
	"fmt"
	"time"
)

// Time is a stored timestamp of the webhook rows. It is a time.Time for
// the code and keeps, at the edges, the one form timestamps are stored and
// shown in: TimeFormat (RFC 3339, milliseconds, UTC), in the database and
// in the admin API's JSON alike. It scans from the stored text.
type Time struct{ time.Time }

// TimeOf returns t as a Time in UTC, truncated to the millisecond as it is
// stored, so a Time held in memory equals the one read back.
func TimeOf(t time.Time) Time { return Time{t.UTC().Truncate(time.Millisecond)} }

// TimePtr returns t as a *Time in UTC.
func TimePtr(t time.Time) *Time { v := TimeOf(t); return &v }

// String returns t in TimeFormat.
func (t Time) String() string { return t.UTC().Format(TimeFormat) }

// MarshalJSON writes t as a TimeFormat string.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.String() + `"`), nil
}

// MarshalText writes t in TimeFormat.
func (t Time) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads an RFC 3339 time.
func (t *Time) UnmarshalText(b []byte) error {
	v, err := parseTime(string(b))
	if err != nil {
		return err
	}
	*t = TimeOf(v)
	return nil
}

// UnmarshalJSON reads an RFC 3339 time string.
func (t *Time) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("parse stored time %s: not a string", b)
	}
	return t.UnmarshalText(b[1 : len(b)-1])
}

// Scan reads a stored timestamp (text) for database/sql.
func (t *Time) Scan(src any) error {
	switch v := src.(type) {
	case string:
		return t.UnmarshalText([]byte(v))
	case []byte:
		return t.UnmarshalText(v)
	case time.Time:
		*t = TimeOf(v)
		return nil
	}
	return fmt.Errorf("scan stored time: unsupported type %T", src)
}
