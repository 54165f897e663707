package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"sentryhub/connectors"
	"sentryhub/store"
)

// The connector admin pages: the browser face of the connector JSON API.
// Every change goes through the same ConnectorService call the API uses, so
// it is validated and audited the same way; a change answers with a redirect
// back to the page and a one-time flash message kept in the session, or,
// when a form was refused, with the page re-rendered around the errors.
// Nothing here needs JavaScript.

// connectorUI holds what the pages need: the server (session, database,
// clock, rendering) and the connector service.
type connectorUI struct {
	s   *Server
	svc ConnectorService
}

// connectorUIRoutes registers the connector pages. Everyone logged in can
// look; only admins can change anything.
func (s *Server) connectorUIRoutes(svc ConnectorService) {
	u := &connectorUI{s: s, svc: svc}
	m := s.mux
	m.Handle("GET /connectors", s.page((u.listPage)))
	m.Handle("GET /connectors/{name}", s.page((u.detailPage)))
	m.Handle("POST /connectors/{name}/credentials", s.page((u.admin(u.saveCredentials))))
	m.Handle("POST /connectors/{name}/credentials/delete", s.page((u.admin(u.deleteCredentials))))
	m.Handle("POST /connectors/{name}/test", s.page((u.admin(u.testConnection))))
	m.Handle("POST /connectors/{name}/sync/{sync_type}", s.page((u.admin(u.syncNow))))
	m.Handle("POST /connectors/{name}/schedules/{sync_type}", s.page((u.admin(u.saveSchedule))))
	m.Handle("POST /connectors/{name}/fulfillments/{id}/retry", s.page((u.admin(u.retryPush))))
}

// admin refuses viewers and parses the form of a state-changing request.
func (u *connectorUI) admin(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := u.s.requireAdminUser(r); err != nil {
			return err
		}
		if err := r.ParseForm(); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return err
			}
			return badRequest("invalid form", nil)
		}
		return h(w, r)
	}
}

func (u *connectorUI) canWrite(r *http.Request) bool {
	return principal(r.Context()).User.Role == store.RoleAdmin
}

// connectorURL is the detail page of connector name for a warehouse, with
// an optional #anchor.
func connectorURL(name string, warehouseID int64, anchor string) string {
	p := "/connectors/" + url.PathEscape(name)
	if warehouseID > 0 {
		p += "?warehouse_id=" + strconv.FormatInt(warehouseID, 10)
	}
	if anchor != "" {
		p += "#" + anchor
	}
	return p
}

// ---- flash messages ----

// redirect sends the browser back to the detail page after a change, to
// the section at anchor, where f is shown.
func (u *connectorUI) redirect(w http.ResponseWriter, r *http.Request, name string, wh int64, anchor string, f flash) error {
	if f.Topic == "" {
		f.Topic = anchor
	}
	return u.s.seeOther(w, r, connectorURL(name, wh, anchor), f)
}

// takeFlashes returns and forgets the pending flash messages.
func (u *connectorUI) takeFlashes(w http.ResponseWriter, r *http.Request) []flash {
	fs, _ := u.s.takeFlashes(w, r)
	return fs
}

// ---- formatting ----

func connectorDuration(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", ms)
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// connectorTitle turns a registry name into a heading: shopify -> Shopify,
// quickbooks_online -> Quickbooks online.
func connectorTitle(name string) string {
	if name == "" {
		return ""
	}
	s := strings.ReplaceAll(name, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// connectorCapabilityLabel: sync_orders -> Sync orders.
func connectorCapabilityLabel(c connectors.Capability) string { return connectorTitle(string(c)) }

// connectorSyncPurpose says what a sync type does, for the operator.
func connectorSyncPurpose(syncType string) string {
	switch syncType {
	case connectors.SyncOrders:
		return "Pulls new and updated orders."
	case connectors.SyncItems:
		return "Pulls the item master (SKUs, names, barcodes)."
	case connectors.SyncInventory:
		return "Pulls inventory levels at this warehouse's location."
	case connectors.SyncFulfillment:
		return "Pushes shipment confirmations of shipped orders back upstream (the queue below)."
	}
	return ""
}

// connectorErrorText is a stored error message fit for one line of a page.
func connectorErrorText(s string) string {
	return connectors.SanitizeMessage(s, connectors.MaxMessageLen)
}

// connectorStatusClass picks the badge colour of a sync state.
func connectorStatusClass(st store.SyncState) string {
	switch {
	case st.Status == store.SyncError:
		return "bad"
	case st.Status == store.SyncRunning || st.ConsecutiveErrors > 0:
		return "warn"
	case st.LastSuccessAt != nil:
		return "ok"
	}
	return ""
}

func connectorRunClass(s store.RunStatus) string {
	switch s {
	case store.RunSuccess:
		return "ok"
	case store.RunFailed:
		return "bad"
	}
	return "warn"
}

func connectorPushClass(s store.FulfillmentStatus) string {
	switch s {
	case store.FulfillmentSucceeded:
		return "ok"
	case store.FulfillmentFailed:
		return "bad"
	}
	return "warn"
}

// ---- list page ----

type connectorsListData struct {
	Layout     layoutData
	Flashes    []flash
	CanWrite   bool
	Warehouses []store.Warehouse
	Connectors []connectorCard
}

type connectorCard struct {
	Name         string
	Title        string
	Capabilities []string
	Fields       int
	Secrets      int
	Rows         []connectorWarehouseRow
}

type connectorWarehouseRow struct {
	WarehouseID int64
	Warehouse   string
	Href        string
	Configured  bool
	Circuit     string
	Syncs       []connectorSyncCell
}

type connectorSyncCell struct {
	SyncType    string
	Status      string
	Class       string
	LastSuccess when
	Errors      int
	LastError   string // shortened for the table; FullError is its title
	FullError   string
}

func connectorWarehouseLabel(w store.Warehouse) string {
	if w.Name == "" || w.Name == w.Code {
		return w.Code
	}
	return w.Code + " — " + w.Name
}

func (u *connectorUI) listPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	whs, err := u.s.db.ListWarehouses(ctx)
	if err != nil {
		return err
	}
	d := connectorsListData{Layout: u.s.layoutFor(r, "Connectors", "/connectors"), CanWrite: u.canWrite(r), Warehouses: whs}
	for _, info := range u.svc.List(ctx) {
		c := connectorCard{Name: info.Name, Title: connectorTitle(info.Name), Fields: len(info.Schema.Fields)}
		for _, cp := range info.Capabilities {
			c.Capabilities = append(c.Capabilities, connectorCapabilityLabel(cp))
		}
		for _, f := range info.Schema.Fields {
			if f.Secret {
				c.Secrets++
			}
		}
		for _, wh := range whs {
			row := connectorWarehouseRow{WarehouseID: wh.ID, Warehouse: connectorWarehouseLabel(wh), Href: connectorURL(info.Name, wh.ID, "")}
			_, err := u.svc.GetCredentials(ctx, info.Name, wh.ID)
			switch {
			case err == nil:
				row.Configured = true
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
			st, err := u.svc.SyncStatus(ctx, info.Name, wh.ID)
			if err != nil {
				return err
			}
			if st.Circuit.State != connectors.BreakerClosed {
				row.Circuit = string(st.Circuit.State)
			}
			for _, s := range st.States {
				row.Syncs = append(row.Syncs, connectorSyncCell{SyncType: s.SyncType, Status: string(s.Status),
					Class: connectorStatusClass(s), LastSuccess: u.s.atPtr(s.LastSuccessAt), Errors: s.ConsecutiveErrors,
					LastError: connectorErrorText(s.LastErrorMessage)})
				if c := &row.Syncs[len(row.Syncs)-1]; len([]rune(c.LastError)) > 120 {
					c.FullError, c.LastError = c.LastError, string([]rune(c.LastError)[:120])+"…"
				}
			}
			c.Rows = append(c.Rows, row)
		}
		d.Connectors = append(d.Connectors, c)
	}
	d.Flashes = u.takeFlashes(w, r)
	return u.s.render(w, r, http.StatusOK, connectorsListPage(d))
}

// ---- detail page ----

type connectorDetailData struct {
	Layout       layoutData
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
	Error      string
}

func (f connectorFieldView) ID() string      { return "field-" + f.Name }
func (f connectorFieldView) ErrorID() string { return "error-" + f.Name }
func (f connectorFieldView) HelpID() string  { return "help-" + f.Name }

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
}

// connectorScheduleForm is the schedule editor of one sync type.
type connectorScheduleForm struct {
	Mode          string // off, interval or cron
	IntervalValue string
	IntervalUnit  string // seconds, minutes, hours or days
	Cron          string
	Enabled       bool
	Summary       string
	NextRun       when
	LastRun       when
	UpdatedBy     string
	Errors        map[string]string // mode, interval, cron, enabled
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

var connectorIntervalUnits = []struct {
	Name    string
	Seconds int64
}{{"days", 86400}, {"hours", 3600}, {"minutes", 60}, {"seconds", 1}}

// connectorSplitInterval shows seconds in the largest unit that divides them.
func connectorSplitInterval(sec int64) (string, string) {
	for _, un := range connectorIntervalUnits {
		if sec%un.Seconds == 0 {
			return strconv.FormatInt(sec/un.Seconds, 10), un.Name
		}
	}
	return strconv.FormatInt(sec, 10), "seconds"
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

// connectorCredentialsInput is what the credentials form sent back after a refusal:
// the non-secret values typed and the errors by field.
type connectorCredentialsInput struct {
	values map[string]string
	errors map[string]string
	notes  []string
}

// connectorScheduleInput is a refused schedule edit.
type connectorScheduleInput struct {
	syncType string
	form     connectorScheduleForm
	summary  string
}

// connectorWarehouseQuery resolves ?warehouse_id=: absent means the first warehouse.
func connectorWarehouseQuery(r *http.Request, whs []store.Warehouse) (int64, error) {
	q := r.URL.Query().Get("warehouse_id")
	if q == "" {
		if len(whs) == 0 {
			return 0, nil
		}
		return whs[0].ID, nil
	}
	id, err := strconv.ParseInt(q, 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("warehouse_id must be a positive integer", map[string]string{"warehouse_id": "must be a positive integer"})
	}
	if !slices.ContainsFunc(whs, func(w store.Warehouse) bool { return w.ID == id }) {
		return 0, &Error{Status: http.StatusNotFound, Code: "not_found", Message: fmt.Sprintf("there is no warehouse %d", id)}
	}
	return id, nil
}

// connectorFormWarehouse reads the warehouse_id every change form carries.
func connectorFormWarehouse(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PostForm.Get("warehouse_id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("warehouse_id must be a positive integer", map[string]string{"warehouse_id": "must be a positive integer"})
	}
	return id, nil
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
	d, err := u.detail(r, info, whs, wh, nil, nil)
	if err != nil {
		return err
	}
	d.ConfirmDelete = d.CanWrite && d.Configured && r.URL.Query().Get("confirm") == "delete"
	u.placeFlashes(&d, u.takeFlashes(w, r))
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
	whs, err := u.s.db.ListWarehouses(r.Context())
	if err != nil {
		return err
	}
	d, err := u.detail(r, info, whs, wh, cred, sched)
	if err != nil {
		return err
	}
	u.placeFlashes(&d, u.takeFlashes(w, r))
	return u.s.render(w, r, http.StatusUnprocessableEntity, connectorDetailPage(d))
}

// detail builds the detail page of info for warehouse wh (0: none exist).
func (u *connectorUI) detail(r *http.Request, info connectors.Info, whs []store.Warehouse, wh int64,
	cred *connectorCredentialsInput, sched *connectorScheduleInput) (connectorDetailData, error) {
	ctx := r.Context()
	d := connectorDetailData{Layout: u.s.layoutFor(r, connectorTitle(info.Name)+" connector", "/connectors"),
		Name: info.Name, Title: connectorTitle(info.Name), CanWrite: u.canWrite(r), Warehouses: whs, WarehouseID: wh,
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
		d.Fields = append(d.Fields, v)
	}
	if cred != nil {
		d.FormErrors = cred.notes
	}

	st, err := u.svc.SyncStatus(ctx, info.Name, wh)
	if err != nil {
		return d, err
	}
	d.Circuit = st.Circuit
	d.CircuitRetry = u.s.atPtr(st.Circuit.RetryAt)
	for _, s := range st.States {
		row := connectorSyncRow{SyncType: s.SyncType, Purpose: connectorSyncPurpose(s.SyncType), Status: string(s.Status),
			Class: connectorStatusClass(s), LastRun: u.s.atPtr(s.LastSyncedAt), LastSuccess: u.s.atPtr(s.LastSuccessAt),
			Cursor: u.s.atPtr(s.Cursor), Errors: s.ConsecutiveErrors, LastError: connectorErrorText(s.LastErrorMessage),
			LastErrorAt: u.s.atPtr(s.LastErrorAt)}
		if s.Status == store.SyncRunning {
			row.StartedAt = u.s.atPtr(s.StartedAt)
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
	}
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

// ---- changes ----

// saveCredentials turns the generated form into the API's credentials
// submission. Its semantics are the API's, where a field left out keeps its
// stored value:
//   - a secret left blank is left out, so the stored secret is kept (and a
//     required one never stored is reported missing); a secret is never sent
//     back to the browser, so blank is the only way to say "keep";
//   - every other field is sent as typed, so emptying a required one is an
//     error rather than silently keeping the old value;
//   - a checkbox sends "false" from a hidden input before it, so unticking
//     it is seen.
func (u *connectorUI) saveCredentials(w http.ResponseWriter, r *http.Request) error {
	info, err := u.svc.Info(r.PathValue("name"))
	if err != nil {
		return err
	}
	wh, err := connectorFormWarehouse(r)
	if err != nil {
		return err
	}
	raw := map[string]json.RawMessage{}
	typed := map[string]string{}
	secretTyped := false
	var emptied []string
	for _, f := range info.Schema.Fields {
		vals, sent := r.PostForm[f.Name]
		if !sent {
			continue
		}
		v := vals[len(vals)-1] // a ticked checkbox follows its hidden "false"
		if f.Secret {
			if v == "" {
				continue
			}
			secretTyped = true
		} else {
			typed[f.Name] = v
			if v == "" && !f.Required {
				emptied = append(emptied, f.Name)
			}
		}
		b, _ := json.Marshal(v)
		raw[f.Name] = b
	}
	view, err := u.svc.PutCredentials(r.Context(), principal(r.Context()).Actor(), info.Name, wh, raw)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		in := &connectorCredentialsInput{values: typed, errors: map[string]string{}}
		n := 0
		for _, k := range slices.Sorted(maps.Keys(ve.Fields)) {
			if _, ok := info.Schema.Field(k); ok {
				in.errors[k] = ve.Fields[k]
				n++
				continue
			}
			in.notes = append(in.notes, k+" "+ve.Fields[k])
		}
		if len(ve.Fields) == 0 {
			in.notes = append(in.notes, ve.Message)
		}
		head := "Credentials not saved; nothing was changed."
		if n > 0 {
			head += fmt.Sprintf(" Fix the %d field(s) marked below.", n)
		}
		in.notes = append([]string{head}, in.notes...)
		if secretTyped {
			in.notes = append(in.notes, "Secret values are never sent back to the browser: type them again.")
		}
		return u.rerender(w, r, info, wh, in, nil)
	}
	if err != nil {
		return err
	}
	f := flash{Kind: "ok", Text: "Credentials saved. Secrets are stored encrypted and shown only as “stored”. Test the connection next."}
	var kept []string
	for _, name := range emptied {
		if view.Values[name] != "" {
			fl, _ := info.Schema.Field(name)
			kept = append(kept, fl.Label)
		}
	}
	if len(kept) > 0 {
		f.Kind = "warn"
		f.Text = "Credentials saved, but " + strings.Join(kept, ", ") + " was left empty and keeps its stored value: " +
			"a saved setting cannot be emptied on its own. Delete the credentials and save them again to clear it."
	}
	return u.redirect(w, r, info.Name, wh, "credentials", f)
}

// deleteCredentials needs confirm=yes; without it, it asks first.
func (u *connectorUI) deleteCredentials(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if _, err := u.svc.Info(name); err != nil {
		return err
	}
	wh, err := connectorFormWarehouse(r)
	if err != nil {
		return err
	}
	if r.PostForm.Get("confirm") != "yes" {
		http.Redirect(w, r, connectorURL(name, wh, "")+"&confirm=delete#delete", http.StatusSeeOther)
		return nil
	}
	err = u.svc.DeleteCredentials(r.Context(), principal(r.Context()).Actor(), name, wh)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return u.redirect(w, r, name, wh, "credentials", flash{Kind: "warn", Text: "There were no credentials to delete."})
	case err != nil:
		return err
	}
	return u.redirect(w, r, name, wh, "credentials", flash{Kind: "ok",
		Text: "Credentials deleted. Syncs and fulfillment pushes of this warehouse will fail until new ones are saved."})
}

func (u *connectorUI) testConnection(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	wh, err := connectorFormWarehouse(r)
	if err != nil {
		return err
	}
	res, err := u.svc.Test(r.Context(), name, wh)
	if err != nil {
		return err // unknown connector or warehouse: there is no page to go back to
	}
	f := flash{Kind: "ok", Topic: "test", Text: "Connection OK: " + res.Message}
	if !res.OK {
		f.Kind, f.Text = "error", "Connection failed: "+res.Message
	}
	return u.redirect(w, r, name, wh, "credentials", f)
}

func (u *connectorUI) syncNow(w http.ResponseWriter, r *http.Request) error {
	name, syncType := r.PathValue("name"), r.PathValue("sync_type")
	wh, err := connectorFormWarehouse(r)
	if err != nil {
		return err
	}
	full := r.PostForm.Get("full") == "1"
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
	msg := fmt.Sprintf("%s %s started (run %s). It runs in the background: reload this page to see it finish in the run history.",
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

func (u *connectorUI) retryPush(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	wh, err := connectorFormWarehouse(r)
	if err != nil {
		return err
	}
	p, err := u.svc.RetryFulfillment(r.Context(), principal(r.Context()).Actor(), name, id)
	var ce *store.ConflictError
	switch {
	case errors.As(err, &ce):
		return u.redirect(w, r, name, wh, "fulfillments", flash{Kind: "warn", Text: ce.Message})
	case errors.Is(err, store.ErrNotFound):
		if _, ierr := u.svc.Info(name); ierr != nil {
			return ierr
		}
		return u.redirect(w, r, name, wh, "fulfillments", flash{Kind: "error", Text: fmt.Sprintf("There is no fulfillment push %d for this connector.", id)})
	case err != nil:
		return err
	}
	return u.redirect(w, r, name, wh, "fulfillments", flash{Kind: "ok",
		Text: fmt.Sprintf("The push of order %s is queued again and will be sent shortly.", p.OrderID)})
}
