package netsuite

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Percent-encoding as RFC 5849 section 3.6 requires: everything but the
// unreserved characters, upper-case hex.
func encode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// parseOAuthHeader splits `OAuth realm="x", oauth_k="v", ...` into its
// decoded parameters.
func parseOAuthHeader(h string) (map[string]string, error) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "OAuth") {
		return nil, fmt.Errorf("the Authorization header is not OAuth")
	}
	out := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, fmt.Errorf("parameter %q is not name=\"value\"", part)
		}
		dv, err := url.PathUnescape(v[1 : len(v)-1])
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", k, err)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("parameter %s appears twice", k)
		}
		out[k] = dv
	}
	return out, nil
}

// baseString builds the signature base string of RFC 5849 section 3.4.1:
// query parameters, form body parameters (form-encoded bodies only) and the
// oauth_ parameters, each encoded, sorted by name and then value.
func baseString(r *http.Request, oauth map[string]string, form url.Values) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := strings.ToLower(r.Host)
	if h, port, ok := strings.Cut(host, ":"); ok && (scheme == "http" && port == "80" || scheme == "https" && port == "443") {
		host = h
	}
	var pairs [][2]string
	for _, vals := range []url.Values{r.URL.Query(), form} {
		for k, vs := range vals {
			for _, v := range vs {
				pairs = append(pairs, [2]string{encode(k), encode(v)})
			}
		}
	}
	for k, v := range oauth {
		if k == "realm" || k == "oauth_signature" {
			continue
		}
		pairs = append(pairs, [2]string{encode(k), encode(v)})
	}
	slices.SortFunc(pairs, func(a, b [2]string) int { return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1])) })
	joined := make([]string, len(pairs))
	for i, p := range pairs {
		joined[i] = p[0] + "=" + p[1]
	}
	return strings.ToUpper(r.Method) + "&" + encode(scheme+"://"+host+r.URL.EscapedPath()) + "&" + encode(strings.Join(joined, "&"))
}

// formParams reads a form-encoded body's parameters (they are signed too)
// and puts the body back for the handler.
func formParams(r *http.Request) url.Values {
	if ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); !strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded") || r.Body == nil {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(b))
	v, _ := url.ParseQuery(string(b))
	return v
}

func sign(base, consumerSecret, tokenSecret string) string {
	mac := hmac.New(sha256.New, []byte(encode(consumerSecret)+"&"+encode(tokenSecret)))
	mac.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// verify checks a request's token-based authentication; the error says
// why it failed (kept in the fake's log, never in the response, as
// NetSuite points to its login audit trail instead).
func (f *Fake) verify(r *http.Request) error {
	p, err := parseOAuthHeader(r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	if f.Rejecting() {
		return fmt.Errorf("rejected: %s", r.Header.Get("Authorization"))
	}
	if p["realm"] != f.cfg.Account {
		return fmt.Errorf("realm %q is not account %q", p["realm"], f.cfg.Account)
	}
	if m := p["oauth_signature_method"]; m != "HMAC-SHA256" {
		return fmt.Errorf("signature method %q is not HMAC-SHA256", m)
	}
	if v, ok := p["oauth_version"]; ok && v != "1.0" {
		return fmt.Errorf("oauth_version %q is not 1.0", v)
	}
	if p["oauth_consumer_key"] != f.cfg.ConsumerKey {
		return fmt.Errorf("unknown consumer key")
	}
	f.mu.Lock()
	revoked := f.revoked
	f.mu.Unlock()
	if p["oauth_token"] != f.cfg.TokenID || revoked {
		return fmt.Errorf("unknown or revoked token")
	}
	ts, err := strconv.ParseInt(p["oauth_timestamp"], 10, 64)
	if err != nil {
		return fmt.Errorf("oauth_timestamp %q is not a number", p["oauth_timestamp"])
	}
	if d := f.cfg.Now().Sub(time.Unix(ts, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("oauth_timestamp is %s away from now", d)
	}
	nonce := p["oauth_nonce"]
	if nonce == "" {
		return fmt.Errorf("no oauth_nonce")
	}
	want := sign(baseString(r, p, formParams(r)), f.cfg.ConsumerSecret, f.cfg.TokenSecret)
	if !hmac.Equal([]byte(want), []byte(p["oauth_signature"])) {
		return fmt.Errorf("signature mismatch")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := p["oauth_token"] + " " + nonce
	if f.nonces[key] {
		return fmt.Errorf("nonce %q was used before", nonce)
	}
	f.nonces[key] = true
	return nil
}
