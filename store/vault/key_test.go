package vault

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// specKey is the key of the Fernet spec vectors, in the form Python's
// Fernet.generate_key() prints.
const specKey = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="

func TestParseKey(t *testing.T) {
	raw, _ := base64.URLEncoding.DecodeString(specKey)
	for name, in := range map[string]string{
		"python form":       specKey,
		"trailing newline":  specKey + "\n",
		"standard alphabet": base64.StdEncoding.EncodeToString(raw),
	} {
		k, err := ParseKey(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(k[:]) != string(raw) {
			t.Fatalf("%s: wrong key bytes", name)
		}
	}

	g := GenerateKey()
	if len(g) != 44 {
		t.Fatalf("GenerateKey length %d, want 44", len(g))
	}
	k, err := ParseKey(g)
	if err != nil {
		t.Fatal(err)
	}
	if k.Encode() != g {
		t.Fatal("GenerateKey does not round-trip")
	}
	if GenerateKey() == g {
		t.Fatal("GenerateKey repeated itself")
	}
}

func TestParseKeyErrorsHideTheKey(t *testing.T) {
	b := func(n int) string { return base64.URLEncoding.EncodeToString([]byte(strings.Repeat("k", n))) }
	for name, in := range map[string]string{
		"empty":          "",
		"blank":          "  \n",
		"not base64":     "this-is-not-a-fernet-key!!secretish",
		"hex of 32":      hex.EncodeToString([]byte(strings.Repeat("k", 32))),
		"31 bytes":       b(31),
		"33 bytes":       b(33),
		"unpadded":       strings.TrimRight(specKey, "="),
		"garbage suffix": specKey + "AAAA",
	} {
		_, err := ParseKey(in)
		if !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: err = %v, want ErrInvalidKey", name, err)
			continue
		}
		in = strings.TrimSpace(in)
		for i := 0; i+8 <= len(in); i++ {
			if strings.Contains(err.Error(), in[i:i+8]) {
				t.Errorf("%s: error %q echoes the key", name, err)
				break
			}
		}
	}
}
