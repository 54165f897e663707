package web

import (
	"strings"

	"sentryhub/connectors"
)

// connectorStreamRow is one stream of a sync on the connector page: what
// runs it and when next.
type connectorStreamRow struct {
	Key      string
	Schedule string // "every 15m", "cron */5 * * * * (UTC)", or the connection's
	Paused   bool
	NextRun  when
	LastRun  when
}

// streamRows lists the streams of syncType.
func (u *connectorUI) streamRows(streams []connectors.StreamStatus, syncType string) []connectorStreamRow {
	var out []connectorStreamRow
	for _, st := range streams {
		if st.SyncType != syncType {
			continue
		}
		r := connectorStreamRow{Key: st.Key, Paused: st.Paused, NextRun: u.s.atPtr(st.NextRunAt), LastRun: u.s.atPtr(st.LastRunAt)}
		switch {
		case st.Schedule == "":
			r.Schedule = "on this sync's schedule"
		case strings.Contains(st.Schedule, " ") || strings.HasPrefix(st.Schedule, "@"):
			r.Schedule = "own schedule: cron " + st.Schedule + " (UTC)"
		default:
			r.Schedule = "own schedule: every " + st.Schedule
		}
		out = append(out, r)
	}
	return out
}
