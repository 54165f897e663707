-- +goose Up
-- Idempotency keys belong to the caller that sent them. Keyed by request id
-- and operation alone, a key reused by another token replayed the first
-- caller's response (its data), and one key could be spent on several
-- different operations. Now a key is unique per scope (the caller:
-- 'token:<id>' or 'user:<id>' for the HTTP API, '' for the hub's own writes
-- such as connectors and the demo), and fingerprint (the SHA-256 of the
-- request's input, as request_hash was) together with operation must match
-- for a replay; the same key with another request is refused.
--
-- SQLite cannot change a UNIQUE constraint in place, so the table is
-- rebuilt. Existing keys keep working for their caller: the scope is
-- recovered from the actor recorded with each key ('token:<id>:<name>',
-- 'user:<email>'). Of two existing keys that now collide (one caller, one
-- request id, two operations) the first is kept.
CREATE TABLE idempotency_keys_scoped (
    id          INTEGER PRIMARY KEY,
    scope       TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    operation   TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    result      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (scope, request_id)
);
INSERT OR IGNORE INTO idempotency_keys_scoped
    (id, scope, request_id, operation, fingerprint, result, actor, created_at)
SELECT id,
       CASE
           WHEN actor GLOB 'token:[0-9]*:*'
               THEN 'token:' || substr(actor, 7, instr(substr(actor, 7), ':') - 1)
           WHEN actor GLOB 'user:?*'
               THEN coalesce('user:' || (SELECT u.id FROM users u WHERE u.email = substr(actor, 6)), 'gone:' || actor)
           ELSE ''
       END,
       request_id, operation, request_hash, result, actor, created_at
FROM idempotency_keys
ORDER BY id;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_scoped RENAME TO idempotency_keys;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
CREATE TABLE idempotency_keys_unscoped (
    id           INTEGER PRIMARY KEY,
    request_id   TEXT NOT NULL,
    operation    TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    result       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (request_id, operation)
);
INSERT OR IGNORE INTO idempotency_keys_unscoped
    (id, request_id, operation, request_hash, result, actor, created_at)
SELECT id, request_id, operation, fingerprint, result, actor, created_at
FROM idempotency_keys
ORDER BY id;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_unscoped RENAME TO idempotency_keys;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
