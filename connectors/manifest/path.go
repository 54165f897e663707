package manifest

import "strings"

// splitPath splits a dotted response path into keys. A backslash escapes
// the next character, so `@odata\.nextLink` names the one key
// "@odata.nextLink" (OData puts dots in its control keys).
func splitPath(p string) []string {
	if !strings.Contains(p, `\`) {
		return strings.Split(p, ".")
	}
	var out []string
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\' && i+1 < len(p):
			i++
			b.WriteByte(p[i])
		case c == '.':
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	return append(out, b.String())
}
