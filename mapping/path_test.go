package mapping

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPath(t *testing.T) {
	doc, err := Decode([]byte(`{"a":{"b":[10,{"c":"deep"},30]},"x.y":1,"it's":2,"n":null,"s":"text"}`))
	if err != nil {
		t.Fatal(err)
	}
	line := map[string]any{"code": "L1"}
	tests := []struct {
		path  string
		want  any // nil with found false: not found
		found bool
	}{
		{"$", doc, true},
		{"$.a.b[0]", json.Number("10"), true},
		{"$.a.b[1].c", "deep", true},
		{"$.a.b[-1]", json.Number("30"), true},
		{"$.a.b[-3]", json.Number("10"), true},
		{"$.a.b[3]", nil, false},
		{"$.a.b[-4]", nil, false},
		{`$["x.y"]`, json.Number("1"), true},
		{`$['x.y']`, json.Number("1"), true},
		{`$["it's"]`, json.Number("2"), true},
		{"$.n", nil, true},
		{"$.missing", nil, false},
		{"$.s.len", nil, false},  // a member of text
		{"$.a[0]", nil, false},   // an index into an object
		{"$.a.b.c", nil, false},  // a member of a list
		{"$doc.s", "text", true}, // $doc is the document even in a line
	}
	for _, tt := range tests {
		p, err := parsePath(tt.path)
		if err != nil {
			t.Errorf("parsePath(%q): %v", tt.path, err)
			continue
		}
		ctx := any(doc)
		if strings.HasPrefix(tt.path, "$doc") {
			ctx = line
		}
		got, found := p.resolve(doc, ctx)
		if found != tt.found || (tt.path != "$" && got != tt.want) {
			t.Errorf("%s = %v, %v; want %v, %v", tt.path, got, found, tt.want, tt.found)
		}
	}
	// In a line, $ is the line.
	p, _ := parsePath("$.code")
	if got, _ := p.resolve(doc, line); got != "L1" {
		t.Errorf("$.code in a line = %v", got)
	}
}

func TestParsePathErrors(t *testing.T) {
	tests := []struct{ path, msg string }{
		{"a.b", "must start with $"},
		{"$.", "empty name after a dot"},
		{"$..a", "empty name after a dot"},
		{"$a", `expects . or [ after "$"`},
		{"$.a[", "[ without ]"},
		{"$.a[x]", "neither an index nor a quoted name"},
		{"$.a[1.5]", "neither an index nor a quoted name"},
		{"$.a[99999999]", "neither an index nor a quoted name"},
		{`$.a["b]`, "unterminated"},
		{`$.a["b"x`, "unterminated"},
		{"$.a]", `expects . or [ after "$.a"`},
		{"$" + strings.Repeat(".a", maxPathSteps+1), "more than 64 steps"},
	}
	for _, tt := range tests {
		_, err := parsePath(tt.path)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("parsePath(%q) = %v, want %q", tt.path, err, tt.msg)
		}
	}
}
