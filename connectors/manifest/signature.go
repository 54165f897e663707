package manifest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Why a delivery was refused; the reasons are counted per connection.
var (
	ErrSignatureMissing = errors.New("signature missing")
	ErrSignatureInvalid = errors.New("signature does not match")
	ErrSignatureStale   = errors.New("signature timestamp outside the tolerance")
)

// Verify checks a webhook delivery's signature as sig describes, with the
// connection's signing secret, at now. It runs before anything reads the
// body. Comparisons are constant-time.
func (sig *Signature) Verify(secret []byte, h http.Header, body []byte, now time.Time) error {
	if len(secret) == 0 {
		return ErrSignatureMissing // nothing can be verified: refuse
	}
	switch sig.Kind {
	case SigStripe:
		return verifyStripe(secret, h.Get("Stripe-Signature"), body, now, sig.Tolerance)
	case SigShopify:
		got := h.Get("X-Shopify-Hmac-Sha256")
		if got == "" {
			return ErrSignatureMissing
		}
		want := mac(sha256.New, secret, body)
		return equalEncoded(got, want, "base64")
	case SigHMAC:
		got := strings.TrimSpace(h.Get(sig.Header))
		if got == "" {
			return ErrSignatureMissing
		}
		if sig.Prefix != "" {
			var ok bool
			if got, ok = strings.CutPrefix(got, sig.Prefix); !ok {
				return ErrSignatureInvalid
			}
		}
		fn := sha256.New
		switch sig.Algorithm {
		case "sha1":
			fn = sha1.New
		case "sha512":
			fn = sha512.New
		}
		return equalEncoded(got, mac(fn, secret, body), sig.Encoding)
	case SigStandardWebhooks:
		return verifyStandard(secret, h, body, now, sig.Tolerance)
	case SigSharedSecret:
		return verifySharedSecret(secret, strings.TrimSpace(h.Get(sig.Header)), sig.Prefix)
	case SigBodySecret:
		return verifyBodySecret(secret, body, sig.Field)
	}
	return ErrSignatureInvalid
}

func mac(fn func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(fn, key)
	m.Write(msg)
	return m.Sum(nil)
}

func equalEncoded(got string, want []byte, encoding string) error {
	var b []byte
	var err error
	if encoding == "base64" {
		b, err = base64.StdEncoding.DecodeString(got)
	} else {
		b, err = hex.DecodeString(strings.ToLower(got))
	}
	if err != nil || !hmac.Equal(b, want) {
		return ErrSignatureInvalid
	}
	return nil
}

func fresh(ts string, now time.Time, tol time.Duration) error {
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrSignatureInvalid
	}
	d := now.Sub(time.Unix(n, 0))
	if d > tol || d < -tol {
		return ErrSignatureStale
	}
	return nil
}

// verifyStripe checks "t=<unix>,v1=<hex>[,v1=...]": HMAC-SHA256 of
// "<t>.<body>"; any v1 may match (secret rotation sends two).
func verifyStripe(secret []byte, header string, body []byte, now time.Time, tol time.Duration) error {
	if header == "" {
		return ErrSignatureMissing
	}
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	if ts == "" || len(sigs) == 0 {
		return ErrSignatureMissing
	}
	want := mac(sha256.New, secret, append([]byte(ts+"."), body...))
	matched := false
	for _, s := range sigs {
		if equalEncoded(s, want, "hex") == nil {
			matched = true
		}
	}
	if !matched {
		return ErrSignatureInvalid
	}
	return fresh(ts, now, tol)
}

// verifyStandard checks Standard Webhooks: webhook-id, webhook-timestamp
// and webhook-signature ("v1,<base64> ..."), HMAC-SHA256 of
// "<id>.<timestamp>.<body>" with the secret after its "whsec_" prefix,
// base64-decoded.
func verifyStandard(secret []byte, h http.Header, body []byte, now time.Time, tol time.Duration) error {
	id, ts, sigs := h.Get("Webhook-Id"), h.Get("Webhook-Timestamp"), h.Get("Webhook-Signature")
	if id == "" || ts == "" || sigs == "" {
		return ErrSignatureMissing
	}
	key := secret
	if s, ok := strings.CutPrefix(string(secret), "whsec_"); ok {
		k, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return ErrSignatureInvalid
		}
		key = k
	}
	want := mac(sha256.New, key, append([]byte(id+"."+ts+"."), body...))
	matched := false
	for s := range strings.FieldsSeq(sigs) {
		if v, ok := strings.CutPrefix(s, "v1,"); ok && equalEncoded(v, want, "base64") == nil {
			matched = true
		}
	}
	if !matched {
		return ErrSignatureInvalid
	}
	return fresh(ts, now, tol)
}

// eventField reads a delivery's event id or type: "header:Name" reads a
// header, anything else is a dotted path into the JSON body.
func (s *Stream) eventField(spec string, h http.Header, doc any) string {
	if name, ok := strings.CutPrefix(spec, "header:"); ok {
		return strings.TrimSpace(h.Get(name))
	}
	return text(lookup(doc, splitPath(spec)))
}
