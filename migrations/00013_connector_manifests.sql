-- Declarative connectors: provider webhook deliveries and OAuth 2.0
-- authorization-code connections.

-- +goose Up

-- One row per provider webhook event accepted for a connector in a
-- warehouse. The row is committed before the provider gets its 2xx, so an
-- accepted event is never lost; the unique key drops redeliveries of the
-- same provider event id. A worker maps and writes pending rows.
CREATE TABLE connector_webhook_events (
    id           INTEGER PRIMARY KEY,
    connector    TEXT    NOT NULL,
    warehouse_id INTEGER NOT NULL,
    stream       TEXT    NOT NULL,
    event_id     TEXT    NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
    event_type   TEXT    NOT NULL DEFAULT '',
    body         BLOB    NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    result       TEXT    NOT NULL DEFAULT '',
    received_at  TEXT    NOT NULL,
    processed_at TEXT,
    UNIQUE (connector, warehouse_id, event_id)
);
CREATE INDEX connector_webhook_events_pending
    ON connector_webhook_events (id) WHERE status = 'pending';

-- Deliveries refused before any processing (bad or stale signature,
-- unknown stream), counted per connector, warehouse and reason for the UI.
CREATE TABLE connector_webhook_rejections (
    connector    TEXT    NOT NULL,
    warehouse_id INTEGER NOT NULL,
    reason       TEXT    NOT NULL,
    count        INTEGER NOT NULL DEFAULT 0,
    last_at      TEXT    NOT NULL,
    PRIMARY KEY (connector, warehouse_id, reason)
) WITHOUT ROWID;

-- Pending OAuth 2.0 authorization-code consents. state is stored as its
-- SHA-256 (the value itself travels only through the admin's browser),
-- bound to the admin session that pressed Connect, and expires. The PKCE
-- verifier is sealed with the vault key.
CREATE TABLE connector_oauth_states (
    state_hash          TEXT    PRIMARY KEY,
    connector           TEXT    NOT NULL,
    warehouse_id        INTEGER NOT NULL,
    session_hash        TEXT    NOT NULL,
    verifier_ciphertext BLOB    NOT NULL,
    created_at          TEXT    NOT NULL,
    expires_at          TEXT    NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE connector_oauth_states;
DROP TABLE connector_webhook_rejections;
DROP INDEX connector_webhook_events_pending;
DROP TABLE connector_webhook_events;
