package canonjson

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"unicode/utf8"
)

const (
	// maxDepth matches encoding/json, so that every document encoding/json
	// accepts is accepted here too.
	maxDepth = 10000
	// maxIntDigits is CPython's default sys.int_info.default_max_str_digits:
	// json.loads refuses longer integer literals, so there is no Python
	// canonical form to match.
	maxIntDigits = 4300
	// maxPooledCap keeps one huge document from pinning its buffers in the
	// pool for the life of the process.
	maxPooledCap = 1 << 16
)

var (
	errIntDigits = errors.New("integer literal longer than 4300 digits")
	errDepth     = errors.New("nesting deeper than 10000 levels")
)

// Canonicalize parses raw as a single JSON document and returns its
// canonical encoding, byte for byte what CPython's
// json.dumps(json.loads(raw), separators=(',', ':'), sort_keys=True) returns.
// Duplicate object keys are resolved as Python does: the last one wins.
//
// It returns an error if raw is not valid UTF-8 JSON (including trailing
// data after the value), if an integer literal exceeds 4300 digits, or if
// nesting exceeds 10000 levels. The NaN, Infinity and -Infinity literals
// that Python accepts are accepted.
func Canonicalize(raw []byte) ([]byte, error) {
	s := getState()
	defer putState(s)
	if err := s.canonicalize(raw); err != nil {
		return nil, err
	}
	return bytes.Clone(s.out), nil
}

// state is the reusable working memory of one Canonicalize or Marshal call.
// Everything is appended to out in a single pass; objects are written in
// input order and reordered in place only when their keys were not already
// sorted.
type state struct {
	in    []byte
	pos   int
	out   []byte
	depth int

	// members is a stack shared by all open objects: each object owns the
	// tail that starts where it began, and truncates it when it closes.
	members []member
	// arena holds the decoded form of keys that contained escapes; it is a
	// stack in the same way as members.
	arena []byte
	// strbuf holds the decoded form of one string value with escapes.
	strbuf []byte
	// scratch holds an object's body while its members are reordered.
	scratch []byte
	// keys is Marshal's stack of sorted map keys.
	keys []string
}

// member is one `"key":value` of an object being canonicalized: its
// decoded key, and where its canonical bytes are in out. key aliases either
// in or arena. The arena only ever grows past, or is truncated back to, the
// end of the keys of objects still open, so those bytes are never
// overwritten even if append moves the arena.
type member struct {
	key        []byte
	start, end int
}

var statePool = sync.Pool{New: func() any { return new(state) }}

func getState() *state { return statePool.Get().(*state) }

func putState(s *state) {
	if cap(s.out) > maxPooledCap || cap(s.scratch) > maxPooledCap ||
		cap(s.arena) > maxPooledCap || cap(s.strbuf) > maxPooledCap ||
		cap(s.members) > maxPooledCap/32 || cap(s.keys) > maxPooledCap/16 {
		return
	}
	// Drop references to this call's input and map keys.
	clear(s.members[:cap(s.members)])
	clear(s.keys[:cap(s.keys)])
	*s = state{
		out:     s.out[:0],
		members: s.members[:0],
		arena:   s.arena[:0],
		strbuf:  s.strbuf[:0],
		scratch: s.scratch[:0],
		keys:    s.keys[:0],
	}
	statePool.Put(s)
}

// canonicalize appends the canonical form of the document raw to s.out. It
// can be called while Marshal is already using s (for json.RawMessage and the
// encoding/json fallback).
func (s *state) canonicalize(raw []byte) error {
	in, pos := s.in, s.pos
	defer func() { s.in, s.pos = in, pos }()
	s.in, s.pos = raw, 0
	s.skipWS()
	if err := s.value(); err != nil {
		return err
	}
	s.skipWS()
	if s.pos != len(s.in) {
		return s.syntaxErr("extra data after JSON value")
	}
	return nil
}

func (s *state) syntaxErr(msg string) error {
	return fmt.Errorf("canonjson: invalid JSON at offset %d: %s", s.pos, msg)
}

func (s *state) unexpected() error {
	if s.pos >= len(s.in) {
		return s.syntaxErr("unexpected end of input")
	}
	return s.syntaxErr(fmt.Sprintf("unexpected character %q", s.in[s.pos]))
}

// skipWS skips the four JSON whitespace characters, the same set as
// Python's json module.
func (s *state) skipWS() {
	for s.pos < len(s.in) {
		switch s.in[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *state) peek() byte {
	if s.pos < len(s.in) {
		return s.in[s.pos]
	}
	return 0
}

func (s *state) value() error {
	switch c := s.peek(); {
	case c == '{':
		return s.object()
	case c == '[':
		return s.array()
	case c == '"':
		return s.stringValue()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == 'N':
		return s.literal("NaN")
	case c == 'I':
		return s.literal("Infinity")
	case c == '-' && s.pos+1 < len(s.in) && s.in[s.pos+1] == 'I':
		return s.literal("-Infinity")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	default:
		return s.unexpected()
	}
}

func (s *state) literal(lit string) error {
	if !bytes.HasPrefix(s.in[s.pos:], []byte(lit)) {
		return s.syntaxErr("invalid literal, expected " + lit)
	}
	s.pos += len(lit)
	s.out = append(s.out, lit...)
	return nil
}

func (s *state) enter() error {
	s.depth++
	if s.depth > maxDepth {
		return fmt.Errorf("canonjson: invalid JSON at offset %d: %w", s.pos, errDepth)
	}
	return nil
}

func (s *state) array() error {
	if err := s.enter(); err != nil {
		return err
	}
	s.pos++
	s.out = append(s.out, '[')
	s.skipWS()
	if s.peek() == ']' {
		s.pos++
		s.out = append(s.out, ']')
		s.depth--
		return nil
	}
	for {
		s.skipWS()
		if err := s.value(); err != nil {
			return err
		}
		s.skipWS()
		switch s.peek() {
		case ',':
			s.pos++
			s.out = append(s.out, ',')
		case ']':
			s.pos++
			s.out = append(s.out, ']')
			s.depth--
			return nil
		default:
			return s.unexpected()
		}
	}
}

func (s *state) object() error {
	if err := s.enter(); err != nil {
		return err
	}
	s.pos++
	objStart := len(s.out)
	s.out = append(s.out, '{')
	mbase, abase := len(s.members), len(s.arena)
	s.skipWS()
	if s.peek() == '}' {
		s.pos++
		s.out = append(s.out, '}')
		s.depth--
		return nil
	}
	for {
		s.skipWS()
		if s.peek() != '"' {
			return s.syntaxErr("expecting property name enclosed in double quotes")
		}
		m := member{start: len(s.out)}
		start, end, arena, esc, err := s.scanString(s.arena)
		if err != nil {
			return err
		}
		if esc {
			m.key = arena[len(s.arena):len(arena):len(arena)]
			s.arena = arena
		} else {
			m.key = s.in[start:end:end]
		}
		s.out = appendQuoted(s.out, m.key, true)
		s.skipWS()
		if s.peek() != ':' {
			return s.syntaxErr("expecting ':' delimiter")
		}
		s.pos++
		s.out = append(s.out, ':')
		s.skipWS()
		if err := s.value(); err != nil {
			return err
		}
		m.end = len(s.out)
		s.members = append(s.members, m)
		s.skipWS()
		switch s.peek() {
		case ',':
			s.pos++
			s.out = append(s.out, ',')
		case '}':
			s.pos++
			s.sortMembers(objStart+1, s.members[mbase:])
			s.out = append(s.out, '}')
			s.members, s.arena = s.members[:mbase], s.arena[:abase]
			s.depth--
			return nil
		default:
			return s.unexpected()
		}
	}
}

// sortMembers rewrites out[bodyStart:] so that the members appear in key
// order with later duplicates replacing earlier ones, which is what a Python
// dict built from the pairs and then sorted gives. Keys are compared as
// decoded WTF-8 bytes, whose order is Unicode code point order even for lone
// surrogates, i.e. Python's str order.
func (s *state) sortMembers(bodyStart int, ms []member) {
	sorted := true
	for i := 1; i < len(ms); i++ {
		if bytes.Compare(ms[i-1].key, ms[i].key) >= 0 {
			sorted = false
			break
		}
	}
	if sorted {
		return
	}
	// Ties are broken by input position, so that among equal keys the last
	// one in the input is last.
	slices.SortFunc(ms, func(a, b member) int {
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.start, b.start)
	})
	s.scratch = append(s.scratch[:0], s.out[bodyStart:]...)
	s.out = s.out[:bodyStart]
	for i, m := range ms {
		if i+1 < len(ms) && bytes.Equal(m.key, ms[i+1].key) {
			continue
		}
		if len(s.out) > bodyStart {
			s.out = append(s.out, ',')
		}
		s.out = append(s.out, s.scratch[m.start-bodyStart:m.end-bodyStart]...)
	}
}

func (s *state) stringValue() error {
	start, end, buf, esc, err := s.scanString(s.strbuf[:0])
	if err != nil {
		return err
	}
	if esc {
		s.strbuf = buf
		s.out = appendQuoted(s.out, buf, true)
	} else {
		s.out = appendQuoted(s.out, s.in[start:end], true)
	}
	return nil
}

// scanString consumes the string token at s.pos. If it has no escapes, its
// decoded form is s.in[start:end] and esc is false. Otherwise the decoded
// form is appended to dst and returned. Decoded strings are WTF-8: UTF-8
// that may also hold lone surrogates from \uXXXX escapes, which Python keeps
// as distinct code points. Raw bytes must be strict UTF-8.
func (s *state) scanString(dst []byte) (start, end int, out []byte, esc bool, err error) {
	in := s.in
	start = s.pos + 1
	i := start
	for {
		if i >= len(in) {
			s.pos = i
			return 0, 0, dst, false, s.syntaxErr("unterminated string")
		}
		c := in[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return start, i, dst, false, nil
		case c == '\\':
			dst = append(dst, in[start:i]...)
			dst, err = s.scanEscaped(i, dst)
			return 0, 0, dst, true, err
		case c < 0x20:
			s.pos = i
			return 0, 0, dst, false, s.syntaxErr("invalid control character in string")
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && size == 1 {
				s.pos = i
				return 0, 0, dst, false, s.syntaxErr("invalid UTF-8 in string")
			}
			i += size
		}
	}
}

// scanEscaped decodes the rest of a string token from in[i:], which starts
// at a backslash.
func (s *state) scanEscaped(i int, dst []byte) ([]byte, error) {
	in := s.in
	for {
		if i >= len(in) {
			s.pos = i
			return dst, s.syntaxErr("unterminated string")
		}
		c := in[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return dst, nil
		case c == '\\':
			if i+1 >= len(in) {
				s.pos = i
				return dst, s.syntaxErr("unterminated string")
			}
			switch e := in[i+1]; e {
			case '"', '\\', '/':
				dst = append(dst, e)
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r, ok := hex4(in[i+2:])
				if !ok {
					s.pos = i
					return dst, s.syntaxErr(`invalid \uXXXX escape`)
				}
				i += 6
				// Like CPython, join a high surrogate with an immediately
				// following escaped low surrogate; otherwise keep it alone
				// and let the next escape be decoded on its own.
				if r >= 0xD800 && r < 0xDC00 && i+1 < len(in) && in[i] == '\\' && in[i+1] == 'u' {
					if r2, ok := hex4(in[i+2:]); ok && r2 >= 0xDC00 && r2 < 0xE000 {
						r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
						i += 6
					}
				}
				dst = appendWTF8(dst, r)
				continue
			default:
				s.pos = i
				return dst, s.syntaxErr("invalid escape")
			}
			i += 2
		case c < 0x20:
			s.pos = i
			return dst, s.syntaxErr("invalid control character in string")
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && size == 1 {
				s.pos = i
				return dst, s.syntaxErr("invalid UTF-8 in string")
			}
			dst = append(dst, in[i:i+size]...)
			i += size
		}
	}
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendWTF8 is utf8.AppendRune except that surrogates are encoded as
// three-byte sequences instead of U+FFFD, keeping lone surrogates distinct
// and in code point order.
func appendWTF8(dst []byte, r rune) []byte {
	if r >= 0xD800 && r < 0xE000 {
		return append(dst, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	}
	return utf8.AppendRune(dst, r)
}

func (s *state) number() error {
	end, isFloat, msg := scanNumber(s.in, s.pos)
	if msg != "" {
		s.pos = end
		return s.syntaxErr(msg)
	}
	tok := s.in[s.pos:end]
	var err error
	s.out, err = appendNumber(s.out, tok, isFloat)
	if err != nil {
		return fmt.Errorf("canonjson: invalid JSON at offset %d: %w", s.pos, err)
	}
	s.pos = end
	return nil
}

// scanNumber finds the end of the JSON number starting at b[i] and whether
// it is a float (has a fraction or exponent). msg is non-empty if the
// number is malformed.
func scanNumber(b []byte, i int) (end int, isFloat bool, msg string) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i++
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return i, false, "invalid number"
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, false, "invalid number: digit expected after '.'"
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		isFloat = true
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, false, "invalid number: digit expected in exponent"
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		isFloat = true
	}
	return i, isFloat, ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
