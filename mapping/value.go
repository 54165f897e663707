package mapping

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// vkind is the type of an intermediate value while a field is computed.
type vkind uint8

const (
	vMissing vkind = iota // absent, or JSON null
	vString
	vNumber // s holds the number in JSON syntax
	vBool
	vDecimal
	vTime
	vObject // x is a map[string]any
	vArray  // x is a []any
	vBad    // a Go type that decoded JSON does not produce
)

// val is an intermediate value: a source value on its way through a
// field's steps. It is passed by value so the happy path does not box.
type val struct {
	k vkind
	b bool
	s string
	d Decimal
	t time.Time
	x any
}

// empty reports whether v counts as no value: absent, null, an empty
// string or an empty object. Defaults replace empty values and required
// fields refuse them.
func (v *val) empty() bool {
	switch v.k {
	case vMissing:
		return true
	case vString:
		return v.s == ""
	case vObject:
		m, _ := v.x.(map[string]any)
		return len(m) == 0
	}
	return false
}

// fromJSON wraps a decoded JSON value. Numbers should be json.Number
// (decode with UseNumber); float64 and Go integers are accepted too.
func fromJSON(x any) val {
	switch x := x.(type) {
	case nil:
		return val{}
	case string:
		return val{k: vString, s: x}
	case json.Number:
		return val{k: vNumber, s: string(x)}
	case bool:
		return val{k: vBool, b: x}
	case map[string]any:
		return val{k: vObject, x: x}
	case []any:
		return val{k: vArray, x: x}
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return val{k: vBad}
		}
		return val{k: vNumber, s: strconv.FormatFloat(x, 'f', -1, 64)}
	case int:
		return val{k: vNumber, s: strconv.Itoa(x)}
	case int64:
		return val{k: vNumber, s: strconv.FormatInt(x, 10)}
	}
	return val{k: vBad}
}

// text returns v as text, and false for objects and lists.
func (v *val) text() (string, bool) {
	switch v.k {
	case vString, vNumber:
		return v.s, true
	case vBool:
		return strconv.FormatBool(v.b), true
	case vDecimal:
		return v.d.String(), true
	case vTime:
		return v.t.Format(time.RFC3339Nano), true
	case vMissing:
		return "", true
	}
	return "", false
}

// describe names v's type for messages about values that are not text.
func (v *val) describe() string {
	switch v.k {
	case vObject:
		return "an object"
	case vArray:
		return "a list"
	case vBad:
		return "a value of an unsupported type"
	}
	if t, ok := v.text(); ok {
		return quote(t)
	}
	return "the value"
}

// quote quotes s for a message, cut to a readable length.
func quote(s string) string {
	return strconv.Quote(truncate(s, 64))
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// Value is the value of one canonical field in a Document. The zero Value
// is unset (Kind returns 0): the mapping left the field empty.
type Value struct {
	kind Kind
	s    string
	i    int64
	d    Decimal
	t    time.Time
	o    map[string]any
}

// Kind returns the field's kind, or 0 when the value is unset.
func (v Value) Kind() Kind { return v.kind }

// IsSet reports whether the field has a value.
func (v Value) IsSet() bool { return v.kind != 0 }

// Text returns a KindString or KindEnum value, "" otherwise.
func (v Value) Text() string { return v.s }

// Int returns a KindInteger value, 0 otherwise.
func (v Value) Int() int64 { return v.i }

// Decimal returns a KindDecimal value, zero otherwise.
func (v Value) Decimal() Decimal { return v.d }

// Time returns a KindTime value, the zero time otherwise.
func (v Value) Time() time.Time { return v.t }

// Object returns a KindObject value (shared with the input document, not
// to be modified), nil otherwise.
func (v Value) Object() map[string]any { return v.o }

// JSON returns the value in a form encoding/json writes canonically: a
// string, an int64, a Decimal (written as a string), a time in UTC, an
// object, or nil when unset.
func (v Value) JSON() any {
	switch v.kind {
	case KindString, KindEnum:
		return v.s
	case KindInteger:
		return v.i
	case KindDecimal:
		return v.d
	case KindTime:
		return v.t.UTC()
	case KindObject:
		return v.o
	}
	return nil
}

// convert turns a non-empty value into the canonical value of a field of
// kind k. It returns a message instead when the value does not fit.
func convert(v *val, k Kind, values []string) (Value, string) {
	switch k {
	case KindString, KindEnum:
		s, ok := v.text()
		if !ok {
			return Value{}, "must be text, not " + v.describe()
		}
		if k == KindEnum && !slices.Contains(values, s) {
			return Value{}, quote(s) + " is not one of: " + strings.Join(values, ", ")
		}
		return Value{kind: k, s: s}, ""
	case KindInteger:
		d, msg := toDecimal(v, " is not a whole number")
		if msg != "" {
			return Value{}, msg
		}
		i, ok := d.Int64()
		if !ok {
			return Value{}, quote(d.String()) + " is not a whole number"
		}
		return Value{kind: k, i: i}, ""
	case KindDecimal:
		d, msg := toDecimal(v, " is not a number")
		if msg != "" {
			return Value{}, msg
		}
		return Value{kind: k, d: d}, ""
	case KindTime:
		switch v.k {
		case vTime:
			return Value{kind: k, t: v.t}, ""
		case vString:
			t, err := time.Parse(time.RFC3339, strings.TrimSpace(v.s))
			if err != nil {
				return Value{}, quote(v.s) + " is not an RFC 3339 time; give the field a time: {layout: …}"
			}
			return Value{kind: k, t: t}, ""
		}
		return Value{}, "must be a time, not " + v.describe()
	case KindObject:
		if v.k != vObject {
			return Value{}, "must be an object, not " + v.describe()
		}
		m, _ := v.x.(map[string]any)
		return Value{kind: k, o: m}, ""
	}
	return Value{}, "has a field kind the engine does not know"
}

// toDecimal reads a number from v: JSON numbers in JSON syntax, text in the
// plain format (a field's number: step handles other formats before).
func toDecimal(v *val, syntaxMsg string) (Decimal, string) {
	var d Decimal
	var e numErr
	switch v.k {
	case vDecimal:
		return v.d, ""
	case vNumber:
		d, e = parseJSONNumber(v.s)
	case vString:
		d, e = plainNumber.parse(v.s)
	default:
		return Decimal{}, "must be a number, not " + v.describe()
	}
	switch e {
	case numSyntax:
		return Decimal{}, quote(v.s) + syntaxMsg
	case numRange:
		return Decimal{}, quote(v.s) + " has more than 18 significant digits or decimal places"
	}
	return d, ""
}

// toJSON turns a non-empty value into a member of a mapped object: JSON
// numbers stay json.Number, decimals become json.Number, times RFC 3339
// text.
func toJSON(v *val) (any, string) {
	switch v.k {
	case vString:
		return v.s, ""
	case vNumber:
		return json.Number(v.s), ""
	case vBool:
		return v.b, ""
	case vDecimal:
		return json.Number(v.d.String()), ""
	case vTime:
		return v.t.Format(time.RFC3339Nano), ""
	case vObject, vArray:
		return v.x, ""
	}
	return nil, "has " + v.describe()
}
