package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// IdempotencyConflictError refuses an idempotency key that its caller
// already used for a different request: another operation, or the same
// operation with another input (body or path). Replaying the first result
// would answer a request that was never made, and running the new one
// would break the key's promise, so neither happens (HTTP 422, as Stripe
// answers a reused Idempotency-Key). It wraps ErrConflict.
type IdempotencyConflictError struct {
	RequestID      string
	FirstOperation string // what the key was first used for
	Operation      string // what it was sent with now
}

func (e *IdempotencyConflictError) Error() string {
	what := "the same operation (" + e.Operation + ") with a different body or path"
	if e.FirstOperation != e.Operation {
		what = "a different operation (" + e.FirstOperation + ", not " + e.Operation + ")"
	}
	return "request id " + e.RequestID + " was already used with a different request: " + what +
		"; a key may only be reused to retry the identical request, so send a new X-Request-ID for a new request"
}

// Unwrap lets errors.Is(err, ErrConflict) match.
func (e *IdempotencyConflictError) Unwrap() error { return ErrConflict }

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
		err := db.withTx(ctx, func(tx *sql.Tx) error {
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
