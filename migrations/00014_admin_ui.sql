-- +goose Up
-- The admin UI's events page lists the deliveries of one event. Event ids
-- only grow, so new rows land at the right-hand end of this index: one
-- page touched per insert, however long the history.
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id, subscription_id);

-- +goose Down
DROP INDEX webhook_deliveries_event;
