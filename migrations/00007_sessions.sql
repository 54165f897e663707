-- +goose Up
-- Server-side login sessions. The browser's cookie carries only a random
-- session id; the table keeps its SHA-256 (like api_tokens), so a copy of
-- the database opens no session. A session is valid while revoked_at is
-- NULL, the clock is before expires_at (absolute lifetime) and the last
-- request was within idle_seconds (last_seen_at is written at most once a
-- minute). Logout, password, role and disable changes revoke in the same
-- transaction; deleting the user deletes its sessions.
CREATE TABLE sessions (
    id             INTEGER PRIMARY KEY,
    token_hash     BLOB    NOT NULL UNIQUE,
    user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     TEXT    NOT NULL,
    last_seen_at   TEXT    NOT NULL,
    expires_at     TEXT    NOT NULL,
    idle_seconds   INTEGER NOT NULL CHECK (idle_seconds > 0),
    user_agent     TEXT    NOT NULL DEFAULT '',
    ip             TEXT    NOT NULL DEFAULT '',
    revoked_at     TEXT,
    revoked_reason TEXT
);
CREATE INDEX sessions_user ON sessions (user_id, id);
-- The janitor prunes by end time: absolute expiry, or revocation.
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- +goose Down
DROP TABLE sessions;
