package assets

import (
	"embed"
	"io/fs"
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
