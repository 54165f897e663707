package canonjson

import (
	"math"
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// appendQuoted appends s as a JSON string the way CPython's ensure_ascii
// encoder does: printable ASCII except '"' and '\\' is copied, the seven
// short escapes are used where they exist, and every other code point
// (controls, DEL, all non-ASCII) becomes a lowercase \uXXXX escape, astral
// code points as a surrogate pair.
//
// With wtf8 set, three-byte encodings of surrogates are decoded as lone
// surrogates (the representation scanString produces). Otherwise s is a Go
// string and each byte that is not part of valid UTF-8 becomes U+FFFD, as
// encoding/json does.
func appendQuoted[S ~string | ~[]byte](dst []byte, s S, wtf8 bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				dst = append(dst, '\\', '"')
			case '\\':
				dst = append(dst, '\\', '\\')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = appendU(dst, rune(c))
			}
			i++
		} else {
			r, size := decodeRune(s, i, wtf8)
			if r >= 0x10000 {
				r -= 0x10000
				dst = appendU(dst, 0xD800+(r>>10))
				r = 0xDC00 + r&0x3FF
			}
			dst = appendU(dst, r)
			i += size
		}
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u',
		hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
}

// decodeRune decodes the non-ASCII sequence at s[i:]. It accepts exactly
// what utf8.DecodeRune accepts, plus encoded surrogates when wtf8 is set,
// and returns (utf8.RuneError, 1) for anything else.
func decodeRune[S ~string | ~[]byte](s S, i int, wtf8 bool) (rune, int) {
	n := len(s) - i
	b0 := s[i]
	cont := func(j int, lo, hi byte) bool { return i+j < len(s) && s[i+j] >= lo && s[i+j] <= hi }
	switch {
	case b0 < 0xC2:
	case b0 < 0xE0:
		if cont(1, 0x80, 0xBF) {
			return rune(b0&0x1F)<<6 | rune(s[i+1]&0x3F), 2
		}
	case b0 < 0xF0:
		lo, hi := byte(0x80), byte(0xBF)
		if b0 == 0xE0 {
			lo = 0xA0
		} else if b0 == 0xED && !wtf8 {
			hi = 0x9F
		}
		if n >= 3 && cont(1, lo, hi) && cont(2, 0x80, 0xBF) {
			return rune(b0&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F), 3
		}
	case b0 < 0xF5:
		lo, hi := byte(0x80), byte(0xBF)
		if b0 == 0xF0 {
			lo = 0x90
		} else if b0 == 0xF4 {
			hi = 0x8F
		}
		if n >= 4 && cont(1, lo, hi) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) {
			return rune(b0&0x07)<<18 | rune(s[i+1]&0x3F)<<12 | rune(s[i+2]&0x3F)<<6 | rune(s[i+3]&0x3F), 4
		}
	}
	return utf8.RuneError, 1
}

// appendNumber appends the canonical form of the JSON number tok, which
// scanNumber has validated. Integers are copied as Python's int() would
// print them (only "-0" changes); floats are parsed to the nearest float64
// and printed like Python's float.__repr__.
func appendNumber(dst, tok []byte, isFloat bool) ([]byte, error) {
	if !isFloat {
		digits := len(tok)
		if tok[0] == '-' {
			digits--
		}
		if digits > maxIntDigits {
			return dst, errIntDigits
		}
		if len(tok) == 2 && tok[0] == '-' && tok[1] == '0' {
			return append(dst, '0'), nil
		}
		return append(dst, tok...), nil
	}
	// A range error is an overflow to ±Inf, which Python also produces
	// (float('1e400') == inf); underflow to ±0 is not an error. The syntax
	// has been checked already, so no other error is possible.
	f, _ := strconv.ParseFloat(string(tok), 64)
	return appendFloat(dst, f), nil
}

// appendFloat appends f as CPython's json module does: NaN, Infinity and
// -Infinity for the non-finite values, otherwise float.__repr__, which is
// the shortest round-tripping digits in fixed notation when the decimal
// exponent is in [-4, 16) (always with a fractional part, "1.0") and in
// scientific notation otherwise ("1e+16", "1.5e-07").
func appendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	// Shortest digits from strconv, in the form [-]d[.ddd]e±XX.
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	if b[0] == '-' {
		dst = append(dst, '-')
		b = b[1:]
	}
	e := 0
	for b[e] != 'e' {
		e++
	}
	exp := 0
	for _, c := range b[e+2:] {
		exp = exp*10 + int(c-'0')
	}
	if b[e+1] == '-' {
		exp = -exp
	}
	mant := b[:e]
	if exp < -4 || exp >= 16 {
		// strconv's exponent already has a sign and at least two digits,
		// which is Python's "%+.02d".
		return append(dst, b...)
	}
	// Digits without the decimal point; decpt is where the point goes.
	var dbuf [20]byte
	digits := append(dbuf[:0], mant[0])
	if len(mant) > 2 {
		digits = append(digits, mant[2:]...)
	}
	decpt := exp + 1
	switch {
	case decpt <= 0:
		dst = append(dst, '0', '.')
		for range -decpt {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	case decpt >= len(digits):
		dst = append(dst, digits...)
		for range decpt - len(digits) {
			dst = append(dst, '0')
		}
		dst = append(dst, '.', '0')
	default:
		dst = append(dst, digits[:decpt]...)
		dst = append(dst, '.')
		dst = append(dst, digits[decpt:]...)
	}
	return dst
}
