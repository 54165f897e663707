package vault

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
)

// redacted is what a Secret prints, marshals and logs as.
const redacted = "****"

// Secret holds a plaintext credential or signing secret and refuses to show
// it: fmt (every verb), encoding/json, encoding.TextMarshaler users and
// log/slog all get "****". Reveal is the only way to the bytes.
//
// The zero Secret is empty. Secrets are immutable: NewSecret and Reveal copy.
type Secret struct {
	// The bytes sit behind a closure because fmt cannot call Format on a
	// Secret it reaches through an unexported struct field (or through a bad
	// verb such as %p) and prints it by reflection instead. Reflection
	// follows pointers, slices and structs, but prints a func as an address.
	// A func field also makes Secret incomparable, so == cannot stand in for
	// the constant-time Equal.
	v func() []byte
}

// NewSecret wraps a copy of v.
func NewSecret[T []byte | string](v T) Secret {
	return wrap([]byte(string(v)))
}

// wrap takes ownership of b without copying, for plaintext the vault just
// decrypted and nobody else holds.
func wrap(b []byte) Secret { return Secret{v: func() []byte { return b }} }

func (s Secret) bytes() []byte {
	if s.v == nil {
		return nil
	}
	return s.v()
}

// Reveal returns a copy of the plaintext. Only the code that has to put the
// value on the wire calls it: connectors building an upstream request and
// the dispatcher computing a webhook signature. Never log, store or return
// the result through an API.
func (s Secret) Reveal() []byte {
	return append([]byte(nil), s.bytes()...)
}

// Equal reports whether s and o hold the same bytes, in time that depends
// only on their lengths.
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare(s.bytes(), o.bytes()) == 1
}

// IsZero reports whether s is empty.
func (s Secret) IsZero() bool { return len(s.bytes()) == 0 }

// String returns "****".
func (Secret) String() string { return redacted }

// GoString returns "****", so %#v does not show the bytes either.
func (Secret) GoString() string { return redacted }

// Format writes "****" for every verb and flag (%v %+v %#v %s %q %x %d ...).
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON encodes s as the JSON string "****".
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "****" (used by encoding/json for map keys, encoding/xml
// and others).
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue makes log/slog print "****" under any handler.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

var (
	_ fmt.Stringer   = Secret{}
	_ fmt.GoStringer = Secret{}
	_ fmt.Formatter  = Secret{}
	_ slog.LogValuer = Secret{}
)
