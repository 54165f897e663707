package web

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"sentryhub/store"
)

// The webhook forms as typed, and their parsing into the store's inputs.

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

// whBatchFormFromPost reads the replay-batch form as typed.
func whBatchFormFromPost(v url.Values) whBatchForm {
	f := whBatchForm{Mode: v.Get("mode"), From: strings.TrimSpace(v.Get("from_event_id")),
		To: strings.TrimSpace(v.Get("to_event_id")), EventTypes: v["event_type"],
		WarehouseIDs: v.Get("warehouse_ids"), AggregateIDs: v.Get("aggregate_ids")}
	if f.Mode != "range" {
		f.Mode = "dead"
	}
	return f
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
