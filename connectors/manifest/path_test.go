package manifest

import (
	"slices"
	"testing"
)

func TestSplitPath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"value", []string{"value"}},
		{"a.b.0", []string{"a", "b", "0"}},
		{`@odata\.nextLink`, []string{"@odata.nextLink"}},
		{`meta\.x.next`, []string{"meta.x", "next"}},
		{`a\\.b`, []string{`a\`, "b"}},
		{`trailing\`, []string{`trailing\`}},
	} {
		if got := splitPath(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("splitPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	doc := map[string]any{"@odata.nextLink": "https://x/next", "@odata": map[string]any{"nextLink": "wrong"}}
	if got := text(lookup(doc, splitPath(`@odata\.nextLink`))); got != "https://x/next" {
		t.Fatalf("lookup = %q", got)
	}
}

func FuzzSplitPath(f *testing.F) {
	f.Add(`@odata\.nextLink`)
	f.Add(`a.b\\.c\`)
	f.Fuzz(func(t *testing.T, s string) {
		parts := splitPath(s)
		if len(parts) == 0 {
			t.Fatalf("splitPath(%q) is empty", s)
		}
	})
}
