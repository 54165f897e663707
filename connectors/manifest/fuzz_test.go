package manifest

import (
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzParse: a manifest is operator input; Parse must refuse or accept it,
// never panic, and an accepted manifest must be complete.
func FuzzParse(f *testing.F) {
	f.Add([]byte(baseManifest))
	f.Add([]byte("key: x\nstreams: [{mode: webhook, signature: {kind: hmac}}]"))
	f.Add([]byte("settings: {properties: {a: [1, 2]}}"))
	f.Add([]byte("{{"))
	f.Add([]byte(baseManifest + strings.ReplaceAll(secondStream, "%s", `    source_prefix: "b:"`+"\n") +
		"    lines: {request: {path: \"/l?in={{ids}}\"}, parent: o}\n"))
	fsys := fstest.MapFS{"items.mapping.yaml": {Data: []byte(itemsMapping)}}
	f.Fuzz(func(t *testing.T, src []byte) {
		m, err := Parse("f/manifest.yaml", src, fsys, ".")
		if err == nil && (m == nil || m.Key == "" || m.Test == nil) {
			t.Fatalf("accepted an incomplete manifest: %+v", m)
		}
	})
}
