package mapping

import (
	"os"
	"strings"
	"testing"
)

// TestDocsExamples compiles every complete mapping shown in
// docs/mapping.md, so the documentation cannot drift from the language.
func TestDocsExamples(t *testing.T) {
	text, err := os.ReadFile("../docs/mapping.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, block := range strings.Split(string(text), "```yaml\n")[1:] {
		src, _, _ := strings.Cut(block, "```")
		if !strings.HasPrefix(src, "version: 1\n") {
			continue
		}
		n++
		if _, err := Parse([]byte(src)); err != nil {
			t.Errorf("example %d does not compile: %v\n%s", n, err, src)
		}
	}
	if n < 4 {
		t.Errorf("found %d complete examples, want at least 4", n)
	}
}
