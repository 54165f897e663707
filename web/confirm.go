package web

import (
	"net/http"
	"slices"
)

// confirmed reports whether a destructive POST carries confirm=yes. When
// it does not, it answers with a page asking the question, whose button
// posts the same form again with confirm=yes: without JavaScript that page
// is the confirmation; with it, app.js asks in a dialog first and sends
// confirm=yes at once. The form must be parsed already.
func (s *Server) confirmed(w http.ResponseWriter, r *http.Request, question, cancel string) (bool, error) {
	if r.PostForm.Get("confirm") == "yes" {
		return true, nil
	}
	d := confirmData{Layout: s.layoutFor(r, "Confirm", backFor(r.URL.Path)), Question: question, Action: r.URL.RequestURI(), Cancel: cancel}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range r.PostForm {
			if !yield(k) {
				return
			}
		}
	}) {
		if k == "confirm" {
			continue
		}
		for _, v := range r.PostForm[k] {
			d.Hidden = append(d.Hidden, [2]string{k, v})
		}
	}
	return false, s.render(w, r, http.StatusOK, confirmPage(d))
}

type confirmData struct {
	Layout   layoutData
	Question string
	Action   string
	Cancel   string
	Hidden   [][2]string
}
