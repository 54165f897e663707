package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"sentryhub/store"
)

// The audit log: filter by actor, action, target and day; each change is
// shown as field rows, from → to.

const auditPageSize = 50

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) error {
	f, q, err := parseAuditFilter(r)
	if err != nil {
		return err
	}
	q.Limit = auditPageSize
	entries, err := s.db.SearchAudit(r.Context(), q)
	if err != nil {
		return err
	}
	d := auditData{Layout: s.layoutFor(r, "Audit log", "/audit"), ChainOK: true, Filter: f}
	n, verr := s.db.VerifyAudit(r.Context())
	var ce *store.AuditChainError
	switch {
	case errors.As(verr, &ce):
		d.ChainOK, d.ChainMsg = false, ce.Error()
	case verr != nil:
		return verr
	default:
		d.ChainMsg = fmt.Sprintf("Hash chain verified: %d entries intact.", n)
	}
	for _, e := range entries {
		d.Entries = append(d.Entries, auditRow{ID: e.ID, At: s.atText(e.At), Actor: e.Actor, Action: e.Action, Target: e.Target,
			Changes: auditChanges(e.Diff)})
	}
	if len(entries) == auditPageSize && entries[len(entries)-1].ID > 1 {
		v := f.values()
		v.Set("before", itoa(entries[len(entries)-1].ID))
		d.Next = "/audit?" + v.Encode()
	}
	return s.render(w, r, http.StatusOK, auditPage(d))
}

// auditFilter is the filter form as typed.
type auditFilter struct {
	Actor, Action, Target, Since, Until string
}

func (f auditFilter) IsZero() bool { return f == auditFilter{} }

func (f auditFilter) values() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"actor": f.Actor, "action": f.Action, "target": f.Target, "since": f.Since, "until": f.Until} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

// parseAuditFilter reads the filter from the query; days are UTC dates
// (YYYY-MM-DD), until inclusive. A malformed value is a 400 naming it.
func parseAuditFilter(r *http.Request) (auditFilter, store.AuditQuery, error) {
	v := r.URL.Query()
	f := auditFilter{Actor: v.Get("actor"), Action: v.Get("action"), Target: v.Get("target"), Since: v.Get("since"), Until: v.Get("until")}
	q := store.AuditQuery{Actor: f.Actor, Action: f.Action, Target: f.Target}
	fields := map[string]string{}
	q.Since, q.Until = dayRange(v, fields)
	for name, s := range map[string]string{"actor": f.Actor, "action": f.Action, "target": f.Target} {
		if len(s) > 200 {
			fields[name] = "is longer than 200 characters"
		}
	}
	before, err := queryInt(r, "before", 0, 0, 1<<62)
	if err != nil {
		return f, q, err
	}
	q.Before = before
	if len(fields) > 0 {
		return f, q, badRequest("invalid audit filter", fields)
	}
	return f, q, nil
}

// auditChange is one field of a change: From is empty when the entry
// records only the new value.
type auditChange struct {
	Field, From, To string
	HasFrom         bool
}

// auditChanges turns a stored diff into rows. Areas write it as
// {"field": {"from": a, "to": b}}, {"field": [a, b]} or {"field": value};
// anything else is one row holding the JSON.
func auditChanges(diff json.RawMessage) []auditChange {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(diff, &m); err != nil {
		if len(bytes.TrimSpace(diff)) == 0 || string(diff) == "null" {
			return nil
		}
		return []auditChange{{Field: "change", To: string(diff)}}
	}
	var out []auditChange
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}) {
		raw := m[k]
		var ft struct {
			From *json.RawMessage `json:"from"`
			To   *json.RawMessage `json:"to"`
		}
		var pair []json.RawMessage
		switch {
		case json.Unmarshal(raw, &ft) == nil && ft.From != nil && ft.To != nil:
			out = append(out, auditChange{Field: k, From: auditValue(*ft.From), To: auditValue(*ft.To), HasFrom: true})
		case json.Unmarshal(raw, &pair) == nil && len(pair) == 2:
			out = append(out, auditChange{Field: k, From: auditValue(pair[0]), To: auditValue(pair[1]), HasFrom: true})
		default:
			out = append(out, auditChange{Field: k, To: auditValue(raw)})
		}
	}
	return out
}

// auditValue shows a JSON value: strings without quotes, null as "—",
// the rest compact.
func auditValue(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if string(raw) == "null" {
		return "—"
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) == nil {
		return b.String()
	}
	return strconv.Quote(string(raw))
}
