package mapping

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem with a mapping document, at a 1-based line and
// column of the YAML source. Field is the place in the mapping, such as
// "fields.order_number.transforms[1]", or empty for the document as a
// whole.
type Error struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("line ")
	b.WriteString(strconv.Itoa(e.Line))
	b.WriteString(", column ")
	b.WriteString(strconv.Itoa(e.Column))
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ErrorList is every problem Parse found in a mapping, in source order.
// Parse returns it as its error; use errors.As to get it.
type ErrorList []*Error

func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return "invalid mapping: " + l[0].Error()
	}
	var b strings.Builder
	b.WriteString("invalid mapping: ")
	b.WriteString(strconv.Itoa(len(l)))
	b.WriteString(" problems: ")
	for i, e := range l {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

func (l ErrorList) sort() {
	slices.SortStableFunc(l, func(a, b *Error) int {
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.Column, b.Column)
	})
}

// FieldError is why one canonical field of a document could not be
// produced. Field names it as the canonical result does: "order_number",
// "ship_to.city", "lines[2].qty" (the index is that of the line in the
// source document's list), "source_id".
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// FieldErrors are the problems Apply found in one document, in mapping
// order. They are data errors (a value missing or malformed), not faults of
// the mapping.
type FieldErrors []FieldError

func (l FieldErrors) Error() string {
	var b strings.Builder
	b.WriteString("document does not map: ")
	for i, e := range l {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Field)
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Map returns the errors keyed by field, the first message per field, in
// the shape of the API's error "fields" object.
func (l FieldErrors) Map() map[string]string {
	m := make(map[string]string, len(l))
	for _, e := range l {
		if _, ok := m[e.Field]; !ok {
			m[e.Field] = e.Message
		}
	}
	return m
}
