package web

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"strconv"

	"sentryhub/assets"
	"sentryhub/store"
)

func (s *Server) eventRoutes() {
	m := s.mux
	m.Handle("GET /api/v1/events", s.api(store.ScopeEventsRead, s.pollEvents))
	// The catalog and its schemas are documentation: public, so tools and the
	// OpenAPI document's $refs resolve without a token.
	m.Handle("GET /api/v1/events/types", s.public(s.eventTypes))
	m.Handle("GET /api/v1/events/schema/{type}/{version}", s.public(s.eventSchema))
}

// pollEvents serves a page of events. Each element of "events" is the
// event's canonical envelope, written verbatim: the same bytes the
// dispatcher signs, so a consumer can hand either to the same handler.
func (s *Server) pollEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for name := range q {
		switch name {
		case "after", "limit", "event_type", "warehouse_id":
		default:
			return badRequest("unknown query parameter "+name, map[string]string{name: "unknown parameter (use after, limit, event_type, warehouse_id)"})
		}
	}
	after, err := queryInt(r, "after", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", store.DefaultEventPage, 1, store.MaxEventPage)
	if err != nil {
		return err
	}
	wh, err := queryInt(r, "warehouse_id", 0, 1, 1<<62)
	if err != nil {
		return err
	}
	et := q.Get("event_type")
	if q.Has("event_type") && !store.IsEventName(et) {
		return badRequest("query parameter event_type is not an event type", map[string]string{"event_type": "must be an event type such as ship.confirmed"})
	}
	events, more, err := s.db.ListEvents(r.Context(), store.EventQuery{After: after, Limit: int(limit), EventType: et, WarehouseID: wh})
	if err != nil {
		return err
	}
	next := after
	b := make([]byte, 0, 64+len(events)*400)
	b = append(b, `{"events":[`...)
	for i, e := range events {
		env, err := e.Envelope()
		if err != nil {
			return err
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, env...)
		next = e.ID
	}
	b = append(b, `],"has_more":`...)
	b = strconv.AppendBool(b, more)
	b = append(b, `,"next_after":`...)
	b = strconv.AppendInt(b, next, 10)
	b = append(b, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
	return nil
}

type catalogEntry struct {
	Type          string `json:"type"`
	Versions      []int  `json:"versions"`
	AggregateType string `json:"aggregate_type"`
}

// loadCatalog reads the embedded catalog once at start-up.
func loadCatalog() ([]catalogEntry, error) {
	b, err := fs.ReadFile(assets.Schemas, "schemas/catalog.json")
	if err != nil {
		return nil, err
	}
	var c []catalogEntry
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Server) eventTypes(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"types": s.catalog})
	return nil
}

func (s *Server) eventSchema(w http.ResponseWriter, r *http.Request) error {
	typ, ver := r.PathValue("type"), r.PathValue("version")
	notFound := &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no schema for event type " + strconv.Quote(typ) + " version " + strconv.Quote(ver)}
	if !store.IsEventName(typ) {
		return notFound
	}
	if v, err := strconv.Atoi(ver); err != nil || v < 1 || strconv.Itoa(v) != ver {
		return notFound
	}
	b, err := fs.ReadFile(assets.Schemas, "schemas/"+typ+"/"+ver+".json")
	if err != nil {
		return notFound
	}
	w.Header().Set("Content-Type", "application/schema+json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
	return nil
}
