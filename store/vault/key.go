package vault

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/fernet/fernet-go"
)

// ErrInvalidKey means a string is not a Fernet key. Errors wrapping it never
// contain the key text.
var ErrInvalidKey = errors.New("invalid encryption key")

// ParseKey decodes a Fernet key in its standard form: 32 bytes as URL-safe
// base64 with padding, 44 characters, as Python cryptography's
// Fernet.generate_key() and GenerateKey produce. Like Python it also takes
// the standard base64 alphabet; surrounding white space (a key file's
// trailing newline) is ignored. Unlike fernet.DecodeKey it does not take hex,
// so one string never means two keys. Errors wrap ErrInvalidKey and never
// echo s.
func ParseKey(s string) (*fernet.Key, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	b, err := base64.URLEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.StdEncoding.DecodeString(s)
	}
	if err != nil {
		// The base64 error names only an offset, but say nothing about the
		// input beyond its length to keep the rule simple: no key text.
		return nil, fmt.Errorf("%w: not URL-safe base64 (%d characters; a Fernet key is 44)", ErrInvalidKey, len(s))
	}
	var k fernet.Key
	if len(b) != len(k) {
		return nil, fmt.Errorf("%w: decodes to %d bytes, want %d", ErrInvalidKey, len(b), len(k))
	}
	copy(k[:], b)
	return &k, nil
}

// GenerateKey returns a new random Fernet key in the standard form ParseKey
// reads. It panics only if the system random source fails, which crypto/rand
// documents as unrecoverable.
func GenerateKey() string {
	var k fernet.Key
	if err := k.Generate(); err != nil {
		panic("vault: generate key: " + err.Error())
	}
	return k.Encode()
}
