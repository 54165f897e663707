package web

import (
	"net/http"
	"net/url"
	"strings"
)

// A refused form goes back to its page by post/redirect/get like an
// accepted one, so the address bar never keeps the POST URL and a reload
// never sends the form again: the problem travels as an error flash, and
// what was typed waits in a revealStore for that page to fill the form in
// once. Only the store's nonce rides in the session cookie, which a
// mapping's YAML would not fit. Forms with secret fields leave those out
// of Values: a secret is never kept.

// refusedForm is a form the server turned down.
type refusedForm struct {
	Form   string            // which form of the page, when it has several
	Fields map[string]string // the problem of each field, by form name
	Values url.Values        // what was typed, secrets left out
}

// For reports whether f is the refused form named form.
func (f refusedForm) For(form string) bool { return f.Form == form && f.Form != "" }

// Value is the typed value of field name when f is the form named form.
func (f refusedForm) Value(form, name string) string {
	if !f.For(form) {
		return ""
	}
	return f.Values.Get(name)
}

// Problem is the problem of the field when f is the form named form:
// the first of keys (the form's name for the field, then the API's where
// it differs) that has one.
func (f refusedForm) Problem(form string, keys ...string) string {
	if !f.For(form) {
		return ""
	}
	for _, k := range keys {
		if p := f.Fields[k]; p != "" {
			return p
		}
	}
	return ""
}

func newRefusedForms(prefix string) *revealStore[refusedForm] {
	return newRevealStore[refusedForm](prefix, "What you typed in the refused form is no longer kept "+
		"(it waits 10 minutes, for you only): please fill the form in again.")
}

// refusal is the message and field problems of an error the user's input
// caused (what the API answers with 400, 409 or 422); ok is false for any
// other error, which the handler returns for the error page.
func refusal(err error) (msg string, fields map[string]string, ok bool) {
	if err == nil {
		return "", nil, false
	}
	switch ae := toAPIError(err); ae.Status {
	case http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity:
		return ae.Message, ae.Fields, true
	}
	return "", nil, false
}

// seeOtherRefused answers a form that failed with err: a refusal (see
// refusal) goes back to the page at to with an error flash saying what was
// not done (notDone) and why, and f kept in rs; any other error is
// returned, for the error page.
func seeOtherRefused(s *Server, w http.ResponseWriter, r *http.Request, to string, rs *revealStore[refusedForm], f refusedForm, notDone string, err error) error {
	msg, fields, ok := refusal(err)
	if !ok {
		return err
	}
	f.Fields = fields
	text := notDone + ": " + msg
	if len(fields) > 0 {
		text += " (" + strings.Join(fieldList(fields), "; ") + ")"
	}
	return seeOtherRevealing(s, w, r, to, rs, f, flash{Kind: "error", Topic: f.Form, Text: text})
}

// seeOtherFailure answers a button (a form with nothing typed to keep)
// that failed with err: a refusal goes back to to as an error flash.
func (s *Server) seeOtherFailure(w http.ResponseWriter, r *http.Request, to, notDone string, err error) error {
	msg, _, ok := refusal(err)
	if !ok {
		return err
	}
	return s.seeOther(w, r, to, flash{Kind: "error", Text: notDone + ": " + msg})
}
