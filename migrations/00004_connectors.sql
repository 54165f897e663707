-- +goose Up
-- The connector framework: non-secret settings, sync state and history,
-- schedules, and the durable fulfillment push queue. Secrets live in
-- connector_credentials (00001), encrypted by the vault.
--
-- Timestamps are TEXT in store.TimeFormat (fixed-width UTC), so text order is
-- time order and range comparisons work on the column directly.

-- Non-secret connector settings (shop domain, location id, API version),
-- kept in plain text so the admin API can show them without opening the
-- vault. A field the connector's schema marks secret never lands here.
CREATE TABLE connector_settings (
    connector_name TEXT    NOT NULL,
    warehouse_id   INTEGER NOT NULL,
    key            TEXT    NOT NULL,
    value          TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    PRIMARY KEY (connector_name, warehouse_id, key)
) WITHOUT ROWID;

-- One row per connector + warehouse + sync type: the sync state machine.
-- run_id is the lease of the running sync: every later write names it, and a
-- write whose run_id no longer matches (the run was taken over) changes
-- nothing. cursor is where the next incremental sync starts (minus the
-- overlap window); it is never later than the start of the run that wrote it.
CREATE TABLE sync_state (
    connector_name     TEXT    NOT NULL,
    warehouse_id       INTEGER NOT NULL,
    sync_type          TEXT    NOT NULL,
    sync_status        TEXT    NOT NULL DEFAULT 'idle'
        CHECK (sync_status IN ('idle', 'running', 'error')),
    run_id             TEXT,
    started_at         TEXT,
    heartbeat_at       TEXT,
    last_synced_at     TEXT,
    last_success_at    TEXT,
    cursor             TEXT,
    consecutive_errors INTEGER NOT NULL DEFAULT 0,
    last_error_message TEXT    NOT NULL DEFAULT '',
    last_error_at      TEXT,
    updated_at         TEXT    NOT NULL,
    PRIMARY KEY (connector_name, warehouse_id, sync_type),
    CHECK ((sync_status = 'running') = (run_id IS NOT NULL))
) WITHOUT ROWID;

-- The last N runs per connector + warehouse + sync type (pruned as new runs
-- finish), for the sync-status endpoint and the dashboard.
CREATE TABLE sync_runs (
    id              INTEGER PRIMARY KEY,
    connector_name  TEXT    NOT NULL,
    warehouse_id    INTEGER NOT NULL,
    sync_type       TEXT    NOT NULL,
    run_id          TEXT    NOT NULL UNIQUE,
    trigger         TEXT    NOT NULL,
    status          TEXT    NOT NULL
        CHECK (status IN ('success', 'error', 'superseded', 'interrupted')),
    started_at      TEXT    NOT NULL,
    finished_at     TEXT    NOT NULL,
    duration_ms     INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    since           TEXT,
    cursor          TEXT,
    records_synced  INTEGER NOT NULL DEFAULT 0,
    records_skipped INTEGER NOT NULL DEFAULT 0,
    records_failed  INTEGER NOT NULL DEFAULT 0,
    took_over       TEXT    NOT NULL DEFAULT '', -- run_id of the stale run this one replaced
    notes           TEXT    NOT NULL DEFAULT '',
    error_message   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sync_runs_key ON sync_runs (connector_name, warehouse_id, sync_type, id);

-- Admin-edited schedules: an interval or a 5-field cron expression (UTC) per
-- connector + warehouse + sync type. next_run_at is persisted (jitter
-- included) so a restart neither loses nor repeats a run; the scheduler
-- advances it with a compare-and-set before it starts the run.
CREATE TABLE connector_schedules (
    connector_name   TEXT    NOT NULL,
    warehouse_id     INTEGER NOT NULL,
    sync_type        TEXT    NOT NULL,
    interval_seconds INTEGER,
    cron             TEXT,
    enabled          INTEGER NOT NULL DEFAULT 1,
    next_run_at      TEXT    NOT NULL,
    last_run_at      TEXT,
    updated_at       TEXT    NOT NULL,
    updated_by       TEXT    NOT NULL,
    PRIMARY KEY (connector_name, warehouse_id, sync_type),
    CHECK ((interval_seconds IS NULL) <> (cron IS NULL)),
    CHECK (interval_seconds IS NULL OR interval_seconds > 0)
) WITHOUT ROWID;

-- Fulfillment pushes: written in the ship transaction of a sales order that
-- came from a connector (so a crash cannot lose one), then pushed by the
-- fulfillment worker. One row per order: it is the order's push outcome.
-- idempotency_key is the ship request's source_txn_id; connectors send it
-- upstream where the API accepts one and check for an existing fulfillment
-- where it does not, so a retry never fulfills twice.
CREATE TABLE fulfillment_pushes (
    id              INTEGER PRIMARY KEY,
    order_id        TEXT    NOT NULL UNIQUE REFERENCES sales_orders (id),
    connector_name  TEXT    NOT NULL,
    warehouse_id    INTEGER NOT NULL,
    source_id       TEXT    NOT NULL,
    order_number    TEXT    NOT NULL,
    carrier         TEXT    NOT NULL,
    tracking        TEXT    NOT NULL,
    lines           TEXT    NOT NULL, -- JSON array of {sku, qty}
    idempotency_key TEXT    NOT NULL UNIQUE,
    status          TEXT    NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'succeeded', 'failed', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT '',
    upstream_ref    TEXT    NOT NULL DEFAULT '',
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    completed_at    TEXT
);
CREATE INDEX fulfillment_pushes_due ON fulfillment_pushes (status, next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX fulfillment_pushes_key ON fulfillment_pushes (connector_name, warehouse_id, id);

-- +goose Down
DROP TABLE fulfillment_pushes;
DROP TABLE connector_schedules;
DROP TABLE sync_runs;
DROP TABLE sync_state;
DROP TABLE connector_settings;
