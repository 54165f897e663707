-- +goose Up
-- Inbound push API (issue 13). A source is a system that pushes documents
-- (an ERP, a script, an iPaaS); its name is the source_name of the records
-- it creates, so its upserts never collide with a connector's or another
-- source's.
CREATE TABLE inbound_sources (
    name       TEXT PRIMARY KEY,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
) WITHOUT ROWID;

-- A token may be bound to one source: it can then push as that source only
-- (and needs the inbound:write scope to push at all).
ALTER TABLE api_tokens ADD COLUMN inbound_source TEXT REFERENCES inbound_sources (name);

-- Every saved version of every mapping is kept; the current mapping of a
-- (source, resource) is its highest version. Versions count from 1.
CREATE TABLE inbound_mappings (
    source     TEXT    NOT NULL REFERENCES inbound_sources (name),
    resource   TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    yaml       TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (source, resource, version)
) WITHOUT ROWID;

-- One row per push: which mapping version it used and how its documents
-- fared. failures holds the refused documents' errors (JSON, capped), so
-- the admin page can show why without keeping the documents themselves.
CREATE TABLE inbound_pushes (
    id              INTEGER PRIMARY KEY,
    source          TEXT    NOT NULL REFERENCES inbound_sources (name),
    resource        TEXT    NOT NULL,
    mapping_version INTEGER NOT NULL,
    actor           TEXT    NOT NULL,
    documents       INTEGER NOT NULL,
    created         INTEGER NOT NULL,
    updated         INTEGER NOT NULL,
    unchanged       INTEGER NOT NULL,
    refused         INTEGER NOT NULL,
    failures        TEXT    NOT NULL,
    received_at     TEXT    NOT NULL
);
CREATE INDEX inbound_pushes_source ON inbound_pushes (source, id);

-- Records without source columns of their own (stock adjustments,
-- transfers) remember here which source document made them, so the same
-- document pushed again is recognized instead of applied twice.
-- fingerprint is the SHA-256 of the document's canonical input.
CREATE TABLE source_records (
    source_name TEXT NOT NULL,
    resource    TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (source_name, resource, source_id)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE source_records;
DROP TABLE inbound_pushes;
DROP TABLE inbound_mappings;
ALTER TABLE api_tokens DROP COLUMN inbound_source;
DROP TABLE inbound_sources;
