package manifest

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// Error is one problem of a manifest (or of a mapping document it names),
// at a 1-based line and column of File. Field is the place in the
// manifest, such as "streams[1].pagination.kind".
type Error struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s:%d:%d: ", e.File, e.Line, e.Column)
	if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Message
}

// ErrorList is every problem found in a manifest, in file and source order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return "invalid connector manifest: " + strings.Join(parts, "; ")
}

// sorted returns l in file and source order without repeats (a mapping
// document two streams share is checked twice).
func (l ErrorList) sorted() ErrorList {
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return slices.CompactFunc(l, func(a, b *Error) bool { return *a == *b })
}

// problems collects errors, locating each by its field path in the AST.
type problems struct {
	file string
	ast  *ast.File
	errs ErrorList
}

// add records msg at field (a dotted path with [i] indexes, "" for the
// document). The position is the deepest existing node on the path, so a
// missing key points at its parent.
func (p *problems) add(field, msg string) {
	line, col := p.locate(field)
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Column: col, Field: field, Message: msg})
}

func (p *problems) addf(field, format string, args ...any) {
	p.add(field, fmt.Sprintf(format, args...))
}

func (p *problems) locate(field string) (int, int) {
	for f := field; ; {
		if n := p.node(f); n != nil {
			if tk := n.GetToken(); tk != nil && tk.Position != nil {
				return tk.Position.Line, tk.Position.Column
			}
		}
		if f == "" {
			return 1, 1
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			f = ""
		} else {
			f = f[:i]
		}
	}
}

func (p *problems) node(field string) ast.Node {
	if p.ast == nil {
		return nil
	}
	s := "$"
	if field != "" {
		if field[0] != '[' {
			s += "."
		}
		s += quoteKeys(field)
	}
	path, err := yaml.PathString(s)
	if err != nil {
		return nil
	}
	n, err := path.FilterFile(p.ast)
	if err != nil {
		return nil
	}
	return n
}

// quoteKeys quotes path segments that the YAML path syntax would misread
// (keys with ':' or '-', as in "date_modified:min").
func quoteKeys(field string) string {
	var b strings.Builder
	for i, seg := range strings.Split(field, ".") {
		if i > 0 {
			b.WriteByte('.')
		}
		name, rest, _ := strings.Cut(seg, "[")
		if rest != "" {
			rest = "[" + rest
		}
		if strings.ContainsAny(name, ":-/ ") {
			name = "'" + name + "'"
		}
		b.WriteString(name + rest)
	}
	return b.String()
}

// yamlError places a decoding error at its token.
func (p *problems) yamlError(err error) {
	e := &Error{File: p.file, Line: 1, Column: 1, Message: err.Error()}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Message = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Column = tk.Position.Line, tk.Position.Column
		}
	}
	p.errs = append(p.errs, e)
}
