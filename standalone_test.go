package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestStandsAlone keeps the repository self-contained: a clone of it alone
// must build, test and read well, so no code, test, script or document may
// reach for the design material that lived beside it while it was written.
// Tests read their fixtures from testdata directories; comments and docs
// point at README.md and docs/*.md.
func TestStandsAlone(t *testing.T) {
	// Split so that this file does not match itself.
	outside := []string{
		"../" + "shared",
		"shared/" + "seeds",
		"shared/" + "testdata",
		"/work/" + "shared",
	}
	text := map[string]bool{
		".go": true, ".templ": true, ".md": true, ".json": true, ".sql": true,
		".py": true, ".js": true, ".css": true, ".yml": true, ".yaml": true, ".txt": true,
	}
	if _, err := os.Stat("go.mod"); err != nil {
		t.Fatalf("not at the repository root: %v", err)
	}
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (d.Name() == ".git" || d.Name() == "node_modules" || path == "data") {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if !text[filepath.Ext(name)] && name != "Dockerfile" && name != ".gitignore" && path != filepath.Join(".ci", "run") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		for _, p := range outside {
			if i := bytes.Index(b, []byte(p)); i >= 0 {
				line := 1 + bytes.Count(b[:i], []byte("\n"))
				t.Errorf("%s:%d refers to %q, outside the repository", path, line, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("only %d files checked", checked)
	}
}
