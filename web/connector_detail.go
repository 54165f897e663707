package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/a-h/templ"

	"sentryhub/connectors"
	"sentryhub/store"
)

// One connector at one warehouse: credentials, syncs, runs, pushes.

type connectorDetailData struct {
	Layout   layoutData
	Manifest templ.Component // setup panel of a manifest connector, or nil
	// Running is set while a sync runs: app.js refreshes the sync and
	// run sections until it finishes.
	Running      bool
	Name         string
	Title        string
	Capabilities []string
	CanWrite     bool
	Flashes      []flash            // for the top of the page
	Placed       map[string][]flash // by section id
	TestResult   *flash

	Warehouses  []store.Warehouse
	WarehouseID int64
	Warehouse   string

	Configured    bool
	UpdatedAt     when
	Fields        []connectorFieldView
	FormErrors    []string
	ConfirmDelete bool

	Circuit       connectors.BreakerStatus
	CircuitRetry  when
	Syncs         []connectorSyncRow
	ScheduleError string
	Runs          []connectorRunRow

	Fulfillment bool
	Pushes      []connectorPushRow
}

// connectorFieldView is one input of the generated credentials form.
type connectorFieldView struct {
	Name        string
	Label       string
	Help        string
	Placeholder string
	// Input is the control: text, url, number, password, select or
	// checkbox.
	Input      string
	Required   bool
	Secret     bool
	Stored     bool // a secret (or setting) is stored for this field
	Value      string
	Options    []string
	AllowEmpty bool // select without a default: offer "not set"
	MaxLength  int
	Default    string
	// ShowField/ShowValues: the field matters only while ShowField has one
	// of ShowValues (space-separated, for app.js); Hidden: not now.
	ShowField, ShowValues string
	Hidden                bool
	Error                 string
}

func (f connectorFieldView) ID() string { return "field-" + f.Name }

func (f connectorFieldView) ErrorID() string { return "error-" + f.Name }

func (f connectorFieldView) HelpID() string { return "help-" + f.Name }

// Describedby links the input to its help and error texts.
func (f connectorFieldView) Describedby() string {
	var ids []string
	if f.Help != "" || f.Secret {
		ids = append(ids, f.HelpID())
	}
	if f.Error != "" {
		ids = append(ids, f.ErrorID())
	}
	return strings.Join(ids, " ")
}

// HTMLRequired: a required secret that is already stored may be left blank.
func (f connectorFieldView) HTMLRequired() bool {
	return f.Required && !(f.Secret && f.Stored) && f.Input != "checkbox"
}

type connectorSyncRow struct {
	SyncType    string
	Purpose     string
	Status      string
	Class       string
	StartedAt   when
	LastRun     when
	LastSuccess when
	Cursor      when
	Errors      int
	LastError   string
	LastErrorAt when
	Schedule    connectorScheduleForm
	// Progress of the run in progress; nil when none runs.
	Progress *connectorProgress
}

// connectorProgress is how far a running sync has come.
type connectorProgress struct {
	Attempt        int
	Synced, Failed int    // records of this attempt so far
	RunError       string // what ended the previous attempt
	// Records: the sync writes records page by page (not the
	// fulfillment push loop, whose pushes show in their queue).
	Records bool
}

type connectorRunRow struct {
	RunID    string
	Short    string
	SyncType string
	Trigger  string
	Started  when
	Duration string
	Synced   int
	Skipped  int
	Failed   int
	Status   string
	Class    string
	Message  string
}

type connectorPushRow struct {
	ID          int64
	OrderID     string
	OrderNumber string
	Shipment    string
	Status      string
	Class       string
	Attempts    int
	NextAttempt when
	LastError   string
	Created     when
	CanRetry    bool
}

func connectorScheduleSummary(s store.ConnectorSchedule) string {
	var out string
	if s.Cron != "" {
		out = "cron " + s.Cron + " (UTC)"
	} else {
		v, unit := connectorSplitInterval(s.IntervalSeconds)
		if v == "1" {
			unit = strings.TrimSuffix(unit, "s")
		}
		out = "every " + v + " " + unit
	}
	if !s.Enabled {
		out += ", paused"
	}
	return out
}

func (u *connectorUI) detailPage(w http.ResponseWriter, r *http.Request) error {
	info, err := u.svc.Info(r.PathValue("name"))
	if err != nil {
		return err
	}
	whs, err := u.s.db.ListWarehouses(r.Context())
	if err != nil {
		return err
	}
	wh, err := connectorWarehouseQuery(r, whs)
	if err != nil {
		return err
	}
	// A refused credentials form comes back here (post/redirect/get).
	fs, rf := u.s.takeRefused(w, r, connectorCredentialsForm(info.Name, wh))
	d, err := u.detail(r, info, whs, wh, refusedCredentials(rf), nil)
	if err != nil {
		return err
	}
	d.ConfirmDelete = d.CanWrite && d.Configured && r.URL.Query().Get("confirm") == "delete"
	d.Manifest = u.s.manifests.panel(r.Context(), info.Name, d.WarehouseID, d.CanWrite)
	u.placeFlashes(&d, fs)
	return u.s.render(w, r, http.StatusOK, connectorDetailPage(d))
}

// placeFlashes puts each message in the section it is about, when the page
// has that section, and on top otherwise.
func (u *connectorUI) placeFlashes(d *connectorDetailData, fs []flash) {
	sections := map[string]bool{}
	if d.WarehouseID != 0 {
		sections["credentials"] = true
		sections["fulfillments"] = d.Fulfillment
		for _, s := range d.Syncs {
			sections["sync-"+s.SyncType] = true
		}
	}
	d.Placed = map[string][]flash{}
	for _, f := range fs {
		switch {
		case f.Topic == "test" && d.WarehouseID != 0:
			d.TestResult = &f
		case sections[f.Topic]:
			d.Placed[f.Topic] = append(d.Placed[f.Topic], f)
		default:
			d.Flashes = append(d.Flashes, f)
		}
	}
}

// rerender shows the detail page again around a refused form.
func (u *connectorUI) rerender(w http.ResponseWriter, r *http.Request, info connectors.Info, wh int64, cred *connectorCredentialsInput, sched *connectorScheduleInput) error {
	return u.renderWith(w, r, http.StatusUnprocessableEntity, info, wh, cred, sched, nil)
}

// renderWith shows the detail page around typed values, with an optional
// connection test result in place of a flashed one.
func (u *connectorUI) renderWith(w http.ResponseWriter, r *http.Request, status int, info connectors.Info, wh int64,
	cred *connectorCredentialsInput, sched *connectorScheduleInput, test *flash) error {
	whs, err := u.s.db.ListWarehouses(r.Context())
	if err != nil {
		return err
	}
	d, err := u.detail(r, info, whs, wh, cred, sched)
	if err != nil {
		return err
	}
	u.placeFlashes(&d, u.takeFlashes(w, r))
	if test != nil {
		d.TestResult = test
	}
	return u.s.render(w, r, status, connectorDetailPage(d))
}

// detail builds the detail page of info for warehouse wh (0: none exist).
func (u *connectorUI) detail(r *http.Request, info connectors.Info, whs []store.Warehouse, wh int64,
	cred *connectorCredentialsInput, sched *connectorScheduleInput) (connectorDetailData, error) {
	ctx := r.Context()
	d := connectorDetailData{Layout: u.s.layoutFor(r, connectorTitle(info.Name)+" connector", "/connectors"),
		Name: info.Name, Title: connectorTitle(info.Name), CanWrite: canWrite(r), Warehouses: whs, WarehouseID: wh,
		Fulfillment: info.Supports(connectors.CapPushFulfillment)}
	for _, c := range info.Capabilities {
		d.Capabilities = append(d.Capabilities, connectorCapabilityLabel(c))
	}
	if wh == 0 {
		return d, nil
	}
	for _, w := range whs {
		if w.ID == wh {
			d.Warehouse = connectorWarehouseLabel(w)
		}
	}

	// The run history is read before the sync states: a run finishing
	// between the two reads then shows as a newer state rather than as a
	// finished run beside a state still running.
	runs, err := u.svc.Runs(ctx, info.Name, wh, "", 25)
	if err != nil {
		return d, err
	}
	for _, run := range runs {
		row := connectorRunRow{RunID: run.RunID, Short: run.RunID, SyncType: run.SyncType, Trigger: run.Trigger,
			Started: u.s.at(run.StartedAt), Duration: connectorDuration(run.DurationMS), Synced: run.RecordsSynced,
			Skipped: run.RecordsSkipped, Failed: run.RecordsFailed, Status: string(run.Status), Class: connectorRunClass(run.Status)}
		if len(row.Short) > 8 {
			row.Short = row.Short[:8]
		}
		row.Message = connectorErrorText(run.ErrorMessage)
		if row.Message == "" {
			row.Message = connectorErrorText(run.Notes)
		}
		d.Runs = append(d.Runs, row)
	}

	// Credentials: stored values come from the redacted view; a secret is
	// only ever known to be stored, never what it is.
	stored := map[string]string{}
	view, err := u.svc.GetCredentials(ctx, info.Name, wh)
	switch {
	case err == nil:
		d.Configured = true
		stored = view.Values
		d.UpdatedAt = u.s.atPtr(view.UpdatedAt)
	case !errors.Is(err, store.ErrNotFound):
		return d, err
	}
	for _, f := range info.Schema.Fields {
		v := connectorFieldView{Name: f.Name, Label: f.Label, Help: f.Help, Placeholder: f.Placeholder, Required: f.Required,
			Secret: f.Secret, Options: f.Options, MaxLength: f.MaxLength, Default: f.Default}
		if v.MaxLength == 0 {
			v.MaxLength = 1024
		}
		sv, has := stored[f.Name]
		v.Stored = has
		switch {
		case f.Secret:
			v.Input = "password"
		case has:
			v.Value = sv
		default:
			v.Value = f.Default
		}
		if cred != nil && !f.Secret {
			if typed, ok := cred.values[f.Name]; ok {
				v.Value = typed
			}
		}
		if cred != nil {
			v.Error = cred.errors[f.Name]
		}
		if !f.Secret {
			switch f.Type {
			case connectors.TypeURL:
				v.Input = "url"
			case connectors.TypeInteger:
				v.Input = "number"
			case connectors.TypeBoolean:
				v.Input = "checkbox"
			case connectors.TypeEnum:
				v.Input = "select"
				v.AllowEmpty = !f.Required && f.Default == ""
			default:
				v.Input = "text"
			}
		}
		if c := f.ShowWhen; c != nil {
			v.ShowField, v.ShowValues = c.Field, strings.Join(c.Values, " ")
		}
		d.Fields = append(d.Fields, v)
	}
	hideUnusedFields(d.Fields)
	if cred != nil {
		d.FormErrors = cred.notes
	}

	st, err := u.svc.SyncStatus(ctx, info.Name, wh)
	if err != nil {
		return d, err
	}
	var running []connectorRunRow
	d.Circuit = st.Circuit
	d.CircuitRetry = u.s.atPtr(st.Circuit.RetryAt)
	for _, s := range st.States {
		row := connectorSyncRow{SyncType: s.SyncType, Purpose: connectorSyncPurpose(s.SyncType), Status: connectorStatusLabel(s),
			Class: connectorStatusClass(s), LastRun: u.s.atPtr(s.LastSyncedAt), LastSuccess: u.s.atPtr(s.LastSuccessAt),
			Cursor: u.s.atPtr(s.Cursor), Errors: s.ConsecutiveErrors, LastError: connectorErrorText(s.LastErrorMessage),
			LastErrorAt: u.s.atPtr(s.LastErrorAt)}
		if s.Status == store.SyncRunning {
			d.Running = true
			row.StartedAt = u.s.atPtr(s.StartedAt)
			if p := s.Progress; p != nil {
				row.Progress = &connectorProgress{Attempt: p.Attempt, Synced: p.RecordsSynced, Failed: p.RecordsFailed,
					RunError: connectorErrorText(p.Error), Records: s.SyncType != connectors.SyncFulfillment}
			}
		}
		row.Schedule = connectorScheduleForm{Mode: "off", IntervalValue: "15", IntervalUnit: "minutes", Enabled: true, Summary: "off"}
		for _, sc := range st.Schedules {
			if sc.SyncType != s.SyncType {
				continue
			}
			f := &row.Schedule
			f.Enabled, f.Summary, f.UpdatedBy = sc.Enabled, connectorScheduleSummary(sc), sc.UpdatedBy
			f.NextRun, f.LastRun = u.s.at(sc.NextRunAt), u.s.atPtr(sc.LastRunAt)
			if sc.Cron != "" {
				f.Mode, f.Cron = "cron", sc.Cron
			} else {
				f.Mode = "interval"
				f.IntervalValue, f.IntervalUnit = connectorSplitInterval(sc.IntervalSeconds)
			}
		}
		if sched != nil && sched.syncType == s.SyncType {
			keep := row.Schedule
			row.Schedule = sched.form
			row.Schedule.Summary, row.Schedule.NextRun, row.Schedule.LastRun, row.Schedule.UpdatedBy =
				keep.Summary, keep.NextRun, keep.LastRun, keep.UpdatedBy
		}
		d.Syncs = append(d.Syncs, row)
		if s.Status == store.SyncRunning {
			// A run is written to the history when it ends; until then
			// it heads the history from its sync state.
			run := connectorRunRow{RunID: s.RunID, Short: s.RunID, SyncType: s.SyncType, Started: u.s.atPtr(s.StartedAt),
				Duration: "running", Status: "running", Class: "warn"}
			if len(run.Short) > 8 {
				run.Short = run.Short[:8]
			}
			var notes []string
			if p := row.Progress; p != nil {
				run.Trigger, run.Synced, run.Failed = s.Progress.Trigger, p.Synced, p.Failed
				if p.Attempt > 1 {
					notes = append(notes, fmt.Sprintf("attempt %d", p.Attempt))
				}
			}
			if s.HeartbeatAt != nil {
				notes = append(notes, "alive: last heartbeat "+relTime(u.s.clock.Now(), *s.HeartbeatAt))
			}
			run.Message = strings.Join(notes, "; ")
			running = append(running, run)
		}
	}
	d.Runs = append(running, d.Runs...)
	if sched != nil {
		d.ScheduleError = sched.summary
	}

	if d.Fulfillment {
		for _, status := range []store.FulfillmentStatus{store.FulfillmentFailed, store.FulfillmentPending, store.FulfillmentSkipped} {
			ps, err := u.svc.Fulfillments(ctx, info.Name, wh, string(status), 50)
			if err != nil {
				return d, err
			}
			for _, p := range ps {
				row := connectorPushRow{ID: p.ID, OrderID: p.OrderID, OrderNumber: p.OrderNumber, Status: string(p.Status),
					Class: connectorPushClass(p.Status), Attempts: p.Attempts, LastError: connectorErrorText(p.LastError),
					Created: u.s.at(p.CreatedAt), CanRetry: p.Status == store.FulfillmentFailed || p.Status == store.FulfillmentSkipped}
				row.Shipment = strings.TrimSpace(p.Carrier + " " + p.Tracking)
				if p.Status == store.FulfillmentPending {
					row.NextAttempt = u.s.at(p.NextAttemptAt)
				}
				d.Pushes = append(d.Pushes, row)
			}
		}
	}
	return d, nil
}

// hideUnusedFields hides the fields whose condition the form's current
// values (typed, else stored, else default) do not meet, such as the
// settings of the auth mode not in use. A field with an error stays shown.
func hideUnusedFields(fs []connectorFieldView) {
	cur := map[string]string{}
	for _, f := range fs {
		cur[f.Name] = f.Value
	}
	for i, f := range fs {
		if f.ShowField != "" && f.Error == "" {
			fs[i].Hidden = !slices.Contains(strings.Fields(f.ShowValues), cur[f.ShowField])
		}
	}
}
