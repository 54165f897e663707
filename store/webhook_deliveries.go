package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrorKind classifies a failed delivery attempt. The seven values are the
// wire contract's; only the kind and the HTTP status are ever stored, never
// a response body.
type ErrorKind string

// The error kinds of the consumer contract.
const (
	KindTimeout      ErrorKind = "timeout"
	KindConnection   ErrorKind = "connection"
	KindTLS          ErrorKind = "tls"
	Kind4xx          ErrorKind = "4xx"
	Kind5xx          ErrorKind = "5xx"
	KindSSRFRejected ErrorKind = "ssrf_rejected"
	KindUnknown      ErrorKind = "unknown"
)

// ErrorKinds lists the kinds in catalog order.
func ErrorKinds() []ErrorKind {
	return []ErrorKind{KindTimeout, KindConnection, KindTLS, Kind4xx, Kind5xx, KindSSRFRejected, KindUnknown}
}

// ErrorCatalogEntry is the server-owned explanation of an error kind that
// admins see next to failed deliveries: what happened, and where to look.
// Specifics live in the consumer's own logs; the hub keeps none.
type ErrorCatalogEntry struct {
	Kind    ErrorKind `json:"kind"`
	Message string    `json:"message"`
	Hint    string    `json:"hint"`
}

// Entry returns k's catalog entry (the unknown entry for a value outside
// the seven).
func (k ErrorKind) Entry() ErrorCatalogEntry {
	e := ErrorCatalogEntry{Kind: k}
	switch k {
	case KindTimeout:
		e.Message = "The endpoint did not answer in time."
		e.Hint = "Connecting (DNS, TCP, TLS) took longer than DISPATCHER_HTTP_CONNECT_TIMEOUT_MS, a single read stalled past DISPATCHER_HTTP_READ_TIMEOUT_MS, or the whole exchange exceeded DISPATCHER_HTTP_TIMEOUT_MS. The consumer must return a complete 2xx quickly and do slow work after acknowledging."
	case KindConnection:
		e.Message = "The endpoint could not be reached."
		e.Hint = "DNS did not resolve, the connection was refused or reset, or it closed before a response. Check that the consumer is running and listening on the URL's host and port."
	case KindTLS:
		e.Message = "The TLS handshake or certificate check failed."
		e.Hint = "The certificate is expired, self-signed, issued for another host name, or its chain is incomplete; or the port does not speak TLS. Test the URL with a standard HTTPS client."
	case Kind4xx:
		e.Message = "The endpoint rejected the request (HTTP 4xx)."
		e.Hint = "Usually signature verification failing (wrong secret generation, a re-serialized body, clock skew over 5 minutes), a wrong path (404) or rate limiting (429). The consumer's logs say which."
	case Kind5xx:
		e.Message = "The endpoint failed (HTTP 5xx) or sent a response over 64 KiB."
		e.Hint = "The consumer errored while handling the event, or advertised a Content-Length above 64 KiB (the dispatcher does not read it; the status code is kept as sent). Check the consumer's logs; acknowledge with a small body."
	case KindSSRFRejected:
		e.Message = "The URL resolves to an address the hub may not call."
		e.Hint = "At dispatch time the host resolved to a private, loopback, link-local or otherwise internal address (or is an internal name). Point the subscription at a public address; DNS that changes to an internal address is refused on every attempt."
	default:
		e.Kind = KindUnknown
		e.Message = "The attempt failed in an unclassified way."
		e.Hint = "Includes redirects (3xx): the dispatcher never follows them, so update the subscription to the final URL. Otherwise see the hub's log for this delivery id."
	}
	return e
}

// ErrorCatalog returns every kind's entry.
func ErrorCatalog() []ErrorCatalogEntry {
	var out []ErrorCatalogEntry
	for _, k := range ErrorKinds() {
		out = append(out, k.Entry())
	}
	return out
}

// Attempt is one delivery attempt: when it started, how long it took, and
// its outcome (HTTP status, if any, and the error kind when it failed).
type Attempt struct {
	At         Time      `json:"at"`
	DurationMS int64     `json:"duration_ms"`
	StatusCode int       `json:"status_code,omitempty"`
	ErrorKind  ErrorKind `json:"error_kind,omitempty"`
}

// storedAttempt is an Attempt as kept in attempt_log: short keys, since a
// delivery table holds millions of them.
type storedAttempt struct {
	T  Time      `json:"t"`
	MS int64     `json:"ms"`
	C  int       `json:"c,omitempty"`
	K  ErrorKind `json:"k,omitempty"`
}

func decodeAttemptLog(s string) ([]Attempt, error) {
	var raw []storedAttempt
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("decode attempt log: %w", err)
	}
	out := make([]Attempt, len(raw))
	for i, a := range raw {
		out[i] = Attempt{At: a.T, DurationMS: a.MS, StatusCode: a.C, ErrorKind: a.K}
	}
	return out, nil
}

// Delivery is one delivery row with its event's routing attributes and its
// attempt history.
type Delivery struct {
	ID             int64          `json:"id"`
	SubscriptionID int64          `json:"subscription_id"`
	EventID        int64          `json:"event_id"`
	EventType      string         `json:"event_type"`
	AggregateType  string         `json:"aggregate_type"`
	AggregateID    string         `json:"aggregate_id"`
	Status         DeliveryStatus `json:"status"`
	Attempts       int            `json:"attempts"`
	NextAttemptAt  *Time          `json:"next_attempt_at"`
	LastAttemptAt  *Time          `json:"last_attempt_at"`
	LastStatusCode *int           `json:"last_status_code"`
	// LastErrorKind is set while the latest attempt failed.
	LastErrorKind *ErrorKind `json:"last_error_kind"`
	// LastError is the catalog entry of LastErrorKind.
	LastError   *ErrorCatalogEntry `json:"last_error,omitempty"`
	ReplayOf    *int64             `json:"replay_of"`
	CreatedAt   Time               `json:"created_at"`
	CompletedAt *Time              `json:"completed_at"`
	History     []Attempt          `json:"attempt_history"`
}

const deliveryColumns = `d.id, d.subscription_id, d.event_id, COALESCE(e.event_type, ''),
	COALESCE(e.aggregate_type, ''), COALESCE(e.aggregate_id, ''), d.status, d.attempts,
	d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error_kind, d.replay_of,
	d.created_at, d.completed_at, d.attempt_log`

func scanDelivery(sc interface{ Scan(...any) error }) (Delivery, error) {
	var d Delivery
	var log string
	var kind *string
	err := sc.Scan(&d.ID, &d.SubscriptionID, &d.EventID, &d.EventType, &d.AggregateType, &d.AggregateID,
		&d.Status, &d.Attempts, &d.NextAttemptAt, &d.LastAttemptAt, &d.LastStatusCode, &kind, &d.ReplayOf,
		&d.CreatedAt, &d.CompletedAt, &log)
	if err != nil {
		return d, interpretError(err)
	}
	if kind != nil {
		k := ErrorKind(*kind)
		e := k.Entry()
		d.LastErrorKind, d.LastError = &k, &e
	}
	d.History, err = decodeAttemptLog(log)
	return d, err
}

// DeliveryQuery pages through a subscription's deliveries. With After set
// the page is the deliveries with id > After in ascending order; otherwise
// it is the newest ones with id < Before (0: from the newest) descending.
type DeliveryQuery struct {
	Status DeliveryStatus // optional: one of the Delivery* statuses
	After  int64
	Before int64
	Limit  int // 1..500
}

// Page sizes of delivery listings.
const (
	DefaultDeliveryPage = 50
	MaxDeliveryPage     = 500
)

func isDeliveryStatus(s DeliveryStatus) bool {
	switch s {
	case DeliveryPending, DeliveryInFlight, DeliverySucceeded, DeliveryDead, DeliveryReplayed:
		return true
	}
	return false
}

// Deliveries returns one page of a subscription's deliveries (see
// DeliveryQuery) and whether more follow in the same direction. Each page
// is one index range seek: (subscription_id, status, id) with a status,
// (subscription_id, id) without. It returns ErrNotFound for an unknown
// subscription and a *ValidationError for bad parameters.
func (db *DB) Deliveries(ctx context.Context, subscriptionID int64, q DeliveryQuery) ([]Delivery, bool, error) {
	fields := map[string]string{}
	if q.Status != "" && !isDeliveryStatus(q.Status) {
		fields["status"] = "must be one of pending, in_flight, succeeded, dead, replayed"
	}
	if q.Limit == 0 {
		q.Limit = DefaultDeliveryPage
	} else if q.Limit < 1 || q.Limit > MaxDeliveryPage {
		fields["limit"] = fmt.Sprintf("must be between 1 and %d", MaxDeliveryPage)
	}
	if q.After < 0 || q.Before < 0 || (q.After > 0 && q.Before > 0) {
		fields["after"] = "after and before are non-negative delivery ids, at most one of them"
	}
	if len(fields) > 0 {
		return nil, false, &ValidationError{Message: "invalid delivery query", Fields: fields}
	}
	if _, err := db.Subscription(ctx, subscriptionID); err != nil {
		return nil, false, err
	}
	var sb strings.Builder
	sb.WriteString(`SELECT ` + deliveryColumns + ` FROM webhook_deliveries d
		LEFT JOIN integration_events e ON e.event_id = d.event_id WHERE d.subscription_id = ?`)
	args := []any{subscriptionID}
	if q.Status != "" {
		sb.WriteString(` AND d.status = ?`)
		args = append(args, q.Status)
	}
	switch {
	case q.After > 0:
		sb.WriteString(` AND d.id > ? ORDER BY d.id LIMIT ?`)
		args = append(args, q.After)
	case q.Before > 0:
		sb.WriteString(` AND d.id < ? ORDER BY d.id DESC LIMIT ?`)
		args = append(args, q.Before)
	default:
		sb.WriteString(` ORDER BY d.id DESC LIMIT ?`)
	}
	args = append(args, q.Limit+1)
	rows, err := db.r.QueryContext(ctx, sb.String(), args...)
	if err != nil {
		return nil, false, fmt.Errorf("list deliveries of subscription %d: %w", subscriptionID, err)
	}
	defer rows.Close()
	out := []Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, false, fmt.Errorf("list deliveries of subscription %d: %w", subscriptionID, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list deliveries of subscription %d: %w", subscriptionID, err)
	}
	more := len(out) > q.Limit
	if more {
		out = out[:q.Limit]
	}
	return out, more, nil
}

// Delivery returns one delivery of a subscription, or ErrNotFound.
func (db *DB) Delivery(ctx context.Context, subscriptionID, id int64) (Delivery, error) {
	d, err := scanDelivery(db.r.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries d
		LEFT JOIN integration_events e ON e.event_id = d.event_id
		JOIN webhook_subscriptions s ON s.id = d.subscription_id AND s.status <> 'deleting'
		WHERE d.id = ? AND d.subscription_id = ?`, id, subscriptionID))
	if err != nil {
		return d, fmt.Errorf("delivery %d of subscription %d: %w", id, subscriptionID, err)
	}
	return d, nil
}

// LatencySummary gives attempt latency percentiles in milliseconds.
type LatencySummary struct {
	Samples int     `json:"samples"`
	P50MS   float64 `json:"p50_ms"`
	P95MS   float64 `json:"p95_ms"`
	P99MS   float64 `json:"p99_ms"`
}

// WebhookStats summarizes a subscription's deliveries.
type WebhookStats struct {
	SubscriptionID int64                    `json:"subscription_id"`
	Status         SubscriptionStatus       `json:"status"`
	PauseReason    PauseReason              `json:"pause_reason"`
	Counts         map[DeliveryStatus]int64 `json:"counts"`
	// SuccessRate is succeeded / (succeeded + dead + replayed) over every
	// finished delivery; nil before the first one finishes.
	SuccessRate *float64 `json:"success_rate"`
	// AttemptSuccessRate and Latency cover the attempts of the most recent
	// StatsSampleDeliveries deliveries.
	AttemptSuccessRate *float64           `json:"attempt_success_rate"`
	Latency            LatencySummary     `json:"latency"`
	LastSuccessAt      *Time              `json:"last_success_at"`
	LastFailureAt      *Time              `json:"last_failure_at"`
	LastFailureKind    *string            `json:"last_failure_kind"`
	LastFailureStatus  *int               `json:"last_failure_status"`
	LastFailure        *ErrorCatalogEntry `json:"last_failure,omitempty"`
}

// StatsSampleDeliveries is how many recent deliveries the latency figures
// of WebhookStats are computed from.
const StatsSampleDeliveries = 1000

// WebhookStats computes a subscription's statistics: counts by status (an
// index-only count over the subscription's range of the status index),
// success rates, attempt latency percentiles over the most recent
// deliveries, and the last success and failure. It returns ErrNotFound for
// an unknown subscription.
func (db *DB) WebhookStats(ctx context.Context, subscriptionID int64) (WebhookStats, error) {
	s, err := db.Subscription(ctx, subscriptionID)
	if err != nil {
		return WebhookStats{}, err
	}
	st := WebhookStats{
		SubscriptionID: s.ID, Status: s.Status, PauseReason: s.PauseReason,
		Counts: map[DeliveryStatus]int64{DeliveryPending: 0, DeliveryInFlight: 0, DeliverySucceeded: 0,
			DeliveryDead: 0, DeliveryReplayed: 0},
		LastSuccessAt: s.LastSuccessAt, LastFailureAt: s.LastFailureAt,
		LastFailureKind: s.LastFailureKind, LastFailureStatus: s.LastFailureStatus,
	}
	if s.LastFailureKind != nil {
		e := ErrorKind(*s.LastFailureKind).Entry()
		st.LastFailure = &e
	}
	rows, err := db.r.QueryContext(ctx, `SELECT status, COUNT(*) FROM webhook_deliveries
		WHERE subscription_id = ? GROUP BY status`, subscriptionID)
	if err != nil {
		return st, fmt.Errorf("webhook stats %d: %w", subscriptionID, err)
	}
	for rows.Next() {
		var status DeliveryStatus
		var n int64
		if err := rows.Scan(&status, &n); err != nil {
			rows.Close()
			return st, fmt.Errorf("webhook stats %d: %w", subscriptionID, err)
		}
		st.Counts[status] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("webhook stats %d: %w", subscriptionID, err)
	}
	if fin := st.Counts[DeliverySucceeded] + st.Counts[DeliveryDead] + st.Counts[DeliveryReplayed]; fin > 0 {
		r := float64(st.Counts[DeliverySucceeded]) / float64(fin)
		st.SuccessRate = &r
	}

	rows, err = db.r.QueryContext(ctx, `SELECT attempt_log FROM webhook_deliveries
		WHERE subscription_id = ? AND attempts > 0 ORDER BY id DESC LIMIT ?`, subscriptionID, StatsSampleDeliveries)
	if err != nil {
		return st, fmt.Errorf("webhook stats %d: %w", subscriptionID, err)
	}
	defer rows.Close()
	var durations []float64
	var ok int
	for rows.Next() {
		var log string
		if err := rows.Scan(&log); err != nil {
			return st, fmt.Errorf("webhook stats %d: %w", subscriptionID, err)
		}
		atts, err := decodeAttemptLog(log)
		if err != nil {
			return st, fmt.Errorf("webhook stats %d: %w", subscriptionID, err)
		}
		for _, a := range atts {
			durations = append(durations, float64(a.DurationMS))
			if a.ErrorKind == "" {
				ok++
			}
		}
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("webhook stats %d: %w", subscriptionID, err)
	}
	if len(durations) > 0 {
		slices.Sort(durations)
		r := float64(ok) / float64(len(durations))
		st.AttemptSuccessRate = &r
		st.Latency = LatencySummary{Samples: len(durations), P50MS: Percentile(durations, 50),
			P95MS: Percentile(durations, 95), P99MS: Percentile(durations, 99)}
	}
	return st, nil
}

// Percentile returns the p-th percentile (nearest rank) of sorted values.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// WebhookError is a delivery whose latest attempt failed: retrying, or
// dead-lettered.
type WebhookError struct {
	DeliveryID       int64             `json:"delivery_id"`
	SubscriptionID   int64             `json:"subscription_id"`
	SubscriptionName string            `json:"subscription_name"`
	EventID          int64             `json:"event_id"`
	EventType        string            `json:"event_type"`
	Status           DeliveryStatus    `json:"status"`
	Attempts         int               `json:"attempts"`
	LastAttemptAt    Time              `json:"last_attempt_at"`
	NextAttemptAt    *Time             `json:"next_attempt_at"`
	StatusCode       *int              `json:"status_code"`
	ErrorKind        ErrorKind         `json:"error_kind"`
	Error            ErrorCatalogEntry `json:"error"`
}

// WebhookErrorQuery narrows ListWebhookErrors.
type WebhookErrorQuery struct {
	SubscriptionID int64     // 0: every subscription
	Kind           ErrorKind // "": every kind
	// Since and Until bound the latest attempt (zero: unbounded); the
	// failing index is ordered by it.
	Since, Until time.Time
	Limit        int // 1..500
}

// WebhookErrorSummary counts failing deliveries of one kind.
type WebhookErrorSummary struct {
	ErrorCatalogEntry
	Count int64 `json:"count"`
}

// ListWebhookErrors returns failing deliveries across subscriptions, most
// recent attempt first, and a count per kind. Both read only the partial
// index of failing rows, whose size is bounded by what is failing now (and
// the DLQ), not by the delivery history. It returns a *ValidationError for
// bad parameters.
func (db *DB) ListWebhookErrors(ctx context.Context, q WebhookErrorQuery) ([]WebhookError, []WebhookErrorSummary, error) {
	fields := map[string]string{}
	if q.Limit == 0 {
		q.Limit = DefaultDeliveryPage
	} else if q.Limit < 1 || q.Limit > MaxDeliveryPage {
		fields["limit"] = fmt.Sprintf("must be between 1 and %d", MaxDeliveryPage)
	}
	if q.Kind != "" && !slices.Contains(ErrorKinds(), q.Kind) {
		fields["kind"] = "must be one of timeout, connection, tls, 4xx, 5xx, ssrf_rejected, unknown"
	}
	if q.SubscriptionID < 0 {
		fields["subscription_id"] = "must be a positive integer"
	}
	if len(fields) > 0 {
		return nil, nil, &ValidationError{Message: "invalid error query", Fields: fields}
	}
	where := ` WHERE d.last_error_kind IS NOT NULL AND d.status IN ('pending', 'in_flight', 'dead')`
	var args []any
	if q.SubscriptionID > 0 {
		where += ` AND d.subscription_id = ?`
		args = append(args, q.SubscriptionID)
	}
	if q.Kind != "" {
		where += ` AND d.last_error_kind = ?`
		args = append(args, string(q.Kind))
	}
	if !q.Since.IsZero() {
		where += ` AND d.last_attempt_at >= ?`
		args = append(args, formatTime(q.Since))
	}
	if !q.Until.IsZero() {
		where += ` AND d.last_attempt_at < ?`
		args = append(args, formatTime(q.Until))
	}
	from := ` FROM webhook_deliveries d INDEXED BY webhook_deliveries_failing
		JOIN webhook_subscriptions s ON s.id = d.subscription_id AND s.status <> 'deleting'`
	rows, err := db.r.QueryContext(ctx, `SELECT d.id, d.subscription_id, s.name, d.event_id,
		COALESCE(e.event_type, ''), d.status, d.attempts, d.last_attempt_at, d.next_attempt_at,
		d.last_status_code, d.last_error_kind`+from+`
		LEFT JOIN integration_events e ON e.event_id = d.event_id`+where+`
		ORDER BY d.last_attempt_at DESC, d.id DESC LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return nil, nil, fmt.Errorf("list webhook errors: %w", err)
	}
	defer rows.Close()
	out := []WebhookError{}
	for rows.Next() {
		var we WebhookError
		if err := rows.Scan(&we.DeliveryID, &we.SubscriptionID, &we.SubscriptionName, &we.EventID,
			&we.EventType, &we.Status, &we.Attempts, &we.LastAttemptAt, &we.NextAttemptAt,
			&we.StatusCode, &we.ErrorKind); err != nil {
			return nil, nil, fmt.Errorf("list webhook errors: %w", err)
		}
		we.Error = we.ErrorKind.Entry()
		out = append(out, we)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("list webhook errors: %w", err)
	}
	counts := map[ErrorKind]int64{}
	crows, err := db.r.QueryContext(ctx, `SELECT d.last_error_kind, COUNT(*)`+from+where+` GROUP BY 1`, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("count webhook errors: %w", err)
	}
	defer crows.Close()
	for crows.Next() {
		var k string
		var n int64
		if err := crows.Scan(&k, &n); err != nil {
			return nil, nil, fmt.Errorf("count webhook errors: %w", err)
		}
		counts[ErrorKind(k)] += n
	}
	if err := crows.Err(); err != nil {
		return nil, nil, fmt.Errorf("count webhook errors: %w", err)
	}
	summary := []WebhookErrorSummary{}
	for _, k := range ErrorKinds() {
		if n := counts[k]; n > 0 {
			summary = append(summary, WebhookErrorSummary{ErrorCatalogEntry: k.Entry(), Count: n})
		}
	}
	return out, summary, nil
}
