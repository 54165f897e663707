// Package settings checks the numeric settings of the hub's components.
// Zero means "use the default" everywhere (filled with cmp.Or); a negative
// value is a mistake to report by name, never to replace silently.
package settings

import (
	"fmt"
	"strings"
)

// Field is one named numeric setting; durations pass as int64.
type Field struct {
	Name  string
	Value int64
}

// NonNegative returns an error naming every negative field of what, or nil.
func NonNegative(what string, fs ...Field) error {
	var bad []string
	for _, f := range fs {
		if f.Value < 0 {
			bad = append(bad, f.Name)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s: %s must not be negative (zero means the default)", what, strings.Join(bad, ", "))
	}
	return nil
}

// Named is a Field; it keeps call sites short.
func Named(name string, value int64) Field { return Field{Name: name, Value: value} }
