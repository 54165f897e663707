package web

import (
	"maps"
	"net/http"
	"slices"
	"strings"
)

// wantsHTML reports whether an error for r is answered with an HTML page
// rather than the JSON envelope: everything a browser navigates to, that
// is every path but the API, the probes and the static files.
func wantsHTML(r *http.Request) bool {
	p := r.URL.Path
	for _, prefix := range []string{"/api/", "/static/"} {
		if strings.HasPrefix(p, prefix) {
			return false
		}
	}
	switch p {
	case "/api", "/healthz", "/readyz", "/metrics":
		return false
	}
	return true
}

// errorTitles names the statuses people meet in the UI.
var errorTitles = map[int]string{
	http.StatusBadRequest:            "Bad request",
	http.StatusForbidden:             "Not allowed",
	http.StatusNotFound:              "Page not found",
	http.StatusMethodNotAllowed:      "Method not allowed",
	http.StatusConflict:              "Conflict",
	http.StatusRequestEntityTooLarge: "Too large",
	http.StatusUnprocessableEntity:   "Not accepted",
	http.StatusTooManyRequests:       "Too many requests",
	http.StatusServiceUnavailable:    "Unavailable",
}

// writeErrorPage renders ae as the HTML error page, inside the frame of
// the logged-in user when there is one.
func (s *Server) writeErrorPage(w http.ResponseWriter, r *http.Request, ae *Error) {
	d := errorPageData{Status: ae.Status, Title: errorTitles[ae.Status], Message: sentence(ae.Message), Back: backFor(r.URL.Path)}
	if d.Title == "" {
		d.Title = http.StatusText(ae.Status)
		if ae.Status >= 500 {
			d.Title = "Something went wrong"
		}
	}
	for _, k := range slices.Sorted(maps.Keys(ae.Fields)) {
		d.Fields = append(d.Fields, fieldLabel(k)+": "+ae.Fields[k])
	}
	d.Layout = layoutData{Title: d.Title}
	if u := principal(r.Context()).User; u != nil {
		d.Layout = s.layoutFor(r, d.Title, "")
	} else if u, _, err := s.sessionUser(r); err == nil {
		d.Layout.Email, d.Layout.Role = u.Email, u.Role
	}
	d.Layout.Current = d.Back
	if err := s.render(w, r, ae.Status, errorPage(d)); err != nil {
		s.log.DebugContext(r.Context(), "render error page", "error", err)
	}
}

// backFor is the section of the UI a failed request belongs to (the nav
// item its path starts with), where the error page leads back to.
func backFor(path string) string {
	back := "/"
	for _, n := range navItems {
		// The longest match, for nav items deeper than one segment
		// (/settings/developer).
		if (path == n.Href || strings.HasPrefix(path, n.Href+"/")) && len(n.Href) > len(back) {
			back = n.Href
		}
	}
	return back
}

// sentence capitalizes a message for a page.
func sentence(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
