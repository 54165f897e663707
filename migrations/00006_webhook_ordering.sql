-- +goose Up
-- Delivery ordering per subscription. 'aggregate' (the default, and what
-- every existing subscription keeps): one FIFO lane per (aggregate_type,
-- aggregate_id), lanes in parallel up to max_in_flight. 'global': one lane
-- for the whole subscription, so deliveries go out strictly in id (commit)
-- order, one at a time, and a failing delivery holds back every later one
-- until it succeeds or is dead-lettered: the seed contract's "in commit
-- order", under which its single event_id watermark is safe.
ALTER TABLE webhook_subscriptions ADD COLUMN ordering TEXT NOT NULL DEFAULT 'aggregate'
    CHECK (ordering IN ('aggregate', 'global'));

-- +goose Down
ALTER TABLE webhook_subscriptions DROP COLUMN ordering;
