package canonjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Marshal returns the canonical encoding of v, the bytes Canonicalize
// returns for the corresponding JSON document.
//
// These types are encoded directly, without reflection: nil, bool, string,
// json.Number (an integer or a float according to its text, "" meaning 0 as
// in encoding/json), the signed and unsigned integer types (Python ints),
// float32 and float64 (Python floats: 1.0 is "1.0", NaN and ±Inf are NaN,
// Infinity and -Infinity), map[string]any, map[string]string, []any,
// []string and json.RawMessage (canonicalized). Nil maps, slices and
// RawMessages are null, as in encoding/json. Strings that are not valid
// UTF-8 have each bad byte replaced by U+FFFD, as in encoding/json.
//
// Any other value, structs with json tags included, is first encoded with
// encoding/json and the result canonicalized. encoding/json writes a float
// with an integral value without a fraction, so a float64 reached that way
// (a struct field, a []float64, a *float64) comes out as an integer: 1.0 as
// "1", not "1.0". The same happens to numbers decoded into any without
// json.Decoder.UseNumber, in reverse: they are all float64, so 2 becomes
// "2.0". Where the int/float distinction matters, keep values as
// json.Number, json.RawMessage or the types above.
//
// It returns an error if encoding/json fails on a value it is given (NaN in
// a struct field, for example), if a json.Number or json.RawMessage is not
// valid, or if nesting exceeds 10000 levels, which is also how a cyclic map
// or slice is reported.
func Marshal(v any) ([]byte, error) {
	s := getState()
	defer putState(s)
	if err := s.marshal(v); err != nil {
		return nil, err
	}
	return bytes.Clone(s.out), nil
}

func (s *state) marshal(v any) error {
	switch x := v.(type) {
	case nil:
		s.out = append(s.out, "null"...)
	case bool:
		s.out = strconv.AppendBool(s.out, x)
	case string:
		s.out = appendQuoted(s.out, x, false)
	case json.Number:
		return s.marshalNumber(x)
	case int:
		s.out = strconv.AppendInt(s.out, int64(x), 10)
	case int8:
		s.out = strconv.AppendInt(s.out, int64(x), 10)
	case int16:
		s.out = strconv.AppendInt(s.out, int64(x), 10)
	case int32:
		s.out = strconv.AppendInt(s.out, int64(x), 10)
	case int64:
		s.out = strconv.AppendInt(s.out, x, 10)
	case uint:
		s.out = strconv.AppendUint(s.out, uint64(x), 10)
	case uint8:
		s.out = strconv.AppendUint(s.out, uint64(x), 10)
	case uint16:
		s.out = strconv.AppendUint(s.out, uint64(x), 10)
	case uint32:
		s.out = strconv.AppendUint(s.out, uint64(x), 10)
	case uint64:
		s.out = strconv.AppendUint(s.out, x, 10)
	case uintptr:
		s.out = strconv.AppendUint(s.out, uint64(x), 10)
	case float64:
		s.out = appendFloat(s.out, x)
	case float32:
		s.out = appendFloat(s.out, float32To64(x))
	case map[string]any:
		return marshalMap(s, x, (*state).marshal)
	case map[string]string:
		return marshalMap(s, x, func(s *state, v string) error {
			s.out = appendQuoted(s.out, v, false)
			return nil
		})
	case []any:
		return marshalSlice(s, x, (*state).marshal)
	case []string:
		return marshalSlice(s, x, func(s *state, v string) error {
			s.out = appendQuoted(s.out, v, false)
			return nil
		})
	case json.RawMessage:
		if x == nil {
			s.out = append(s.out, "null"...)
			return nil
		}
		return s.canonicalize(x)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("canonjson: marshal %T: %w", v, err)
		}
		return s.canonicalize(b)
	}
	return nil
}

// float32To64 widens f the way a float32 survives an encoding/json round
// trip (shortest float32 digits, read back as a float64), so that 0.1 stays
// 0.1 rather than becoming 0.10000000149011612, and a float32 encodes the
// same here as inside a struct.
func float32To64(f float32) float64 {
	var buf [32]byte
	g, _ := strconv.ParseFloat(string(strconv.AppendFloat(buf[:0], float64(f), 'g', -1, 32)), 64)
	return g
}

func (s *state) marshalNumber(n json.Number) error {
	if n == "" {
		n = "0"
	}
	tok := []byte(n)
	end, isFloat, msg := scanNumber(tok, 0)
	if msg != "" || end != len(tok) {
		return fmt.Errorf("canonjson: invalid json.Number %q", string(n))
	}
	var err error
	if s.out, err = appendNumber(s.out, tok, isFloat); err != nil {
		return fmt.Errorf("canonjson: json.Number: %w", err)
	}
	return nil
}

func marshalSlice[V any](s *state, vs []V, enc func(*state, V) error) error {
	if vs == nil {
		s.out = append(s.out, "null"...)
		return nil
	}
	if err := s.enter(); err != nil {
		return err
	}
	s.out = append(s.out, '[')
	for i, v := range vs {
		if i > 0 {
			s.out = append(s.out, ',')
		}
		if err := enc(s, v); err != nil {
			return err
		}
	}
	s.out = append(s.out, ']')
	s.depth--
	return nil
}

func marshalMap[V any](s *state, m map[string]V, enc func(*state, V) error) error {
	if m == nil {
		s.out = append(s.out, "null"...)
		return nil
	}
	if err := s.enter(); err != nil {
		return err
	}
	// Keys live on a stack shared with nested maps, which push above this
	// map's keys and pop before it continues.
	base := len(s.keys)
	valid := true
	for k := range m {
		s.keys = append(s.keys, k)
		valid = valid && utf8.ValidString(k)
	}
	keys := s.keys[base:]
	if valid {
		// For valid UTF-8, byte order is code point order: Python's order.
		slices.Sort(keys)
	} else {
		keys = sortCoercedKeys(keys)
	}
	s.out = append(s.out, '{')
	for i, k := range keys {
		if i > 0 {
			s.out = append(s.out, ',')
		}
		s.out = appendQuoted(s.out, k, false)
		s.out = append(s.out, ':')
		if err := enc(s, m[k]); err != nil {
			return err
		}
	}
	s.out = append(s.out, '}')
	s.keys = s.keys[:base]
	s.depth--
	return nil
}

// sortCoercedKeys orders keys by the strings they are written as, with
// invalid bytes replaced by U+FFFD. Distinct keys can be written the same;
// of those only the greatest raw key is kept, which is what encoding/json
// (sorting by raw key) followed by Canonicalize (last duplicate wins) gives,
// so both paths agree.
func sortCoercedKeys(keys []string) []string {
	type pair struct{ written, raw string }
	ps := make([]pair, len(keys))
	for i, k := range keys {
		var b strings.Builder
		for j := 0; j < len(k); {
			r, size := utf8.DecodeRuneInString(k[j:])
			if r == utf8.RuneError && size == 1 {
				b.WriteRune(utf8.RuneError)
			} else {
				b.WriteString(k[j : j+size])
			}
			j += size
		}
		ps[i] = pair{b.String(), k}
	}
	slices.SortFunc(ps, func(a, b pair) int {
		if c := strings.Compare(a.written, b.written); c != 0 {
			return c
		}
		return strings.Compare(a.raw, b.raw)
	})
	out := make([]string, 0, len(ps))
	for i, p := range ps {
		if i+1 < len(ps) && ps[i+1].written == p.written {
			continue
		}
		out = append(out, p.raw)
	}
	return out
}
