package web

import (
	"strconv"
	"strings"

	"sentryhub/store"
)

// activityChart is the dashboard's 24-hour chart, laid out on the server
// as SVG coordinates so the page needs no script: a stacked bar per hour
// (deliveries succeeded, retrying, dead, by the hour they were created)
// and a line of events committed per hour.
type activityChart struct {
	Width, Height int
	Bars          []chartBar
	EventsLine    string // polyline points
	Max           int64
	Totals        store.HourActivity
	Empty         bool
}

type chartBar struct {
	X, W                   int
	Label                  string // hour, UTC
	Title                  string
	Segments               []chartSegment
	ShowLabel              bool
	Succeeded, Retry, Dead int64
}

type chartSegment struct {
	Class string
	Y, H  int
}

const (
	chartW, chartH = 720, 180
	chartTop       = 10
	chartBottom    = 20 // room for hour labels
)

func newActivityChart(hours []store.HourActivity) activityChart {
	c := activityChart{Width: chartW, Height: chartH}
	for _, h := range hours {
		c.Max = max(c.Max, h.Succeeded+h.Retrying+h.Dead, h.Events)
		c.Totals.Events += h.Events
		c.Totals.Succeeded += h.Succeeded
		c.Totals.Retrying += h.Retrying
		c.Totals.Dead += h.Dead
	}
	c.Empty = c.Max == 0
	scale := max(c.Max, 1)
	plot := chartH - chartTop - chartBottom
	y := func(n int64) int { return int(int64(plot) * n / scale) }
	step := chartW / max(len(hours), 1)
	var pts []string
	for i, h := range hours {
		b := chartBar{X: i*step + 2, W: step - 4, Label: h.Hour.Format("15h"), ShowLabel: i%3 == 0,
			Succeeded: h.Succeeded, Retry: h.Retrying, Dead: h.Dead}
		b.Title = h.Hour.Format("2006-01-02 15:00") + " UTC: " + count(h.Events, "event", "events") + ", " +
			strconv.FormatInt(h.Succeeded, 10) + " delivered, " + strconv.FormatInt(h.Retrying, 10) + " retrying, " +
			strconv.FormatInt(h.Dead, 10) + " dead"
		base := chartH - chartBottom
		for _, seg := range []struct {
			class string
			n     int64
		}{{"succeeded", h.Succeeded}, {"retrying", h.Retrying}, {"dead", h.Dead}} {
			if seg.n == 0 {
				continue
			}
			hgt := max(y(seg.n), 2)
			base -= hgt
			b.Segments = append(b.Segments, chartSegment{Class: seg.class, Y: base, H: hgt})
		}
		c.Bars = append(c.Bars, b)
		pts = append(pts, strconv.Itoa(i*step+step/2)+","+strconv.Itoa(chartH-chartBottom-y(h.Events)))
	}
	c.EventsLine = strings.Join(pts, " ")
	return c
}
