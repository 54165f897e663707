-- +goose Up
-- Idempotency keys are kept for a retention window (store.IdempotencyRetention)
-- and pruned by age; the index keeps each prune proportional to what it
-- deletes rather than to the table.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP INDEX idempotency_keys_created;
