package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"sentryhub/mapping"
	"sentryhub/store"
)

// The inbound pages: sources with their mappings and latest pushes, and a
// mapping editor that dry-runs a sample beside the YAML. Plain forms, so
// they work without JavaScript.

// inboundUIRoutes registers the inbound pages.
func (s *Server) inboundUIRoutes() {
	m := s.mux
	m.Handle("GET /inbound", s.page(s.inboundSourcesPage))
	m.Handle("POST /inbound/sources", s.page(s.inboundCreateSource))
	m.Handle("POST /inbound/sources/{source}/tokens", s.page(s.inboundCreateToken))
	m.Handle("GET /inbound/{source}/{resource}", s.page(s.mappingEditor))
	m.Handle("POST /inbound/{source}/{resource}", s.page(s.mappingEditorSave))
	m.Handle("POST /inbound/{source}/{resource}/test", s.page(s.mappingEditorTest))
}

func resourceNames() []string {
	var out []string
	for _, r := range mapping.Resources() {
		out = append(out, string(r))
	}
	return out
}

func mappingVersionOf(ms []store.MappingVersion, res string) int {
	for _, m := range ms {
		if m.Resource == res {
			return m.Version
		}
	}
	return 0
}

func (s *Server) inboundView(r *http.Request) (inboundData, error) {
	d := inboundData{Layout: s.layoutFor(r, "Inbound", "/inbound"), Resources: resourceNames(),
		CanWrite: principal(r.Context()).User.Role == store.RoleAdmin}
	statuses, err := s.sourceStatuses(r)
	if err != nil {
		return d, err
	}
	ms, err := s.db.ListMappings(r.Context())
	if err != nil {
		return d, err
	}
	for _, st := range statuses {
		row := inboundSourceRow{Name: st.Name, CreatedAt: st.CreatedAt, Pushes: st.Pushes}
		for _, m := range ms {
			if m.Source == st.Name {
				row.Mappings = append(row.Mappings, m)
			}
		}
		d.Sources = append(d.Sources, row)
	}
	return d, nil
}

func (s *Server) inboundSourcesPage(w http.ResponseWriter, r *http.Request) error {
	d, err := s.inboundView(r)
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, inboundPage(d))
}

// formProblem renders the sources page with a problem, or returns err when
// it is not one of the user's making.
func (s *Server) inboundFormProblem(w http.ResponseWriter, r *http.Request, err error) error {
	var ve *store.ValidationError
	var ce *store.ConflictError
	msg := ""
	switch {
	case errors.As(err, &ve):
		msg = ve.Message
	case errors.As(err, &ce):
		msg = ce.Message
	case errors.Is(err, store.ErrNotFound):
		msg = err.Error()
	default:
		return err
	}
	d, verr := s.inboundView(r)
	if verr != nil {
		return verr
	}
	d.Error = msg
	return s.render(w, r, http.StatusUnprocessableEntity, inboundPage(d))
}

func (s *Server) inboundCreateSource(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireAdminUser(r); err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badRequest("invalid form", nil)
	}
	if _, err := s.db.CreateInboundSource(r.Context(), principal(r.Context()).Actor(), strings.TrimSpace(r.PostForm.Get("name"))); err != nil {
		return s.inboundFormProblem(w, r, err)
	}
	http.Redirect(w, r, "/inbound", http.StatusSeeOther)
	return nil
}

func (s *Server) inboundCreateToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireAdminUser(r); err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badRequest("invalid form", nil)
	}
	source := r.PathValue("source")
	plain, _, err := s.db.CreateSourceToken(r.Context(), principal(r.Context()).Actor(), source, r.PostForm.Get("name"))
	if err != nil {
		return s.inboundFormProblem(w, r, err)
	}
	d, err := s.inboundView(r)
	if err != nil {
		return err
	}
	d.NewToken, d.NewTokenSource = plain, source
	return s.render(w, r, http.StatusOK, inboundPage(d))
}

// editorView loads the editor of the path's source and resource with the
// saved current mapping (or a starting point) and its versions.
func (s *Server) editorView(r *http.Request) (mappingEditorData, error) {
	res, err := resourceParam(r)
	if err != nil {
		return mappingEditorData{}, err
	}
	source, err := s.sourceParam(r)
	if err != nil {
		return mappingEditorData{}, err
	}
	d := mappingEditorData{Layout: s.layoutFor(r, "Mapping "+source+"/"+string(res), "/inbound"),
		Source: source, Resource: string(res), CanWrite: principal(r.Context()).User.Role == store.RoleAdmin}
	vs, err := s.db.ListMappingVersions(r.Context(), source, string(res))
	if err != nil {
		return d, err
	}
	d.Versions = vs
	if len(vs) > 0 {
		d.Current, d.YAML = vs[0].Version, vs[0].YAML
	} else {
		d.YAML = "version: 1\nresource: " + string(res) + "\nsource_id: $.id\nfields:\n"
	}
	d.Sample = "{}"
	return d, nil
}

// numbered splits the YAML into lines for the numbered view, marking
// those with problems.
func (d *mappingEditorData) numbered() {
	bad := map[int]bool{}
	for _, e := range d.MappingErrors {
		bad[e.Line] = true
	}
	for i, l := range strings.Split(d.YAML, "\n") {
		d.Lines = append(d.Lines, editorLine{N: i + 1, Text: l, Bad: bad[i+1]})
	}
}

func (s *Server) mappingEditor(w http.ResponseWriter, r *http.Request) error {
	d, err := s.editorView(r)
	if err != nil {
		return err
	}
	d.numbered()
	return s.render(w, r, http.StatusOK, mappingEditorPage(d))
}

// editorForm reads the editor's form into d and compiles the mapping,
// filling d.MappingErrors when it does not.
func editorForm(r *http.Request, d *mappingEditorData) (*mapping.Mapping, error) {
	if err := r.ParseForm(); err != nil {
		return nil, badRequest("invalid form", nil)
	}
	d.YAML = strings.ReplaceAll(r.PostForm.Get("mapping"), "\r\n", "\n")
	d.Sample = r.PostForm.Get("sample")
	m, err := checkMapping([]byte(d.YAML), mapping.Resource(d.Resource))
	if err == nil {
		return m, nil
	}
	var list mapping.ErrorList
	if _, perr := mapping.Parse([]byte(d.YAML)); errors.As(perr, &list) {
		for _, e := range list {
			d.MappingErrors = append(d.MappingErrors, mappingProblem{Line: e.Line, Column: e.Column, Field: e.Field, Message: e.Message})
		}
	} else {
		d.Error = err.Error()
	}
	return nil, nil
}

func (s *Server) mappingEditorTest(w http.ResponseWriter, r *http.Request) error {
	d, err := s.editorView(r)
	if err != nil {
		return err
	}
	m, err := editorForm(r, &d)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if m == nil {
		status = http.StatusUnprocessableEntity
	} else {
		dry := runDryRun(m, d.Source, []byte(d.Sample), 0)
		view := &dryRunView{}
		for _, e := range dry.Errors {
			view.Errors = append(view.Errors, e.Field+": "+e.Message)
		}
		if dry.Canonical != nil {
			b, _ := json.MarshalIndent(dry.Canonical, "", "  ")
			view.Canonical = string(b)
		}
		if dry.Store != nil {
			view.Store = dry.Store.Message
		}
		d.Dry = view
	}
	d.numbered()
	return s.render(w, r, status, mappingEditorPage(d))
}

func (s *Server) mappingEditorSave(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireAdminUser(r); err != nil {
		return err
	}
	d, err := s.editorView(r)
	if err != nil {
		return err
	}
	m, err := editorForm(r, &d)
	if err != nil {
		return err
	}
	if m == nil {
		d.numbered()
		return s.render(w, r, http.StatusUnprocessableEntity, mappingEditorPage(d))
	}
	mv, err := s.db.SaveMapping(r.Context(), principal(r.Context()).Actor(), d.Source, d.Resource, d.YAML)
	if err != nil {
		return err
	}
	if d.Versions, err = s.db.ListMappingVersions(r.Context(), d.Source, d.Resource); err != nil {
		return err
	}
	d.Saved, d.Current = mv.Version, mv.Version
	d.numbered()
	return s.render(w, r, http.StatusOK, mappingEditorPage(d))
}
