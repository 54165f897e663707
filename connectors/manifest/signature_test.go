package manifest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func hmacOf(key, msg string) []byte {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func TestSignatureVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	old := strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10)
	body := `{"id":"evt_1"}`
	stripe := &Signature{Kind: SigStripe, Tolerance: 5 * time.Minute}
	shopify := &Signature{Kind: SigShopify}
	generic := &Signature{Kind: SigHMAC, Header: "X-Sig", Algorithm: "sha256", Encoding: "hex", Prefix: "sha256="}
	stdKey := []byte("0123456789abcdef0123456789abcdef")
	stdSecret := "whsec_" + base64.StdEncoding.EncodeToString(stdKey)
	standard := &Signature{Kind: SigStandardWebhooks, Tolerance: 5 * time.Minute}
	stdSig := func(id, t string) string {
		m := hmac.New(sha256.New, stdKey)
		m.Write([]byte(id + "." + t + "." + body))
		return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	for _, tc := range []struct {
		name   string
		sig    *Signature
		secret string
		h      http.Header
		want   error
	}{
		{"stripe ok", stripe, "whsec_s", http.Header{"Stripe-Signature": {"t=" + ts + ",v1=" + hex.EncodeToString(hmacOf("whsec_s", ts+"."+body))}}, nil},
		{"stripe rotated secret, second v1", stripe, "whsec_s", http.Header{"Stripe-Signature": {"t=" + ts + ",v1=00,v1=" + hex.EncodeToString(hmacOf("whsec_s", ts+"."+body))}}, nil},
		{"stripe forged", stripe, "whsec_s", http.Header{"Stripe-Signature": {"t=" + ts + ",v1=" + hex.EncodeToString(hmacOf("other", ts+"."+body))}}, ErrSignatureInvalid},
		{"stripe stale", stripe, "whsec_s", http.Header{"Stripe-Signature": {"t=" + old + ",v1=" + hex.EncodeToString(hmacOf("whsec_s", old+"."+body))}}, ErrSignatureStale},
		{"stripe missing", stripe, "whsec_s", http.Header{}, ErrSignatureMissing},
		{"shopify ok", shopify, "shpss", http.Header{"X-Shopify-Hmac-Sha256": {base64.StdEncoding.EncodeToString(hmacOf("shpss", body))}}, nil},
		{"shopify forged", shopify, "shpss", http.Header{"X-Shopify-Hmac-Sha256": {base64.StdEncoding.EncodeToString(hmacOf("x", body))}}, ErrSignatureInvalid},
		{"hmac ok", generic, "k", http.Header{"X-Sig": {"sha256=" + hex.EncodeToString(hmacOf("k", body))}}, nil},
		{"hmac without prefix", generic, "k", http.Header{"X-Sig": {hex.EncodeToString(hmacOf("k", body))}}, ErrSignatureInvalid},
		{"standard ok", standard, stdSecret, http.Header{"Webhook-Id": {"msg_1"}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {"v1,AAAA " + stdSig("msg_1", ts)}}, nil},
		{"standard other id", standard, stdSecret, http.Header{"Webhook-Id": {"msg_2"}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {stdSig("msg_1", ts)}}, ErrSignatureInvalid},
		{"standard stale", standard, stdSecret, http.Header{"Webhook-Id": {"msg_1"}, "Webhook-Timestamp": {old}, "Webhook-Signature": {stdSig("msg_1", old)}}, ErrSignatureStale},
		{"no secret stored", shopify, "", http.Header{"X-Shopify-Hmac-Sha256": {base64.StdEncoding.EncodeToString(hmacOf("", body))}}, ErrSignatureMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.sig.Verify([]byte(tc.secret), tc.h, []byte(body), now)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzSignatureHeaders: signature headers come from anyone on the
// internet; parsing them must never panic or accept without the secret.
func FuzzSignatureHeaders(f *testing.F) {
	f.Add("t=1,v1=ab", "v1,AAAA", "1800000000", []byte("{}"))
	f.Fuzz(func(t *testing.T, stripeH, stdH, ts string, body []byte) {
		now := time.Unix(1_800_000_000, 0)
		for _, s := range []*Signature{{Kind: SigStripe, Tolerance: time.Minute}, {Kind: SigStandardWebhooks, Tolerance: time.Minute}} {
			h := http.Header{"Stripe-Signature": {stripeH}, "Webhook-Id": {"m"}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {stdH}}
			if s.Verify([]byte("whsec_c2VjcmV0"), h, body, now) == nil {
				t.Fatalf("%s accepted a signature made without the secret", s.Kind)
			}
		}
	})
}
