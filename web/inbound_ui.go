package web

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"sentryhub/mapping"
	"sentryhub/store"
)

// The inbound pages: sources with their mappings, push tokens and latest
// pushes, and a mapping editor that dry-runs a sample beside the YAML.
// Plain forms, so they work without JavaScript; every change answers with
// a redirect and a flash (post/redirect/get), a refused form included.

// inboundUI serves the inbound pages.
type inboundUI struct {
	s *Server
	// tokens holds push tokens between their creation and the page that
	// shows them once.
	tokens *revealStore[pushToken]
}

// pushToken is a push token just created, waiting to be shown once.
type pushToken struct{ source, name, plain string }

// inboundUIRoutes registers the inbound pages.
func (s *Server) inboundUIRoutes() {
	u := &inboundUI{s: s,
		tokens: newRevealStore[pushToken]("push-token", "The new push token can no longer be shown: it is shown once, "+
			"within 10 minutes, to the admin who created it. Revoke it and create another.")}
	m := s.mux
	m.Handle("GET /inbound", s.page(u.sources))
	m.Handle("POST /inbound/sources", s.page(s.adminOnly(u.createSource)))
	m.Handle("POST /inbound/sources/{source}/tokens", s.page(s.adminOnly(u.createToken)))
	m.Handle("POST /inbound/sources/{source}/tokens/{id}/revoke", s.page(s.adminOnly(u.revokeToken)))
	m.Handle("GET /inbound/{source}/{resource}", s.page(u.editor))
	m.Handle("POST /inbound/{source}/{resource}", s.page(s.adminOnly(u.save)))
	// A dry run changes nothing, so viewers may run one; it answers with
	// the editor itself, which keeps what was typed for the next try.
	m.Handle("POST /inbound/{source}/{resource}/test", s.page(u.dryRun))
	// The dry run's URL stays in the address bar: opening it goes back
	// to the editor.
	m.Handle("GET /inbound/{source}/{resource}/test", s.page(func(w http.ResponseWriter, r *http.Request) error {
		http.Redirect(w, r, editorURL(r.PathValue("source"), r.PathValue("resource")), http.StatusSeeOther)
		return nil
	}))
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

// editorURL is the mapping editor of source and resource.
func editorURL(source, resource string) string {
	return "/inbound/" + url.PathEscape(source) + "/" + url.PathEscape(resource)
}

// The names of the inbound pages' forms that come back after a refusal
// (formrefusal.go).
const sourceForm = "inbound-source"

func pushTokenForm(source string) string         { return "push-token:" + source }
func mappingForm(source, resource string) string { return "mapping:" + source + "/" + resource }

// revokePushTokenQuestion is asked before a push token is revoked, in the
// dialog and on the confirmation page alike.
func revokePushTokenQuestion(name, source string) string {
	return fmt.Sprintf("Revoke push token “%s” of source “%s”? Pushes sent with it get 401 from the next request; this cannot be undone.", name, source)
}

func (u *inboundUI) view(r *http.Request) (inboundData, error) {
	s := u.s
	d := inboundData{Layout: s.layoutFor(r, "Inbound", "/inbound"), Resources: resourceNames(), CanWrite: canWrite(r)}
	statuses, err := s.sourceStatuses(r)
	if err != nil {
		return d, err
	}
	ms, err := s.db.ListMappings(r.Context())
	if err != nil {
		return d, err
	}
	toks, err := s.db.ListTokens(r.Context())
	if err != nil {
		return d, err
	}
	for _, st := range statuses {
		row := inboundSourceRow{Name: st.Name, CreatedAt: s.atText(st.CreatedAt), CreatedBy: st.CreatedBy}
		for _, m := range ms {
			if m.Source == st.Name {
				row.Mappings = append(row.Mappings, m)
			}
		}
		for _, t := range toks {
			if t.InboundSource == st.Name {
				row.Tokens = append(row.Tokens, s.tokenRowOf(t))
			}
		}
		for _, p := range st.Pushes {
			row.Pushes = append(row.Pushes, pushRow{PushLog: p, At: s.at(p.ReceivedAt)})
		}
		d.Sources = append(d.Sources, row)
	}
	return d, nil
}

func (u *inboundUI) sources(w http.ResponseWriter, r *http.Request) error {
	d, err := u.view(r)
	if err != nil {
		return err
	}
	fs, nonce := u.s.takeFlashes(w, r)
	d.NewToken, _ = claimInto(u.s, r, u.tokens, nonce, &fs)
	d.Form = u.s.claimRefused(r, nonce, &fs)
	d.Flashes = fs
	return u.s.render(w, r, http.StatusOK, inboundPage(d))
}

func (u *inboundUI) createSource(w http.ResponseWriter, r *http.Request) error {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	if _, err := u.s.db.CreateInboundSource(r.Context(), principal(r.Context()).Actor(), name); err != nil {
		return u.s.refuseForm(w, r, "/inbound#source-form", refusedForm{Form: sourceForm, Values: url.Values{"name": {name}}}, "Source not added", err)
	}
	return u.s.seeOther(w, r, "/inbound", flash{Kind: "ok", Text: fmt.Sprintf(
		"Source “%s” added. Save a mapping for each resource it pushes, then create its push token.", name)})
}

func (u *inboundUI) createToken(w http.ResponseWriter, r *http.Request) error {
	source, err := u.s.sourceParam(r)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	plain, t, err := u.s.db.CreateSourceToken(r.Context(), principal(r.Context()).Actor(), source, name)
	if err != nil {
		return u.s.refuseForm(w, r, "/inbound#source-"+source, refusedForm{Form: pushTokenForm(source), Values: url.Values{"name": {name}}}, "Push token not created", err)
	}
	return seeOtherRevealing(u.s, w, r, "/inbound", u.tokens, pushToken{source: source, name: t.Name, plain: plain}, flash{Kind: "ok",
		Text: fmt.Sprintf("Push token “%s” created for source “%s”: it pushes as this source and can do nothing else.", t.Name, source)})
}

func (u *inboundUI) revokeToken(w http.ResponseWriter, r *http.Request) error {
	source, err := u.s.sourceParam(r)
	if err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	toks, err := u.s.db.ListTokens(r.Context())
	if err != nil {
		return err
	}
	var tok *store.Token
	for i := range toks {
		if toks[i].ID == id && toks[i].InboundSource == source {
			tok = &toks[i]
		}
	}
	if tok == nil {
		return fmt.Errorf("push token %d of source %q: %w", id, source, store.ErrNotFound)
	}
	if ok, err := u.s.confirmed(w, r, revokePushTokenQuestion(tok.Name, source), "/inbound"); !ok {
		return err
	}
	err = u.s.db.RevokeToken(r.Context(), principal(r.Context()).Actor(), id)
	switch {
	case tok.RevokedAt != nil || errors.Is(err, store.ErrNotFound):
		return u.s.seeOther(w, r, "/inbound", flash{Kind: "warn", Text: fmt.Sprintf("Push token “%s” was revoked already.", tok.Name)})
	case err != nil:
		return err
	}
	return u.s.seeOther(w, r, "/inbound", flash{Kind: "ok", Text: fmt.Sprintf(
		"Push token “%s” of source “%s” revoked: pushes sent with it get 401 from the next request.", tok.Name, source)})
}

// editorView loads the editor of the path's source and resource with the
// saved current mapping (or a starting point) and its versions.
func (u *inboundUI) editorView(r *http.Request) (mappingEditorData, error) {
	s := u.s
	res, err := resourceParam(r)
	if err != nil {
		return mappingEditorData{}, err
	}
	source, err := s.sourceParam(r)
	if err != nil {
		return mappingEditorData{}, err
	}
	d := mappingEditorData{Layout: s.layoutFor(r, "Mapping "+source+"/"+string(res), "/inbound"),
		Source: source, Resource: string(res), CanWrite: canWrite(r)}
	vs, err := s.db.ListMappingVersions(r.Context(), source, string(res))
	if err != nil {
		return d, err
	}
	for _, v := range vs {
		d.Versions = append(d.Versions, versionRow{Version: v.Version, At: s.atText(v.CreatedAt), By: v.CreatedBy})
	}
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

// read takes the editor's contents from the posted form.
func (d *mappingEditorData) read(r *http.Request) {
	d.YAML = strings.ReplaceAll(r.PostForm.Get("mapping"), "\r\n", "\n")
	d.Sample = r.PostForm.Get("sample")
}

// compile compiles the editor's mapping, or fills d.MappingErrors (or
// d.Error) and returns nil when it does not.
func (d *mappingEditorData) compile() *mapping.Mapping {
	m, err := checkMapping([]byte(d.YAML), mapping.Resource(d.Resource))
	if err == nil {
		return m
	}
	var list mapping.ErrorList
	if _, perr := mapping.Parse([]byte(d.YAML)); errors.As(perr, &list) {
		for _, e := range list {
			d.MappingErrors = append(d.MappingErrors, mappingProblem{Line: e.Line, Column: e.Column, Field: e.Field, Message: e.Message})
		}
	} else {
		d.Error = err.Error()
	}
	return nil
}

func (u *inboundUI) editor(w http.ResponseWriter, r *http.Request) error {
	d, err := u.editorView(r)
	if err != nil {
		return err
	}
	fs, nonce := u.s.takeFlashes(w, r)
	if d.Refused = u.s.claimRefused(r, nonce, &fs); d.Refused.is(mappingForm(d.Source, d.Resource)) && d.Refused.Values != nil {
		// A refused save: its YAML again, with its problems marked.
		d.YAML, d.Sample = d.Refused.Values.Get("mapping"), d.Refused.Values.Get("sample")
		d.compile()
	}
	d.Flashes = fs
	d.numbered()
	return u.s.render(w, r, http.StatusOK, mappingEditorPage(d))
}

func (u *inboundUI) dryRun(w http.ResponseWriter, r *http.Request) error {
	d, err := u.editorView(r)
	if err != nil {
		return err
	}
	if err := parseForm(r); err != nil {
		return err
	}
	d.read(r)
	status := http.StatusOK
	if m := d.compile(); m == nil {
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
	return u.s.render(w, r, status, mappingEditorPage(d))
}

func (u *inboundUI) save(w http.ResponseWriter, r *http.Request) error {
	d, err := u.editorView(r)
	if err != nil {
		return err
	}
	d.read(r)
	to := editorURL(d.Source, d.Resource)
	keep := refusedForm{Form: mappingForm(d.Source, d.Resource), Values: url.Values{"mapping": {d.YAML}, "sample": {d.Sample}}}
	if d.compile() == nil {
		keep.Notes = []string{"Not saved: " + cmp.Or(d.Error, "the mapping has "+count(int64(len(d.MappingErrors)), "problem", "problems")+", listed below.")}
		return u.s.seeOtherRefused(w, r, to+"#editor", keep)
	}
	mv, err := u.s.db.SaveMapping(r.Context(), principal(r.Context()).Actor(), d.Source, d.Resource, d.YAML)
	if err != nil {
		return u.s.refuseForm(w, r, to+"#editor", keep, "Not saved", err)
	}
	return u.s.seeOther(w, r, to, flash{Kind: "ok", Text: fmt.Sprintf(
		"Saved as version %d: pushes of %s from %s use it from now on.", mv.Version, d.Resource, d.Source)})
}
