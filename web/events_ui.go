package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"sentryhub/store"
)

// The event browser: the outbox with filters, one envelope exactly as it
// is sent (the canonical bytes that are signed), and its deliveries per
// subscription. It lives with the webhook pages because deliveries are
// theirs.

const eventsPage = 50

// eventFilter is the filter form as typed.
type eventFilter struct {
	Type, Warehouse, Aggregate, From, To string
}

func (f eventFilter) IsZero() bool { return f == eventFilter{} }

// parseEventFilter reads the filter from the query; malformed values are
// a 400 naming them.
func parseEventFilter(r *http.Request) (eventFilter, store.EventSearch, error) {
	v := r.URL.Query()
	f := eventFilter{Type: strings.TrimSpace(v.Get("type")), Warehouse: strings.TrimSpace(v.Get("warehouse")),
		Aggregate: strings.TrimSpace(v.Get("aggregate")), From: strings.TrimSpace(v.Get("from")), To: strings.TrimSpace(v.Get("to"))}
	q := store.EventSearch{EventType: f.Type, AggregateID: strings.ToLower(f.Aggregate), Limit: eventsPage}
	fields := map[string]string{}
	num := func(name, s string) int64 {
		if s == "" {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			fields[name] = fmt.Sprintf("%q is not a positive whole number", whClip(s))
		}
		return n
	}
	q.WarehouseID, q.FromID, q.ToID = num("warehouse", f.Warehouse), num("from", f.From), num("to", f.To)
	if len(f.Type) > 100 || len(f.Aggregate) > 100 {
		fields["type"] = "is too long"
	}
	before, err := queryInt(r, "before", 0, 0, 1<<62)
	if err != nil {
		return f, q, err
	}
	q.Before = before
	if len(fields) > 0 {
		return f, q, badRequest("invalid event filter", fields)
	}
	return f, q, nil
}

type eventsData struct {
	Layout  layoutData
	Filter  eventFilter
	Catalog []catalogEntry
	Rows    []eventRow
	Next    string
}

type eventRow struct {
	ID                         int64
	Type, AggregateType, AggID string
	Warehouse                  int64
	At                         when
}

func (u *webhookUI) eventsList(w http.ResponseWriter, r *http.Request) error {
	f, q, err := parseEventFilter(r)
	if err != nil {
		return err
	}
	evs, err := u.s.db.SearchEvents(r.Context(), q)
	if err != nil {
		return err
	}
	d := eventsData{Layout: u.s.layoutFor(r, "Events", "/events"), Filter: f, Catalog: u.s.catalog}
	for _, ev := range evs {
		d.Rows = append(d.Rows, eventRow{ID: ev.ID, Type: ev.EventType, AggregateType: ev.AggregateType, AggID: ev.AggregateID,
			Warehouse: ev.WarehouseID, At: u.s.at(ev.VisibleAt)})
	}
	if len(evs) == eventsPage {
		v := r.URL.Query()
		v.Set("before", itoa(evs[len(evs)-1].ID))
		d.Next = "/events?" + v.Encode()
	}
	return u.s.render(w, r, http.StatusOK, eventsListPage(d))
}

type eventDetailData struct {
	Layout   layoutData
	Event    eventRow
	Envelope string
	Subs     []eventSubDeliveries
	CanWrite bool
}

// eventSubDeliveries is one subscription's deliveries of the event.
type eventSubDeliveries struct {
	SubID   int64
	SubName string
	Rows    []whDeliveryRow
}

func (u *webhookUI) eventDetail(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	ev, err := u.s.db.EventByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: fmt.Sprintf("there is no event %d", id)}
	}
	if err != nil {
		return err
	}
	body, err := ev.Envelope()
	if err != nil {
		return err
	}
	ds, err := u.s.db.EventDeliveries(ctx, id)
	if err != nil {
		return err
	}
	subs, err := u.svc.Subscriptions(ctx)
	if err != nil {
		return err
	}
	names := map[int64]string{}
	for _, s := range subs {
		names[s.ID] = s.Name
	}
	d := eventDetailData{Layout: u.s.layoutFor(r, fmt.Sprintf("Event %d", id), "/events"), Envelope: string(body), CanWrite: canWrite(r),
		Event: eventRow{ID: ev.ID, Type: ev.EventType, AggregateType: ev.AggregateType, AggID: ev.AggregateID,
			Warehouse: ev.WarehouseID, At: u.s.at(ev.VisibleAt)}}
	for _, x := range ds {
		if n := len(d.Subs); n == 0 || d.Subs[n-1].SubID != x.SubscriptionID {
			d.Subs = append(d.Subs, eventSubDeliveries{SubID: x.SubscriptionID, SubName: names[x.SubscriptionID]})
		}
		g := &d.Subs[len(d.Subs)-1]
		g.Rows = append(g.Rows, u.deliveryRow(x))
	}
	return u.s.render(w, r, http.StatusOK, eventDetailPage(d))
}
