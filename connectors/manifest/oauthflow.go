package manifest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/oauth2"

	"sentryhub/clock"
	"sentryhub/store"
	"sentryhub/store/vault"
)

// OAuthStore keeps pending consents.
type OAuthStore interface {
	PutOAuthState(ctx context.Context, st store.OAuthState) error
	TakeOAuthState(ctx context.Context, stateHash string) (store.OAuthState, error)
}

// Sealer seals the PKCE verifier while the consent is pending.
type Sealer interface {
	Seal(s vault.Secret) ([]byte, error)
	Open(token []byte) (vault.Secret, error)
}

// OAuthFlow runs the hub's side of the OAuth 2.0 authorization-code grant
// with PKCE for manifest connectors: Begin sends the admin to the
// provider's consent page, Complete takes the callback and keeps the tokens
// in the vault.
type OAuthFlow struct {
	inst  Instancer
	db    OAuthStore
	seal  Sealer
	clock clock.Clock
	// TTL is how long a consent may take (10 minutes).
	TTL time.Duration
}

// NewOAuthFlow returns the flow.
func NewOAuthFlow(inst Instancer, db OAuthStore, seal Sealer, c clock.Clock) *OAuthFlow {
	return &OAuthFlow{inst: inst, db: db, seal: seal, clock: c, TTL: 10 * time.Minute}
}

// Errors of the callback; each is the admin's to see.
var (
	ErrOAuthState    = errors.New("this consent link is unknown or was already used; press Connect again")
	ErrOAuthSession  = errors.New("this consent was started in another session; press Connect again")
	ErrOAuthExpired  = errors.New("this consent took too long and expired; press Connect again")
	ErrNotOAuth      = errors.New("this connector does not connect with OAuth authorization code")
	ErrOAuthDenied   = errors.New("the provider did not grant access")
	ErrOAuthExchange = errors.New("the provider refused to exchange the authorization code")
)

func sessionHash(sessionID int64) string {
	h := sha256.Sum256([]byte("sentryhub-oauth-session\x00" + strconv.FormatInt(sessionID, 10)))
	return hex.EncodeToString(h[:])
}

func stateHash(state string) string {
	h := sha256.Sum256([]byte(state))
	return hex.EncodeToString(h[:])
}

func (f *OAuthFlow) conn(ctx context.Context, name string, warehouseID int64) (*Conn, error) {
	_, c, err := f.inst.Instance(ctx, name, warehouseID)
	if err != nil {
		return nil, err
	}
	mc, ok := c.(*Conn)
	if !ok || mc.m.Auth.Kind != AuthOAuth2AuthorizationCode {
		return nil, ErrNotOAuth
	}
	return mc, nil
}

// Begin starts a consent for connector name in warehouseID, bound to the
// admin session sessionID, and returns the provider URL to send the
// browser to. redirectURL is the hub's callback URL.
func (f *OAuthFlow) Begin(ctx context.Context, name string, warehouseID, sessionID int64, redirectURL string) (string, error) {
	c, err := f.conn(ctx, name, warehouseID)
	if err != nil {
		return "", err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("oauth state: %w", err)
	}
	state := base64.RawURLEncoding.EncodeToString(b)
	verifier := oauth2.GenerateVerifier()
	sealed, err := f.seal.Seal(vault.NewSecret(verifier))
	if err != nil {
		return "", err
	}
	if err := f.db.PutOAuthState(ctx, store.OAuthState{StateHash: stateHash(state), Connector: name, WarehouseID: warehouseID,
		SessionHash: sessionHash(sessionID), VerifierCiphertext: sealed, ExpiresAt: f.clock.Now().Add(f.TTL)}); err != nil {
		return "", err
	}
	return c.oauthConfig(redirectURL).AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), nil
}

// Complete finishes the consent of the callback (state, code, or the
// provider's error) for the admin session sessionID: the state must be
// one Begin issued, to this session, not expired, and unused. The tokens go
// to the vault and the connection's "reconnect needed" mark is cleared.
func (f *OAuthFlow) Complete(ctx context.Context, sessionID int64, state, code, providerErr, redirectURL string) (string, int64, error) {
	st, err := f.db.TakeOAuthState(ctx, stateHash(state))
	if errors.Is(err, store.ErrOAuthStateUnknown) {
		return "", 0, ErrOAuthState
	}
	if err != nil {
		return "", 0, err
	}
	if st.SessionHash != sessionHash(sessionID) {
		return st.Connector, st.WarehouseID, ErrOAuthSession
	}
	if f.clock.Now().After(st.ExpiresAt) {
		return st.Connector, st.WarehouseID, ErrOAuthExpired
	}
	if providerErr != "" || code == "" {
		return st.Connector, st.WarehouseID, ErrOAuthDenied
	}
	verifier, err := f.seal.Open(st.VerifierCiphertext)
	if err != nil {
		return st.Connector, st.WarehouseID, fmt.Errorf("open PKCE verifier: %w", err)
	}
	c, err := f.conn(ctx, st.Connector, st.WarehouseID)
	if err != nil {
		return st.Connector, st.WarehouseID, err
	}
	tok, err := c.oauthConfig(redirectURL).Exchange(c.oauthContext(ctx), code, oauth2.VerifierOption(string(verifier.Reveal())))
	if err != nil {
		return st.Connector, st.WarehouseID, ErrOAuthExchange
	}
	c.adopt(ctx, tok)
	return st.Connector, st.WarehouseID, nil
}

// adopt makes tok the connection's token, in memory and in the vault.
func (c *Conn) adopt(ctx context.Context, tok *oauth2.Token) {
	now := c.env.Clock.Now()
	if tok.Expiry.IsZero() {
		tok.Expiry = now.Add(time.Hour)
	} else {
		tok.Expiry = now.Add(time.Until(tok.Expiry))
	}
	ts := c.tok
	ts.lock <- struct{}{}
	defer func() { <-ts.lock }()
	c.env.HTTP.AddSecret(tok.AccessToken, tok.RefreshToken)
	ts.token, ts.loaded, ts.reconnect = tok, true, false
	ts.access.Store(&tok.AccessToken)
	c.saveToken(ctx, tok)
}

// OAuthStatus describes an authorization-code connection for the UI.
type OAuthStatus struct {
	Connected       bool
	ReconnectNeeded bool
	// AuthorizeOrigin is scheme://host of the provider's consent page: the
	// page with the Connect button must let its form be redirected there.
	AuthorizeOrigin string
}

// OAuthStatus reads the connection's state from its stored credentials.
func (c *Conn) OAuthStatus() OAuthStatus {
	st := OAuthStatus{Connected: !c.env.Secret(KeyRefreshToken).IsZero() || !c.env.Secret(KeyAccessToken).IsZero(),
		ReconnectNeeded: string(c.env.Secret(KeyReconnect).Reveal()) == "true"}
	if c.m.Auth.Kind == AuthOAuth2AuthorizationCode {
		if u, err := url.Parse(c.override(c.render(c.m.Auth.AuthorizeURL, nil))); err == nil && u.Host != "" &&
			(u.Scheme == "https" || u.Scheme == "http") {
			st.AuthorizeOrigin = u.Scheme + "://" + u.Host
		}
	}
	return st
}
