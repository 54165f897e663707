// Package canonjson produces the canonical JSON bytes that webhook
// envelopes are signed over.
//
// A webhook signature is an HMAC over an exact byte string, and consumers
// verify it against the raw request body they received. Any two producers of
// an envelope (this hub, the reference tooling, a consumer re-deriving a body
// from a stored event) must therefore agree on every byte, not merely on the
// JSON value. The reference is CPython:
//
//	json.dumps(json.loads(text), separators=(',', ':'), sort_keys=True)
//
// with the default ensure_ascii=True and allow_nan=True, which is what our
// test vectors in canonjson/testdata/vectors.json were generated with. The
// output is therefore pure ASCII: no insignificant whitespace, object keys
// sorted by Unicode code point, every character outside printable ASCII
// written as a lowercase \uXXXX escape (astral characters as surrogate
// pairs), and '/', '<', '>' and '&' left alone.
//
// Numbers keep the integer/float distinction of their source text, because
// Python does: a literal without '.' or an exponent is an integer of any size
// and is printed digit for digit ("-0" becomes "0"), anything else is a
// float64 printed like Python's float.__repr__ ("1.0", "1e+16", "1e-05",
// "-0.0"). A float literal that overflows float64 becomes Infinity, as in
// Python, and the literals NaN, Infinity and -Infinity, which Python's
// json.loads accepts, are accepted and reproduced, so Canonicalize is
// idempotent on its own output.
//
// Deliberate differences from CPython, all of which make us reject input that
// Python would either reject too or handle inconsistently:
//   - input must be UTF-8 without a byte order mark (what Python's json.loads
//     does after raw.decode("utf-8")); lone surrogates are only representable
//     through \uXXXX escapes, which are preserved exactly as Python does;
//   - integers longer than 4300 digits are rejected, as CPython's default
//     int conversion limit does;
//   - nesting deeper than 10000 levels is rejected (the encoding/json limit;
//     CPython stops near 1000, depending on its stack).
package canonjson
