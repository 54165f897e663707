package web

import (
	"fmt"
	"strconv"
	"strings"

	"sentryhub/store"
)

// The view models of the webhook pages and the words they use.

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
	// Rate24h is the share of deliveries created in the last 24 hours
	// that succeeded (of those finished), "—" before any finished.
	Rate24h     string
	Finished24h int64
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
	Layout layoutData
	// Live is set while a delivery on the page is open (pending, retrying
	// or in flight): app.js then refreshes the table until none is.
	Live          bool
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

// whSubOption is a subscription in a filter's select.
type whSubOption struct {
	ID   int64
	Name string
}

type whErrorsData struct {
	Layout   layoutData
	Flashes  []flash
	SubID    int64
	Subs     []whSubOption
	Since    string
	Until    string
	CanWrite bool
	Here     string // this page's URL, where a replay returns
	Kind     string
	Kinds    []store.ErrorKind
	Summary  []store.WebhookErrorSummary
	Rows     []whErrorRow
	Catalog  []store.ErrorCatalogEntry
	Total    int64
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

// count writes n with the singular or plural noun.
func count(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return itoa(n) + " " + many
}
