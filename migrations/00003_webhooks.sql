-- +goose Up
-- Outbound webhooks: subscriptions and their delivery rows. The signing
-- secrets live in webhook_secrets (00001), encrypted by the vault.
--
-- cursor is the last event_id the dispatcher examined for the subscription:
-- every matching event up to it has a delivery row, none after it has one
-- (replays aside). It only moves forward, in the same transaction as the
-- rows it covers, and never while the subscription is paused.
--
-- last_failure_* record the latest failed attempt (written only by batches
-- that had one); the latest success is read from the deliveries' status
-- index instead, so a healthy batch does not rewrite this row.
--
-- status 'deleting' is a tombstone: the API no longer shows the row while
-- the dispatcher deletes its deliveries in bounded chunks (a subscription
-- can own millions of rows, and one DELETE of them all would hold the only
-- writer for seconds); the row goes when the last delivery has.
CREATE TABLE webhook_subscriptions (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    name                TEXT    NOT NULL,
    url                 TEXT    NOT NULL,
    filter              TEXT    NOT NULL, -- JSON {event_types, warehouse_ids, aggregate_external_id_allowlist}
    status              TEXT    NOT NULL CHECK (status IN ('active', 'paused', 'deleting')),
    pause_reason        TEXT    CHECK (pause_reason IN ('manual', 'pending_ceiling', 'dlq_ceiling')),
    pending_ceiling     INTEGER NOT NULL CHECK (pending_ceiling > 0),
    dlq_ceiling         INTEGER NOT NULL CHECK (dlq_ceiling > 0),
    rate_limit_per_sec  REAL    NOT NULL CHECK (rate_limit_per_sec >= 0), -- 0: no limit
    max_in_flight       INTEGER NOT NULL CHECK (max_in_flight > 0),
    standard_webhooks   INTEGER NOT NULL DEFAULT 0,
    cursor              INTEGER NOT NULL,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    paused_at           TEXT,
    last_failure_at     TEXT,
    last_failure_kind   TEXT,
    last_failure_status INTEGER,
    CHECK ((status = 'paused') = (pause_reason IS NOT NULL))
);

-- One row per (subscription, event) to send, plus one per replay. FIFO order
-- within a lane (subscription, aggregate_type, aggregate_id) is id order.
--
-- attempt_log is the attempt history as a compact JSON array (at most eight
-- entries): appending it in the same UPDATE that records the outcome keeps a
-- group commit at one statement for any number of outcomes, instead of one
-- row in another table per attempt.
--
-- next_attempt_at: for a pending row, when its lane may send it (NULL: as
-- soon as it is the lane's head). After the eighth failure it is when the
-- row is dead-lettered.
CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id  INTEGER NOT NULL,
    event_id         INTEGER NOT NULL,
    status           TEXT    NOT NULL
        CHECK (status IN ('pending', 'in_flight', 'succeeded', 'dead', 'replayed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT,
    last_attempt_at  TEXT,
    last_status_code INTEGER,
    last_error_kind  TEXT,
    attempt_log      TEXT    NOT NULL DEFAULT '[]',
    replay_of        INTEGER,
    created_at       TEXT    NOT NULL,
    completed_at     TEXT
);
-- Every hot query seeks one of these, so its cost depends on the rows it
-- returns, never on the size of the table:
--   (subscription_id, status, id): open rows at start-up, counts and pages
--     by status (the DLQ is status 'dead'), the newest success;
--   (subscription_id, id): the delivery history, newest first;
--   failing: only rows whose last attempt failed (retrying or dead), for the
--     cross-subscription error view; healthy deliveries never enter it.
-- Appends and status changes land at the right-hand end of each range, so a
-- group commit dirties a handful of pages however many rows there are.
CREATE INDEX webhook_deliveries_status ON webhook_deliveries (subscription_id, status, id);
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (subscription_id, id);
CREATE INDEX webhook_deliveries_failing ON webhook_deliveries (last_attempt_at)
    WHERE last_error_kind IS NOT NULL;

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_subscriptions;
