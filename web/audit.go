package web

import (
	"errors"
	"fmt"
	"net/http"

	"sentryhub/store"
)

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) error {
	before, err := queryInt(r, "before", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	const pageSize = 50
	entries, err := s.db.ListAudit(r.Context(), before, pageSize)
	if err != nil {
		return err
	}
	d := auditData{Layout: s.layoutFor(r, "Audit log", "/audit"), ChainOK: true}
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
		d.Entries = append(d.Entries, auditRow{ID: e.ID, At: s.atText(e.At), Actor: e.Actor, Action: e.Action, Target: e.Target, Diff: string(e.Diff)})
	}
	if len(entries) == pageSize && entries[len(entries)-1].ID > 1 {
		d.NextBefore = entries[len(entries)-1].ID
	}
	return s.render(w, r, http.StatusOK, auditPage(d))
}
