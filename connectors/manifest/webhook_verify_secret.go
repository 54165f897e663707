package manifest

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
)

// Signature kinds for providers that sign nothing but deliver a secret
// the hub chose: BigCommerce sends the custom headers set when the hook
// was registered (shared_secret), Business Central puts the
// subscription's clientState in every notification (body_secret).

// sameSecret compares in constant time, lengths included: both sides are
// hashed first, so neither the secret's length nor a prefix leaks.
func sameSecret(got string, secret []byte) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256(secret)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

func verifySharedSecret(secret []byte, got, prefix string) error {
	if got == "" {
		return ErrSignatureMissing
	}
	if prefix != "" {
		var ok bool
		if got, ok = strings.CutPrefix(got, prefix); !ok {
			return ErrSignatureInvalid
		}
	}
	if !sameSecret(got, secret) {
		return ErrSignatureInvalid
	}
	return nil
}

// verifyBodySecret checks that every value at the wildcard path field of
// the JSON body is the secret: one foreign notification refuses the whole
// delivery, since the hub stores all of it or none.
func verifyBodySecret(secret, body []byte, field []string) error {
	doc := parsedJSON(body)
	if doc == nil {
		return ErrSignatureMissing
	}
	found := each(doc, field)
	if len(found) == 0 {
		return ErrSignatureMissing
	}
	ok := true
	for _, v := range found {
		s, isText := v.(string)
		// Every value is compared, matched or not, so the time taken does
		// not say which notification failed.
		if !sameSecret(s, secret) || !isText {
			ok = false
		}
	}
	if !ok {
		return ErrSignatureInvalid
	}
	return nil
}

func (v *validator) secretSignature(at string, f *signatureFile, sig *Signature) {
	switch f.Kind {
	case SigSharedSecret:
		if !headerRE.MatchString(f.Header) {
			v.p.add(at+".header", "is required for shared_secret: the header carrying the secret")
		}
		if f.Field != "" {
			v.p.add(at+".field", "is only for body_secret")
		}
	case SigBodySecret:
		if f.Field == "" {
			v.p.add(at+".field", "is required for body_secret: the path of the secret in the body, like value.*.clientState")
		}
		sig.Field = splitPath(f.Field)
		if f.Header != "" || f.Prefix != "" {
			v.p.add(at, "header and prefix are not for body_secret")
		}
	}
	if f.Algorithm != "" || f.Encoding != "" {
		v.p.add(at, "algorithm and encoding are only for hmac")
	}
}
