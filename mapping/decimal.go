package mapping

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDigits bounds a Decimal's significant digits and its scale, so the
// coefficient always fits an int64 (whose range is 19 digits).
const maxDigits = 18

// pow10 holds 10^0 … 10^18.
var pow10 = [maxDigits + 1]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// Decimal is an exact decimal number, Coefficient × 10^-Scale, with at most
// 18 significant digits and 18 digits after the point: enough for money and
// quantities without the rounding of binary floating point. The zero value
// is 0.
//
// It keeps the scale it was written with, so 1.50 stays 1.50.
type Decimal struct {
	coef  int64
	scale uint8
}

// ErrNumberRange reports a number with more significant digits or decimal
// places than a Decimal holds.
var ErrNumberRange = errors.New("number has more than 18 significant digits or decimal places")

// ErrNumberSyntax reports text that is not a number.
var ErrNumberSyntax = errors.New("not a number")

// NewDecimal returns coef × 10^-scale. It returns ErrNumberRange when scale
// is outside 0…18 or coef has more than 18 digits.
func NewDecimal(coef int64, scale int) (Decimal, error) {
	if scale < 0 || scale > maxDigits || coef >= pow10[maxDigits] || coef <= -pow10[maxDigits] {
		return Decimal{}, ErrNumberRange
	}
	return Decimal{coef: coef, scale: uint8(scale)}, nil
}

// ParseDecimal parses s written with a "." decimal point and no grouping,
// such as "-1234.50". It returns ErrNumberSyntax or ErrNumberRange.
func ParseDecimal(s string) (Decimal, error) {
	d, err := plainNumber.parse(s)
	switch err {
	case numSyntax:
		return Decimal{}, ErrNumberSyntax
	case numRange:
		return Decimal{}, ErrNumberRange
	}
	return d, nil
}

// Coefficient returns the digits of d as an integer: 1234 for 12.34.
func (d Decimal) Coefficient() int64 { return d.coef }

// Scale returns the number of digits after the point: 2 for 12.34.
func (d Decimal) Scale() int { return int(d.scale) }

// Int64 returns d as an integer, and false when d has a non-zero fraction.
func (d Decimal) Int64() (int64, bool) {
	if d.scale == 0 {
		return d.coef, true
	}
	p := pow10[d.scale]
	if d.coef%p != 0 {
		return 0, false
	}
	return d.coef / p, true
}

// String formats d with a "." point and its scale's digits: "-12.50".
func (d Decimal) String() string {
	var buf [24]byte
	return string(d.append(buf[:0]))
}

func (d Decimal) append(b []byte) []byte {
	c := d.coef
	if c < 0 {
		b = append(b, '-')
		c = -c
	}
	var digits [20]byte
	ds := strconv.AppendInt(digits[:0], c, 10)
	sc := int(d.scale)
	if sc == 0 {
		return append(b, ds...)
	}
	if len(ds) <= sc {
		b = append(b, '0', '.')
		for range sc - len(ds) {
			b = append(b, '0')
		}
		return append(b, ds...)
	}
	b = append(b, ds[:len(ds)-sc]...)
	b = append(b, '.')
	return append(b, ds[len(ds)-sc:]...)
}

// MarshalJSON writes d as a JSON string ("12.50"), so that no reader turns
// it into a binary float.
func (d Decimal) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 24)
	b = append(b, '"')
	b = d.append(b)
	return append(b, '"'), nil
}

// numErr is why a number did not parse.
type numErr uint8

const (
	numOK numErr = iota
	numSyntax
	numRange
)

// numberFormat is how numbers are written in text: the decimal separator
// and the group (thousands) separators accepted between integer digits.
type numberFormat struct {
	point  rune
	groups string // each rune is accepted as a group separator
}

var plainNumber = numberFormat{point: '.'}

// digits accumulates the digits of a number into a coefficient and scale.
type digits struct {
	coef  int64
	sig   int // significant digits in coef
	scale int
	zeros int // trailing fraction zeros held back, so they can be dropped
	seen  bool
	err   numErr
}

func (a *digits) push(d int64) {
	if a.sig >= maxDigits {
		a.err = numRange
		return
	}
	a.coef = a.coef*10 + d
	if a.coef != 0 {
		a.sig++
	}
}

func (a *digits) intDigit(d int64) {
	a.seen = true
	a.push(d)
}

func (a *digits) fracDigit(d int64) {
	a.seen = true
	if d == 0 {
		a.zeros++
		return
	}
	for ; a.zeros > 0; a.zeros-- {
		a.push(0)
		a.scale++
	}
	a.push(d)
	a.scale++
}

// finish keeps as many held-back zeros as fit (so 1.50 keeps its scale),
// applies exp, and returns the signed result.
func (a *digits) finish(neg bool, exp int) (Decimal, numErr) {
	if a.err != numOK {
		return Decimal{}, a.err
	}
	for ; a.zeros > 0 && a.sig < maxDigits && a.scale < maxDigits; a.zeros-- {
		a.push(0)
		a.scale++
	}
	scale := a.scale - exp
	if a.coef == 0 {
		return Decimal{scale: uint8(min(max(scale, 0), maxDigits))}, numOK
	}
	for scale < 0 {
		if a.sig >= maxDigits {
			return Decimal{}, numRange
		}
		a.coef *= 10
		a.sig++
		scale++
	}
	for scale > maxDigits && a.coef%10 == 0 {
		a.coef /= 10
		scale--
	}
	if scale > maxDigits {
		return Decimal{}, numRange
	}
	if neg {
		a.coef = -a.coef
	}
	return Decimal{coef: a.coef, scale: uint8(scale)}, numOK
}

// parse reads text such as "-1.234,50" (with point ',' and groups ".").
// Surrounding white space and a leading sign are allowed; a group separator
// must sit between two digits of the integer part.
func (f numberFormat) parse(s string) (Decimal, numErr) {
	s = strings.TrimSpace(s)
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var a digits
	inFrac, prevDigit, needDigit := false, false, false
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		i += size
		switch {
		case r >= '0' && r <= '9':
			if inFrac {
				a.fracDigit(int64(r - '0'))
			} else {
				a.intDigit(int64(r - '0'))
			}
			prevDigit, needDigit = true, false
		case r == f.point && !inFrac && !needDigit:
			inFrac, prevDigit, needDigit = true, false, true
		case !inFrac && prevDigit && f.isGroup(r):
			prevDigit, needDigit = false, true
		default:
			return Decimal{}, numSyntax
		}
	}
	if !a.seen || needDigit {
		return Decimal{}, numSyntax
	}
	return a.finish(neg, 0)
}

// isGroup reports whether r separates digit groups. A space stands for the
// no-break spaces too, which is how French and other locales write them.
func (f numberFormat) isGroup(r rune) bool {
	if f.groups == "" {
		return false
	}
	if (r == '\u00a0' || r == '\u202f') && strings.ContainsRune(f.groups, ' ') {
		return true
	}
	return strings.ContainsRune(f.groups, r)
}

// parseJSONNumber reads a number in JSON syntax, exponent included, as
// json.Number holds it.
func parseJSONNumber(s string) (Decimal, numErr) {
	neg := false
	if s != "" && s[0] == '-' {
		neg = true
		s = s[1:]
	}
	var a digits
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		a.intDigit(int64(s[i] - '0'))
	}
	if i == 0 {
		return Decimal{}, numSyntax
	}
	if i < len(s) && s[i] == '.' {
		i++
		j := i
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			a.fracDigit(int64(s[i] - '0'))
		}
		if i == j {
			return Decimal{}, numSyntax
		}
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			eneg = s[i] == '-'
			i++
		}
		j := i
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if exp < 10000 {
				exp = exp*10 + int(s[i]-'0')
			}
		}
		if i == j {
			return Decimal{}, numSyntax
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(s) {
		return Decimal{}, numSyntax
	}
	if a.coef == 0 && a.err == numOK {
		exp = 0 // 0e999 is zero, not out of range
	}
	if exp > 2*maxDigits || exp < -2*maxDigits-maxDigits {
		return Decimal{}, numRange
	}
	return a.finish(neg, exp)
}

// isJSONNumber reports whether s is a number in JSON syntax.
func isJSONNumber(s string) bool {
	_, err := parseJSONNumber(s)
	return err != numSyntax
}
