-- +goose Up
-- Integrations: external services that act on the hub as themselves (issue
-- 15). An internal integration is installed at creation; a public one is
-- installed by an admin through the consent page and gets its tokens by a
-- grant code exchange.
--
-- client_secret_hash: the client secret is 32 random bytes, so a SHA-256 of
-- it is enough to check a token exchange (as for API tokens).
-- client_secret_ciphertext: the same secret sealed by the vault (Fernet),
-- re-sealed by key rotation like the other ciphertexts: the hub needs it
-- to sign the integration's webhooks and UI actions (its owned
-- subscription's webhook_secrets row holds another sealed copy).
--
-- subscription_id: the webhook subscription the integration owns (NULL
-- without a webhook URL). The dispatcher treats it like any other; its
-- owner column (below) keeps the integration's private events to it.
CREATE TABLE integrations (
    id                 INTEGER PRIMARY KEY,
    uuid               TEXT    NOT NULL UNIQUE,
    kind               TEXT    NOT NULL CHECK (kind IN ('internal', 'public')),
    name               TEXT    NOT NULL,
    slug               TEXT    NOT NULL UNIQUE,
    author             TEXT    NOT NULL,
    overview           TEXT    NOT NULL,
    webhook_url        TEXT    NOT NULL,
    redirect_url       TEXT    NOT NULL,
    verify_install     INTEGER NOT NULL,
    permissions        TEXT    NOT NULL, -- JSON {resource: level}
    event_types        TEXT    NOT NULL, -- JSON array of catalog event types
    alert_action       INTEGER NOT NULL,
    ui_components      TEXT    NOT NULL DEFAULT '',
    client_id          TEXT    NOT NULL UNIQUE,
    client_secret_hash BLOB    NOT NULL,
    client_secret_ciphertext BLOB NOT NULL,
    subscription_id    INTEGER,
    created_by         TEXT    NOT NULL,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL
);

-- At most one live installation per integration (the hub is one
-- organisation); uninstalled rows stay for history.
CREATE TABLE integration_installations (
    id             INTEGER PRIMARY KEY,
    uuid           TEXT    NOT NULL UNIQUE,
    integration_id INTEGER NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    status         TEXT    NOT NULL CHECK (status IN ('pending', 'installed', 'uninstalled')),
    created_by     TEXT    NOT NULL,
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
);
CREATE UNIQUE INDEX integration_installations_live ON integration_installations (integration_id)
    WHERE status <> 'uninstalled';

-- Single-use grant codes (hashed), valid ten minutes.
CREATE TABLE integration_grants (
    id              INTEGER PRIMARY KEY,
    installation_id INTEGER NOT NULL REFERENCES integration_installations (id) ON DELETE CASCADE,
    code_hash       BLOB    NOT NULL UNIQUE,
    created_at      TEXT    NOT NULL,
    expires_at      TEXT    NOT NULL,
    used_at         TEXT
);

-- Integration tokens, hashed. kind internal: never expires, no refresh
-- token. kind access: expires_at eight hours on, with a refresh token whose
-- refreshed_at marks it spent (a second use is theft: see the store).
CREATE TABLE integration_tokens (
    id              INTEGER PRIMARY KEY,
    installation_id INTEGER NOT NULL REFERENCES integration_installations (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL CHECK (kind IN ('internal', 'access')),
    prefix          TEXT    NOT NULL,
    token_hash      BLOB    NOT NULL UNIQUE,
    refresh_hash    BLOB    UNIQUE,
    refreshed_at    TEXT,
    created_by      TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    expires_at      TEXT,
    last_used_at    TEXT,
    revoked_at      TEXT
);
CREATE INDEX integration_tokens_installation ON integration_tokens (installation_id, revoked_at);

-- Alert rules over the hub's own state whose action notifies an
-- integration; state holds what the evaluator last saw per rule, so a rule
-- fires once when its condition starts and resolves once when it ends.
CREATE TABLE alert_rules (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    params         TEXT    NOT NULL, -- JSON, per kind
    integration_id INTEGER NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    firing         INTEGER NOT NULL DEFAULT 0,
    fired_at       TEXT,
    resolved_at    TEXT,
    detail         TEXT    NOT NULL DEFAULT '',
    created_by     TEXT    NOT NULL,
    created_at     TEXT    NOT NULL
);

-- The integration that owns a subscription ('' for an ordinary one). Events
-- with aggregate_type 'integration' are that integration's own (install,
-- uninstall, alerts: they may carry grant codes) and go to the subscription
-- owned by aggregate_id alone.
ALTER TABLE webhook_subscriptions ADD COLUMN owner TEXT NOT NULL DEFAULT '';

-- An integration's private events, for its page: a partial index, so the
-- catalog's events (nearly all rows) cost it nothing.
CREATE INDEX integration_events_private ON integration_events (aggregate_id, event_id)
    WHERE aggregate_type = 'integration';

-- +goose Down
DROP INDEX integration_events_private;
ALTER TABLE webhook_subscriptions DROP COLUMN owner;
DROP TABLE alert_rules;
DROP TABLE integration_tokens;
DROP TABLE integration_grants;
DROP TABLE integration_installations;
DROP TABLE integrations;
