package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"sentryhub/canonjson"
)

// Integration kinds.
const (
	IntegrationInternal = "internal"
	IntegrationPublic   = "public"
)

// Installation statuses. A public integration with verify-install stays
// pending until it confirms with PUT /api/v1/integration-installations/{id}.
const (
	InstallationPending     = "pending"
	InstallationInstalled   = "installed"
	InstallationUninstalled = "uninstalled"
)

// Integration token kinds.
const (
	IntegrationTokenInternal = "internal"
	IntegrationTokenAccess   = "access"
)

// Integration lifecycle event types, private to the integration they
// concern (aggregate type AggregateIntegration).
const (
	EventInstallationCreated = "installation.created"
	EventInstallationDeleted = "installation.deleted"
	EventAlertTriggered      = "alert.triggered"
	EventAlertResolved       = "alert.resolved"
)

// Limits and lifetimes of integration credentials.
const (
	// MaxInternalTokens is how many active tokens an internal integration
	// may hold at once.
	MaxInternalTokens = 20
	// AccessTokenLifetime is how long an OAuth access token lives.
	AccessTokenLifetime = 8 * time.Hour
	// GrantCodeLifetime is how long a grant code may be exchanged.
	GrantCodeLifetime = 10 * time.Minute
)

// Prefixes of integration credentials, distinct from API tokens (shub_) so
// the hub and secret scanners tell them apart without a lookup.
const (
	IntegrationTokenPrefix   = "shint_"
	IntegrationRefreshPrefix = "shinr_"
	IntegrationCodePrefix    = "shing_"
	IntegrationSecretPrefix  = "shins_"
)

// Integration is an integration as stored (never its client secret).
type Integration struct {
	ID             int64             `json:"-"`
	UUID           string            `json:"uuid"`
	Kind           string            `json:"kind"`
	Name           string            `json:"name"`
	Slug           string            `json:"slug"`
	Author         string            `json:"author"`
	Overview       string            `json:"overview"`
	WebhookURL     string            `json:"webhook_url"`
	RedirectURL    string            `json:"redirect_url"`
	VerifyInstall  bool              `json:"verify_install"`
	Permissions    map[string]string `json:"permissions"`
	EventTypes     []string          `json:"event_types"`
	AlertAction    bool              `json:"alert_action"`
	UIComponents   json.RawMessage   `json:"ui_components,omitempty"`
	ClientID       string            `json:"client_id"`
	SubscriptionID *int64            `json:"subscription_id"`
	CreatedBy      string            `json:"created_by"`
	CreatedAt      string            `json:"created_at"`
	UpdatedAt      string            `json:"updated_at"`
	// Installation is the live installation, nil when not installed.
	Installation *Installation `json:"installation"`
}

// Installation is one installation of an integration.
type Installation struct {
	ID            int64  `json:"-"`
	UUID          string `json:"id"`
	IntegrationID int64  `json:"-"`
	Status        string `json:"status"`
	CreatedBy     string `json:"created_by"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
}

// IntegrationToken is an integration token's metadata; the token itself is
// never stored.
type IntegrationToken struct {
	ID         int64   `json:"id"`
	Kind       string  `json:"kind"`
	Prefix     string  `json:"prefix"`
	CreatedBy  string  `json:"created_by"`
	CreatedAt  string  `json:"created_at"`
	ExpiresAt  *string `json:"expires_at"`
	LastUsedAt *string `json:"last_used_at"`
	RevokedAt  *string `json:"revoked_at"`
}

// IntegrationActor is who a request with an integration token acts as.
type IntegrationActor struct {
	IntegrationID      int64
	IntegrationUUID    string
	Slug               string
	Name               string
	Kind               string
	InstallationID     int64
	InstallationUUID   string
	InstallationStatus string
	TokenID            int64
	Permissions        map[string]string
}

// Actor names the integration in audit entries: its own name, never a
// person's.
func (a IntegrationActor) Actor() string { return IntegrationAuditActor(a.Slug) }

// IntegrationAuditActor is the audit actor of the integration slug.
func IntegrationAuditActor(slug string) string { return "integration:" + slug }

// IntegrationTarget is the audit target of an integration.
func IntegrationTarget(slug string) string { return "integration:" + slug }

// TokenPair is the answer of a grant exchange or refresh: the plain tokens,
// shown once.
type TokenPair struct {
	ID           int64
	Token        string
	RefreshToken string
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

// OAuthError is a refused grant exchange, refresh or revocation, with the
// RFC 6749 section 5.2 error code (invalid_client, invalid_grant, ...).
type OAuthError struct {
	Code        string
	Description string
}

func (e *OAuthError) Error() string { return e.Code + ": " + e.Description }

// IntegrationCreate is a validated new integration (see package
// integrations), with the client credentials the service generated.
type IntegrationCreate struct {
	Kind             string
	Name, Slug       string
	Author, Overview string
	WebhookURL       string
	RedirectURL      string
	VerifyInstall    bool
	Permissions      map[string]string
	EventTypes       []string
	AlertAction      bool
	UIComponents     json.RawMessage
	ClientID         string
	ClientSecretHash []byte
	// Secret seals the client secret (stored with the integration, and
	// as the signing secret of its subscription).
	Secret SealFunc
	// Subscription, when the integration has a webhook URL, is the
	// subscription it will own (Normalize'd by the caller).
	Subscription *Subscription
}

// IntegrationUpdate is a validated change of an integration's settings.
type IntegrationUpdate struct {
	Name, Author, Overview string
	WebhookURL             string
	RedirectURL            string
	VerifyInstall          bool
	Permissions            map[string]string
	EventTypes             []string
	AlertAction            bool
	UIComponents           json.RawMessage
}

// HashSecret is how client secrets, grant codes and tokens are kept: a
// SHA-256 (all are 32 random bytes, out of reach of brute force).
func HashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func randomCredential(prefix string) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("random credential: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(raw), nil
}

const integrationCols = `i.id, i.uuid, i.kind, i.name, i.slug, i.author, i.overview, i.webhook_url, i.redirect_url,
	i.verify_install, i.permissions, i.event_types, i.alert_action, i.ui_components, i.client_id, i.subscription_id,
	i.created_by, i.created_at, i.updated_at,
	n.id, n.uuid, n.status, n.created_by, n.created_at, n.updated_at`

const integrationFrom = ` FROM integrations i LEFT JOIN integration_installations n
	ON n.integration_id = i.id AND n.status <> 'uninstalled'`

func scanIntegration(sc interface{ Scan(...any) error }) (Integration, error) {
	var it Integration
	var perms, types, ui string
	var nID sql.NullInt64
	var nUUID, nStatus, nBy, nAt, nUp sql.NullString
	err := sc.Scan(&it.ID, &it.UUID, &it.Kind, &it.Name, &it.Slug, &it.Author, &it.Overview, &it.WebhookURL,
		&it.RedirectURL, &it.VerifyInstall, &perms, &types, &it.AlertAction, &ui, &it.ClientID, &it.SubscriptionID,
		&it.CreatedBy, &it.CreatedAt, &it.UpdatedAt, &nID, &nUUID, &nStatus, &nBy, &nAt, &nUp)
	if err != nil {
		return it, interpretError(err)
	}
	if err := json.Unmarshal([]byte(perms), &it.Permissions); err != nil {
		return it, fmt.Errorf("integration %s permissions: %w", it.Slug, err)
	}
	if err := json.Unmarshal([]byte(types), &it.EventTypes); err != nil {
		return it, fmt.Errorf("integration %s event types: %w", it.Slug, err)
	}
	if ui != "" {
		it.UIComponents = json.RawMessage(ui)
	}
	if nID.Valid {
		it.Installation = &Installation{ID: nID.Int64, UUID: nUUID.String, IntegrationID: it.ID, Status: nStatus.String,
			CreatedBy: nBy.String, CreatedAt: nAt.String, UpdatedAt: nUp.String}
	}
	return it, nil
}

// Integrations lists every integration by name.
func (db *DB) Integrations(ctx context.Context) ([]Integration, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+integrationCols+integrationFrom+` ORDER BY i.name, i.id`)
	if err != nil {
		return nil, fmt.Errorf("list integrations: %w", err)
	}
	defer rows.Close()
	out := []Integration{}
	for rows.Next() {
		it, err := scanIntegration(rows)
		if err != nil {
			return nil, fmt.Errorf("list integrations: %w", err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list integrations: %w", err)
	}
	return out, nil
}

// IntegrationBySlug returns one integration, or ErrNotFound.
func (db *DB) IntegrationBySlug(ctx context.Context, slug string) (Integration, error) {
	return getIntegration(ctx, db.r, `i.slug = ?`, slug)
}

// IntegrationByID returns one integration, or ErrNotFound.
func (db *DB) IntegrationByID(ctx context.Context, id int64) (Integration, error) {
	return getIntegration(ctx, db.r, `i.id = ?`, id)
}

// IntegrationByInstallation returns the integration that installation
// uuid (live or not) belongs to, and the installation, or ErrNotFound.
func (db *DB) IntegrationByInstallation(ctx context.Context, installation string) (Integration, Installation, error) {
	return integrationByInstallation(ctx, db.r, installation)
}

func integrationByInstallation(ctx context.Context, q querier, installation string) (Integration, Installation, error) {
	var n Installation
	err := q.QueryRowContext(ctx, `SELECT id, uuid, integration_id, status, created_by, created_at, updated_at
		FROM integration_installations WHERE uuid = ?`, installation).Scan(&n.ID, &n.UUID, &n.IntegrationID, &n.Status,
		&n.CreatedBy, &n.CreatedAt, &n.UpdatedAt)
	if err != nil {
		return Integration{}, Installation{}, fmt.Errorf("installation %q: %w", installation, interpretError(err))
	}
	it, err := getIntegration(ctx, q, `i.id = ?`, n.IntegrationID)
	return it, n, err
}

func getIntegration(ctx context.Context, q querier, where string, arg any) (Integration, error) {
	it, err := scanIntegration(q.QueryRowContext(ctx, `SELECT `+integrationCols+integrationFrom+` WHERE `+where, arg))
	if err != nil {
		return it, fmt.Errorf("integration %v: %w", arg, err)
	}
	return it, nil
}

// ownedFilter is the filter of the subscription an integration owns: its
// selected event types while installed, none otherwise (an owned
// subscription with no types receives only the integration's own events).
func ownedFilter(types []string, installed bool) SubscriptionFilter {
	f := whNonNilFilter(SubscriptionFilter{})
	if installed {
		f.EventTypes = append([]string{}, types...)
	}
	return f
}

func integrationAuditView(it Integration) map[string]any {
	return map[string]any{"kind": it.Kind, "name": it.Name, "slug": it.Slug, "author": it.Author,
		"webhook_url": RedactURL(it.WebhookURL), "redirect_url": RedactURL(it.RedirectURL), "verify_install": it.VerifyInstall,
		"permissions": it.Permissions, "event_types": it.EventTypes, "alert_action": it.AlertAction, "client_id": it.ClientID}
}

// CreateIntegration stores a new integration, with its owned webhook
// subscription (signed with the sealed client secret) when it has a webhook
// URL, in one transaction. An internal integration installs itself and
// gets its first token, returned in plain form once (token is "" for a
// public one). It returns the integration and the owned subscription (nil
// without one).
func (db *DB) CreateIntegration(ctx context.Context, actor string, in IntegrationCreate) (Integration, *Subscription, string, error) {
	var it Integration
	var sub *Subscription
	var token string
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		now := formatTime(db.now())
		id := uuid.NewString()
		var subID *int64
		if in.Subscription != nil {
			s := *in.Subscription
			s.Owner = id
			s.Filter = ownedFilter(in.EventTypes, in.Kind == IntegrationInternal)
			created, err := db.insertSubscription(ctx, tx, s)
			if err != nil {
				return err
			}
			if err := db.putWebhookSecret(ctx, tx, created.ID, 1, in.Secret, nil); err != nil {
				return err
			}
			sub, subID = &created, &created.ID
		}
		perms, _ := json.Marshal(in.Permissions)
		types, _ := json.Marshal(nonNilStrings(in.EventTypes))
		sealed, err := in.Secret()
		if err != nil {
			return fmt.Errorf("seal client secret: %w", err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO integrations (uuid, kind, name, slug, author, overview, webhook_url,
			redirect_url, verify_install, permissions, event_types, alert_action, ui_components, client_id,
			client_secret_hash, client_secret_ciphertext, subscription_id, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, in.Kind, in.Name, in.Slug, in.Author, in.Overview, in.WebhookURL, in.RedirectURL, in.VerifyInstall,
			string(perms), string(types), in.AlertAction, string(in.UIComponents), in.ClientID, in.ClientSecretHash,
			sealed, subID, actor, now, now)
		if err != nil {
			if errors.Is(interpretError(err), ErrConflict) {
				return &ConflictError{Message: fmt.Sprintf("an integration with slug %q already exists", in.Slug),
					Fields: map[string]string{"slug": "already taken"}}
			}
			return fmt.Errorf("create integration: %w", err)
		}
		iid, _ := res.LastInsertId()
		if in.Kind == IntegrationInternal {
			nid, err := db.insertInstallation(ctx, tx, iid, InstallationInstalled, actor)
			if err != nil {
				return err
			}
			if token, _, err = db.insertToken(ctx, tx, nid, IntegrationTokenInternal, actor, nil); err != nil {
				return err
			}
		}
		if it, err = getIntegration(ctx, tx, `i.id = ?`, iid); err != nil {
			return err
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "integration.create", Target: IntegrationTarget(it.Slug),
			Diff: integrationAuditView(it)})
	})
	if err != nil {
		return Integration{}, nil, "", err
	}
	return it, sub, token, nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// UpdateIntegration saves in as integration slug's settings and keeps its
// owned subscription's URL and filter in step, in one transaction. An
// integration gaining its first webhook URL gets its subscription then:
// newSub (Normalize'd by the caller), signed with secret (the client
// secret, sealed). It returns the integration and the owned subscription as
// saved (nil without one). A webhook URL cannot be removed: the
// subscription's history and the integration's webhooks depend on it.
func (db *DB) UpdateIntegration(ctx context.Context, actor, slug string, in IntegrationUpdate, newSub *Subscription, secret SealFunc) (Integration, *Subscription, error) {
	var it Integration
	var sub *Subscription
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		cur, err := getIntegration(ctx, tx, `i.slug = ?`, slug)
		if err != nil {
			return err
		}
		if cur.SubscriptionID != nil && in.WebhookURL == "" {
			return &ValidationError{Message: "invalid integration", Fields: map[string]string{"webhook_url": "cannot be removed: the integration's webhooks depend on it (delete the integration instead)"}}
		}
		if cur.SubscriptionID == nil && in.WebhookURL != "" {
			if newSub == nil || secret == nil {
				return fmt.Errorf("update integration %s: a new webhook URL needs its subscription", slug)
			}
			s := *newSub
			s.Owner = cur.UUID
			s.Filter = ownedFilter(in.EventTypes, cur.Installation != nil)
			created, err := db.insertSubscription(ctx, tx, s)
			if err != nil {
				return err
			}
			if err := db.putWebhookSecret(ctx, tx, created.ID, 1, secret, nil); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE integrations SET subscription_id = ? WHERE id = ?`, created.ID, cur.ID); err != nil {
				return fmt.Errorf("update integration %s: %w", slug, err)
			}
			sub = &created
		}
		perms, _ := json.Marshal(in.Permissions)
		types, _ := json.Marshal(nonNilStrings(in.EventTypes))
		if _, err := tx.ExecContext(ctx, `UPDATE integrations SET name = ?, author = ?, overview = ?, webhook_url = ?,
			redirect_url = ?, verify_install = ?, permissions = ?, event_types = ?, alert_action = ?, ui_components = ?,
			updated_at = ? WHERE id = ?`, in.Name, in.Author, in.Overview, in.WebhookURL, in.RedirectURL, in.VerifyInstall,
			string(perms), string(types), in.AlertAction, string(in.UIComponents), formatTime(db.now()), cur.ID); err != nil {
			return fmt.Errorf("update integration %s: %w", slug, err)
		}
		if cur.SubscriptionID != nil {
			s, err := getSubscription(ctx, tx, *cur.SubscriptionID)
			if err != nil {
				return err
			}
			s.URL = in.WebhookURL
			s.Filter = ownedFilter(in.EventTypes, cur.Installation != nil)
			saved, err := db.saveSubscription(ctx, tx, s)
			if err != nil {
				return err
			}
			sub = &saved
		}
		if it, err = getIntegration(ctx, tx, `i.id = ?`, cur.ID); err != nil {
			return err
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "integration.update", Target: IntegrationTarget(slug),
			Diff: map[string]any{"before": integrationAuditView(cur), "after": integrationAuditView(it)}})
	})
	return it, sub, err
}

// DeleteIntegration revokes every token of integration slug, hides its
// owned subscription (the dispatcher purges it) and deletes it with its
// installations, grants, tokens and alert rules, in one transaction. It
// returns the owned subscription as marked (nil without one).
func (db *DB) DeleteIntegration(ctx context.Context, actor, slug string) (*Subscription, error) {
	var sub *Subscription
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		cur, err := getIntegration(ctx, tx, `i.slug = ?`, slug)
		if err != nil {
			return err
		}
		if cur.SubscriptionID != nil {
			s, err := getSubscription(ctx, tx, *cur.SubscriptionID)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if err == nil {
				if err := db.markSubscriptionDeleting(ctx, tx, s.ID); err != nil {
					return err
				}
				s.Status = SubscriptionDeleting
				sub = &s
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM integrations WHERE id = ?`, cur.ID); err != nil {
			return fmt.Errorf("delete integration %s: %w", slug, err)
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "integration.delete", Target: IntegrationTarget(slug),
			Diff: integrationAuditView(cur)})
	})
	return sub, err
}

func (db *DB) insertInstallation(ctx context.Context, tx *sql.Tx, integrationID int64, status, actor string) (int64, error) {
	now := formatTime(db.now())
	res, err := tx.ExecContext(ctx, `INSERT INTO integration_installations (uuid, integration_id, status, created_by,
		created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`, uuid.NewString(), integrationID, status, actor, now, now)
	if err != nil {
		if errors.Is(interpretError(err), ErrConflict) {
			return 0, &ConflictError{Message: "the integration is already installed; uninstall it first"}
		}
		return 0, fmt.Errorf("insert installation: %w", err)
	}
	return res.LastInsertId()
}

// insertToken makes a token for installation and returns it in plain form
// with its refresh token ("" for an internal token). expires nil: never.
func (db *DB) insertToken(ctx context.Context, tx *sql.Tx, installation int64, kind, actor string, expires *time.Time) (string, string, error) {
	plain, err := randomCredential(IntegrationTokenPrefix)
	if err != nil {
		return "", "", err
	}
	var refresh string
	var refreshHash, exp any
	if kind == IntegrationTokenAccess {
		if refresh, err = randomCredential(IntegrationRefreshPrefix); err != nil {
			return "", "", err
		}
		refreshHash = HashSecret(refresh)
	}
	if expires != nil {
		exp = formatTime(*expires)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO integration_tokens (installation_id, kind, prefix, token_hash, refresh_hash,
		created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, installation, kind,
		plain[:len(IntegrationTokenPrefix)+6], HashSecret(plain), refreshHash, actor, formatTime(db.now()), exp)
	if err != nil {
		return "", "", fmt.Errorf("insert integration token: %w", err)
	}
	return plain, refresh, nil
}

// appendIntegrationEvent appends one of an integration's private events
// and records its id in head. It has no warehouse (0): it is about the
// integration, not stock. After the commit, the caller publishes head
// (publishEvents) so the dispatcher sees the event at once.
func (db *DB) appendIntegrationEvent(ctx context.Context, tx *sql.Tx, head *int64, integrationUUID, eventType string, data any) error {
	b, err := canonjson.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode %s data: %w", eventType, err)
	}
	now := formatTime(db.now())
	res, err := tx.ExecContext(ctx, insertEventSQL, eventType, currentEventVersion, now, AggregateIntegration,
		integrationUUID, 0, uuid.NewString(), string(b), now)
	if err != nil {
		return fmt.Errorf("append %s event: %w", eventType, err)
	}
	*head, err = res.LastInsertId()
	return err
}

// publishEvents announces events a committed withTx appended: withTx
// fires Changed without an event id, and listeners (the dispatcher) wait
// for the committed head to move.
func (db *DB) publishEvents(head int64) {
	if head > 0 {
		db.committed(head)
	}
}

// saveOwnedFilter refreshes the owned subscription's filter after the
// installation state changed; it returns the subscription as saved.
func (db *DB) saveOwnedFilter(ctx context.Context, tx *sql.Tx, it Integration, installed bool) (*Subscription, error) {
	if it.SubscriptionID == nil {
		return nil, nil
	}
	s, err := getSubscription(ctx, tx, *it.SubscriptionID)
	if err != nil {
		return nil, err
	}
	s.Filter = ownedFilter(it.EventTypes, installed)
	saved, err := db.saveSubscription(ctx, tx, s)
	if err != nil {
		return nil, err
	}
	return &saved, nil
}

// Install installs the public integration slug after an admin's consent:
// a pending installation (installed at once without verify-install), a
// single-use grant code valid GrantCodeLifetime, and an
// installation.created event for its webhook (carrying the code when it
// has no redirect URL to take it), in one transaction. It returns the
// installation, the plain code and the owned subscription as saved.
func (db *DB) Install(ctx context.Context, actor, slug string) (Installation, string, *Subscription, error) {
	var n Installation
	var code string
	var sub *Subscription
	var head int64
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		it, err := getIntegration(ctx, tx, `i.slug = ?`, slug)
		if err != nil {
			return err
		}
		if it.Kind != IntegrationPublic {
			return &ConflictError{Message: "an internal integration is installed when it is created"}
		}
		status := InstallationInstalled
		if it.VerifyInstall {
			status = InstallationPending
		}
		nid, err := db.insertInstallation(ctx, tx, it.ID, status, actor)
		if err != nil {
			return err
		}
		if code, err = randomCredential(IntegrationCodePrefix); err != nil {
			return err
		}
		now := db.now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO integration_grants (installation_id, code_hash, created_at, expires_at)
			VALUES (?, ?, ?, ?)`, nid, HashSecret(code), formatTime(now), formatTime(now.Add(GrantCodeLifetime))); err != nil {
			return fmt.Errorf("insert grant: %w", err)
		}
		if it, err = getIntegration(ctx, tx, `i.id = ?`, it.ID); err != nil {
			return err
		}
		n = *it.Installation
		if sub, err = db.saveOwnedFilter(ctx, tx, it, true); err != nil {
			return err
		}
		inst := map[string]any{"uuid": n.UUID, "status": n.Status}
		data := map[string]any{"action": "created", "installation": inst, "integration": map[string]any{"slug": it.Slug, "uuid": it.UUID}}
		if it.RedirectURL == "" {
			inst["code"] = code
		}
		if err := db.appendIntegrationEvent(ctx, tx, &head, it.UUID, EventInstallationCreated, data); err != nil {
			return err
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "integration.install", Target: IntegrationTarget(it.Slug),
			Diff: map[string]any{"installation": n.UUID, "status": n.Status}})
	})
	if err == nil {
		db.publishEvents(head)
	}
	return n, code, sub, err
}

// Uninstall ends integration slug's live installation: every token is
// revoked, an installation.deleted event goes to its webhook, and its owned
// subscription stops taking catalog events, in one transaction.
func (db *DB) Uninstall(ctx context.Context, actor, slug string) (*Subscription, error) {
	var sub *Subscription
	var head int64
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		it, err := getIntegration(ctx, tx, `i.slug = ?`, slug)
		if err != nil {
			return err
		}
		if it.Installation == nil {
			return fmt.Errorf("integration %s is not installed: %w", slug, ErrNotFound)
		}
		if it.Kind == IntegrationInternal {
			return &ConflictError{Message: "an internal integration is uninstalled by deleting it"}
		}
		now := formatTime(db.now())
		if _, err := tx.ExecContext(ctx, `UPDATE integration_installations SET status = 'uninstalled', updated_at = ?
			WHERE id = ?`, now, it.Installation.ID); err != nil {
			return fmt.Errorf("uninstall %s: %w", slug, err)
		}
		n, err := db.revokeInstallationTokens(ctx, tx, it.Installation.ID)
		if err != nil {
			return err
		}
		if sub, err = db.saveOwnedFilter(ctx, tx, it, false); err != nil {
			return err
		}
		data := map[string]any{"action": "deleted", "installation": map[string]any{"uuid": it.Installation.UUID, "status": InstallationUninstalled},
			"integration": map[string]any{"slug": it.Slug, "uuid": it.UUID}}
		if err := db.appendIntegrationEvent(ctx, tx, &head, it.UUID, EventInstallationDeleted, data); err != nil {
			return err
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "integration.uninstall", Target: IntegrationTarget(slug),
			Diff: map[string]any{"installation": it.Installation.UUID, "tokens_revoked": n}})
	})
	if err == nil {
		db.publishEvents(head)
	}
	return sub, err
}

func (db *DB) revokeInstallationTokens(ctx context.Context, tx *sql.Tx, installation int64) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE integration_tokens SET revoked_at = ? WHERE installation_id = ? AND revoked_at IS NULL`,
		formatTime(db.now()), installation)
	if err != nil {
		return 0, fmt.Errorf("revoke installation tokens: %w", err)
	}
	return res.RowsAffected()
}

// VerifyInstallation marks the pending installation uuid installed, as
// actor. owner, when not 0, is the integration acting: it may confirm only
// its own installation (0: an admin confirming by hand).
func (db *DB) VerifyInstallation(ctx context.Context, actor string, owner int64, installation string) (Installation, error) {
	var n Installation
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		it, cur, err := integrationByInstallation(ctx, tx, installation)
		if err != nil || (owner != 0 && it.ID != owner) || cur.Status == InstallationUninstalled {
			return fmt.Errorf("installation %q: %w", installation, ErrNotFound)
		}
		if cur.Status == InstallationPending {
			if _, err := tx.ExecContext(ctx, `UPDATE integration_installations SET status = 'installed', updated_at = ? WHERE id = ?`,
				formatTime(db.now()), cur.ID); err != nil {
				return fmt.Errorf("verify installation: %w", err)
			}
			if err := db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "integration.verify_install",
				Target: IntegrationTarget(it.Slug), Diff: map[string]any{"installation": cur.UUID}}); err != nil {
				return err
			}
		}
		_, n, err = integrationByInstallation(ctx, tx, installation)
		return err
	})
	return n, err
}

// checkClient finds installation uuid's integration and checks the client
// credentials against it, as an RFC 6749 invalid_client error.
func checkClient(ctx context.Context, q querier, installation, clientID, clientSecret string) (Integration, Installation, error) {
	var hash []byte
	var id int64
	err := q.QueryRowContext(ctx, `SELECT id, client_secret_hash FROM integrations WHERE client_id = ?`, clientID).Scan(&id, &hash)
	bad := &OAuthError{Code: "invalid_client", Description: "unknown client_id or wrong client_secret"}
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Integration{}, Installation{}, bad
		}
		return Integration{}, Installation{}, fmt.Errorf("check client: %w", err)
	}
	if subtle.ConstantTimeCompare(hash, HashSecret(clientSecret)) != 1 {
		return Integration{}, Installation{}, bad
	}
	if installation == "" {
		it, err := getIntegration(ctx, q, `i.id = ?`, id)
		if err != nil {
			return it, Installation{}, err
		}
		if it.Installation == nil {
			return it, Installation{}, &OAuthError{Code: "invalid_grant", Description: "the integration is not installed"}
		}
		return it, *it.Installation, nil
	}
	it, n, err := integrationByInstallation(ctx, q, installation)
	if errors.Is(err, ErrNotFound) || (err == nil && it.ID != id) {
		return Integration{}, Installation{}, &OAuthError{Code: "invalid_grant", Description: "no such installation of this client"}
	}
	if err != nil {
		return Integration{}, Installation{}, err
	}
	if n.Status == InstallationUninstalled {
		return Integration{}, Installation{}, &OAuthError{Code: "invalid_grant", Description: "the installation was uninstalled"}
	}
	return it, n, nil
}

// ExchangeGrant trades a grant code of installation (its uuid; "" means
// the client's live installation) for an access token, valid
// AccessTokenLifetime, and a refresh token. A code works once: presenting
// a used code again revokes every token of the installation (whoever holds
// the code may have stolen it), in a transaction that commits even though
// the exchange fails.
func (db *DB) ExchangeGrant(ctx context.Context, installation, clientID, clientSecret, code string) (TokenPair, error) {
	return db.grant(ctx, installation, clientID, clientSecret, func(tx *sql.Tx, it Integration, n Installation) (bool, error) {
		var gid int64
		var expires string
		var used sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT id, expires_at, used_at FROM integration_grants WHERE code_hash = ? AND installation_id = ?`,
			HashSecret(code), n.ID).Scan(&gid, &expires, &used)
		if errors.Is(err, sql.ErrNoRows) {
			return false, &OAuthError{Code: "invalid_grant", Description: "unknown grant code"}
		}
		if err != nil {
			return false, fmt.Errorf("find grant: %w", err)
		}
		if used.Valid {
			return true, &OAuthError{Code: "invalid_grant", Description: "the grant code was already used; every token of the installation is revoked"}
		}
		if expires <= formatTime(db.now()) {
			return false, &OAuthError{Code: "invalid_grant", Description: "the grant code expired (codes live 10 minutes); install again"}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE integration_grants SET used_at = ? WHERE id = ?`, formatTime(db.now()), gid); err != nil {
			return false, fmt.Errorf("spend grant: %w", err)
		}
		return false, nil
	}, "integration.token_exchange")
}

// RefreshIntegrationToken trades a refresh token for a new access token and
// refresh token; the old pair is revoked. A spent refresh token presented
// again revokes every token of the installation, as for grant codes.
func (db *DB) RefreshIntegrationToken(ctx context.Context, installation, clientID, clientSecret, refresh string) (TokenPair, error) {
	return db.grant(ctx, installation, clientID, clientSecret, func(tx *sql.Tx, it Integration, n Installation) (bool, error) {
		var tid int64
		var refreshed, revoked sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT id, refreshed_at, revoked_at FROM integration_tokens WHERE refresh_hash = ? AND installation_id = ?`,
			HashSecret(refresh), n.ID).Scan(&tid, &refreshed, &revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return false, &OAuthError{Code: "invalid_grant", Description: "unknown refresh token"}
		}
		if err != nil {
			return false, fmt.Errorf("find refresh token: %w", err)
		}
		if refreshed.Valid {
			return true, &OAuthError{Code: "invalid_grant", Description: "the refresh token was already used; every token of the installation is revoked"}
		}
		if revoked.Valid {
			return false, &OAuthError{Code: "invalid_grant", Description: "the refresh token was revoked"}
		}
		now := formatTime(db.now())
		if _, err := tx.ExecContext(ctx, `UPDATE integration_tokens SET refreshed_at = ?, revoked_at = ? WHERE id = ?`, now, now, tid); err != nil {
			return false, fmt.Errorf("spend refresh token: %w", err)
		}
		return false, nil
	}, "integration.token_refresh")
}

// grant runs one token grant: check the client, let spend check and spend
// the presented credential, then issue a new pair. When spend reports
// reuse, every token of the installation is revoked and audited, and that
// commits before the refusal is returned.
func (db *DB) grant(ctx context.Context, installation, clientID, clientSecret string,
	spend func(tx *sql.Tx, it Integration, n Installation) (bool, error), action string) (TokenPair, error) {
	var pair TokenPair
	var refusal error
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		it, n, err := checkClient(ctx, tx, installation, clientID, clientSecret)
		if err != nil {
			return err
		}
		actor := IntegrationAuditActor(it.Slug)
		reuse, err := spend(tx, it, n)
		if reuse {
			refusal = err
			revoked, err := db.revokeInstallationTokens(ctx, tx, n.ID)
			if err != nil {
				return err
			}
			return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "integration.credential_reuse", Target: IntegrationTarget(it.Slug),
				Diff: map[string]any{"installation": n.UUID, "tokens_revoked": revoked, "grant": action}})
		}
		if err != nil {
			return err
		}
		now := db.now()
		exp := now.Add(AccessTokenLifetime)
		tok, ref, err := db.insertToken(ctx, tx, n.ID, IntegrationTokenAccess, actor, &exp)
		if err != nil {
			return err
		}
		var id int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM integration_tokens WHERE token_hash = ?`, HashSecret(tok)).Scan(&id); err != nil {
			return fmt.Errorf("read new token: %w", err)
		}
		pair = TokenPair{ID: id, Token: tok, RefreshToken: ref, CreatedAt: now.Truncate(time.Millisecond), ExpiresAt: exp.Truncate(time.Millisecond)}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: action, Target: IntegrationTarget(it.Slug),
			Diff: map[string]any{"installation": n.UUID, "token_id": id, "expires_at": formatTime(exp)}})
	})
	if err != nil {
		return TokenPair{}, err
	}
	if refusal != nil {
		return TokenPair{}, refusal
	}
	return pair, nil
}

// RevokeIntegrationCredential revokes the access token or refresh token
// plain of the client's installations (RFC 7009). An unknown token is not
// an error: the endpoint answers the same either way.
func (db *DB) RevokeIntegrationCredential(ctx context.Context, clientID, clientSecret, plain string) error {
	return db.withTx(ctx, func(tx *sql.Tx) error {
		it, _, err := checkClient(ctx, tx, "", clientID, clientSecret)
		var oe *OAuthError
		if errors.As(err, &oe) && oe.Code == "invalid_grant" {
			return nil // not installed: nothing of it can be live
		}
		if err != nil {
			return err
		}
		h := HashSecret(plain)
		res, err := tx.ExecContext(ctx, `UPDATE integration_tokens SET revoked_at = ? WHERE (token_hash = ? OR refresh_hash = ?)
			AND revoked_at IS NULL AND installation_id IN (SELECT id FROM integration_installations WHERE integration_id = ?)`,
			formatTime(db.now()), h, h, it.ID)
		if err != nil {
			return fmt.Errorf("revoke integration token: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: IntegrationAuditActor(it.Slug), Action: "integration.token_revoke",
			Target: IntegrationTarget(it.Slug), Diff: map[string]any{"via": "oauth_revoke"}})
	})
}

// ErrTokenLimit refuses a 21st active token of an internal integration.
var ErrTokenLimit = &ConflictError{Message: fmt.Sprintf("an internal integration may hold at most %d active tokens: revoke one before creating another", MaxInternalTokens),
	Fields: map[string]string{"tokens": "limit of " + strconv.Itoa(MaxInternalTokens) + " active tokens reached"}}

// CreateIntegrationToken makes another token for internal integration
// slug, refused with ErrTokenLimit at MaxInternalTokens active ones.
func (db *DB) CreateIntegrationToken(ctx context.Context, actor, slug string) (string, IntegrationToken, error) {
	var plain string
	var tok IntegrationToken
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		it, err := getIntegration(ctx, tx, `i.slug = ?`, slug)
		if err != nil {
			return err
		}
		if it.Kind != IntegrationInternal || it.Installation == nil {
			return &ConflictError{Message: "only an internal integration has tokens created by hand; a public one gets them by OAuth"}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM integration_tokens WHERE installation_id = ? AND revoked_at IS NULL`,
			it.Installation.ID).Scan(&n); err != nil {
			return fmt.Errorf("count tokens: %w", err)
		}
		if n >= MaxInternalTokens {
			return ErrTokenLimit
		}
		if plain, _, err = db.insertToken(ctx, tx, it.Installation.ID, IntegrationTokenInternal, actor, nil); err != nil {
			return err
		}
		if tok, err = scanIntegrationToken(tx.QueryRowContext(ctx, `SELECT `+integrationTokenCols+` FROM integration_tokens WHERE token_hash = ?`,
			HashSecret(plain))); err != nil {
			return err
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "integration.token_create", Target: IntegrationTarget(slug),
			Diff: map[string]any{"token_id": tok.ID, "prefix": tok.Prefix}})
	})
	return plain, tok, err
}

const integrationTokenCols = `id, kind, prefix, created_by, created_at, expires_at, last_used_at, revoked_at`

func scanIntegrationToken(sc interface{ Scan(...any) error }) (IntegrationToken, error) {
	var t IntegrationToken
	err := sc.Scan(&t.ID, &t.Kind, &t.Prefix, &t.CreatedBy, &t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt, &t.RevokedAt)
	return t, interpretError(err)
}

// IntegrationTokens lists the tokens of integration slug's installations,
// newest first.
func (db *DB) IntegrationTokens(ctx context.Context, slug string) ([]IntegrationToken, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+integrationTokenCols+` FROM integration_tokens WHERE installation_id IN
		(SELECT n.id FROM integration_installations n JOIN integrations i ON i.id = n.integration_id WHERE i.slug = ?)
		ORDER BY id DESC`, slug)
	if err != nil {
		return nil, fmt.Errorf("list integration tokens: %w", err)
	}
	defer rows.Close()
	out := []IntegrationToken{}
	for rows.Next() {
		t, err := scanIntegrationToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list integration tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeIntegrationToken revokes token id of integration slug, or returns
// ErrNotFound.
func (db *DB) RevokeIntegrationToken(ctx context.Context, actor, slug string, id int64) error {
	return db.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE integration_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL
			AND installation_id IN (SELECT n.id FROM integration_installations n JOIN integrations i ON i.id = n.integration_id
			WHERE i.slug = ?)`, formatTime(db.now()), id, slug)
		if err != nil {
			return fmt.Errorf("revoke integration token %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("integration token %d: %w", id, ErrNotFound)
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "integration.token_revoke", Target: IntegrationTarget(slug),
			Diff: map[string]any{"token_id": id}})
	})
}

// LookupIntegrationToken finds the live integration token plain (not
// revoked, not expired, of a live installation) and records its use.
func (db *DB) LookupIntegrationToken(ctx context.Context, plain string) (IntegrationActor, error) {
	if !strings.HasPrefix(plain, IntegrationTokenPrefix) || len(plain) > 200 {
		return IntegrationActor{}, ErrBadToken
	}
	var a IntegrationActor
	var perms string
	var last sql.NullString
	now := db.now()
	err := db.r.QueryRowContext(ctx, `SELECT t.id, t.last_used_at, n.id, n.uuid, n.status, i.id, i.uuid, i.slug, i.name, i.kind, i.permissions
		FROM integration_tokens t JOIN integration_installations n ON n.id = t.installation_id
		JOIN integrations i ON i.id = n.integration_id
		WHERE t.token_hash = ? AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)
		AND n.status <> 'uninstalled'`, HashSecret(plain), formatTime(now)).Scan(&a.TokenID, &last, &a.InstallationID,
		&a.InstallationUUID, &a.InstallationStatus, &a.IntegrationID, &a.IntegrationUUID, &a.Slug, &a.Name, &a.Kind, &perms)
	if errors.Is(err, sql.ErrNoRows) {
		return IntegrationActor{}, ErrBadToken
	}
	if err != nil {
		return IntegrationActor{}, fmt.Errorf("lookup integration token: %w", err)
	}
	if err := json.Unmarshal([]byte(perms), &a.Permissions); err != nil {
		return IntegrationActor{}, fmt.Errorf("integration %s permissions: %w", a.Slug, err)
	}
	// As for API tokens: last use is advisory, written at most once a minute.
	if !last.Valid || last.String < formatTime(now.Add(-time.Minute)) {
		if _, err := db.w.ExecContext(ctx, `UPDATE integration_tokens SET last_used_at = ? WHERE id = ?`, formatTime(now), a.TokenID); err != nil {
			return IntegrationActor{}, fmt.Errorf("record integration token use: %w", err)
		}
	}
	return a, nil
}

// IsCatalogEventType reports whether t is one of the catalog's event types
// (what an integration may select).
func IsCatalogEventType(t string) bool { return isCatalogEventType(t) }

// CatalogEventTypes lists the catalog's event types.
func CatalogEventTypes() []string {
	return []string{EventPickConfirmed, EventPackConfirmed, EventShipConfirmed, EventReceiptCompleted,
		EventAdjustmentApplied, EventCycleCountAdjusted, EventTransferCompleted}
}

// IntegrationEvents returns up to limit of integration uuid's private
// events (installs, alerts) after event id after, oldest first. They are
// served nowhere else: the polling API leaves them out.
func (db *DB) IntegrationEvents(ctx context.Context, integrationUUID string, after int64, limit int) ([]Event, error) {
	// The literal aggregate_type lets SQLite use the partial index.
	rows, err := db.r.QueryContext(ctx, selectEventSQL+` WHERE aggregate_type = '`+AggregateIntegration+`'
		AND aggregate_id = ? AND event_id > ? ORDER BY event_id LIMIT ?`, integrationUUID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("integration events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("integration events: %w", err)
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// SealedClientSecret returns integration slug's client secret as the vault
// sealed it.
func (db *DB) SealedClientSecret(ctx context.Context, slug string) ([]byte, error) {
	var tok []byte
	err := db.r.QueryRowContext(ctx, `SELECT client_secret_ciphertext FROM integrations WHERE slug = ?`, slug).Scan(&tok)
	if err != nil {
		return nil, fmt.Errorf("client secret of integration %s: %w", slug, interpretError(err))
	}
	return tok, nil
}

func resealIntegrationSecrets(ctx context.Context, tx *sql.Tx, reseal Reseal) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, slug, client_secret_ciphertext FROM integrations ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", TableIntegrationSecrets, err)
	}
	var all []resealRow
	for rows.Next() {
		var id int64
		var slug string
		var tok []byte
		if err := rows.Scan(&id, &slug, &tok); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read %s: %w", TableIntegrationSecrets, err)
		}
		all = append(all, resealRow{id: id, label: "integration=" + slug, tok: tok})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", TableIntegrationSecrets, err)
	}
	return resealRows(ctx, tx, TableIntegrationSecrets,
		`UPDATE integrations SET client_secret_ciphertext = ? WHERE id = ?`, all, reseal)
}
