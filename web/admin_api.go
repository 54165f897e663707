package web

import (
	"net/http"
	"strconv"
)

func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest(name+" must be a positive integer", map[string]string{name: "must be a positive integer"})
	}
	return id, nil
}

// queryInt parses an optional integer query parameter within [min, max].
func queryInt(r *http.Request, name string, def, min, max int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min || n > max {
		return 0, badRequest("query parameter "+name+" must be an integer between "+strconv.FormatInt(min, 10)+" and "+strconv.FormatInt(max, 10),
			map[string]string{name: "must be an integer between " + strconv.FormatInt(min, 10) + " and " + strconv.FormatInt(max, 10)})
	}
	return n, nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	toks, err := s.db.ListTokens(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": toks})
	return nil
}

type createTokenRequest struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

// createToken returns the token in plain text; this response is the only
// time it is ever shown.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req createTokenRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	plain, t, err := s.db.CreateToken(r.Context(), principal(r.Context()).Actor(), req.Name, req.Scopes)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": plain, "id": t.ID, "name": t.Name, "scopes": t.Scopes,
		"prefix": t.Prefix, "created_at": t.CreatedAt, "note": "store this token now: it is not shown again"})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.db.RevokeToken(r.Context(), principal(r.Context()).Actor(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	before, err := queryInt(r, "before", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 50, 1, 500)
	if err != nil {
		return err
	}
	entries, err := s.db.ListAudit(r.Context(), before, int(limit))
	if err != nil {
		return err
	}
	resp := map[string]any{"entries": entries}
	if len(entries) == int(limit) && entries[len(entries)-1].ID > 1 {
		resp["next_before"] = entries[len(entries)-1].ID
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
