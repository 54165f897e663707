-- +goose Up
-- Admin users of the web UI. Passwords are argon2id hashes (PHC string form).
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_at    TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0
);

-- API tokens for programs (X-WMS-Token). Only a SHA-256 of the token is
-- kept: the token is 32 random bytes, so a fast hash is not brute-forceable.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    token_hash   BLOB NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);

-- Append-only, hash-chained audit log. Each row's hash is
-- sha256(prev_hash || canonical row content); triggers refuse UPDATE and
-- DELETE so a tamper has to bypass SQLite itself, which `audit verify` sees.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    diff      TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

-- +goose StatementBegin
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd

-- Connector credentials, Fernet-encrypted, scoped per connector + warehouse + key.
CREATE TABLE connector_credentials (
    id              INTEGER PRIMARY KEY,
    connector_name  TEXT    NOT NULL,
    warehouse_id    INTEGER NOT NULL,
    key             TEXT    NOT NULL,
    encrypted_value BLOB    NOT NULL,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    UNIQUE (connector_name, warehouse_id, key)
);

-- Webhook HMAC secrets: generation 1 signs, generation 2 is the previous
-- secret, valid until expires_at (dual-accept rotation window).
CREATE TABLE webhook_secrets (
    subscription_id   INTEGER NOT NULL,
    generation        INTEGER NOT NULL CHECK (generation IN (1, 2)),
    secret_ciphertext BLOB    NOT NULL,
    created_at        TEXT    NOT NULL,
    expires_at        TEXT,
    PRIMARY KEY (subscription_id, generation)
);

-- +goose Down
DROP TABLE webhook_secrets;
DROP TABLE connector_credentials;
DROP TRIGGER audit_log_no_delete;
DROP TRIGGER audit_log_no_update;
DROP TABLE audit_log;
DROP TABLE api_tokens;
DROP TABLE users;
