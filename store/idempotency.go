package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// IdempotencyRetention is how long a warehouse operation's X-Request-ID is
// remembered: a retry with the same id within it returns the first result;
// after it, the id is forgotten and the request would run again. A week
// covers any client's retry horizon (the dispatcher's own schedule ends
// after about 15 hours) while keeping the table small.
const IdempotencyRetention = 7 * 24 * time.Hour

// pruneBatch bounds how many keys one prune transaction deletes, so pruning
// a large backlog never holds the writer for long.
const pruneBatch = 5000

// PruneIdempotencyKeys deletes the idempotency keys created before before,
// in transactions of at most pruneBatch rows, and returns how many it
// deleted. It stops early, returning what it deleted so far, when ctx ends.
func (db *DB) PruneIdempotencyKeys(ctx context.Context, before time.Time) (int64, error) {
	cutoff := formatTime(before)
	var total int64
	for {
		var n int64
		err := db.WithTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE id IN
				(SELECT id FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ?)`,
				cutoff, pruneBatch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("prune idempotency keys: %w", err)
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}
