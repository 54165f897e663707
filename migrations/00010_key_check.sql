-- +goose Up
-- The data directory's key check value: an HMAC of a fixed label under the
-- encryption key. A hub started with another key refuses to run instead of
-- starting with secrets it cannot open (see vault.BindKey). One row at most.
CREATE TABLE key_check (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    mac        TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- +goose Down
DROP TABLE key_check;
