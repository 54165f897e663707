package integrations

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"sentryhub/store"
	"sentryhub/store/vault"
)

// Subscriptions is what the service needs of the webhook dispatcher: the
// SSRF check of a webhook URL, and running a store write that creates or
// changes an owned subscription on the dispatcher's engine, so it adopts
// the row (dispatcher.Dispatcher implements it).
type Subscriptions interface {
	CheckURL(ctx context.Context, raw string) error
	ManageSubscription(ctx context.Context, secret vault.Secret, write func(ctx context.Context) (*store.Subscription, error)) error
}

// Service runs integrations over the store, the vault and the dispatcher.
type Service struct {
	db        *store.DB
	vault     *vault.Vault
	subs      Subscriptions
	allowHTTP bool
	log       *slog.Logger
	actions   *http.Client
	now       func() time.Time
}

// NewService returns a Service. allowHTTP accepts http:// webhook and
// redirect URLs (local development, as for subscriptions).
func NewService(db *store.DB, v *vault.Vault, subs Subscriptions, allowHTTP bool, log *slog.Logger) *Service {
	return &Service{db: db, vault: v, subs: subs, allowHTTP: allowHTTP, log: log}
}

// SetClock makes UI action timestamps follow now (tests' fake clock).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// DB returns the store the service runs over (for reads the web layer
// makes directly).
func (s *Service) DB() *store.DB { return s.db }

// Created is a new integration with the credentials shown once: the client
// secret (it signs the integration's webhooks and authenticates its token
// exchanges) and, for an internal integration, its first token.
type Created struct {
	Integration  store.Integration
	ClientSecret vault.Secret
	Token        string
}

func newCredential(prefix string) string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// subscriptionFor is the owned subscription of a new integration with a
// webhook URL: global ordering (lifecycle events in order) and the
// dispatcher's default ceilings.
func (s *Service) subscriptionFor(spec Spec) (*store.Subscription, error) {
	if spec.WebhookURL == "" {
		return nil, nil
	}
	sub, err := store.SubscriptionCreate{Name: "integration: " + spec.Name, URL: spec.WebhookURL}.Normalize(s.allowHTTP)
	if err != nil {
		return nil, err
	}
	return &sub, nil
}

// Create validates spec and creates the integration (installing an
// internal one), audited as actor.
func (s *Service) Create(ctx context.Context, actor string, spec Spec) (Created, error) {
	spec, err := spec.Normalize(s.allowHTTP, true)
	if err != nil {
		return Created{}, err
	}
	if spec.WebhookURL != "" && s.subs != nil {
		if err := s.subs.CheckURL(ctx, spec.WebhookURL); err != nil {
			return Created{}, err
		}
	}
	sub, err := s.subscriptionFor(spec)
	if err != nil {
		return Created{}, err
	}
	secret := vault.NewSecret(newCredential(store.IntegrationSecretPrefix))
	in := store.IntegrationCreate{
		Kind: spec.Kind, Name: spec.Name, Slug: spec.Slug, Author: spec.Author, Overview: spec.Overview,
		WebhookURL: spec.WebhookURL, RedirectURL: spec.RedirectURL, VerifyInstall: spec.VerifyInstall,
		Permissions: spec.Permissions, EventTypes: spec.EventTypes, AlertAction: spec.AlertAction,
		UIComponents: spec.UIComponents, ClientID: newCredential("")[:22],
		ClientSecretHash: store.HashSecret(string(secret.Reveal())), Subscription: sub, Secret: s.vault.SealFunc(secret),
	}
	var out Created
	err = s.manage(ctx, secret, func(ctx context.Context) (*store.Subscription, error) {
		it, sub, tok, err := s.db.CreateIntegration(ctx, actor, in)
		out = Created{Integration: it, ClientSecret: secret, Token: tok}
		return sub, err
	})
	if err != nil {
		return Created{}, fmt.Errorf("create integration: %w", err)
	}
	return out, nil
}

// manage runs write on the dispatcher's engine when there is one, else
// directly (tools and tests without a dispatcher).
func (s *Service) manage(ctx context.Context, secret vault.Secret, write func(ctx context.Context) (*store.Subscription, error)) error {
	if s.subs == nil {
		_, err := write(ctx)
		return err
	}
	return s.subs.ManageSubscription(ctx, secret, write)
}

// Update validates spec and saves it as integration slug's settings.
func (s *Service) Update(ctx context.Context, actor, slug string, spec Spec) (store.Integration, error) {
	cur, err := s.db.IntegrationBySlug(ctx, slug)
	if err != nil {
		return store.Integration{}, err
	}
	spec.Kind = cur.Kind
	spec, err = spec.Normalize(s.allowHTTP, false)
	if err != nil {
		return store.Integration{}, err
	}
	if spec.WebhookURL != "" && spec.WebhookURL != cur.WebhookURL && s.subs != nil {
		if err := s.subs.CheckURL(ctx, spec.WebhookURL); err != nil {
			return store.Integration{}, err
		}
	}
	// A first webhook URL brings the integration's subscription, signed
	// with the client secret the vault kept.
	var newSub *store.Subscription
	var secret vault.Secret
	var seal store.SealFunc
	if cur.SubscriptionID == nil && spec.WebhookURL != "" {
		if newSub, err = s.subscriptionFor(spec); err != nil {
			return store.Integration{}, err
		}
		sealed, err := s.db.SealedClientSecret(ctx, slug)
		if err != nil {
			return store.Integration{}, err
		}
		if secret, err = s.vault.Open(sealed); err != nil {
			return store.Integration{}, fmt.Errorf("open the client secret of integration %s: %w", slug, err)
		}
		seal = s.vault.SealFunc(secret)
	}
	var it store.Integration
	err = s.manage(ctx, secret, func(ctx context.Context) (*store.Subscription, error) {
		var sub *store.Subscription
		var err error
		it, sub, err = s.db.UpdateIntegration(ctx, actor, slug, store.IntegrationUpdate{
			Name: spec.Name, Author: spec.Author, Overview: spec.Overview, WebhookURL: spec.WebhookURL,
			RedirectURL: spec.RedirectURL, VerifyInstall: spec.VerifyInstall, Permissions: spec.Permissions,
			EventTypes: spec.EventTypes, AlertAction: spec.AlertAction, UIComponents: spec.UIComponents}, newSub, seal)
		return sub, err
	})
	return it, err
}

// Delete deletes integration slug: every token dies with it and its owned
// subscription is purged.
func (s *Service) Delete(ctx context.Context, actor, slug string) error {
	return s.manage(ctx, vault.Secret{}, func(ctx context.Context) (*store.Subscription, error) {
		return s.db.DeleteIntegration(ctx, actor, slug)
	})
}

// Installed is the outcome of an approved install: the installation, its
// grant code, and where to send the admin's browser ("" when the
// integration has no redirect URL: the code went out in the
// installation.created webhook).
type Installed struct {
	Installation store.Installation
	Code         string
	RedirectTo   string
}

// Install installs public integration slug after the admin's consent.
func (s *Service) Install(ctx context.Context, actor, slug string) (Installed, error) {
	var out Installed
	var redirect string
	err := s.manage(ctx, vault.Secret{}, func(ctx context.Context) (*store.Subscription, error) {
		it, err := s.db.IntegrationBySlug(ctx, slug)
		if err != nil {
			return nil, err
		}
		redirect = it.RedirectURL
		n, code, sub, err := s.db.Install(ctx, actor, slug)
		out = Installed{Installation: n, Code: code}
		return sub, err
	})
	if err != nil {
		return Installed{}, err
	}
	if redirect != "" {
		out.RedirectTo = RedirectWithGrant(redirect, out.Code, out.Installation.UUID)
	}
	return out, nil
}

// RedirectWithGrant adds code and installationId to the redirect URL's
// query, keeping what it already carries.
func RedirectWithGrant(redirect, code, installation string) string {
	u, err := url.Parse(redirect)
	if err != nil { // validated when saved; refuse to guess
		return ""
	}
	q := u.Query()
	q.Set("code", code)
	q.Set("installationId", installation)
	u.RawQuery = q.Encode()
	return u.String()
}

// Uninstall ends integration slug's installation: its tokens are revoked
// and it receives installation.deleted.
func (s *Service) Uninstall(ctx context.Context, actor, slug string) error {
	return s.manage(ctx, vault.Secret{}, func(ctx context.Context) (*store.Subscription, error) {
		return s.db.Uninstall(ctx, actor, slug)
	})
}
