package shopify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"sentryhub/connectors"
	"sentryhub/store/vault"
)

// tokenState is the client-credentials token of one shop + app, shared by
// every connector instance of the warehouse. lock is a one-slot channel so
// waiting for it respects the context; whoever holds it refreshes, the
// others wait and then reuse the new token (single flight).
type tokenState struct {
	lock    chan struct{}
	token   string
	expires time.Time
	loaded  bool
}

// accessToken returns the token to send. In access_token mode it is the
// stored secret. In client_credentials mode it is the current grant,
// renewed RefreshBefore its expiry (or at once when force is set, after a
// 401), and saved to the vault so a restart does not need a new grant.
func (c *Connector) accessToken(ctx context.Context, force bool) (string, error) {
	if c.mode == AuthAccessToken {
		return string(c.env.Secret("access_token").Reveal()), nil
	}
	ts := c.d.tokenState(c.tokenKey())
	select {
	case ts.lock <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-ts.lock }()
	now := c.env.Clock.Now()
	if !ts.loaded {
		// A token granted before a restart, from the vault.
		ts.loaded = true
		tok := string(c.env.Secret(keyOAuthToken).Reveal())
		exp, err := time.Parse(time.RFC3339, string(c.env.Secret(keyOAuthExpires).Reveal()))
		if tok != "" && err == nil {
			ts.token, ts.expires = tok, exp
		}
	}
	if !force && ts.token != "" && now.Add(c.d.opts.RefreshBefore).Before(ts.expires) {
		return ts.token, nil
	}
	tok, exp, err := c.grant(ctx, now)
	if err != nil {
		return "", err
	}
	ts.token, ts.expires = tok, exp
	if c.env.Credentials != nil {
		if err := c.env.Credentials.SaveCredentials(ctx, map[string]vault.Secret{
			keyOAuthToken: vault.NewSecret(tok), keyOAuthExpires: vault.NewSecret(exp.UTC().Format(time.RFC3339))}); err != nil {
			// The token works from memory; the next start asks for a new one.
			c.env.Log.Warn("could not save the refreshed Shopify token", slog.String("error", c.env.HTTP.Scrub(err.Error())))
		}
	}
	return tok, nil
}

func (c *Connector) tokenKey() string {
	return strconv.FormatInt(c.env.WarehouseID, 10) + "|" + c.shop + "|" + c.env.Settings.String("client_id")
}

// invalidateToken forgets the cached grant (after a 401).
func (c *Connector) invalidateToken() {
	ts := c.d.tokenState(c.tokenKey())
	select {
	case ts.lock <- struct{}{}:
		ts.token = ""
		<-ts.lock
	default: // someone is refreshing right now: that is as good
	}
}

// tokenResponse is the access token endpoint's answer.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	Scope       string `json:"scope"`
	ExpiresIn   int64  `json:"expires_in"`
}

// parseTokenResponse decodes and checks a token grant.
func parseTokenResponse(body []byte) (tokenResponse, error) {
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return tokenResponse{}, &connectors.HTTPError{Kind: connectors.KindPermanent, Message: "token response is not JSON"}
	}
	if tr.AccessToken == "" || len(tr.AccessToken) > 4096 {
		return tokenResponse{}, &connectors.HTTPError{Kind: connectors.KindPermanent, Message: "token response has no usable access_token"}
	}
	if tr.ExpiresIn <= 0 || tr.ExpiresIn > 366*24*3600 {
		tr.ExpiresIn = 3600 // unknown lifetime: assume short, refresh early
	}
	return tr, nil
}

// grant exchanges the client id and secret for a token:
// POST https://{shop}/admin/oauth/access_token with
// grant_type=client_credentials.
func (c *Connector) grant(ctx context.Context, now time.Time) (string, time.Time, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.env.Settings.String("client_id")},
		"client_secret": {string(c.env.Secret("client_secret").Reveal())}}
	resp, err := c.env.HTTP.Do(ctx, connectors.Request{Method: http.MethodPost, URL: c.origin + "/admin/oauth/access_token",
		Body: []byte(form.Encode()), Header: http.Header{
			"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}}})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("shopify client credentials grant: %w", err)
	}
	tr, err := parseTokenResponse(resp.Body)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("shopify client credentials grant: %w", err)
	}
	c.env.HTTP.AddSecret(tr.AccessToken)
	return tr.AccessToken, now.Add(time.Duration(tr.ExpiresIn) * time.Second), nil
}
