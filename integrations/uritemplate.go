package integrations

import (
	"errors"
	"fmt"
	"strings"
)

// Template is a URI template (RFC 6570) of levels 1 to 3 with string
// values: expressions {var}, {+var}, {#var}, {.var}, {/var}, {;var},
// {?var}, {&var}, each with one or more comma-separated names. Prefix and
// explode modifiers (levels 4) are refused at parse time: UI links need
// none of them, and a template we cannot expand exactly is better refused
// than expanded wrongly. No maintained pure-Go RFC 6570 library is among
// the project's vetted dependencies, hence this small one.
type Template struct {
	parts []tmplPart
}

type tmplPart struct {
	literal string
	op      byte // 0 for a literal part
	names   []string
}

// ParseTemplate parses s.
func ParseTemplate(s string) (Template, error) {
	var t Template
	for s != "" {
		i := strings.IndexByte(s, '{')
		if j := strings.IndexByte(s, '}'); j >= 0 && (i < 0 || j < i) {
			return Template{}, errors.New("has a '}' without its '{'")
		}
		if i < 0 {
			t.parts = append(t.parts, tmplPart{literal: s})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, tmplPart{literal: s[:i]})
		}
		s = s[i+1:]
		j := strings.IndexByte(s, '}')
		if j < 0 {
			return Template{}, errors.New("has a '{' that is never closed")
		}
		expr := s[:j]
		s = s[j+1:]
		var op byte
		if expr != "" && strings.IndexByte("+#./;?&", expr[0]) >= 0 {
			op, expr = expr[0], expr[1:]
		}
		if expr == "" {
			return Template{}, errors.New("has an empty expression {}")
		}
		names := strings.Split(expr, ",")
		for _, n := range names {
			if !validVarName(n) {
				return Template{}, fmt.Errorf("has an unsupported variable %q (names of letters, digits and _; no prefix or explode modifiers)", n)
			}
		}
		t.parts = append(t.parts, tmplPart{op: op, names: names})
	}
	for _, p := range t.parts {
		for i := 0; i < len(p.literal); i++ {
			if c := p.literal[i]; c <= ' ' || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' || c == '|' || c == 0x7f {
				return Template{}, fmt.Errorf("has a character not allowed in a URI: %q", c)
			}
		}
	}
	return t, nil
}

func validVarName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') {
			return false
		}
	}
	return true
}

// Variables lists the template's variable names in order of appearance.
func (t Template) Variables() []string {
	var out []string
	for _, p := range t.parts {
		for _, n := range p.names {
			if !contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// Expand substitutes vars; undefined variables are skipped, as RFC 6570
// says.
func (t Template) Expand(vars map[string]string) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.op == 0 && p.names == nil {
			b.WriteString(p.literal)
			continue
		}
		first, sep, named, ifemp, reserved := opRules(p.op)
		wrote := false
		for _, n := range p.names {
			v, ok := vars[n]
			if !ok {
				continue
			}
			if !wrote {
				b.WriteString(first)
			} else {
				b.WriteString(sep)
			}
			wrote = true
			if named {
				b.WriteString(n)
				if v == "" {
					b.WriteString(ifemp)
					continue
				}
				b.WriteByte('=')
			}
			b.WriteString(pctEncode(v, reserved))
		}
	}
	return b.String()
}

// opRules is RFC 6570 appendix A's table.
func opRules(op byte) (first, sep string, named bool, ifemp string, reserved bool) {
	switch op {
	case '+':
		return "", ",", false, "", true
	case '#':
		return "#", ",", false, "", true
	case '.':
		return ".", ".", false, "", false
	case '/':
		return "/", "/", false, "", false
	case ';':
		return ";", ";", true, "", false
	case '?':
		return "?", "&", true, "=", false
	case '&':
		return "&", "&", true, "=", false
	}
	return "", ",", false, "", false
}

// pctEncode percent-encodes every byte outside the unreserved set (and,
// when reserved is set, outside unreserved plus reserved characters,
// keeping existing %XX triplets).
func pctEncode(v string, reserved bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~':
			b.WriteByte(c)
		case reserved && strings.IndexByte(":/?#[]@!$&'()*+,;=", c) >= 0:
			b.WriteByte(c)
		case reserved && c == '%' && i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]):
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// literalPrefix is the template's text before its first expression.
func (t Template) literalPrefix() string {
	if len(t.parts) > 0 && t.parts[0].names == nil {
		return t.parts[0].literal
	}
	return ""
}
