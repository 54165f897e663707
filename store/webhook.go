package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Subscription statuses. A subscription is created active; it is paused by
// an admin (pause_reason manual) or by the dispatcher when a ceiling is
// reached. SubscriptionDeleting marks a deleted subscription whose
// deliveries are still being purged: the API never shows it.
type SubscriptionStatus string

// The subscription statuses.
const (
	SubscriptionActive   SubscriptionStatus = "active"
	SubscriptionPaused   SubscriptionStatus = "paused"
	SubscriptionDeleting SubscriptionStatus = "deleting"
)

// PauseReason says why a subscription is paused ("" when it is not).
type PauseReason string

// Pause reasons.
const (
	PauseManual         PauseReason = "manual"
	PausePendingCeiling PauseReason = "pending_ceiling"
	PauseDLQCeiling     PauseReason = "dlq_ceiling"
)

// Delivery statuses. pending and in_flight are open (counted against the
// pending ceiling); succeeded, dead and replayed are terminal. replayed marks
// a dead delivery whose event was queued again by a replay, so it leaves the
// DLQ (and the DLQ ceiling count) while its history stays.
type DeliveryStatus string

// The delivery statuses.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryInFlight  DeliveryStatus = "in_flight"
	DeliverySucceeded DeliveryStatus = "succeeded"
	DeliveryDead      DeliveryStatus = "dead"
	DeliveryReplayed  DeliveryStatus = "replayed"
)

// Delivery orderings (column ordering). OrderingGlobal, the default, keeps
// one lane for the whole subscription: deliveries go out in delivery id
// (commit) order, one at a time, and a failing delivery holds back every
// later one until it succeeds or is dead-lettered, so the consumer
// contract's "largest event_id applied" watermark is safe.
// OrderingAggregate, an opt-in for throughput, keeps one FIFO lane per
// (aggregate_type, aggregate_id), lanes running in parallel up to
// max_in_flight: events of different aggregates arrive out of event_id
// order, so consumers must dedupe with the set of event_ids they applied.
const (
	OrderingAggregate = "aggregate"
	OrderingGlobal    = "global"

	// DefaultOrdering is what a new subscription gets without an
	// explicit ordering. The column's own DEFAULT ('aggregate', from
	// migration 00006) only filled rows that existed then: every insert
	// writes the ordering explicitly.
	DefaultOrdering = OrderingGlobal
)

// validateOrdering returns o, or reports it in fields when it is neither
// ordering.
func validateOrdering(o string, fields map[string]string) string {
	if o != OrderingAggregate && o != OrderingGlobal {
		fields["ordering"] = `must be "aggregate" or "global"`
	}
	return o
}

// Subscription defaults and limits. The pending ceiling bounds the memory
// the dispatcher holds per subscription (every open delivery keeps its
// envelope, about half a kilobyte, in memory), hence its upper limit.
const (
	DefaultPendingCeiling = 10_000
	DefaultDLQCeiling     = 1_000
	DefaultMaxInFlight    = 16
	MaxPendingCeiling     = 1_000_000
	MaxDLQCeiling         = 1_000_000
	MaxMaxInFlight        = 256
	MaxRateLimitPerSec    = 100_000

	maxSubscriptionName = 200
	maxWebhookURL       = 2048
	maxFilterEventTypes = 50
	maxFilterWarehouses = 1000
	maxFilterAggregates = 10_000
)

// SubscriptionFilter selects the events a subscription receives. Each list
// is an OR of its values; the lists combine with AND; an empty list places
// no restriction. Changing it is never retroactive.
type SubscriptionFilter struct {
	EventTypes   []string `json:"event_types"`
	WarehouseIDs []int64  `json:"warehouse_ids"`
	AggregateIDs []string `json:"aggregate_external_id_allowlist"`
}

// Matches reports whether an event with these attributes passes f. f must
// be normalized (see NormalizeFilter) so aggregate ids compare lowercase.
func (f SubscriptionFilter) Matches(eventType string, warehouseID int64, aggregateID string) bool {
	return (len(f.EventTypes) == 0 || slices.Contains(f.EventTypes, eventType)) &&
		(len(f.WarehouseIDs) == 0 || slices.Contains(f.WarehouseIDs, warehouseID)) &&
		(len(f.AggregateIDs) == 0 || slices.Contains(f.AggregateIDs, aggregateID))
}

// IsZero reports whether f matches every event.
func (f SubscriptionFilter) IsZero() bool {
	return len(f.EventTypes) == 0 && len(f.WarehouseIDs) == 0 && len(f.AggregateIDs) == 0
}

// FilterMatcher is a SubscriptionFilter compiled into sets, for matching
// many events.
type FilterMatcher struct {
	types map[string]struct{}
	whs   map[int64]struct{}
	aggs  map[string]struct{}
	// owner is the owning integration's uuid ("" for an ordinary
	// subscription); see Subscription.Matcher.
	owner string
}

// Matcher compiles the subscription's filter together with its owner: an
// integration's private events (AggregateIntegration, which may carry grant
// codes) go to the subscription that integration owns and to no other, and
// an owned subscription with no event types selected receives no catalog
// events (for an ordinary one an empty list means all).
func (s Subscription) Matcher() *FilterMatcher {
	m := s.Filter.Matcher()
	m.owner = s.Owner
	if s.Owner != "" && m.types == nil {
		m.types = map[string]struct{}{}
	}
	return m
}

// Matcher compiles f. f must be normalized.
func (f SubscriptionFilter) Matcher() *FilterMatcher {
	m := &FilterMatcher{}
	if len(f.EventTypes) > 0 {
		m.types = make(map[string]struct{}, len(f.EventTypes))
		for _, t := range f.EventTypes {
			m.types[t] = struct{}{}
		}
	}
	if len(f.WarehouseIDs) > 0 {
		m.whs = make(map[int64]struct{}, len(f.WarehouseIDs))
		for _, w := range f.WarehouseIDs {
			m.whs[w] = struct{}{}
		}
	}
	if len(f.AggregateIDs) > 0 {
		m.aggs = make(map[string]struct{}, len(f.AggregateIDs))
		for _, a := range f.AggregateIDs {
			m.aggs[a] = struct{}{}
		}
	}
	return m
}

// Match reports whether ev passes the filter.
func (m *FilterMatcher) Match(ev *Event) bool {
	if ev.AggregateType == AggregateIntegration {
		return m.owner != "" && ev.AggregateID == m.owner
	}
	if m.types != nil {
		if _, ok := m.types[ev.EventType]; !ok {
			return false
		}
	}
	if m.whs != nil {
		if _, ok := m.whs[ev.WarehouseID]; !ok {
			return false
		}
	}
	if m.aggs != nil {
		if _, ok := m.aggs[ev.AggregateID]; !ok {
			return false
		}
	}
	return true
}

// isCatalogEventType reports whether t is one of the event types of the
// catalog. Filters are checked against it so a typo is a 422, not a
// subscription that silently never matches.
func isCatalogEventType(t string) bool {
	switch t {
	case EventPickConfirmed, EventPackConfirmed, EventShipConfirmed, EventReceiptCompleted,
		EventAdjustmentApplied, EventCycleCountAdjusted, EventTransferCompleted,
		EventSalesOrderCreated, EventSalesOrderUpdated, EventPurchaseOrderCreated, EventPurchaseOrderUpdated:
		return true
	}
	return false
}

// NormalizeFilter checks f and returns it with duplicates removed, values
// sorted and aggregate ids in lowercase canonical UUID form. Problems are
// reported in fields under prefix (e.g. "subscription_filter.").
func NormalizeFilter(f SubscriptionFilter, prefix string, fields map[string]string) SubscriptionFilter {
	var out SubscriptionFilter
	switch {
	case len(f.EventTypes) > maxFilterEventTypes:
		fields[prefix+"event_types"] = fmt.Sprintf("at most %d entries", maxFilterEventTypes)
	default:
		for _, t := range f.EventTypes {
			if !isCatalogEventType(t) {
				fields[prefix+"event_types"] = fmt.Sprintf("unknown event type %q (see GET /api/v1/events/types)", whTruncate(t, 64))
				break
			}
			out.EventTypes = append(out.EventTypes, t)
		}
	}
	switch {
	case len(f.WarehouseIDs) > maxFilterWarehouses:
		fields[prefix+"warehouse_ids"] = fmt.Sprintf("at most %d entries", maxFilterWarehouses)
	default:
		for _, w := range f.WarehouseIDs {
			if w <= 0 {
				fields[prefix+"warehouse_ids"] = "must be positive integers"
				break
			}
			out.WarehouseIDs = append(out.WarehouseIDs, w)
		}
	}
	switch {
	case len(f.AggregateIDs) > maxFilterAggregates:
		fields[prefix+"aggregate_external_id_allowlist"] = fmt.Sprintf("at most %d entries", maxFilterAggregates)
	default:
		for _, a := range f.AggregateIDs {
			u, err := uuid.Parse(a)
			if err != nil || len(a) != 36 {
				fields[prefix+"aggregate_external_id_allowlist"] = fmt.Sprintf("%q is not a UUID (aggregate ids are the entities' UUIDs)", whTruncate(a, 64))
				break
			}
			out.AggregateIDs = append(out.AggregateIDs, u.String())
		}
	}
	slices.Sort(out.EventTypes)
	out.EventTypes = slices.Compact(out.EventTypes)
	slices.Sort(out.WarehouseIDs)
	out.WarehouseIDs = slices.Compact(out.WarehouseIDs)
	slices.Sort(out.AggregateIDs)
	out.AggregateIDs = slices.Compact(out.AggregateIDs)
	return out
}

func whTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// encodeFilter is the stored form of a normalized filter: empty lists, never
// null, so the column reads back as the API shows it.
func encodeSubscriptionFilter(f SubscriptionFilter) string {
	if f.EventTypes == nil {
		f.EventTypes = []string{}
	}
	if f.WarehouseIDs == nil {
		f.WarehouseIDs = []int64{}
	}
	if f.AggregateIDs == nil {
		f.AggregateIDs = []string{}
	}
	b, _ := json.Marshal(f) // cannot fail: strings and integers
	return string(b)
}

func decodeSubscriptionFilter(s string) (SubscriptionFilter, error) {
	var f SubscriptionFilter
	if err := json.Unmarshal([]byte(s), &f); err != nil {
		return f, fmt.Errorf("decode stored filter: %w", err)
	}
	if f.EventTypes == nil {
		f.EventTypes = []string{}
	}
	if f.WarehouseIDs == nil {
		f.WarehouseIDs = []int64{}
	}
	if f.AggregateIDs == nil {
		f.AggregateIDs = []string{}
	}
	return f, nil
}

// ValidateWebhookURL returns why raw is not an acceptable subscription URL,
// or "". It checks the form only (the SSRF guard checks the destination):
// absolute https (http too when allowHTTP, i.e. private targets are allowed
// for local development), a host, no credentials, no fragment.
func ValidateWebhookURL(raw string, allowHTTP bool) string {
	if raw == "" {
		return "is required"
	}
	if len(raw) > maxWebhookURL {
		return fmt.Sprintf("must be at most %d bytes", maxWebhookURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "is not a valid URL"
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowHTTP:
	case u.Scheme == "http":
		return "must use https (http is accepted only when SENTRY_ALLOW_PRIVATE_TARGETS is set, for local development)"
	default:
		return "must be an absolute https:// URL"
	}
	switch {
	case u.User != nil:
		return "must not contain credentials (user:password@); authenticate with the signature instead"
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "must have a host"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "must not contain a fragment (#...)"
	}
	for _, r := range raw {
		if r <= ' ' || r == 0x7f {
			return "must not contain spaces or control characters"
		}
	}
	return ""
}

// RedactURL returns raw without its query values, for audit diffs and logs:
// consumers sometimes put a token in the query string.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func validateSubscriptionName(name string, fields map[string]string) string {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		fields["name"] = "is required"
	case len(name) > maxSubscriptionName:
		fields["name"] = fmt.Sprintf("must be at most %d bytes", maxSubscriptionName)
	case !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0:
		fields["name"] = "must be printable UTF-8 text"
	}
	return name
}

// applySubscriptionLimits validates and sets the limits given (nil leaves
// one as it is), naming each bad one in fields.
func applySubscriptionLimits(s *Subscription, pending, dlq *int64, rate *float64, inFlight *int, fields map[string]string) {
	if pending != nil {
		if *pending < 1 || *pending > MaxPendingCeiling {
			fields["pending_ceiling"] = fmt.Sprintf("must be between 1 and %d", MaxPendingCeiling)
		}
		s.PendingCeiling = *pending
	}
	if dlq != nil {
		if *dlq < 1 || *dlq > MaxDLQCeiling {
			fields["dlq_ceiling"] = fmt.Sprintf("must be between 1 and %d", MaxDLQCeiling)
		}
		s.DLQCeiling = *dlq
	}
	if rate != nil {
		if math.IsNaN(*rate) || *rate < 0 || *rate > MaxRateLimitPerSec {
			fields["rate_limit_per_sec"] = fmt.Sprintf("must be between 0 (no limit) and %d", MaxRateLimitPerSec)
		}
		s.RateLimitPerSec = *rate
	}
	if inFlight != nil {
		if *inFlight < 1 || *inFlight > MaxMaxInFlight {
			fields["max_in_flight"] = fmt.Sprintf("must be between 1 and %d", MaxMaxInFlight)
		}
		s.MaxInFlight = *inFlight
	}
}

// SubscriptionCreate is the body of POST /api/admin/webhooks. Omitted
// optional fields take their defaults.
type SubscriptionCreate struct {
	Name             string              `json:"name"`
	URL              string              `json:"url"`
	Filter           *SubscriptionFilter `json:"subscription_filter"`
	PendingCeiling   *int64              `json:"pending_ceiling"`
	DLQCeiling       *int64              `json:"dlq_ceiling"`
	RateLimitPerSec  *float64            `json:"rate_limit_per_sec"`
	MaxInFlight      *int                `json:"max_in_flight"`
	StandardWebhooks bool                `json:"standard_webhooks"`
	// Ordering is OrderingGlobal (DefaultOrdering, when omitted) or
	// OrderingAggregate.
	Ordering *string `json:"ordering"`
}

// Normalize validates c (URL form included, see ValidateWebhookURL) and
// returns it as a Subscription to insert, with defaults applied. It returns
// a *ValidationError naming every bad field.
func (c SubscriptionCreate) Normalize(allowHTTP bool) (Subscription, error) {
	fields := map[string]string{}
	s := Subscription{
		Status:           SubscriptionActive,
		PendingCeiling:   DefaultPendingCeiling,
		DLQCeiling:       DefaultDLQCeiling,
		MaxInFlight:      DefaultMaxInFlight,
		StandardWebhooks: c.StandardWebhooks,
		Ordering:         DefaultOrdering,
	}
	if c.Ordering != nil {
		s.Ordering = validateOrdering(*c.Ordering, fields)
	}
	s.Name = validateSubscriptionName(c.Name, fields)
	s.URL = strings.TrimSpace(c.URL)
	if why := ValidateWebhookURL(s.URL, allowHTTP); why != "" {
		fields["url"] = why
	}
	if c.Filter != nil {
		s.Filter = NormalizeFilter(*c.Filter, "subscription_filter.", fields)
	}
	applySubscriptionLimits(&s, c.PendingCeiling, c.DLQCeiling, c.RateLimitPerSec, c.MaxInFlight, fields)
	if len(fields) > 0 {
		return Subscription{}, &ValidationError{Message: "invalid webhook subscription", Fields: fields}
	}
	s.Filter = whNonNilFilter(s.Filter)
	return s, nil
}

func whNonNilFilter(f SubscriptionFilter) SubscriptionFilter {
	if f.EventTypes == nil {
		f.EventTypes = []string{}
	}
	if f.WarehouseIDs == nil {
		f.WarehouseIDs = []int64{}
	}
	if f.AggregateIDs == nil {
		f.AggregateIDs = []string{}
	}
	return f
}

// SubscriptionPatch is the body of PATCH /api/admin/webhooks/{id}: every
// field is optional and only the present ones change.
type SubscriptionPatch struct {
	Name             *string             `json:"name"`
	URL              *string             `json:"url"`
	Filter           *SubscriptionFilter `json:"subscription_filter"`
	Status           *string             `json:"status"`
	PendingCeiling   *int64              `json:"pending_ceiling"`
	DLQCeiling       *int64              `json:"dlq_ceiling"`
	RateLimitPerSec  *float64            `json:"rate_limit_per_sec"`
	MaxInFlight      *int                `json:"max_in_flight"`
	StandardWebhooks *bool               `json:"standard_webhooks"`
	Ordering         *string             `json:"ordering"`
}

// IsEmpty reports whether p changes nothing.
func (p SubscriptionPatch) IsEmpty() bool { return p == SubscriptionPatch{} }

// Apply validates p and returns cur with p applied (cur is not modified).
// Status "paused" sets pause_reason manual; "active" clears it. It returns a
// *ValidationError naming every bad field.
func (p SubscriptionPatch) Apply(cur Subscription, allowHTTP bool) (Subscription, error) {
	fields := map[string]string{}
	next := cur
	next.Filter = SubscriptionFilter{
		EventTypes:   slices.Clone(cur.Filter.EventTypes),
		WarehouseIDs: slices.Clone(cur.Filter.WarehouseIDs),
		AggregateIDs: slices.Clone(cur.Filter.AggregateIDs),
	}
	if p.IsEmpty() {
		fields["body"] = "names no field to change"
	}
	if p.Name != nil {
		next.Name = validateSubscriptionName(*p.Name, fields)
	}
	if p.URL != nil {
		next.URL = strings.TrimSpace(*p.URL)
		if why := ValidateWebhookURL(next.URL, allowHTTP); why != "" {
			fields["url"] = why
		}
	}
	if p.Filter != nil {
		next.Filter = whNonNilFilter(NormalizeFilter(*p.Filter, "subscription_filter.", fields))
	}
	if p.Status != nil {
		switch SubscriptionStatus(*p.Status) {
		case SubscriptionActive:
			next.Status, next.PauseReason, next.PausedAt = SubscriptionActive, "", nil
		case SubscriptionPaused:
			if cur.Status != SubscriptionPaused {
				next.Status, next.PauseReason = SubscriptionPaused, PauseManual
			}
		default:
			fields["status"] = `must be "active" or "paused"`
		}
	}
	applySubscriptionLimits(&next, p.PendingCeiling, p.DLQCeiling, p.RateLimitPerSec, p.MaxInFlight, fields)
	if p.StandardWebhooks != nil {
		next.StandardWebhooks = *p.StandardWebhooks
	}
	if p.Ordering != nil {
		next.Ordering = validateOrdering(*p.Ordering, fields)
	}
	if len(fields) > 0 {
		return cur, &ValidationError{Message: "invalid webhook subscription change", Fields: fields}
	}
	return next, nil
}

// Subscription is a webhook subscription as stored (never its secret).
type Subscription struct {
	ID               int64              `json:"id"`
	Name             string             `json:"name"`
	URL              string             `json:"url"`
	Filter           SubscriptionFilter `json:"subscription_filter"`
	Status           SubscriptionStatus `json:"status"`
	PauseReason      PauseReason        `json:"pause_reason"` // "" when active
	PendingCeiling   int64              `json:"pending_ceiling"`
	DLQCeiling       int64              `json:"dlq_ceiling"`
	RateLimitPerSec  float64            `json:"rate_limit_per_sec"`
	MaxInFlight      int                `json:"max_in_flight"`
	StandardWebhooks bool               `json:"standard_webhooks"`
	// Ordering is OrderingGlobal or OrderingAggregate.
	Ordering string `json:"ordering"`
	// Owner is the uuid of the integration that owns the subscription, ""
	// for one an admin created.
	Owner string `json:"owner,omitempty"`
	// Cursor is the last event_id examined for this subscription.
	Cursor            int64   `json:"cursor"`
	CreatedAt         Time    `json:"created_at"`
	UpdatedAt         Time    `json:"updated_at"`
	PausedAt          *Time   `json:"paused_at"`
	LastSuccessAt     *Time   `json:"last_success_at"`
	LastFailureAt     *Time   `json:"last_failure_at"`
	LastFailureKind   *string `json:"last_failure_kind"`
	LastFailureStatus *int    `json:"last_failure_status"`
}

// The latest success is one seek at the end of the subscription's
// 'succeeded' range of the status index.
const subscriptionColumns = `id, name, url, filter, status, COALESCE(pause_reason, ''), pending_ceiling,
	dlq_ceiling, rate_limit_per_sec, max_in_flight, standard_webhooks, ordering, owner, cursor, created_at, updated_at,
	paused_at, (SELECT d.completed_at FROM webhook_deliveries d WHERE d.subscription_id = webhook_subscriptions.id
		AND d.status = 'succeeded' ORDER BY d.id DESC LIMIT 1),
	last_failure_at, last_failure_kind, last_failure_status`

func scanSubscription(sc interface{ Scan(...any) error }) (Subscription, error) {
	var s Subscription
	var filter string
	err := sc.Scan(&s.ID, &s.Name, &s.URL, &filter, &s.Status, &s.PauseReason, &s.PendingCeiling,
		&s.DLQCeiling, &s.RateLimitPerSec, &s.MaxInFlight, &s.StandardWebhooks, &s.Ordering, &s.Owner, &s.Cursor, &s.CreatedAt,
		&s.UpdatedAt, &s.PausedAt, &s.LastSuccessAt, &s.LastFailureAt, &s.LastFailureKind, &s.LastFailureStatus)
	if err != nil {
		return s, interpretError(err)
	}
	s.Filter, err = decodeSubscriptionFilter(filter)
	return s, err
}

type whRowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getSubscription(ctx context.Context, q whRowQuerier, id int64) (Subscription, error) {
	s, err := scanSubscription(q.QueryRowContext(ctx, `SELECT `+subscriptionColumns+`
		FROM webhook_subscriptions WHERE id = ? AND status <> 'deleting'`, id))
	if err != nil {
		return s, fmt.Errorf("webhook subscription %d: %w", id, err)
	}
	return s, nil
}

// Subscription returns one visible subscription, or ErrNotFound.
func (db *DB) Subscription(ctx context.Context, id int64) (Subscription, error) {
	return getSubscription(ctx, db.r, id)
}

// Subscriptions lists the visible subscriptions by id.
func (db *DB) Subscriptions(ctx context.Context) ([]Subscription, error) {
	return listSubscriptions(ctx, db.r, false)
}

type whQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func listSubscriptions(ctx context.Context, q whQuerier, withDeleting bool) ([]Subscription, error) {
	where := ` WHERE status <> 'deleting'`
	if withDeleting {
		where = ""
	}
	rows, err := q.QueryContext(ctx, `SELECT `+subscriptionColumns+` FROM webhook_subscriptions`+where+` ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list webhook subscriptions: %w", err)
	}
	defer rows.Close()
	out := []Subscription{}
	for rows.Next() {
		s, err := scanSubscription(rows)
		if err != nil {
			return nil, fmt.Errorf("list webhook subscriptions: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list webhook subscriptions: %w", err)
	}
	return out, nil
}

// WebhookTarget is the audit target of a subscription.
func WebhookTarget(id int64) string { return "webhook:" + strconv.FormatInt(id, 10) }

// CreateSubscription inserts s (as returned by SubscriptionCreate.Normalize)
// with secret as its generation-1 signing secret and a "webhook.create"
// audit row (without the secret), in one transaction, and returns it as
// stored. Its cursor starts at the current end of the event log.
func (db *DB) CreateSubscription(ctx context.Context, actor string, s Subscription, secret SealFunc) (Subscription, error) {
	var created Subscription
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		var err error
		if created, err = db.insertSubscription(ctx, tx, s); err != nil {
			return err
		}
		if err := db.putWebhookSecret(ctx, tx, created.ID, 1, secret, nil); err != nil {
			return err
		}
		diff := SubscriptionAuditView(created)
		diff["secret_generation"] = 1
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "webhook.create", Target: WebhookTarget(created.ID), Diff: diff})
	})
	return created, err
}

// UpdateSubscription saves next (cur with a patch applied) and, when
// anything changed, a "webhook.pause", "webhook.resume" or "webhook.update"
// audit row with the diff, in one transaction. It returns the row as stored.
func (db *DB) UpdateSubscription(ctx context.Context, actor string, cur, next Subscription) (Subscription, error) {
	var saved Subscription
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		var err error
		if saved, err = db.saveSubscription(ctx, tx, next); err != nil {
			return err
		}
		diff := SubscriptionDiff(cur, saved)
		if len(diff) == 0 {
			return nil
		}
		action := "webhook.update"
		switch {
		case cur.Status != saved.Status && saved.Status == SubscriptionPaused:
			action = "webhook.pause"
		case cur.Status != saved.Status:
			action = "webhook.resume"
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: action, Target: WebhookTarget(saved.ID), Diff: diff})
	})
	return saved, err
}

// DeleteSubscription hides sub and deletes its secrets with a
// "webhook.delete" audit row, in one transaction; the dispatcher then
// purges its deliveries and the row. It returns ErrNotFound when there is
// no visible subscription sub.ID.
func (db *DB) DeleteSubscription(ctx context.Context, actor string, sub Subscription) error {
	return db.withTx(ctx, func(tx *sql.Tx) error {
		if err := db.markSubscriptionDeleting(ctx, tx, sub.ID); err != nil {
			return err
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "webhook.delete", Target: WebhookTarget(sub.ID),
			Diff: SubscriptionAuditView(sub)})
	})
}

// RotateWebhookSecret demotes a subscription's signing secret to
// generation 2, valid until expires, stores secret as the new generation 1
// and appends a "webhook.rotate_secret" audit row (without secrets), in one
// transaction. It returns ErrNotFound when the subscription has no
// generation 1.
func (db *DB) RotateWebhookSecret(ctx context.Context, actor string, id int64, secret SealFunc, expires time.Time) error {
	return db.withTx(ctx, func(tx *sql.Tx) error {
		if err := db.demoteWebhookSecret(ctx, tx, id, expires); err != nil {
			return err
		}
		if err := db.putWebhookSecret(ctx, tx, id, 1, secret, nil); err != nil {
			return err
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "webhook.rotate_secret", Target: WebhookTarget(id),
			Diff: map[string]any{"signing_generation": 1, "previous_secret": map[string]any{"generation": 2,
				"expires_at": formatTime(expires)}}})
	})
}

// insertSubscription inserts s (as returned by SubscriptionCreate.Normalize)
// inside tx with its cursor at the current end of the event log, so it
// receives exactly the events committed after it, and returns it as stored.
func (db *DB) insertSubscription(ctx context.Context, tx *sql.Tx, s Subscription) (Subscription, error) {
	now := formatTime(db.now())
	if s.Ordering == "" {
		// Never the column's DEFAULT: see DefaultOrdering.
		s.Ordering = DefaultOrdering
	}
	var id int64
	// Inside the write transaction no event can commit between reading the
	// log's end and inserting the row.
	err := tx.QueryRowContext(ctx, `INSERT INTO webhook_subscriptions
		(name, url, filter, status, pending_ceiling, dlq_ceiling, rate_limit_per_sec, max_in_flight,
		 standard_webhooks, ordering, owner, cursor, created_at, updated_at)
		VALUES (?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?,
		 (SELECT COALESCE(MAX(event_id), 0) FROM integration_events), ?, ?)
		RETURNING id`,
		s.Name, s.URL, encodeSubscriptionFilter(s.Filter), s.PendingCeiling, s.DLQCeiling, s.RateLimitPerSec,
		s.MaxInFlight, s.StandardWebhooks, s.Ordering, s.Owner, now, now).Scan(&id)
	if err != nil {
		return Subscription{}, fmt.Errorf("insert webhook subscription: %w", interpretError(err))
	}
	return getSubscription(ctx, tx, id)
}

// saveSubscription writes the admin-editable fields and status of s inside
// tx and returns the row as stored. paused_at is set when s moves to paused
// and cleared when it becomes active.
func (db *DB) saveSubscription(ctx context.Context, tx *sql.Tx, s Subscription) (Subscription, error) {
	now := formatTime(db.now())
	var reason any
	if s.Status == SubscriptionPaused {
		reason = s.PauseReason
	}
	res, err := tx.ExecContext(ctx, `UPDATE webhook_subscriptions SET
		name = ?, url = ?, filter = ?, status = ?, pause_reason = ?, pending_ceiling = ?,
		dlq_ceiling = ?, rate_limit_per_sec = ?, max_in_flight = ?, standard_webhooks = ?,
		ordering = ?, updated_at = ?,
		paused_at = CASE WHEN ? = 'paused' THEN COALESCE(paused_at, ?) ELSE NULL END
		WHERE id = ? AND status <> 'deleting'`,
		s.Name, s.URL, encodeSubscriptionFilter(s.Filter), s.Status, reason, s.PendingCeiling, s.DLQCeiling,
		s.RateLimitPerSec, s.MaxInFlight, s.StandardWebhooks, s.Ordering, now, s.Status, now, s.ID)
	if err != nil {
		return Subscription{}, fmt.Errorf("update webhook subscription %d: %w", s.ID, interpretError(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Subscription{}, fmt.Errorf("update webhook subscription %d: %w", s.ID, ErrNotFound)
	}
	return getSubscription(ctx, tx, s.ID)
}

// markSubscriptionDeleting hides a subscription and deletes its secrets
// inside tx; the dispatcher then purges its deliveries (PurgeDeliveries) and
// the row. It returns ErrNotFound when there is no visible subscription id.
func (db *DB) markSubscriptionDeleting(ctx context.Context, tx *sql.Tx, id int64) error {
	res, err := tx.ExecContext(ctx, `UPDATE webhook_subscriptions SET status = 'deleting',
		pause_reason = NULL, updated_at = ? WHERE id = ? AND status <> 'deleting'`, formatTime(db.now()), id)
	if err != nil {
		return fmt.Errorf("delete webhook subscription %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete webhook subscription %d: %w", id, ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_secrets WHERE subscription_id = ?`, id); err != nil {
		return fmt.Errorf("delete webhook subscription %d secrets: %w", id, err)
	}
	return nil
}

// demoteWebhookSecret copies a subscription's generation-1 ciphertext to
// generation 2 with expiresAt, inside tx, replacing any generation 2 (a
// second rotation inside the window overwrites it). The ciphertext is copied
// as is: it stays under the vault's key and is never decrypted here. It
// returns ErrNotFound when the subscription has no generation 1.
func (db *DB) demoteWebhookSecret(ctx context.Context, tx *sql.Tx, subscriptionID int64, expiresAt time.Time) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO webhook_secrets
		(subscription_id, generation, secret_ciphertext, created_at, expires_at)
		SELECT subscription_id, 2, secret_ciphertext, created_at, ? FROM webhook_secrets
		WHERE subscription_id = ? AND generation = 1
		ON CONFLICT (subscription_id, generation) DO UPDATE SET
		secret_ciphertext = excluded.secret_ciphertext, created_at = excluded.created_at,
		expires_at = excluded.expires_at`, formatTime(expiresAt), subscriptionID)
	if err != nil {
		return fmt.Errorf("demote webhook secret subscription=%d: %w", subscriptionID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("demote webhook secret subscription=%d: %w", subscriptionID, ErrNotFound)
	}
	return nil
}

// PreviousSecretExpiry returns when a subscription's generation-2 secret
// stops being valid, or nil when there is none (or it has expired).
func (db *DB) PreviousSecretExpiry(ctx context.Context, subscriptionID int64) (*Time, error) {
	var exp Time
	err := db.r.QueryRowContext(ctx, `SELECT expires_at FROM webhook_secrets
		WHERE subscription_id = ? AND generation = 2 AND expires_at > ?`,
		subscriptionID, formatTime(db.now())).Scan(&exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("previous secret expiry subscription=%d: %w", subscriptionID, err)
	}
	return &exp, nil
}

// ReapWebhookSecrets deletes every generation-2 secret whose dual-accept
// window has closed (expires_at <= now) and returns how many it deleted.
func (db *DB) ReapWebhookSecrets(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM webhook_secrets
		WHERE generation = 2 AND expires_at IS NOT NULL AND expires_at <= ?`, formatTime(now))
	if err != nil {
		return 0, fmt.Errorf("reap webhook secrets: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// SubscriptionDiff lists the fields that differ between two versions of a
// subscription as {"field": {"from": x, "to": y}}, for audit rows. URLs are
// redacted (RedactURL); there is no secret in a Subscription.
func SubscriptionDiff(before, after Subscription) map[string]any {
	d := map[string]any{}
	add := func(k string, a, b any) { d[k] = map[string]any{"from": a, "to": b} }
	if before.Name != after.Name {
		add("name", before.Name, after.Name)
	}
	if before.URL != after.URL {
		add("url", RedactURL(before.URL), RedactURL(after.URL))
	}
	if encodeSubscriptionFilter(before.Filter) != encodeSubscriptionFilter(after.Filter) {
		add("subscription_filter", before.Filter, after.Filter)
	}
	if before.Status != after.Status {
		add("status", before.Status, after.Status)
	}
	if before.PauseReason != after.PauseReason {
		add("pause_reason", whNullIfEmpty(string(before.PauseReason)), whNullIfEmpty(string(after.PauseReason)))
	}
	if before.PendingCeiling != after.PendingCeiling {
		add("pending_ceiling", before.PendingCeiling, after.PendingCeiling)
	}
	if before.DLQCeiling != after.DLQCeiling {
		add("dlq_ceiling", before.DLQCeiling, after.DLQCeiling)
	}
	if before.RateLimitPerSec != after.RateLimitPerSec {
		add("rate_limit_per_sec", before.RateLimitPerSec, after.RateLimitPerSec)
	}
	if before.MaxInFlight != after.MaxInFlight {
		add("max_in_flight", before.MaxInFlight, after.MaxInFlight)
	}
	if before.StandardWebhooks != after.StandardWebhooks {
		add("standard_webhooks", before.StandardWebhooks, after.StandardWebhooks)
	}
	if before.Ordering != after.Ordering {
		add("ordering", before.Ordering, after.Ordering)
	}
	return d
}

func whNullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// SubscriptionAuditView is what a create or delete audit row records about
// a subscription: its settings, with the URL redacted.
func SubscriptionAuditView(s Subscription) map[string]any {
	return map[string]any{
		"name": s.Name, "url": RedactURL(s.URL), "subscription_filter": s.Filter,
		"pending_ceiling": s.PendingCeiling, "dlq_ceiling": s.DLQCeiling,
		"rate_limit_per_sec": s.RateLimitPerSec, "max_in_flight": s.MaxInFlight,
		"standard_webhooks": s.StandardWebhooks, "ordering": s.Ordering, "cursor": s.Cursor,
	}
}
