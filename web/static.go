package web

import (
	"net/http"
	"strings"

	"sentryhub/assets"
)

// staticHandler serves the embedded CSS, script and icon with an ETag.
// Pages link them by versioned URL (assets.StaticPath), and a request for
// the current version may be kept by the browser for a year: without
// that, every page view fetched all three again. Any other request (no
// version, or an old page's version after an upgrade) gets the current
// file marked no-cache, so it is revalidated rather than kept stale.
func staticHandler() http.Handler {
	files := http.StripPrefix("/static/", http.FileServerFS(assets.StaticFS()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v, ok := assets.StaticVersion(strings.TrimPrefix(r.URL.Path, "/static/")); ok {
			w.Header().Set("ETag", `"`+v+`"`)
			if r.URL.Query().Get("v") == v {
				w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			} else {
				w.Header().Set("Cache-Control", "no-cache")
			}
		}
		files.ServeHTTP(w, r)
	})
}
