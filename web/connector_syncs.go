package web

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"sentryhub/connectors"
	"sentryhub/store"
)

// Starting syncs and editing their schedules.

func (u *connectorUI) syncNow(w http.ResponseWriter, r *http.Request) error {
	name, syncType := r.PathValue("name"), r.PathValue("sync_type")
	wh, err := connectorFormWarehouse(r)
	if err != nil {
		return err
	}
	full := r.PostForm.Get("full") == "1"
	// With the circuit open every call fails fast: say so rather than
	// start a run that cannot reach the upstream.
	if st, err := u.svc.SyncStatus(r.Context(), name, wh); err == nil && st.Circuit.State == connectors.BreakerOpen {
		msg := fmt.Sprintf("Not started: the circuit to %s is open after %d failures in a row, so calls fail fast.",
			connectorTitle(name), st.Circuit.ConsecutiveFailures)
		if st.Circuit.RetryAt != nil {
			msg += " It lets a probe through after " + u.s.at(*st.Circuit.RetryAt).Text + "; try again then."
		}
		return u.redirect(w, r, name, wh, "sync-"+syncType, flash{Kind: "warn", Text: msg})
	}
	t, err := u.svc.TriggerSync(r.Context(), principal(r.Context()).Actor(), name, wh, syncType, full)
	var dup *store.DuplicateRunError
	var ve *store.ValidationError
	switch {
	case errors.As(err, &dup):
		return u.redirect(w, r, name, wh, "sync-"+syncType, flash{Kind: "warn",
			Text: fmt.Sprintf("A %s sync is already running (run %s, started %s); wait for it to finish.", syncType, dup.RunID, u.s.at(dup.StartedAt).Text)})
	case errors.Is(err, connectors.ErrNotRunning):
		return u.redirect(w, r, name, wh, "sync-"+syncType, flash{Kind: "error",
			Text: "Syncs cannot start while the hub is starting or stopping; retry shortly."})
	case errors.As(err, &ve) && ve.Fields["warehouse_id"] == "":
		return u.redirect(w, r, name, wh, "sync-"+syncType, flash{Kind: "error", Text: "Sync not started: " + ve.Message})
	case err != nil:
		return err
	}
	kind := "sync"
	if full {
		kind = "full sync"
	}
	msg := fmt.Sprintf("%s %s started (run %s). It runs in the background: this page shows its progress and, once it ends, the outcome in the run history (without JavaScript, reload to follow it).",
		connectorTitle(syncType), kind, t.RunID)
	if t.TookOver != "" {
		msg += " It took over stale run " + t.TookOver + "."
	}
	return u.redirect(w, r, name, wh, "sync-"+syncType, flash{Kind: "ok", Text: msg})
}

// saveSchedule edits the schedule of one sync type. The API replaces a
// warehouse's schedules as a whole, so the others are sent back unchanged
// (keeping their next run) with the edited one replaced or removed.
func (u *connectorUI) saveSchedule(w http.ResponseWriter, r *http.Request) error {
	info, err := u.svc.Info(r.PathValue("name"))
	if err != nil {
		return err
	}
	syncType := r.PathValue("sync_type")
	wh, err := connectorFormWarehouse(r)
	if err != nil {
		return err
	}
	// The form sends enabled=false from a hidden input, then true from the
	// ticked box; a request without the field is enabled, as in the API.
	enabled := r.PostForm["enabled"]
	form := connectorScheduleForm{Mode: r.PostForm.Get("mode"), IntervalValue: strings.TrimSpace(r.PostForm.Get("interval_value")),
		IntervalUnit: r.PostForm.Get("interval_unit"), Cron: strings.TrimSpace(r.PostForm.Get("cron")),
		Enabled: len(enabled) == 0 || enabled[len(enabled)-1] == "true", Errors: map[string]string{}}
	refuse := func(summary string) error {
		return u.rerender(w, r, info, wh, nil, &connectorScheduleInput{syncType: syncType, form: form, summary: summary})
	}
	current, err := u.svc.Schedules(r.Context(), info.Name, wh)
	if err != nil {
		return err
	}
	var in []connectors.ScheduleRequest
	for _, c := range current {
		if c.SyncType != syncType {
			in = append(in, connectors.ScheduleRequest{SyncType: c.SyncType, IntervalSeconds: c.IntervalSeconds, Cron: c.Cron, Enabled: &c.Enabled})
		}
	}
	edited := -1
	switch form.Mode {
	case "off":
	case "interval":
		var unit int64
		for _, un := range connectorIntervalUnits {
			if un.Name == form.IntervalUnit {
				unit = un.Seconds
			}
		}
		n, perr := strconv.ParseInt(form.IntervalValue, 10, 64)
		switch {
		case unit == 0:
			form.Errors["interval"] = "pick a unit: seconds, minutes, hours or days"
		case form.IntervalValue == "":
			form.Errors["interval"] = "is required for an interval schedule"
		case perr != nil || n <= 0 || n > 1<<40:
			form.Errors["interval"] = "must be a positive whole number"
		}
		if len(form.Errors) > 0 {
			return refuse("Schedule not saved; nothing was changed.")
		}
		in = append(in, connectors.ScheduleRequest{SyncType: syncType, IntervalSeconds: n * unit, Enabled: &form.Enabled})
		edited = len(in) - 1
	case "cron":
		if form.Cron == "" {
			form.Errors["cron"] = "is required for a cron schedule"
			return refuse("Schedule not saved; nothing was changed.")
		}
		in = append(in, connectors.ScheduleRequest{SyncType: syncType, Cron: form.Cron, Enabled: &form.Enabled})
		edited = len(in) - 1
	default:
		form.Errors["mode"] = "choose off, an interval or a cron expression"
		return refuse("Schedule not saved; nothing was changed.")
	}
	if in == nil {
		in = []connectors.ScheduleRequest{} // an empty list removes them all
	}
	_, err = u.svc.PutSchedules(r.Context(), principal(r.Context()).Actor(), info.Name, wh, in)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		prefix := fmt.Sprintf("schedules[%d].", edited)
		var other []string
		for _, k := range slices.Sorted(maps.Keys(ve.Fields)) {
			switch {
			case edited >= 0 && k == prefix+"interval_seconds":
				form.Errors["interval"] = ve.Fields[k]
			case edited >= 0 && k == prefix+"cron":
				form.Errors["cron"] = ve.Fields[k]
			case edited >= 0 && k == prefix+"sync_type":
				other = append(other, "sync type "+syncType+" "+ve.Fields[k])
			default:
				other = append(other, k+" "+ve.Fields[k])
			}
		}
		summary := "Schedule not saved; nothing was changed."
		if len(other) > 0 {
			summary += " " + strings.Join(other, "; ")
		}
		return refuse(summary)
	}
	if err != nil {
		return err
	}
	msg := connectorTitle(syncType) + " schedule removed."
	switch form.Mode {
	case "interval", "cron":
		msg = connectorTitle(syncType) + " schedule saved."
		if !form.Enabled {
			msg += " It is paused: it will not run until you enable it."
		}
	}
	return u.redirect(w, r, info.Name, wh, "sync-"+syncType, flash{Kind: "ok", Text: msg})
}
