package web

import (
	"io"
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"sentryhub/assets"
)

// Pages link the static files by versioned URL, which the browser may keep
// for good; the same file without the current version is revalidated.
func TestStaticFilesCacheByVersion(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	page := e.do(nil, "GET", "/login", nil, nil)
	body, _ := io.ReadAll(page.Body)
	links := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(string(body), -1)
	if len(links) != 3 {
		t.Fatalf("login page links %d static files, want 3 (css, icon, script): %s", len(links), body)
	}
	for _, l := range links {
		u := strings.ReplaceAll(l[1], "&amp;", "&")
		name, version, ok := strings.Cut(strings.TrimPrefix(u, "/static/"), "?v=")
		want, known := assets.StaticVersion(name)
		if !ok || !known || version != want {
			t.Fatalf("page links %s; want /static/%s?v=%s", u, name, want)
		}
		file, err := fs.ReadFile(assets.StaticFS(), name)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			path, ifNoneMatch string
			status            int
			cache             string
		}{
			{u, "", 200, "public, max-age=31536000, immutable"},
			{"/static/" + name, "", 200, "no-cache"},
			{"/static/" + name + "?v=0123456789abcdef", "", 200, "no-cache"}, // an old page's link after an upgrade
			{"/static/" + name, `"` + want + `"`, 304, "no-cache"},
			{"/static/" + name, `"0123456789abcdef"`, 200, "no-cache"},
		} {
			var hdr map[string]string
			if tc.ifNoneMatch != "" {
				hdr = map[string]string{"If-None-Match": tc.ifNoneMatch}
			}
			r := e.do(nil, "GET", tc.path, hdr, nil)
			got, _ := io.ReadAll(r.Body)
			if r.StatusCode != tc.status || r.Header.Get("Cache-Control") != tc.cache || r.Header.Get("ETag") != `"`+want+`"` {
				t.Fatalf("GET %s (If-None-Match %s): %d, Cache-Control %q, ETag %q; want %d, %q, %q",
					tc.path, tc.ifNoneMatch, r.StatusCode, r.Header.Get("Cache-Control"), r.Header.Get("ETag"), tc.status, tc.cache, want)
			}
			if tc.status == 200 && string(got) != string(file) {
				t.Fatalf("GET %s: body is not %s", tc.path, name)
			}
		}
	}
	if r := e.do(nil, "GET", "/static/nope.css", nil, nil); r.StatusCode != 404 || r.Header.Get("Cache-Control") != "" {
		t.Fatalf("unknown static file: %d, Cache-Control %q", r.StatusCode, r.Header.Get("Cache-Control"))
	}
}
