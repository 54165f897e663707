package manifest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"sentryhub/connectors"
	"sentryhub/store/vault"
)

// Vault keys of the OAuth 2.0 tokens the framework keeps for a connection.
// They are not settings: no form shows them, and only the framework writes
// them.
const (
	KeyAccessToken  = "oauth_access_token"
	KeyRefreshToken = "oauth_refresh_token"
	KeyExpiry       = "oauth_expiry"
	// KeyReconnect is set ("true") when the provider refused the refresh
	// token: the admin must press Connect again.
	KeyReconnect = "oauth_reconnect_needed"
)

// RefreshBefore is how long before its expiry a token is renewed.
const RefreshBefore = 2 * time.Minute

// ErrReconnectNeeded is returned by every call of an authorization-code
// connection whose refresh token the provider refused.
var ErrReconnectNeeded = errors.New("reconnect needed: the provider no longer accepts this connection's refresh token; press Connect again")

// tokenState is one warehouse's OAuth 2.0 token, shared by the connector
// instances of that warehouse. lock is a one-slot channel (waiting on it
// respects the context): whoever holds it refreshes, the others wait and
// reuse the new token, so there is one refresh at a time per connection.
type tokenState struct {
	lock      chan struct{}
	token     *oauth2.Token
	access    atomic.Pointer[string] // token.AccessToken, read by senders without the lock
	loaded    bool
	reconnect bool
}

func (c *Conn) isOAuth2() bool {
	return c.m.Auth.Kind == AuthOAuth2ClientCredentials || c.m.Auth.Kind == AuthOAuth2AuthorizationCode
}

// oauthConfig is the golang.org/x/oauth2 configuration of the connection.
func (c *Conn) oauthConfig(redirectURL string) *oauth2.Config {
	a := c.m.Auth
	style := oauth2.AuthStyleInHeader
	if a.AuthStyle == "params" {
		style = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{
		ClientID:     c.render(a.ClientID, nil),
		ClientSecret: c.render(a.ClientSecret, nil),
		Endpoint: oauth2.Endpoint{AuthURL: c.override(c.render(a.AuthorizeURL, nil)),
			TokenURL: c.override(c.render(a.TokenURL, nil)), AuthStyle: style},
		RedirectURL: redirectURL,
		Scopes:      a.Scopes,
	}
}

// oauthContext routes the oauth2 package's token requests through the
// connector's HTTP helper (SSRF guard, allowed hosts, retries, scrubbing)
// without the connector's own Authorization.
func (c *Conn) oauthContext(ctx context.Context) context.Context {
	hc := &http.Client{Transport: helperTransport{c: c.env.HTTP.With(connectors.Provider{AllowHost: c.allowHost})}}
	return context.WithValue(ctx, oauth2.HTTPClient, hc)
}

// helperTransport adapts connectors.Client to an http.RoundTripper. A
// non-2xx answer comes back as a response (the oauth2 package reads the
// error body), so the 400 of a refused grant stays readable.
type helperTransport struct{ c *connectors.Client }

func (t helperTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	resp, err := t.c.Do(r.Context(), connectors.Request{Method: r.Method, URL: r.URL.String(), Header: r.Header, Body: body, Idempotent: true})
	if err != nil {
		var he *connectors.HTTPError
		if errors.As(err, &he) && he.Status >= 400 && he.Status < 500 && he.Status != 429 {
			// The grant was refused: hand the oauth2 package a response with
			// the error code it needs (invalid_grant) and nothing else.
			code := "invalid_request"
			if strings.Contains(he.Message, "invalid_grant") {
				code = "invalid_grant"
			}
			b := []byte(`{"error":"` + code + `"}`)
			return &http.Response{StatusCode: he.Status, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(bytes.NewReader(b)), Request: r}, nil
		}
		return nil, err
	}
	return &http.Response{StatusCode: resp.Status, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(resp.Body)),
		ContentLength: int64(len(resp.Body)), Request: r}, nil
}

// ensureToken makes sure an OAuth 2.0 connection holds a token that is
// not about to expire; force renews it (after a 401).
func (c *Conn) ensureToken(ctx context.Context, force bool) error {
	if !c.isOAuth2() {
		return nil
	}
	ts := c.tok
	select {
	case ts.lock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-ts.lock }()
	now := c.env.Clock.Now()
	if !ts.loaded {
		ts.loaded = true
		ts.reconnect = string(c.env.Secret(KeyReconnect).Reveal()) == "true"
		if tok := string(c.env.Secret(KeyAccessToken).Reveal()); tok != "" {
			exp, _ := time.Parse(time.RFC3339, string(c.env.Secret(KeyExpiry).Reveal()))
			ts.token = &oauth2.Token{AccessToken: tok, RefreshToken: string(c.env.Secret(KeyRefreshToken).Reveal()), Expiry: exp}
			ts.access.Store(&tok)
		}
	}
	if ts.reconnect {
		return &connectors.HTTPError{Kind: connectors.KindPermanent, Message: ErrReconnectNeeded.Error()}
	}
	if !force && ts.token != nil && (ts.token.Expiry.IsZero() || now.Add(RefreshBefore).Before(ts.token.Expiry)) {
		return nil
	}
	octx := c.oauthContext(ctx)
	var tok *oauth2.Token
	var err error
	switch c.m.Auth.Kind {
	case AuthOAuth2ClientCredentials:
		cc := clientcredentials.Config{ClientID: c.render(c.m.Auth.ClientID, nil), ClientSecret: c.render(c.m.Auth.ClientSecret, nil),
			TokenURL: c.override(c.render(c.m.Auth.TokenURL, nil)), Scopes: c.m.Auth.Scopes,
			AuthStyle: c.oauthConfig("").Endpoint.AuthStyle, EndpointParams: url.Values{}}
		for k, v := range c.m.Auth.Params {
			cc.EndpointParams.Set(k, c.render(v, nil))
		}
		tok, err = cc.Token(octx)
	case AuthOAuth2AuthorizationCode:
		if ts.token == nil || ts.token.RefreshToken == "" {
			return &connectors.ConfigError{Connector: c.m.Key, Fields: map[string]string{"connection": "is not connected: press Connect"}}
		}
		old := *ts.token
		old.Expiry = now.Add(-time.Second) // make the source refresh
		tok, err = c.oauthConfig("").TokenSource(octx, &old).Token()
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			ts.reconnect = true
			c.save(ctx, map[string]vault.Secret{KeyReconnect: vault.NewSecret("true")})
			return &connectors.HTTPError{Kind: connectors.KindPermanent, Message: ErrReconnectNeeded.Error()}
		}
	}
	if err != nil {
		var he *connectors.HTTPError
		if errors.As(err, &he) {
			return he
		}
		return &connectors.HTTPError{Kind: connectors.KindPermanent, Message: "token request failed: " + c.env.HTTP.Scrub(err.Error())}
	}
	if tok.Expiry.IsZero() {
		tok.Expiry = now.Add(time.Hour) // unknown lifetime: assume short
	} else {
		// oauth2 computes the expiry from the real clock; rebase it on ours.
		tok.Expiry = now.Add(time.Until(tok.Expiry))
	}
	c.env.HTTP.AddSecret(tok.AccessToken, tok.RefreshToken)
	ts.token = tok
	ts.access.Store(&tok.AccessToken)
	c.saveToken(ctx, tok)
	return nil
}

// SaveToken stores a token obtained by the authorization-code callback.
func (c *Conn) saveToken(ctx context.Context, tok *oauth2.Token) {
	vals := map[string]vault.Secret{KeyAccessToken: vault.NewSecret(tok.AccessToken),
		KeyExpiry: vault.NewSecret(tok.Expiry.UTC().Format(time.RFC3339)), KeyReconnect: vault.NewSecret("false")}
	if tok.RefreshToken != "" {
		vals[KeyRefreshToken] = vault.NewSecret(tok.RefreshToken)
	}
	c.save(ctx, vals)
}

func (c *Conn) save(ctx context.Context, vals map[string]vault.Secret) {
	if c.env.Credentials == nil {
		return
	}
	if err := c.env.Credentials.SaveCredentials(ctx, vals); err != nil && c.env.Log != nil {
		// The token works from memory; the next start refreshes again.
		c.env.Log.Warn("could not save the connection's OAuth token", slog.String("connector", c.m.Key),
			slog.String("error", c.env.HTTP.Scrub(err.Error())))
	}
}

// authorize signs one attempt with the manifest's auth, then the Go signer
// hook when one is named.
func (c *Conn) authorize(ctx context.Context, r *http.Request) error {
	a := c.m.Auth
	switch a.Kind {
	case AuthAPIKey:
		v := c.render(a.Value, nil)
		if a.In == "query" {
			q := r.URL.Query()
			q.Set(a.Name, v)
			r.URL.RawQuery = q.Encode()
		} else {
			r.Header.Set(a.Name, v)
		}
	case AuthBasic:
		r.SetBasicAuth(c.render(a.Username, nil), c.render(a.Password, nil))
	case AuthBearer:
		r.Header.Set("Authorization", "Bearer "+c.render(a.Token, nil))
	case AuthOAuth2ClientCredentials, AuthOAuth2AuthorizationCode:
		if t := c.tok.current(); t != "" {
			r.Header.Set("Authorization", "Bearer "+t)
		}
	case AuthOAuth1TBA:
		if err := c.signOAuth1(r); err != nil {
			return err
		}
	}
	if a.Hook != "" {
		return c.d.opts.Hooks.Signers[a.Hook](ctx, r, c.env)
	}
	return nil
}

// current is the token to send. It is read without the lock: a token
// replaced mid-flight only costs one 401 and one resend.
func (ts *tokenState) current() string {
	if ts == nil {
		return ""
	}
	if p := ts.access.Load(); p != nil {
		return *p
	}
	return ""
}

// signOAuth1 adds the OAuth 1.0a Authorization header of token-based
// authentication (RFC 5849 with HMAC-SHA256, as NetSuite requires): a
// fresh nonce and timestamp for every attempt, since the provider refuses
// a replayed nonce.
func (c *Conn) signOAuth1(r *http.Request) error {
	a := c.m.Auth
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("oauth1 nonce: %w", err)
	}
	params := map[string]string{
		"oauth_consumer_key":     c.render(a.ConsumerKey, nil),
		"oauth_token":            c.render(a.TokenID, nil),
		"oauth_signature_method": "HMAC-SHA256",
		"oauth_timestamp":        strconv.FormatInt(c.env.Clock.Now().Unix(), 10),
		"oauth_nonce":            hex.EncodeToString(nonce),
		"oauth_version":          "1.0",
	}
	base := oauth1BaseString(r, params)
	mac := hmac.New(sha256.New, []byte(pctEncode(c.render(a.ConsumerSecret, nil))+"&"+pctEncode(c.render(a.TokenSecret, nil))))
	mac.Write([]byte(base))
	params["oauth_signature"] = base64.StdEncoding.EncodeToString(mac.Sum(nil))
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(`OAuth realm="` + pctEncode(c.render(a.Realm, nil)) + `"`)
	for _, k := range keys {
		b.WriteString(", " + k + `="` + pctEncode(params[k]) + `"`)
	}
	r.Header.Set("Authorization", b.String())
	return nil
}

// oauth1BaseString is the signature base string of RFC 5849 3.4.1: method,
// base URI, and the sorted, encoded query, form body and oauth_ parameters.
func oauth1BaseString(r *http.Request, oauth map[string]string) string {
	var pairs [][2]string
	add := func(vals url.Values) {
		for k, vs := range vals {
			for _, v := range vs {
				pairs = append(pairs, [2]string{pctEncode(k), pctEncode(v)})
			}
		}
	}
	add(r.URL.Query())
	if ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded") && r.GetBody != nil {
		if rc, err := r.GetBody(); err == nil {
			b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
			rc.Close()
			form, _ := url.ParseQuery(string(b))
			add(form)
		}
	}
	for k, v := range oauth {
		pairs = append(pairs, [2]string{pctEncode(k), pctEncode(v)})
	}
	slices.SortFunc(pairs, func(x, y [2]string) int { return cmp.Or(strings.Compare(x[0], y[0]), strings.Compare(x[1], y[1])) })
	joined := make([]string, len(pairs))
	for i, p := range pairs {
		joined[i] = p[0] + "=" + p[1]
	}
	host := strings.ToLower(r.URL.Host)
	if h, port, ok := strings.Cut(host, ":"); ok && (r.URL.Scheme == "http" && port == "80" || r.URL.Scheme == "https" && port == "443") {
		host = h
	}
	baseURI := strings.ToLower(r.URL.Scheme) + "://" + host + r.URL.EscapedPath()
	return strings.ToUpper(r.Method) + "&" + pctEncode(baseURI) + "&" + pctEncode(strings.Join(joined, "&"))
}

// pctEncode is RFC 5849 3.6 percent-encoding: all but unreserved bytes,
// upper-case hex.
func pctEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if 'A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '.' || ch == '_' || ch == '~' {
			b.WriteByte(ch)
		} else {
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}
