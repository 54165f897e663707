package assets

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"sync"
)

//go:embed static
var static embed.FS

// StaticFS serves the UI's CSS and icons; everything is embedded so the
// admin UI works offline with no CDN.
func StaticFS() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// StaticPath is the URL pages link the static file name by: its path with
// the file's version (a hash of its bytes) as ?v=. A browser may keep such
// a URL for good, because a new binary with a changed file links a new URL.
func StaticPath(name string) string {
	v, ok := StaticVersion(name)
	if !ok {
		return "/static/" + name
	}
	return "/static/" + name + "?v=" + v
}

// StaticVersion is the version of the static file name, the first 16 hex
// digits of its SHA-256, and whether there is such a file.
func StaticVersion(name string) (string, bool) {
	v, ok := staticVersions()[name]
	return v, ok
}

// staticVersions hashes the embedded files once; they cannot change while
// the binary runs.
var staticVersions = sync.OnceValue(func() map[string]string {
	versions := map[string]string{}
	files := StaticFS()
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		versions[name] = hex.EncodeToString(sum[:8])
		return nil
	})
	if err != nil {
		panic(err) // the files are embedded at build time
	}
	return versions
})
