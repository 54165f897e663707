package web

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"sentryhub/dispatcher"
	"sentryhub/store"
	"sentryhub/store/vault"
)

// The webhook admin pages. Every change goes through the same
// WebhookService calls as the JSON API, so it is validated and audited the
// same way; each POST answers with a redirect (post/redirect/get) and a
// flash message, except a form with invalid input, which is rendered again
// with its values and an error naming each bad field.

// webhookUI serves the pages over svc.
type webhookUI struct {
	s       *Server
	svc     WebhookService
	reveals *revealStore[whReveal]
}

// webhookUIRoutes registers the /webhooks pages. SetWebhooks calls it.
func (s *Server) webhookUIRoutes(svc WebhookService) {
	u := &webhookUI{s: s, svc: svc, reveals: newRevealStore[whReveal]()}
	m := s.mux
	m.Handle("GET /webhooks", s.page(u.list))
	m.Handle("POST /webhooks", s.page(u.create))
	m.Handle("GET /webhooks/errors", s.page(u.errorsPage))
	m.Handle("GET /webhooks/{id}", s.page(u.detail))
	m.Handle("POST /webhooks/{id}", s.page(u.update))
	m.Handle("POST /webhooks/{id}/pause", s.page(u.pause))
	m.Handle("POST /webhooks/{id}/resume", s.page(u.resume))
	m.Handle("POST /webhooks/{id}/rotate-secret", s.page(u.rotate))
	m.Handle("POST /webhooks/{id}/deliveries/{delivery}/replay", s.page(u.replay))
	m.Handle("POST /webhooks/{id}/replay-batch", s.page(u.replayBatch))
	m.Handle("GET /webhooks/{id}/delete", s.page(u.deleteConfirm))
	m.Handle("POST /webhooks/{id}/delete", s.page(u.delete))
}

// Page sizes of the detail page's delivery tables.
const (
	whDeliveryPage = 20
	whDLQPage      = 20
	whErrorsPage   = 100
)

// ---- flash messages and the one-time secret ----

// whRevealPrefix marks a reveal nonce as a webhook secret's.
const whRevealPrefix = "secret:"

// whReveal is a new signing secret waiting to be shown once.
type whReveal struct {
	sub         int64
	name        string
	secret      vault.Secret
	standard    bool
	rotated     bool
	prevExpires time.Time
}

// redirect queues messages (and optionally a secret reveal nonce) for the
// next page and redirects there.
func (u *webhookUI) redirect(w http.ResponseWriter, r *http.Request, to string, reveal string, msgs ...flash) error {
	if reveal != "" {
		reveal = whRevealPrefix + reveal
	}
	return u.s.seeOtherReveal(w, r, to, reveal, msgs...)
}

// takeFlash returns and clears the pending messages and the secret to show,
// if any. A secret shown here is gone from the server afterwards.
func (u *webhookUI) takeFlash(w http.ResponseWriter, r *http.Request) ([]flash, *whSecretView) {
	out, nonce := u.s.takeFlashes(w, r)
	nonce, ok := strings.CutPrefix(nonce, whRevealPrefix)
	if !ok || nonce == "" {
		return out, nil
	}
	if rv, ok := u.reveals.take(u.s.clock.Now(), nonce, principal(r.Context()).User.ID); ok {
		return out, u.secretView(rv)
	}
	return append(out, flash{Kind: "warn", Text: "The new secret can no longer be shown: it is shown once, " +
		"within 10 minutes, to the admin who created it. Rotate the secret to get a new one."}), nil
}

func (u *webhookUI) secretView(rv whReveal) *whSecretView {
	key := rv.secret.Reveal()
	v := &whSecretView{SubID: rv.sub, SubName: rv.name, Secret: string(key), Rotated: rv.rotated}
	if rv.standard {
		v.Standard = dispatcher.StandardSecret(rv.secret)
	}
	clear(key)
	if rv.rotated {
		v.PrevExpires = u.s.at(rv.prevExpires)
	}
	return v
}

// ---- forms ----

// fieldLabels names the API's field keys the way the forms label them.
var fieldLabels = map[string]string{
	"name":                              "Name",
	"url":                               "URL",
	"subscription_filter.event_types":   "Event types",
	"subscription_filter.warehouse_ids": "Warehouse ids",
	"subscription_filter.aggregate_external_id_allowlist": "Aggregate id allowlist",
	"pending_ceiling":    "Pending ceiling",
	"dlq_ceiling":        "DLQ ceiling",
	"rate_limit_per_sec": "Rate limit",
	"max_in_flight":      "Max in flight",
	"standard_webhooks":  "Standard Webhooks",
	"ordering":           "Ordering",
	"status":             "Status",
	"from_event_id":      "From event id",
	"to_event_id":        "To event id",
	"confirm_name":       "Confirmation",
	"body":               "Form",
}

func fieldLabel(field string) string {
	if l, ok := fieldLabels[field]; ok {
		return l
	}
	return field
}

// whForm is the subscription form (create, or settings on the detail page)
// as the user typed it, so a refused form comes back unchanged.
type whForm struct {
	Name           string
	URL            string
	EventTypes     []string
	WarehouseIDs   string
	AggregateIDs   string
	PendingCeiling string
	DLQCeiling     string
	RateLimit      string
	MaxInFlight    string
	Standard       bool
	Ordering       string // "" (a form without the field): default on create, unchanged on save
	Errors         map[string]string
}

func (f whForm) Err(field string) string { return f.Errors[field] }

func (f whForm) HasType(t string) bool { return slices.Contains(f.EventTypes, t) }

func newWhForm() whForm {
	return whForm{PendingCeiling: itoa(store.DefaultPendingCeiling), DLQCeiling: itoa(store.DefaultDLQCeiling),
		RateLimit: "0", MaxInFlight: strconv.Itoa(store.DefaultMaxInFlight), Ordering: store.DefaultOrdering}
}

func whFormFromSub(s store.Subscription) whForm {
	ws := make([]string, len(s.Filter.WarehouseIDs))
	for i, w := range s.Filter.WarehouseIDs {
		ws[i] = itoa(w)
	}
	return whForm{Name: s.Name, URL: s.URL, EventTypes: slices.Clone(s.Filter.EventTypes),
		WarehouseIDs: strings.Join(ws, ", "), AggregateIDs: strings.Join(s.Filter.AggregateIDs, "\n"),
		PendingCeiling: itoa(s.PendingCeiling), DLQCeiling: itoa(s.DLQCeiling),
		RateLimit: strconv.FormatFloat(s.RateLimitPerSec, 'f', -1, 64), MaxInFlight: strconv.Itoa(s.MaxInFlight),
		Standard: s.StandardWebhooks, Ordering: s.Ordering}
}

func whFormFromPost(v url.Values) whForm {
	return whForm{
		Name: v.Get("name"), URL: strings.TrimSpace(v.Get("url")), EventTypes: v["event_type"],
		WarehouseIDs: v.Get("warehouse_ids"), AggregateIDs: v.Get("aggregate_ids"),
		PendingCeiling: strings.TrimSpace(v.Get("pending_ceiling")), DLQCeiling: strings.TrimSpace(v.Get("dlq_ceiling")),
		RateLimit: strings.TrimSpace(v.Get("rate_limit_per_sec")), MaxInFlight: strings.TrimSpace(v.Get("max_in_flight")),
		Standard: v.Get("standard_webhooks") != "", Ordering: strings.TrimSpace(v.Get("ordering")),
	}
}

// whSplit splits a list typed as commas, spaces or lines.
func whSplit(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}

// whFilter parses the filter fields; errors go into fields under the API's
// keys. Event type and UUID checks are the store's.
func whFilter(types []string, warehouses, aggregates string, fields map[string]string) store.SubscriptionFilter {
	f := store.SubscriptionFilter{EventTypes: []string{}, WarehouseIDs: []int64{}, AggregateIDs: []string{}}
	for _, t := range types {
		if t = strings.TrimSpace(t); t != "" {
			f.EventTypes = append(f.EventTypes, t)
		}
	}
	for _, w := range whSplit(warehouses) {
		n, err := strconv.ParseInt(w, 10, 64)
		if err != nil {
			fields["subscription_filter.warehouse_ids"] = fmt.Sprintf("%q is not a warehouse id: give whole numbers separated by commas", whClip(w))
			break
		}
		f.WarehouseIDs = append(f.WarehouseIDs, n)
	}
	f.AggregateIDs = append(f.AggregateIDs, whSplit(aggregates)...)
	return f
}

func whClip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func whInt(field, v string, fields map[string]string) *int64 {
	if v == "" {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		fields[field] = fmt.Sprintf("%q is not a whole number", whClip(v))
		return nil
	}
	return &n
}

func whFloat(field, v string, fields map[string]string) *float64 {
	if v == "" {
		return nil
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(n, 0) || math.IsNaN(n) {
		fields[field] = fmt.Sprintf("%q is not a number", whClip(v))
		return nil
	}
	return &n
}

// create turns the form into the API's create body. Empty numeric fields
// take the API's defaults.
func (f whForm) create() (store.SubscriptionCreate, map[string]string) {
	fields := map[string]string{}
	filter := whFilter(f.EventTypes, f.WarehouseIDs, f.AggregateIDs, fields)
	in := store.SubscriptionCreate{Name: f.Name, URL: f.URL, Filter: &filter,
		PendingCeiling:   whInt("pending_ceiling", f.PendingCeiling, fields),
		DLQCeiling:       whInt("dlq_ceiling", f.DLQCeiling, fields),
		RateLimitPerSec:  whFloat("rate_limit_per_sec", f.RateLimit, fields),
		StandardWebhooks: f.Standard}
	if f.Ordering != "" {
		o := f.Ordering
		in.Ordering = &o
	}
	if mif := whInt("max_in_flight", f.MaxInFlight, fields); mif != nil {
		if *mif < math.MinInt32 || *mif > math.MaxInt32 {
			fields["max_in_flight"] = fmt.Sprintf("must be between 1 and %d", store.MaxMaxInFlight)
		} else {
			n := int(*mif)
			in.MaxInFlight = &n
		}
	}
	return in, fields
}

// patch turns the settings form into a PATCH of the fields that differ
// from cur, so an unchanged URL is not checked again and the audit diff
// holds only real changes.
func (f whForm) patch(cur store.Subscription) (store.SubscriptionPatch, map[string]string) {
	fields := map[string]string{}
	var p store.SubscriptionPatch
	if name := strings.TrimSpace(f.Name); name != cur.Name {
		p.Name = &name
	}
	if f.URL != cur.URL {
		u := f.URL
		p.URL = &u
	}
	filter := whFilter(f.EventTypes, f.WarehouseIDs, f.AggregateIDs, fields)
	if !whSameFilter(filter, cur.Filter) {
		p.Filter = &filter
	}
	required := func(field, v string) string {
		if v == "" {
			fields[field] = "is required"
		}
		return v
	}
	if n := whInt("pending_ceiling", required("pending_ceiling", f.PendingCeiling), fields); n != nil && *n != cur.PendingCeiling {
		p.PendingCeiling = n
	}
	if n := whInt("dlq_ceiling", required("dlq_ceiling", f.DLQCeiling), fields); n != nil && *n != cur.DLQCeiling {
		p.DLQCeiling = n
	}
	if n := whFloat("rate_limit_per_sec", required("rate_limit_per_sec", f.RateLimit), fields); n != nil && *n != cur.RateLimitPerSec {
		p.RateLimitPerSec = n
	}
	if n := whInt("max_in_flight", required("max_in_flight", f.MaxInFlight), fields); n != nil && *n != int64(cur.MaxInFlight) {
		if *n < math.MinInt32 || *n > math.MaxInt32 {
			fields["max_in_flight"] = fmt.Sprintf("must be between 1 and %d", store.MaxMaxInFlight)
		} else {
			m := int(*n)
			p.MaxInFlight = &m
		}
	}
	if f.Standard != cur.StandardWebhooks {
		std := f.Standard
		p.StandardWebhooks = &std
	}
	if f.Ordering != "" && f.Ordering != cur.Ordering {
		o := f.Ordering
		p.Ordering = &o
	}
	return p, fields
}

// whSameFilter compares a typed filter with a stored (normalized) one,
// ignoring order, duplicates and the case of aggregate ids.
func whSameFilter(a, b store.SubscriptionFilter) bool {
	norm := func(f store.SubscriptionFilter) store.SubscriptionFilter {
		out := store.SubscriptionFilter{EventTypes: slices.Clone(f.EventTypes), WarehouseIDs: slices.Clone(f.WarehouseIDs)}
		for _, a := range f.AggregateIDs {
			out.AggregateIDs = append(out.AggregateIDs, strings.ToLower(a))
		}
		slices.Sort(out.EventTypes)
		slices.Sort(out.WarehouseIDs)
		slices.Sort(out.AggregateIDs)
		out.EventTypes = slices.Compact(out.EventTypes)
		out.WarehouseIDs = slices.Compact(out.WarehouseIDs)
		out.AggregateIDs = slices.Compact(out.AggregateIDs)
		return out
	}
	x, y := norm(a), norm(b)
	return slices.Equal(x.EventTypes, y.EventTypes) && slices.Equal(x.WarehouseIDs, y.WarehouseIDs) &&
		slices.Equal(x.AggregateIDs, y.AggregateIDs)
}

// whBatchForm is the replay-batch form as typed.
type whBatchForm struct {
	Mode         string // "dead" or "range"
	From, To     string
	EventTypes   []string
	WarehouseIDs string
	AggregateIDs string
	Errors       map[string]string
}

func (f whBatchForm) Err(field string) string { return f.Errors[field] }

func (f whBatchForm) HasType(t string) bool { return slices.Contains(f.EventTypes, t) }

func (f whBatchForm) query() (store.ReplayQuery, map[string]string) {
	fields := map[string]string{}
	q := store.ReplayQuery{Filter: whFilter(f.EventTypes, f.WarehouseIDs, f.AggregateIDs, fields)}
	if f.Mode == "dead" {
		q.Status = store.DeliveryDead
	}
	if n := whInt("from_event_id", f.From, fields); n != nil {
		q.FromEventID = *n
	}
	if n := whInt("to_event_id", f.To, fields); n != nil {
		q.ToEventID = *n
	}
	return q, fields
}

// ---- view models ----

// whStatus explains a subscription's status in words.
type whStatus struct {
	Label   string // active, paused
	Badge   string // ok, warn, bad
	Reason  string // pause_reason as sent by the API
	Explain string
	// Ceiling is set when the pause is automatic: lifting the ceiling
	// does not resume the subscription.
	Ceiling bool
}

func whStatusOf(s store.Subscription, secretOK bool, pending, dead int64) whStatus {
	if !secretOK {
		return whStatus{Label: "secret unreadable", Badge: "bad", Reason: string(s.PauseReason), Explain: whSecretUnreadable}
	}
	if s.Status != store.SubscriptionPaused {
		return whStatus{Label: "active", Badge: "ok",
			Explain: "Active: new matching events are fanned out to deliveries and sent as they commit."}
	}
	st := whStatus{Label: "paused", Badge: "warn", Reason: string(s.PauseReason)}
	switch s.PauseReason {
	case store.PausePendingCeiling:
		st.Badge, st.Ceiling = "bad", true
		st.Explain = fmt.Sprintf("Paused automatically when its open deliveries (pending + in flight) reached the pending ceiling: "+
			"the consumer is failing or not keeping up. Now %d open, ceiling %d. Nothing is sent, retried or fanned out; no event is skipped.",
			pending, s.PendingCeiling)
	case store.PauseDLQCeiling:
		st.Badge, st.Ceiling = "bad", true
		st.Explain = fmt.Sprintf("Paused automatically when its dead-lettered deliveries reached the DLQ ceiling. Now %d dead, ceiling %d. "+
			"Triage the dead-letter queue below, fix the consumer, replay, then resume.", dead, s.DLQCeiling)
	default:
		st.Explain = "Paused by an admin. Nothing is sent, retried or fanned out until it is resumed; " +
			"resuming continues exactly where it stopped, so no event is skipped."
	}
	return st
}

// whSecretUnreadable explains a subscription the dispatcher holds back
// because its signing secret does not open with the hub's key.
const whSecretUnreadable = "Not sending: its signing secret cannot be decrypted with this hub's encryption key " +
	"(it was sealed under another SENTRY_ENCRYPTION_KEY, or the row is damaged). Its deliveries wait; nothing is lost. " +
	"Restart the hub with the key that sealed it, or rotate the secret here and give the consumer the new one."

// whPauseShort is the list page's one-line version of the pause reason.
func whPauseShort(reason string) string {
	switch store.PauseReason(reason) {
	case store.PausePendingCeiling:
		return "automatically: pending ceiling reached"
	case store.PauseDLQCeiling:
		return "automatically: DLQ ceiling reached"
	case store.PauseManual:
		return "by an admin"
	}
	return reason
}

type whRow struct {
	ID              int64
	Name, URL       string
	Status          whStatus
	PauseShort      string
	Filter          string
	Pending         int64
	PendingCeiling  int64
	PendingHigh     bool
	Dead            int64
	DLQCeiling      int64
	DeadHigh        bool
	LastFailureKind string
	LastFailureCode int
	LastFailure     when
	LastFailureMsg  string
	LastSuccess     when
}

type whListData struct {
	Layout    layoutData
	Flashes   []flash
	Secret    *whSecretView
	CanWrite  bool
	Rows      []whRow
	Failing   int64
	Catalog   []catalogEntry
	Form      whForm
	FormError []string
}

type whSecretView struct {
	SubID       int64
	SubName     string
	Secret      string
	Standard    string
	Rotated     bool
	PrevExpires when
}

type whAttemptRow struct {
	At       when
	Duration string
	Code     int
	Kind     string
}

type whDeliveryRow struct {
	ID            int64
	EventID       int64
	EventType     string
	AggregateType string
	AggregateID   string
	Status        string
	Badge         string
	Attempts      int
	Created       when
	LastAttempt   when
	NextAttempt   when
	Completed     when
	Code          int
	Kind          string
	Message       string
	Hint          string
	ReplayOf      int64
	CanReplay     bool
	History       []whAttemptRow
}

type whStatsView struct {
	Open, Pending, InFlight, Succeeded, Dead, Replayed int64
	SuccessRate, AttemptRate                           string
	Samples                                            int
	P50, P95, P99                                      string
	LastSuccess, LastFailure                           when
	LastFailureKind                                    string
	LastFailureCode                                    int
	LastFailureMsg, LastFailureHint                    string
}

type whDetailData struct {
	Layout        layoutData
	Flashes       []flash
	Secret        *whSecretView
	CanWrite      bool
	Sub           store.Subscription
	Status        whStatus
	Filter        string
	PrevExpires   when
	Stats         whStatsView
	Catalog       []catalogEntry
	Settings      whForm
	SettingsError []string
	// Deliveries is the page of the delivery history being viewed.
	Deliveries     []whDeliveryRow
	DeliveryStatus string
	Before         int64
	NextBefore     int64
	DLQ            []whDeliveryRow
	DLQMore        bool
	Batch          whBatchForm
	BatchError     []string
}

type whDeleteData struct {
	Layout   layoutData
	Sub      store.Subscription
	Stats    whStatsView
	Typed    string
	Error    string
	CanWrite bool
}

type whErrorsData struct {
	Layout  layoutData
	Kind    string
	Kinds   []store.ErrorKind
	Summary []store.WebhookErrorSummary
	Rows    []whErrorRow
	Catalog []store.ErrorCatalogEntry
	Total   int64
}

type whErrorRow struct {
	DeliveryID, SubID, EventID int64
	SubName, EventType, Status string
	Attempts                   int
	LastAttempt, NextAttempt   when
	Code                       int
	Kind, Message, Hint        string
}

// whFilterText summarizes a filter in words.
func whFilterText(f store.SubscriptionFilter) string {
	if f.IsZero() {
		return "every event"
	}
	var parts []string
	if len(f.EventTypes) > 0 {
		parts = append(parts, strings.Join(f.EventTypes, ", "))
	} else {
		parts = append(parts, "every event type")
	}
	if len(f.WarehouseIDs) > 0 {
		ws := make([]string, len(f.WarehouseIDs))
		for i, w := range f.WarehouseIDs {
			ws[i] = itoa(w)
		}
		parts = append(parts, "in warehouse "+strings.Join(ws, ", "))
	}
	if n := len(f.AggregateIDs); n > 0 {
		parts = append(parts, fmt.Sprintf("for %d listed aggregate id(s)", n))
	}
	return strings.Join(parts, " ")
}

func whPercent(r *float64) string {
	if r == nil {
		return "—"
	}
	return strconv.FormatFloat(*r*100, 'f', 1, 64) + "%"
}

func whMS(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) + " ms" }

func (u *webhookUI) statsView(st store.WebhookStats) whStatsView {
	v := whStatsView{
		Pending: st.Counts[store.DeliveryPending], InFlight: st.Counts[store.DeliveryInFlight],
		Succeeded: st.Counts[store.DeliverySucceeded], Dead: st.Counts[store.DeliveryDead],
		Replayed: st.Counts[store.DeliveryReplayed], SuccessRate: whPercent(st.SuccessRate),
		AttemptRate: whPercent(st.AttemptSuccessRate), Samples: st.Latency.Samples,
		P50: whMS(st.Latency.P50MS), P95: whMS(st.Latency.P95MS), P99: whMS(st.Latency.P99MS),
		LastSuccess: u.s.atStorePtr(st.LastSuccessAt), LastFailure: u.s.atStorePtr(st.LastFailureAt),
	}
	v.Open = v.Pending + v.InFlight
	if st.LastFailureKind != nil {
		v.LastFailureKind = *st.LastFailureKind
	}
	if st.LastFailureStatus != nil {
		v.LastFailureCode = *st.LastFailureStatus
	}
	if st.LastFailure != nil {
		v.LastFailureMsg, v.LastFailureHint = st.LastFailure.Message, st.LastFailure.Hint
	}
	return v
}

func whDeliveryBadge(d store.Delivery) string {
	switch d.Status {
	case store.DeliverySucceeded:
		return "ok"
	case store.DeliveryDead:
		return "bad"
	case store.DeliveryPending, store.DeliveryInFlight:
		if d.LastErrorKind != nil {
			return "warn"
		}
	}
	return ""
}

func (u *webhookUI) deliveryRow(d store.Delivery) whDeliveryRow {
	row := whDeliveryRow{ID: d.ID, EventID: d.EventID, EventType: d.EventType, AggregateType: d.AggregateType,
		AggregateID: d.AggregateID, Status: string(d.Status), Badge: whDeliveryBadge(d), Attempts: d.Attempts,
		Created: u.s.atStore(d.CreatedAt), LastAttempt: u.s.atStorePtr(d.LastAttemptAt), Completed: u.s.atStorePtr(d.CompletedAt),
		CanReplay: d.Status != store.DeliveryPending && d.Status != store.DeliveryInFlight}
	if d.Status == store.DeliveryPending {
		row.NextAttempt = u.s.atStorePtr(d.NextAttemptAt)
	}
	if d.LastStatusCode != nil {
		row.Code = *d.LastStatusCode
	}
	if d.LastErrorKind != nil {
		row.Kind = string(*d.LastErrorKind)
		if d.LastError != nil {
			row.Message, row.Hint = d.LastError.Message, d.LastError.Hint
		}
	}
	if d.ReplayOf != nil {
		row.ReplayOf = *d.ReplayOf
	}
	for _, a := range d.History {
		row.History = append(row.History, whAttemptRow{At: u.s.atStore(a.At), Duration: strconv.FormatInt(a.DurationMS, 10) + " ms",
			Code: a.StatusCode, Kind: string(a.ErrorKind)})
	}
	return row
}

func (u *webhookUI) canWrite(r *http.Request) bool {
	return principal(r.Context()).User.Role == store.RoleAdmin
}

// ---- list and create ----

func (u *webhookUI) listData(r *http.Request) (whListData, error) {
	ctx := r.Context()
	subs, err := u.svc.Subscriptions(ctx)
	if err != nil {
		return whListData{}, err
	}
	d := whListData{Layout: u.s.layoutFor(r, "Webhooks", "/webhooks"), CanWrite: u.canWrite(r), Catalog: u.s.catalog, Form: newWhForm()}
	for _, s := range subs {
		// Stats is one index count per status plus a bounded latency sample;
		// a hub has few subscriptions.
		st, err := u.svc.Stats(ctx, s.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return d, err
		}
		readable, err := u.svc.SecretReadable(ctx, s.ID)
		if err != nil {
			return d, err
		}
		pending := st.Counts[store.DeliveryPending] + st.Counts[store.DeliveryInFlight]
		dead := st.Counts[store.DeliveryDead]
		row := whRow{ID: s.ID, Name: s.Name, URL: s.URL, Status: whStatusOf(s, readable, pending, dead), PauseShort: whPauseShort(string(s.PauseReason)),
			Filter: whFilterText(s.Filter), Pending: pending, PendingCeiling: s.PendingCeiling, PendingHigh: pending*5 >= s.PendingCeiling*4,
			Dead: dead, DLQCeiling: s.DLQCeiling, DeadHigh: dead*5 >= s.DLQCeiling*4,
			LastFailure: u.s.atStorePtr(s.LastFailureAt), LastSuccess: u.s.atStorePtr(s.LastSuccessAt)}
		if s.LastFailureKind != nil {
			row.LastFailureKind = *s.LastFailureKind
			row.LastFailureMsg = store.ErrorKind(*s.LastFailureKind).Entry().Message
		}
		if s.LastFailureStatus != nil {
			row.LastFailureCode = *s.LastFailureStatus
		}
		d.Rows = append(d.Rows, row)
	}
	_, summary, err := u.svc.Errors(ctx, store.WebhookErrorQuery{Limit: 1})
	if err != nil {
		return d, err
	}
	for _, s := range summary {
		d.Failing += s.Count
	}
	return d, nil
}

func (u *webhookUI) list(w http.ResponseWriter, r *http.Request) error {
	d, err := u.listData(r)
	if err != nil {
		return err
	}
	d.Flashes, d.Secret = u.takeFlash(w, r)
	return u.s.render(w, r, http.StatusOK, webhooksPage(d))
}

func (u *webhookUI) create(w http.ResponseWriter, r *http.Request) error {
	if err := u.s.requireAdminUser(r); err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badRequest("invalid form", nil)
	}
	f := whFormFromPost(r.PostForm)
	in, fields := f.create()
	var ve *store.ValidationError
	if len(fields) == 0 {
		sub, sec, err := u.svc.CreateSubscription(r.Context(), principal(r.Context()).Actor(), in)
		if err == nil {
			nonce := u.reveals.put(u.s.clock.Now(), principal(r.Context()).User.ID, whReveal{sub: sub.ID, name: sub.Name,
				secret: sec, standard: sub.StandardWebhooks})
			return u.redirect(w, r, "/webhooks/"+itoa(sub.ID), nonce, flash{Kind: "ok",
				Text: fmt.Sprintf("Subscription “%s” created. It receives the matching events committed from now on.", sub.Name)})
		}
		if !errors.As(err, &ve) {
			return err
		}
		fields = ve.Fields
	} else if _, err := in.Normalize(true); errors.As(err, &ve) {
		// Report the other fields' problems too, not one round at a time.
		for k, v := range ve.Fields {
			if _, ok := fields[k]; !ok {
				fields[k] = v
			}
		}
	}
	d, err := u.listData(r)
	if err != nil {
		return err
	}
	f.Errors = fields
	d.Form, d.FormError = f, fieldList(fields)
	return u.s.render(w, r, http.StatusUnprocessableEntity, webhooksPage(d))
}

// ---- detail ----

func (u *webhookUI) detailData(r *http.Request, id int64) (whDetailData, error) {
	ctx := r.Context()
	sub, err := u.svc.Subscription(ctx, id)
	if err != nil {
		return whDetailData{}, err
	}
	st, err := u.svc.Stats(ctx, id)
	if err != nil {
		return whDetailData{}, err
	}
	exp, err := u.svc.PreviousSecretExpiry(ctx, id)
	if err != nil {
		return whDetailData{}, err
	}
	readable, err := u.svc.SecretReadable(ctx, id)
	if err != nil {
		return whDetailData{}, err
	}
	sv := u.statsView(st)
	d := whDetailData{Layout: u.s.layoutFor(r, sub.Name+" · Webhooks", "/webhooks"), CanWrite: u.canWrite(r), Sub: sub,
		Status: whStatusOf(sub, readable, sv.Open, sv.Dead), Filter: whFilterText(sub.Filter), PrevExpires: u.s.atTextPtr(exp),
		Stats: sv, Catalog: u.s.catalog, Settings: whFormFromSub(sub), Batch: whBatchForm{Mode: "dead"}}

	q := r.URL.Query()
	d.DeliveryStatus = q.Get("status")
	if d.DeliveryStatus != "" && !slices.Contains(whDeliveryStatuses, d.DeliveryStatus) {
		return d, badRequest("unknown delivery status "+strconv.Quote(whClip(d.DeliveryStatus)),
			map[string]string{"status": "must be one of " + strings.Join(whDeliveryStatuses, ", ")})
	}
	if d.Before, err = queryInt(r, "before", 0, 0, 1<<62); err != nil {
		return d, err
	}
	ds, more, err := u.svc.Deliveries(ctx, id, store.DeliveryQuery{Status: store.DeliveryStatus(d.DeliveryStatus), Before: d.Before, Limit: whDeliveryPage})
	if err != nil {
		return d, err
	}
	for _, x := range ds {
		d.Deliveries = append(d.Deliveries, u.deliveryRow(x))
	}
	if more && len(ds) > 0 {
		d.NextBefore = ds[len(ds)-1].ID
	}
	dlq, more, err := u.svc.Deliveries(ctx, id, store.DeliveryQuery{Status: store.DeliveryDead, Limit: whDLQPage})
	if err != nil {
		return d, err
	}
	for _, x := range dlq {
		d.DLQ = append(d.DLQ, u.deliveryRow(x))
	}
	d.DLQMore = more
	return d, nil
}

var whDeliveryStatuses = []string{string(store.DeliveryPending), string(store.DeliveryInFlight), string(store.DeliverySucceeded),
	string(store.DeliveryDead), string(store.DeliveryReplayed)}

// notFound renders the page for a subscription that does not exist (or
// was deleted meanwhile).
func (u *webhookUI) notFound(w http.ResponseWriter, r *http.Request, id int64) error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Message: fmt.Sprintf(
		"there is no webhook subscription %d. It may have been deleted; deletions are in the audit log.", id)}
}

func (u *webhookUI) detail(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	d, err := u.detailData(r, id)
	if errors.Is(err, store.ErrNotFound) {
		return u.notFound(w, r, id)
	}
	if err != nil {
		return err
	}
	d.Flashes, d.Secret = u.takeFlash(w, r)
	return u.s.render(w, r, http.StatusOK, webhookDetailPage(d))
}

// action is the common frame of the detail page's POST handlers: admin
// only, the subscription id from the path, and errors a person can act on
// (validation, conflict, gone) turned into a flash on the page the form
// came from.
func (u *webhookUI) action(w http.ResponseWriter, r *http.Request, fn func(id int64) error) error {
	if err := u.s.requireAdminUser(r); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badRequest("invalid form", nil)
	}
	err = fn(id)
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) {
		// The subscription itself, or only a delivery of it?
		if _, serr := u.svc.Subscription(r.Context(), id); errors.Is(serr, store.ErrNotFound) {
			return u.redirect(w, r, "/webhooks", "", flash{Kind: "error",
				Text: fmt.Sprintf("Webhook subscription %d no longer exists; it may have been deleted.", id)})
		}
	}
	ae := toAPIError(err)
	if ae.Status >= 500 {
		return err
	}
	msg := ae.Message
	if len(ae.Fields) > 0 {
		msg += ": " + strings.Join(fieldList(ae.Fields), "; ")
	}
	return u.redirect(w, r, "/webhooks/"+itoa(id), "", flash{Kind: "error", Text: sentence(msg)})
}

func (u *webhookUI) update(w http.ResponseWriter, r *http.Request) error {
	return u.action(w, r, func(id int64) error {
		ctx := r.Context()
		cur, err := u.svc.Subscription(ctx, id)
		if err != nil {
			return err
		}
		f := whFormFromPost(r.PostForm)
		p, fields := f.patch(cur)
		var ve *store.ValidationError
		if len(fields) == 0 {
			if p.IsEmpty() {
				return u.redirect(w, r, "/webhooks/"+itoa(id), "", flash{Kind: "ok", Text: "Nothing to save: the settings are unchanged."})
			}
			_, hint, err := u.svc.UpdateSubscription(ctx, principal(ctx).Actor(), id, p)
			switch {
			case err == nil:
				msgs := []flash{{Kind: "ok", Text: "Settings saved."}}
				if p.Filter != nil {
					msgs[0].Text += " The new filter applies to events selected from now on; use Replay batch below to backfill older ones."
				}
				if hint != "" {
					msgs = append(msgs, flash{Kind: "warn", Text: "Still paused. The API's hint: " + hint +
						". Here: after triage, press Resume."})
				}
				return u.redirect(w, r, "/webhooks/"+itoa(id), "", msgs...)
			case errors.As(err, &ve):
				fields = ve.Fields
			default:
				return err
			}
		}
		if _, err := p.Apply(cur, true); len(fields) > 0 && errors.As(err, &ve) {
			// Report the other fields' problems too, not one round at a time.
			for k, v := range ve.Fields {
				if _, ok := fields[k]; !ok && k != "body" {
					fields[k] = v
				}
			}
		}
		d, err := u.detailData(r, id)
		if err != nil {
			return err
		}
		f.Errors = fields
		d.Settings, d.SettingsError = f, fieldList(fields)
		return u.s.render(w, r, http.StatusUnprocessableEntity, webhookDetailPage(d))
	})
}

func (u *webhookUI) setStatus(w http.ResponseWriter, r *http.Request, status string) error {
	return u.action(w, r, func(id int64) error {
		ctx := r.Context()
		cur, err := u.svc.Subscription(ctx, id)
		if err != nil {
			return err
		}
		back := "/webhooks/" + itoa(id)
		if cur.Status == store.SubscriptionStatus(status) {
			return u.redirect(w, r, back, "", flash{Kind: "warn", Text: "Subscription “" + cur.Name + "” is already " + status + "."})
		}
		if _, _, err := u.svc.UpdateSubscription(ctx, principal(ctx).Actor(), id, store.SubscriptionPatch{Status: &status}); err != nil {
			return err
		}
		if store.SubscriptionStatus(status) == store.SubscriptionPaused {
			return u.redirect(w, r, back, "", flash{Kind: "ok", Text: "Paused. Nothing is sent or retried until you resume; " +
				"events committed meanwhile wait and are delivered after resuming."})
		}
		msg := "Resumed: delivery continues where it stopped."
		if cur.PauseReason == store.PausePendingCeiling {
			msg += " If the open deliveries are still at the pending ceiling, new events wait until the backlog drains (or it pauses again)."
		}
		return u.redirect(w, r, back, "", flash{Kind: "ok", Text: msg})
	})
}

func (u *webhookUI) pause(w http.ResponseWriter, r *http.Request) error {
	return u.setStatus(w, r, string(store.SubscriptionPaused))
}

func (u *webhookUI) resume(w http.ResponseWriter, r *http.Request) error {
	return u.setStatus(w, r, string(store.SubscriptionActive))
}

func (u *webhookUI) rotate(w http.ResponseWriter, r *http.Request) error {
	return u.action(w, r, func(id int64) error {
		ctx := r.Context()
		sub, err := u.svc.Subscription(ctx, id)
		if err != nil {
			return err
		}
		if ok, err := u.s.confirmed(w, r, "Rotate the signing secret of “"+sub.Name+"”? The new secret signs every request from now on; "+
			"the old one stays valid for 24 hours so the consumer can switch.", "/webhooks/"+itoa(id)); !ok {
			return err
		}
		sec, expires, err := u.svc.RotateSecret(ctx, principal(ctx).Actor(), id)
		if err != nil {
			return err
		}
		nonce := u.reveals.put(u.s.clock.Now(), principal(ctx).User.ID, whReveal{sub: id, name: sub.Name, secret: sec,
			standard: sub.StandardWebhooks, rotated: true, prevExpires: expires})
		return u.redirect(w, r, "/webhooks/"+itoa(id), nonce, flash{Kind: "ok", Text: "Secret rotated."})
	})
}

func (u *webhookUI) replay(w http.ResponseWriter, r *http.Request) error {
	return u.action(w, r, func(id int64) error {
		did, err := pathID(r, "delivery")
		if err != nil {
			return err
		}
		ctx := r.Context()
		d, err := u.svc.Replay(ctx, principal(ctx).Actor(), id, did)
		if err != nil {
			return err
		}
		return u.redirect(w, r, "/webhooks/"+itoa(id), "", flash{Kind: "ok", Text: fmt.Sprintf(
			"Delivery %d queued again as delivery %d (event %d): it is sent at the end of its aggregate's lane, "+
				"with a fresh timestamp and signature and the same body.", did, d.ID, d.EventID)})
	})
}

func (u *webhookUI) replayBatch(w http.ResponseWriter, r *http.Request) error {
	return u.action(w, r, func(id int64) error {
		f := whBatchForm{Mode: r.PostForm.Get("mode"), From: strings.TrimSpace(r.PostForm.Get("from_event_id")),
			To: strings.TrimSpace(r.PostForm.Get("to_event_id")), EventTypes: r.PostForm["event_type"],
			WarehouseIDs: r.PostForm.Get("warehouse_ids"), AggregateIDs: r.PostForm.Get("aggregate_ids")}
		if f.Mode != "range" {
			f.Mode = "dead"
		}
		q, fields := f.query()
		if len(fields) == 0 {
			ctx := r.Context()
			n, err := u.svc.ReplayBatch(ctx, principal(ctx).Actor(), id, q)
			var ve *store.ValidationError
			switch {
			case err == nil:
				msg := flash{Kind: "ok", Text: "Queued " + whCount(int64(n), "delivery", "deliveries") + " again."}
				switch {
				case n == 0 && f.Mode == "dead":
					msg = flash{Kind: "warn", Text: "Nothing queued: no dead delivery matches (the dead-letter queue may be empty)."}
				case n == 0:
					msg = flash{Kind: "warn", Text: "Nothing queued: no event in that range passes the filter."}
				case f.Mode == "dead":
					msg.Text += " Their dead rows are now marked replayed and left the DLQ."
				}
				return u.redirect(w, r, "/webhooks/"+itoa(id), "", msg)
			case errors.As(err, &ve):
				fields = ve.Fields
			default:
				return err
			}
		}
		d, err := u.detailData(r, id)
		if err != nil {
			return err
		}
		f.Errors = fields
		d.Batch, d.BatchError = f, fieldList(fields)
		return u.s.render(w, r, http.StatusUnprocessableEntity, webhookDetailPage(d))
	})
}

// ---- delete ----

func (u *webhookUI) deleteData(r *http.Request, id int64) (whDeleteData, error) {
	sub, err := u.svc.Subscription(r.Context(), id)
	if err != nil {
		return whDeleteData{}, err
	}
	st, err := u.svc.Stats(r.Context(), id)
	if err != nil {
		return whDeleteData{}, err
	}
	return whDeleteData{Layout: u.s.layoutFor(r, "Delete "+sub.Name+" · Webhooks", "/webhooks"), Sub: sub,
		Stats: u.statsView(st), CanWrite: u.canWrite(r)}, nil
}

func (u *webhookUI) deleteConfirm(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	d, err := u.deleteData(r, id)
	if errors.Is(err, store.ErrNotFound) {
		return u.notFound(w, r, id)
	}
	if err != nil {
		return err
	}
	return u.s.render(w, r, http.StatusOK, webhookDeletePage(d))
}

func (u *webhookUI) delete(w http.ResponseWriter, r *http.Request) error {
	return u.action(w, r, func(id int64) error {
		d, err := u.deleteData(r, id)
		if err != nil {
			return err
		}
		d.Typed = r.PostForm.Get("confirm_name")
		if strings.TrimSpace(d.Typed) != d.Sub.Name {
			d.Error = "Confirmation: type the subscription's name, “" + d.Sub.Name + "”, exactly to delete it. Nothing was deleted."
			return u.s.render(w, r, http.StatusUnprocessableEntity, webhookDeletePage(d))
		}
		ctx := r.Context()
		if err := u.svc.DeleteSubscription(ctx, principal(ctx).Actor(), id); err != nil {
			return err
		}
		return u.redirect(w, r, "/webhooks", "", flash{Kind: "ok", Text: fmt.Sprintf(
			"Subscription “%s” deleted. Its secrets are gone and nothing more is sent; its delivery history is purged in the background.", d.Sub.Name)})
	})
}

// ---- errors across subscriptions ----

func (u *webhookUI) errorsPage(w http.ResponseWriter, r *http.Request) error {
	kind := r.URL.Query().Get("kind")
	list, summary, err := u.svc.Errors(r.Context(), store.WebhookErrorQuery{Kind: store.ErrorKind(kind), Limit: whErrorsPage})
	if err != nil {
		return err
	}
	d := whErrorsData{Layout: u.s.layoutFor(r, "Failing deliveries · Webhooks", "/webhooks"), Kind: kind, Kinds: store.ErrorKinds(),
		Summary: summary, Catalog: store.ErrorCatalog()}
	for _, s := range summary {
		d.Total += s.Count
	}
	for _, e := range list {
		row := whErrorRow{DeliveryID: e.DeliveryID, SubID: e.SubscriptionID, EventID: e.EventID, SubName: e.SubscriptionName,
			EventType: e.EventType, Status: string(e.Status), Attempts: e.Attempts, LastAttempt: u.s.atStore(e.LastAttemptAt),
			Kind: string(e.ErrorKind), Message: e.Error.Message, Hint: e.Error.Hint}
		if e.Status == store.DeliveryPending {
			row.NextAttempt = u.s.atStorePtr(e.NextAttemptAt)
		}
		if e.StatusCode != nil {
			row.Code = *e.StatusCode
		}
		d.Rows = append(d.Rows, row)
	}
	return u.s.render(w, r, http.StatusOK, webhookErrorsPage(d))
}

// ---- small helpers for the templates ----

func whHigh(high bool) string {
	if high {
		return "bad"
	}
	return "warn"
}

// whKindBadge colours a failure: dead is final, anything else is retrying.
func whKindBadge(status string) string {
	if status == string(store.DeliveryDead) {
		return "bad"
	}
	return "warn"
}

// whStatusText names a delivery's state: a pending delivery whose last
// attempt failed is retrying.
func whStatusText(status, kind string) string {
	if status == string(store.DeliveryPending) && kind != "" {
		return "pending (retrying)"
	}
	return status
}

func whRate(r float64) string {
	if r == 0 {
		return "no rate limit"
	}
	return strconv.FormatFloat(r, 'f', -1, 64) + " requests/s"
}

// whOrdering describes a subscription's delivery ordering.
func whOrdering(o string) string {
	if o == store.OrderingGlobal {
		return "global: strict event_id order, one at a time"
	}
	return "per aggregate: in order per aggregate, aggregates in parallel"
}

// whInFlight is the detail page's concurrency line: under global ordering
// max_in_flight does not apply.
func whInFlight(s store.Subscription) string {
	if s.Ordering == store.OrderingGlobal {
		return "one at a time (global ordering)"
	}
	return "at most " + strconv.Itoa(s.MaxInFlight) + " in flight"
}

func whYesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func whIfBefore(before int64) string {
	if before == 0 {
		return ""
	}
	return " older than delivery " + itoa(before)
}

// whCount writes n with the singular or plural noun.
func whCount(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return itoa(n) + " " + many
}
