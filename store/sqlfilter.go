package store

import "strings"

// filter builds the WHERE clause of a list query from optional equality
// conditions: a zero value means "any", so callers pass their filter's
// fields as they are.
type filter struct {
	conds []string
	args  []any
}

// eq adds "col = v" unless v is the zero value of its type.
func eq[T comparable](f *filter, col string, v T) {
	var zero T
	if v != zero {
		f.where(col+" = ?", v)
	}
}

// where adds a condition with its arguments as it is.
func (f *filter) where(cond string, args ...any) {
	f.conds = append(f.conds, cond)
	f.args = append(f.args, args...)
}

// sql returns " WHERE a AND b ..." or "" when there are no conditions.
func (f *filter) sql() string {
	if len(f.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.conds, " AND ")
}
