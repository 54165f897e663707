-- +goose Up
-- The audit log becomes a keyed chain that cannot be rewritten through SQL
-- without the change showing (see docs/audit.md).
--
-- audit_log has been AUTOINCREMENT since 00001, so sqlite_sequence already
-- holds the highest id ever used, also for rows inserted with an explicit id;
-- no rebuild is needed. That high-water mark is what `audit verify` checks
-- the head against and what the insert guard below compares with.
--
-- audit_chain says how the chain is sealed. version 0: the unkeyed
-- sha256(prev_hash || content) chain written before this migration; this SQL
-- cannot know the key, so rows already present stay on it until the first
-- start with the encryption key (store.DB.Migrate) re-seals every row with
-- HMAC-SHA256 under the key derived from it and sets version 1, recording an
-- `audit.rekey` entry. A row that did not verify under the old seal keeps
-- its stale MAC, so a break is carried over instead of being laundered.
-- A database without audit rows starts at version 1. rekeying is 1 only
-- inside the transaction that re-seals the chain (that upgrade, and
-- rotate-key), the one time the MAC columns may change.
CREATE TABLE audit_chain (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  INTEGER NOT NULL CHECK (version IN (0, 1)),
    rekeying INTEGER NOT NULL DEFAULT 0 CHECK (rekeying IN (0, 1))
);
INSERT INTO audit_chain (id, version)
SELECT 1, CASE WHEN EXISTS (SELECT 1 FROM audit_log) THEN 0 ELSE 1 END;

-- Updates stay refused, except a re-seal that touches only the MAC columns.
DROP TRIGGER audit_log_no_update;

-- +goose StatementBegin
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN (SELECT rekeying FROM audit_chain WHERE id = 1) IS NOT 1
    OR NEW.id IS NOT OLD.id OR NEW.at IS NOT OLD.at OR NEW.actor IS NOT OLD.actor
    OR NEW.action IS NOT OLD.action OR NEW.target IS NOT OLD.target OR NEW.diff IS NOT OLD.diff
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd

-- INSERT OR REPLACE (and REPLACE, upserts) would swap a row without firing
-- the delete trigger, and after the newest rows are deleted a plain insert
-- would reuse their ids. Every insert must name an id above every id ever
-- used: above the AUTOINCREMENT high-water mark and above the current
-- maximum. An omitted id is refused too; the store always names it.
-- +goose StatementBegin
CREATE TRIGGER audit_log_ids_grow BEFORE INSERT ON audit_log
WHEN NEW.id IS NULL OR NEW.id <= max(
    coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'), 0),
    coalesce((SELECT max(id) FROM audit_log), 0))
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: a new row must take an id above every id used before');
END;
-- +goose StatementEnd

-- +goose Down
-- Rows sealed with HMAC do not verify under the old unkeyed check.
DROP TRIGGER audit_log_ids_grow;
DROP TRIGGER audit_log_no_update;

-- +goose StatementBegin
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd

DROP TABLE audit_chain;
