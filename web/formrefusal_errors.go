package web

import (
	"maps"
	"net/http"
	"slices"
	"strings"
)

// Refusals the store or a service makes (a *store.ValidationError, a
// conflict) on the way to post/redirect/get (formrefusal.go): the form
// goes back to its page with the error's message as a note and its field
// problems beside the fields; a button with nothing typed gets an error
// flash.

// refusal is the message and field problems of an error the user's input
// caused (what the API answers with 400, 409 or 422); ok is false for any
// other error, which the handler returns for the error page.
func refusal(err error) (msg string, fields map[string]string, ok bool) {
	if err == nil {
		return "", nil, false
	}
	switch ae := toAPIError(err); ae.Status {
	case http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity:
		return sentence(ae.Message), ae.Fields, true
	}
	return "", nil, false
}

// refuseForm answers a form that failed with err: a refusal goes back to
// the form's page at to with rf, its field problems and a note saying
// what was not done (notDone) and why; any other error is returned.
func (s *Server) refuseForm(w http.ResponseWriter, r *http.Request, to string, rf refusedForm, notDone string, err error) error {
	msg, fields, ok := refusal(err)
	if !ok {
		return err
	}
	rf.Errors, rf.Notes = fields, append(rf.Notes, notDone+": "+lower(msg)+".")
	return s.seeOtherRefused(w, r, to, rf)
}

// lower is sentence undone, for a message after a colon.
func lower(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + strings.TrimSuffix(s[1:], ".")
}

// seeOtherFailure answers a button (a form with nothing typed to keep)
// that failed with err: a refusal goes back to to as an error flash
// saying what was not done (notDone) and why.
func (s *Server) seeOtherFailure(w http.ResponseWriter, r *http.Request, to, notDone string, err error) error {
	msg, _, ok := refusal(err)
	if !ok {
		return err
	}
	return s.seeOther(w, r, to, flash{Kind: "error", Text: notDone + ": " + msg})
}

// Value is what was typed in field name when rf is the refused form
// named form, for templates ("" otherwise, rf nil included).
func (rf *refusedForm) Value(form, name string) string {
	if rf == nil || rf.Form != form {
		return ""
	}
	return rf.Values.Get(name)
}

// Problem is the problem of a field when rf is the refused form named
// form: the first of keys (the form's name for the field, then the API's
// where it differs) that has one.
func (rf *refusedForm) Problem(form string, keys ...string) string {
	if rf == nil || rf.Form != form {
		return ""
	}
	for _, k := range keys {
		if p := rf.Errors[k]; p != "" {
			return p
		}
	}
	return ""
}

// is reports whether rf is the refused form named form.
func (rf *refusedForm) is(form string) bool { return rf != nil && rf.Form == form }

// claimInto is rs.claim for a page that takes values of several stores
// from one takeFlashes: rs's gone message, if any, joins fs.
func claimInto[T any](s *Server, r *http.Request, rs *revealStore[T], nonce string, fs *[]flash) (T, bool) {
	v, ok, gone := rs.claim(s, r, nonce)
	*fs = append(*fs, gone...)
	return v, ok
}

// claimRefused is the refused form a redirect carried, or nil.
func (s *Server) claimRefused(r *http.Request, nonce string, fs *[]flash) *refusedForm {
	if rf, ok := claimInto(s, r, s.refused, nonce, fs); ok {
		return &rf
	}
	return nil
}

// otherProblems lists the field problems of rf but those of the fields in
// inline.
func (rf *refusedForm) otherProblems(inline []string) []string {
	rest := maps.Clone(rf.Errors)
	maps.DeleteFunc(rest, func(k, _ string) bool { return slices.Contains(inline, k) })
	return fieldList(rest)
}
