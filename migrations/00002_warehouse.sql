-- +goose Up
-- The canonical warehouse model and the transactional event outbox.
--
-- Warehouses have small integer ids (the envelope's warehouse_id is an
-- integer). Every other entity has a UUID assigned by the hub, which is the
-- envelope's aggregate_id. Entities that came from another system carry a
-- source reference (source_name, source_id), unique per source, so a re-sync
-- upserts instead of duplicating. Timestamps are TEXT in store.TimeFormat.
CREATE TABLE warehouses (
    id         INTEGER PRIMARY KEY,
    code       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE items (
    id          TEXT PRIMARY KEY,
    sku         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    barcode     TEXT NOT NULL DEFAULT '',
    source_name TEXT,
    source_id   TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CHECK ((source_name IS NULL) = (source_id IS NULL))
);
CREATE UNIQUE INDEX items_source ON items (source_name, source_id)
    WHERE source_name IS NOT NULL AND source_id IS NOT NULL;

-- One row per (warehouse, sku) that ever held stock. id is the stable
-- aggregate_id of the level's adjustment.applied events.
CREATE TABLE inventory_levels (
    warehouse_id INTEGER NOT NULL REFERENCES warehouses (id),
    sku          TEXT    NOT NULL REFERENCES items (sku),
    id           TEXT    NOT NULL UNIQUE,
    on_hand      INTEGER NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    updated_at   TEXT    NOT NULL,
    PRIMARY KEY (warehouse_id, sku)
) WITHOUT ROWID;

CREATE TABLE sales_orders (
    id           TEXT    PRIMARY KEY,
    order_number TEXT    NOT NULL UNIQUE,
    warehouse_id INTEGER NOT NULL REFERENCES warehouses (id),
    status       TEXT    NOT NULL
        CHECK (status IN ('open', 'picked', 'packed', 'shipped', 'cancelled')),
    ship_to      TEXT    NOT NULL, -- canonical JSON object
    carrier      TEXT    NOT NULL DEFAULT '',
    tracking     TEXT    NOT NULL DEFAULT '',
    source_name  TEXT,
    source_id    TEXT,
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    picked_at    TEXT,
    packed_at    TEXT,
    shipped_at   TEXT,
    CHECK ((source_name IS NULL) = (source_id IS NULL))
);
CREATE UNIQUE INDEX sales_orders_source ON sales_orders (source_name, source_id)
    WHERE source_name IS NOT NULL AND source_id IS NOT NULL;

CREATE TABLE sales_order_lines (
    order_id TEXT    NOT NULL REFERENCES sales_orders (id) ON DELETE CASCADE,
    line_no  INTEGER NOT NULL,
    sku      TEXT    NOT NULL REFERENCES items (sku),
    qty      INTEGER NOT NULL CHECK (qty > 0),
    PRIMARY KEY (order_id, line_no)
) WITHOUT ROWID;

CREATE TABLE purchase_orders (
    id           TEXT    PRIMARY KEY,
    po_number    TEXT    NOT NULL UNIQUE,
    warehouse_id INTEGER NOT NULL REFERENCES warehouses (id),
    supplier     TEXT    NOT NULL DEFAULT '',
    status       TEXT    NOT NULL
        CHECK (status IN ('open', 'partially_received', 'received', 'cancelled')),
    source_name  TEXT,
    source_id    TEXT,
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    CHECK ((source_name IS NULL) = (source_id IS NULL))
);
CREATE UNIQUE INDEX purchase_orders_source ON purchase_orders (source_name, source_id)
    WHERE source_name IS NOT NULL AND source_id IS NOT NULL;

CREATE TABLE purchase_order_lines (
    po_id        TEXT    NOT NULL REFERENCES purchase_orders (id) ON DELETE CASCADE,
    line_no      INTEGER NOT NULL,
    sku          TEXT    NOT NULL REFERENCES items (sku),
    qty_ordered  INTEGER NOT NULL CHECK (qty_ordered > 0),
    qty_received INTEGER NOT NULL DEFAULT 0
        CHECK (qty_received >= 0 AND qty_received <= qty_ordered),
    PRIMARY KEY (po_id, line_no),
    UNIQUE (po_id, sku)
) WITHOUT ROWID;

CREATE TABLE transfers (
    id                TEXT    PRIMARY KEY,
    from_warehouse_id INTEGER NOT NULL REFERENCES warehouses (id),
    to_warehouse_id   INTEGER NOT NULL REFERENCES warehouses (id),
    status            TEXT    NOT NULL
        CHECK (status IN ('open', 'completed', 'cancelled')),
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    completed_at      TEXT,
    CHECK (from_warehouse_id <> to_warehouse_id)
);

CREATE TABLE transfer_lines (
    transfer_id TEXT    NOT NULL REFERENCES transfers (id) ON DELETE CASCADE,
    line_no     INTEGER NOT NULL,
    sku         TEXT    NOT NULL REFERENCES items (sku),
    qty         INTEGER NOT NULL CHECK (qty > 0),
    PRIMARY KEY (transfer_id, line_no),
    UNIQUE (transfer_id, sku)
) WITHOUT ROWID;

-- Every count is kept, including those that matched the books (adjusted = 0,
-- no event).
CREATE TABLE cycle_counts (
    id               TEXT    PRIMARY KEY,
    warehouse_id     INTEGER NOT NULL REFERENCES warehouses (id),
    sku              TEXT    NOT NULL REFERENCES items (sku),
    counted_qty      INTEGER NOT NULL CHECK (counted_qty >= 0),
    previous_on_hand INTEGER NOT NULL,
    adjusted         INTEGER NOT NULL,
    counted_at       TEXT    NOT NULL
);
CREATE INDEX cycle_counts_level ON cycle_counts (warehouse_id, sku, counted_at);

-- First result of each idempotent operation, keyed by the caller's request id
-- (X-Request-ID, the events' source_txn_id) and the operation name.
-- request_hash fingerprints the input so a reused id with a different request
-- is refused instead of answered with an unrelated result. A rowid table, so
-- the large result rows append at the end and only the small index entry
-- lands at a random page (a WITHOUT ROWID table keyed by the random request
-- id cost a quarter of the ship operation's throughput in page writes).
CREATE TABLE idempotency_keys (
    id           INTEGER PRIMARY KEY,
    request_id   TEXT NOT NULL,
    operation    TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    result       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (request_id, operation)
);

-- The transactional outbox. event_id is the rowid (AUTOINCREMENT so an id is
-- never reused, even after the newest rows are deleted). data is the event's
-- canonical JSON object. Only two secondary indexes, each serving a polling
-- filter as a range seek; the unfiltered poll and the dispatcher cursor walk
-- the rowid itself, so an append touches three b-trees.
CREATE TABLE integration_events (
    event_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_type      TEXT    NOT NULL,
    event_version   INTEGER NOT NULL,
    event_timestamp TEXT    NOT NULL,
    aggregate_type  TEXT    NOT NULL,
    aggregate_id    TEXT    NOT NULL,
    warehouse_id    INTEGER NOT NULL,
    source_txn_id   TEXT    NOT NULL,
    data            TEXT    NOT NULL,
    visible_at      TEXT    NOT NULL
);
CREATE INDEX integration_events_type ON integration_events (event_type, event_id);
CREATE INDEX integration_events_warehouse ON integration_events (warehouse_id, event_id);

-- +goose Down
DROP TABLE integration_events;
DROP TABLE idempotency_keys;
DROP TABLE cycle_counts;
DROP TABLE transfer_lines;
DROP TABLE transfers;
DROP TABLE purchase_order_lines;
DROP TABLE purchase_orders;
DROP TABLE sales_order_lines;
DROP TABLE sales_orders;
DROP TABLE inventory_levels;
DROP TABLE items;
DROP TABLE warehouses;
