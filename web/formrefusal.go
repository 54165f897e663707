package web

import (
	"net/http"
	"net/url"
)

// Post/redirect/get after a refused form: the POST keeps what was typed
// and why it was refused, and redirects (303) to the page of the form,
// which shows the errors beside the fields and the values as typed. The
// address bar then holds the page's own URL, and a reload shows the page
// rather than sending the form again.
//
// The form is kept in the server's memory (a revealStore: per user, once,
// for 10 minutes) and only its nonce travels in the session cookie: typed
// values can be far larger than a cookie holds. Secret values are never
// kept: a form leaves them out of Values and says to type them again.

// refusedForm is a form the server refused.
type refusedForm struct {
	// Form names the form and what it is about ("webhook-settings:12"),
	// so a page shows only its own.
	Form   string
	Values url.Values        // as typed, secrets left out
	Errors map[string]string // by field key
	Notes  []string          // problems not tied to a field
}

// maxRefusedBytes bounds what a refused form keeps: past it the values
// are dropped (the errors still show) rather than held in memory.
const maxRefusedBytes = 64 << 10

func newRefusedStore() *revealStore[refusedForm] {
	return newRevealStore[refusedForm]("form", "The form you sent earlier can no longer be shown with its errors "+
		"(it is kept for 10 minutes, once): fill it in again.")
}

// seeOtherRefused keeps rf for the form's page and redirects there.
func (s *Server) seeOtherRefused(w http.ResponseWriter, r *http.Request, to string, rf refusedForm) error {
	size := 0
	for k, vs := range rf.Values {
		size += len(k)
		for _, v := range vs {
			size += len(v)
		}
	}
	if size > maxRefusedBytes {
		rf.Values = nil
		rf.Notes = append(rf.Notes, "What you typed was too long to show again: fill in the form again.")
	}
	return seeOtherRevealing(s, w, r, to, s.refused, rf)
}

// refusedFrom returns the refused form a redirect carried, given the
// nonce from takeFlashes, when it is form; and a message when it expired.
func (s *Server) refusedFrom(r *http.Request, nonce, form string) (*refusedForm, []flash) {
	rf, ok, gone := s.refused.claim(s, r, nonce)
	if !ok || rf.Form != form {
		return nil, gone
	}
	return &rf, nil
}

// takeRefused returns the queued flash messages and the refused form the
// redirect carried, when it is form.
func (s *Server) takeRefused(w http.ResponseWriter, r *http.Request, form string) ([]flash, *refusedForm) {
	fs, nonce := s.takeFlashes(w, r)
	rf, gone := s.refusedFrom(r, nonce, form)
	return append(fs, gone...), rf
}
