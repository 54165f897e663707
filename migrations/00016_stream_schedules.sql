-- +goose Up
-- The own schedules of connector streams (a manifest's `schedule:` on a
-- poll stream), one row per connection + stream. Like connector_schedules,
-- next_run_at is persisted (jitter included) and advanced with a
-- compare-and-set before the run starts, so a restart neither loses nor
-- repeats a run. schedule is the text the row was computed from: when the
-- manifest changes it, the next run is computed afresh. cursor is how far
-- the stream has read in runs limited to its own schedule (the sync type's
-- cursor in sync_state only moves when a run covers all of its streams).
CREATE TABLE stream_schedules (
    connector_name TEXT    NOT NULL,
    warehouse_id   INTEGER NOT NULL,
    stream_key     TEXT    NOT NULL,
    sync_type      TEXT    NOT NULL,
    schedule       TEXT    NOT NULL,
    next_run_at    TEXT    NOT NULL,
    last_run_at    TEXT,
    cursor         TEXT,
    PRIMARY KEY (connector_name, warehouse_id, stream_key)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE stream_schedules;
