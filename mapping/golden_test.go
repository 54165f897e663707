package mapping

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden.json")

// TestGolden maps a foreign-shaped document per resource
// (testdata/golden/<resource>.yaml and .input.json) and compares the
// canonical document with <resource>.golden.json (run with -update to
// rewrite them, then review the diff).
func TestGolden(t *testing.T) {
	for _, r := range Resources() {
		t.Run(string(r), func(t *testing.T) {
			base := filepath.Join("testdata", "golden", string(r))
			src, err := os.ReadFile(base + ".yaml")
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(src)
			if err != nil {
				t.Fatal(err)
			}
			if m.Resource() != r {
				t.Fatalf("resource = %s", m.Resource())
			}
			raw, err := os.ReadFile(base + ".input.json")
			if err != nil {
				t.Fatal(err)
			}
			in, err := Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			doc, errs := m.Apply(in)
			if errs != nil {
				t.Fatal(errs)
			}
			got, err := json.MarshalIndent(doc, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			if *update {
				if err := os.WriteFile(base+".golden.json", got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(base + ".golden.json")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
