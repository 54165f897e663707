package manifest

import (
	"regexp"
	"strings"
)

// A template is text with {{name}} placeholders and no logic, so a
// manifest cannot compute anything the validator cannot see.
type template struct {
	parts []tpart
}

type tpart struct {
	lit  string
	name string // "" for a literal
}

var placeholderRE = regexp.MustCompile(`\{\{\s*([a-zA-Z0-9_.\-]+)\s*\}\}`)

func parseTemplate(s string) template {
	var t template
	for {
		loc := placeholderRE.FindStringSubmatchIndex(s)
		if loc == nil {
			if s != "" {
				t.parts = append(t.parts, tpart{lit: s})
			}
			return t
		}
		if loc[0] > 0 {
			t.parts = append(t.parts, tpart{lit: s[:loc[0]]})
		}
		t.parts = append(t.parts, tpart{name: s[loc[2]:loc[3]]})
		s = s[loc[1]:]
	}
}

// names lists the placeholders.
func (t template) names() []string {
	var out []string
	for _, p := range t.parts {
		if p.name != "" {
			out = append(out, p.name)
		}
	}
	return out
}

// only returns the placeholder when the template is exactly one.
func (t template) only() (string, bool) {
	if len(t.parts) == 1 && t.parts[0].name != "" {
		return t.parts[0].name, true
	}
	return "", false
}

func (t template) render(vars func(string) string) string {
	if len(t.parts) == 1 && t.parts[0].name == "" {
		return t.parts[0].lit
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.name == "" {
			b.WriteString(p.lit)
		} else {
			b.WriteString(vars(p.name))
		}
	}
	return b.String()
}

// renderString renders s as a template (parsing each time: only used off
// the per-record path).
func renderString(s string, vars func(string) string) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	return parseTemplate(s).render(vars)
}

// Template name scopes.
type scope uint8

const (
	scopeConfig  scope = 1 << iota // settings.X, secrets.X
	scopeRequest                   // since, page_size, offset, page, cursor, now
	scopeWrite                     // record.X, ref, snapshot.X, idempotency_key
	scopeLines                     // ids (a stream's lines request)
	scopeDelta                     // delta (a write with delta_from)
)

var requestNames = []string{"since", "page_size", "offset", "page", "cursor", "now"}
var recordNames = []string{"source_id", "order_id", "order_number", "carrier", "tracking", "lines", "sku", "on_hand", "name", "barcode"}
