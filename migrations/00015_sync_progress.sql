-- +goose Up
-- Live progress of the running sync, for the connector page: the trigger,
-- the attempt in progress, the records written by this attempt so far and
-- the error that ended the previous attempt of the same run. ClaimSync
-- resets them; the runner writes the attempt columns when an attempt
-- starts and adds each written page's counts in the page's own
-- transaction, so the count never runs ahead of the data. They mean
-- nothing once the run ends (the run history has its outcome).
ALTER TABLE sync_state ADD COLUMN run_trigger TEXT NOT NULL DEFAULT '';
ALTER TABLE sync_state ADD COLUMN run_attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN run_records_synced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN run_records_failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN run_error TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sync_state DROP COLUMN run_error;
ALTER TABLE sync_state DROP COLUMN run_records_failed;
ALTER TABLE sync_state DROP COLUMN run_records_synced;
ALTER TABLE sync_state DROP COLUMN run_attempt;
ALTER TABLE sync_state DROP COLUMN run_trigger;
