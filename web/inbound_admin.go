package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"sentryhub/mapping"
	"sentryhub/store"
)

// The admin API of inbound sources and mappings. Saves are audited by the
// store; a dry run writes nothing.

// sourceStatus is a source with its latest pushes.
type sourceStatus struct {
	store.InboundSource
	Pushes []store.PushLog `json:"pushes"`
}

func (s *Server) sourceStatuses(r *http.Request) ([]sourceStatus, error) {
	srcs, err := s.db.ListInboundSources(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]sourceStatus, len(srcs))
	for i, src := range srcs {
		pushes, err := s.db.ListPushes(r.Context(), src.Name, pushesPerSource)
		if err != nil {
			return nil, err
		}
		out[i] = sourceStatus{InboundSource: src, Pushes: pushes}
	}
	return out, nil
}

func (s *Server) listInboundSources(w http.ResponseWriter, r *http.Request) error {
	out, err := s.sourceStatuses(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"sources": out})
	return nil
}

type createSourceRequest struct {
	Name string `json:"name"`
}

func (s *Server) createInboundSource(w http.ResponseWriter, r *http.Request) error {
	var req createSourceRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	src, err := s.db.CreateInboundSource(r.Context(), principal(r.Context()).Actor(), req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, src)
	return nil
}

// createSourceToken returns the token in plain text, once.
func (s *Server) createSourceToken(w http.ResponseWriter, r *http.Request) error {
	source, err := s.sourceParam(r)
	if err != nil {
		return err
	}
	var req createSourceRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	plain, t, err := s.db.CreateSourceToken(r.Context(), principal(r.Context()).Actor(), source, req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": plain, "id": t.ID, "name": t.Name, "scopes": t.Scopes,
		"inbound_source": t.InboundSource, "prefix": t.Prefix, "created_at": t.CreatedAt,
		"note": "store this token now: it is not shown again"})
	return nil
}

func (s *Server) listSourcePushes(w http.ResponseWriter, r *http.Request) error {
	source, err := s.sourceParam(r)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 50, 1, 500)
	if err != nil {
		return err
	}
	pushes, err := s.db.ListPushes(r.Context(), source, int(limit))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"pushes": pushes})
	return nil
}

func (s *Server) listInboundMappings(w http.ResponseWriter, r *http.Request) error {
	ms, err := s.db.ListMappings(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"mappings": ms})
	return nil
}

// mappingParams returns the existing source and the resource of the path.
func (s *Server) mappingParams(r *http.Request) (string, mapping.Resource, error) {
	res, err := resourceParam(r)
	if err != nil {
		return "", "", err
	}
	source, err := s.sourceParam(r)
	if err != nil {
		return "", "", err
	}
	return source, res, nil
}

func (s *Server) getInboundMapping(w http.ResponseWriter, r *http.Request) error {
	source, res, err := s.mappingParams(r)
	if err != nil {
		return err
	}
	v, err := queryInt(r, "version", 0, 1, 1<<31-1)
	if err != nil {
		return err
	}
	mv, err := s.db.GetMapping(r.Context(), source, string(res), int(v))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, mv)
	return nil
}

func (s *Server) listInboundMappingVersions(w http.ResponseWriter, r *http.Request) error {
	source, res, err := s.mappingParams(r)
	if err != nil {
		return err
	}
	vs, err := s.db.ListMappingVersions(r.Context(), source, string(res))
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		return &Error{Status: http.StatusNotFound, Code: "not_found",
			Message: "source " + strconv.Quote(source) + " has no mapping for " + string(res)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": vs})
	return nil
}

// mappingInvalid is the 422 of a mapping that does not compile: every
// problem with its line, column and place.
func mappingInvalid(err error) error {
	var list mapping.ErrorList
	if !errors.As(err, &list) {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "mapping_invalid", Message: err.Error()}
	}
	fields := make(map[string]string, len(list))
	for _, e := range list {
		k := "line " + strconv.Itoa(e.Line) + ", column " + strconv.Itoa(e.Column)
		if e.Field != "" {
			k += " (" + e.Field + ")"
		}
		if _, dup := fields[k]; !dup {
			fields[k] = e.Message
		}
	}
	return &Error{Status: http.StatusUnprocessableEntity, Code: "mapping_invalid", Message: list.Error(), Fields: fields}
}

// checkMapping parses src as a mapping for res: its own resource key must
// agree with the path's.
func checkMapping(src []byte, res mapping.Resource) (*mapping.Mapping, error) {
	m, err := mapping.Parse(src)
	if err != nil {
		return nil, mappingInvalid(err)
	}
	if m.Resource() != res {
		return nil, &Error{Status: http.StatusUnprocessableEntity, Code: "mapping_invalid",
			Message: "the mapping is for " + string(m.Resource()) + " but is saved as " + string(res) + ": change its resource key or the URL",
			Fields:  map[string]string{"resource": "must be " + string(res)}}
	}
	return m, nil
}

type putMappingRequest struct {
	Mapping string `json:"mapping"`
}

// putInboundMapping saves a new version. The body is the YAML itself
// (Content-Type application/yaml) or JSON {"mapping": "<yaml>"}.
func (s *Server) putInboundMapping(w http.ResponseWriter, r *http.Request) error {
	source, res, err := s.mappingParams(r)
	if err != nil {
		return err
	}
	var src []byte
	if yamlBody(r) {
		if src, err = io.ReadAll(r.Body); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return err
			}
			return badRequest("cannot read request body", nil)
		}
	} else {
		var req putMappingRequest
		if err := decodeJSON(r, &req); err != nil {
			return err
		}
		src = []byte(req.Mapping)
	}
	if _, err := checkMapping(src, res); err != nil {
		return err
	}
	mv, err := s.db.SaveMapping(r.Context(), principal(r.Context()).Actor(), source, string(res), string(src))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if mv.Version == 1 {
		status = http.StatusCreated
	}
	writeJSON(w, status, mv)
	return nil
}

type testMappingRequest struct {
	// Mapping is the YAML to try; empty means the saved current version.
	Mapping  string          `json:"mapping,omitempty"`
	Document json.RawMessage `json:"document"`
}

// dryRun is the outcome of mapping one sample document.
type dryRun struct {
	Version   int                  `json:"version,omitempty"` // the saved version used, when no mapping was sent
	Canonical map[string]any       `json:"canonical,omitempty"`
	Errors    []mapping.FieldError `json:"errors,omitempty"`
	// Store is the canonical record's own check (required fields, sizes)
	// the push would refuse it with; the state checks (unknown skus,
	// taken order numbers) only run in the push.
	Store *store.RecordResult `json:"store,omitempty"`
}

// testInboundMapping maps a sample document with the sent or the saved
// mapping and shows the canonical result or the errors. Nothing is
// written.
func (s *Server) testInboundMapping(w http.ResponseWriter, r *http.Request) error {
	source, res, err := s.mappingParams(r)
	if err != nil {
		return err
	}
	var req testMappingRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if len(req.Document) == 0 || string(req.Document) == "null" {
		return badRequest("document is required: send the sample document to map", map[string]string{"document": "is required"})
	}
	var m *mapping.Mapping
	var out dryRun
	if req.Mapping != "" {
		if m, err = checkMapping([]byte(req.Mapping), res); err != nil {
			return err
		}
	} else if m, out.Version, err = s.currentMapping(r.Context(), source, res); err != nil {
		return err
	}
	out = runDryRun(m, source, req.Document, out.Version)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// runDryRun maps doc with m and checks the record as a push would before
// writing.
func runDryRun(m *mapping.Mapping, source string, doc []byte, version int) dryRun {
	out := dryRun{Version: version}
	v, err := mapping.Decode(doc)
	if err != nil {
		out.Errors = []mapping.FieldError{{Field: "document", Message: "is not valid JSON"}}
		return out
	}
	d, errs := m.Apply(v)
	if errs != nil {
		out.Errors = errs
		return out
	}
	out.Canonical = d.Map()
	rec, err := sourceRecord(d, source)
	if err != nil {
		res := store.Refused(err.Error(), nil)
		out.Store = &res
		return out
	}
	if res := rec.Check(); res != nil {
		out.Store = res
	}
	return out
}
