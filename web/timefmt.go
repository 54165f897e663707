package web

import (
	"fmt"
	"time"

	"sentryhub/store"
)

// when is a moment as every page shows it: Text in UTC to the second (the
// form a page has without JavaScript, and the hover title with it), ISO for
// the <time> element, which assets/static/app.js rewrites into the viewer's
// local time, and Rel, how long ago (or how soon) it is. The zero value is
// "never".
type when struct {
	ISO, Text, Rel string
}

// IsZero reports whether there is no moment to show.
func (t when) IsZero() bool { return t.ISO == "" }

// timeLayout is the one format of times on the pages. A no-break space
// keeps "UTC" with the time when a narrow column wraps.
const timeLayout = "2006-01-02 15:04:05\u00a0UTC"

// stamp renders t without the relative part (for templates, which have
// no clock).
func stamp(t time.Time) when {
	if t.IsZero() {
		return when{}
	}
	return when{ISO: t.UTC().Format(time.RFC3339), Text: t.UTC().Format(timeLayout)}
}

// at renders t for people, relative to the server's clock.
func (s *Server) at(t time.Time) when {
	w := stamp(t)
	if !w.IsZero() {
		w.Rel = relTime(s.clock.Now(), t)
	}
	return w
}

// atPtr is at for an optional time: nil is "never".
func (s *Server) atPtr(t *time.Time) when {
	if t == nil {
		return when{}
	}
	return s.at(*t)
}

// atStore is at for a stored webhook timestamp.
func (s *Server) atStore(t store.Time) when { return s.at(t.Time) }

// atStorePtr is atStore for an optional one.
func (s *Server) atStorePtr(t *store.Time) when {
	if t == nil {
		return when{}
	}
	return s.at(t.Time)
}

// atText renders a timestamp stored as RFC 3339 text; text that does not
// parse is shown as it is.
func (s *Server) atText(ts string) when {
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return when{ISO: ts, Text: ts}
	}
	return s.at(t)
}

// atTextPtr is atText for optional text.
func (s *Server) atTextPtr(ts *string) when {
	if ts == nil || *ts == "" {
		return when{}
	}
	return s.atText(*ts)
}

// relTime says how far t is from now in one unit, rounded down.
func relTime(now, t time.Time) string {
	d := t.Sub(now)
	future := d > 0
	if d < 0 {
		d = -d
	}
	var s string
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h", int(d.Hours()))
	default:
		s = fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}
