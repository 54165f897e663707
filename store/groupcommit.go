package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// maxGroup caps how many operations share one commit, so one batch cannot
// hold the writer (and its callers' latency) for long.
const maxGroup = 64

// groupCommit batches concurrent write operations into one transaction.
//
// SQLite has one writer, so concurrent operations queue for it anyway; the
// commit is a large, fixed share of a small operation's cost. Whoever finds
// no batch running becomes the leader: it takes every queued operation, runs
// each inside its own SAVEPOINT (a failing operation rolls back alone and
// reports its own error), commits once, and wakes the callers. If more
// operations queued meanwhile, the first of them leads the next batch, so no
// caller waits for more than its own batch and the one before it. No
// goroutine is started: leaders are callers.
type groupCommit struct {
	mu      sync.Mutex
	queue   []*pendingOp
	leading bool
}

// pendingOp is one caller's operation waiting for, or done by, a batch.
type pendingOp struct {
	ctx  context.Context
	fn   func(w *writeTx) error
	wake chan struct{} // receives once: finished, or promoted to leader
	done bool          // set by the leader before waking
	// promoted is set (under groupCommit.mu) when op is chosen to lead the
	// next batch: its caller must lead even if its ctx has ended.
	promoted bool
	ids      []int64
	err      error
}

// update runs fn in a write transaction, possibly shared with concurrent
// operations, and returns once that transaction committed (or fn failed, in
// which case none of fn's writes remain), and returns the ids of the events
// fn appended. The commit fires DB.Changed.
//
// fn must confine itself to w: it may run inside a savepoint of another
// caller's transaction. A ctx that ends while fn is queued withdraws it;
// once fn starts it runs to completion (w ignores cancellation), because
// interrupting SQLite mid-statement would roll back the whole shared
// transaction. A panic in fn is returned as fn's error, never left to
// strand the callers behind it.
func (db *DB) update(ctx context.Context, fn func(w *writeTx) error) ([]int64, error) {
	op := &pendingOp{ctx: ctx, fn: fn, wake: make(chan struct{}, 1)}
	g := &db.group
	g.mu.Lock()
	g.queue = append(g.queue, op)
	if g.leading {
		g.mu.Unlock()
		select {
		case <-op.wake:
		case <-ctx.Done():
			g.mu.Lock()
			taken := op.done || op.promoted || !slices.Contains(g.queue, op)
			if !taken {
				g.queue = slices.DeleteFunc(g.queue, func(o *pendingOp) bool { return o == op })
			}
			g.mu.Unlock()
			if !taken {
				return nil, ctx.Err()
			}
			<-op.wake // a leader has it, or hands this caller the lead
		}
		if op.done {
			return op.ids, op.err
		}
		// Promoted: op is at the head of the queue and this caller leads.
	} else {
		g.leading = true
		g.mu.Unlock()
	}
	db.lead()
	return op.ids, op.err
}

// lead runs one batch from the head of the queue and hands the lead to the
// next queued caller, if any. The hand-off is deferred so that even a
// failure inside commitBatch cannot leave the queue without a leader.
func (db *DB) lead() {
	g := &db.group
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()

	defer func() {
		p := recover()
		if p != nil {
			for _, o := range batch {
				if o.err == nil {
					o.err, o.ids = fmt.Errorf("group commit failed: %v", p), nil
				}
			}
		}
		g.mu.Lock()
		var next *pendingOp
		if len(g.queue) > 0 {
			next = g.queue[0]
			next.promoted = true
		} else {
			g.leading = false
			g.queue = nil // let the backing array go
		}
		for _, o := range batch {
			o.done = true
			o.wake <- struct{}{} // buffered: the leader's own op included
		}
		g.mu.Unlock()
		if next != nil {
			next.wake <- struct{}{} // not done: it leads the next batch
		}
		if p != nil {
			panic(p) // the batch is answered and the lead handed on
		}
	}()
	db.commitBatch(batch)
}

// commitBatch runs batch in one transaction and sets each op's outcome.
func (db *DB) commitBatch(batch []*pendingOp) {
	fail := func(ops []*pendingOp, err error) {
		for _, o := range ops {
			if o.err == nil {
				o.err, o.ids = err, nil
			}
		}
	}
	// The transaction outlives any one caller's context (see update).
	ctx := context.WithoutCancel(batch[0].ctx)
	stmts, err := db.writeStmts(ctx)
	if err != nil {
		fail(batch, err)
		return
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		fail(batch, fmt.Errorf("begin: %w", interpretError(err)))
		return
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	// Savepoints only when there is something to isolate from.
	single := len(batch) == 1
	bound := make(map[string]*sql.Stmt, 8) // statements bound to tx, shared by the batch
	var ok []*pendingOp
	var head int64 // the batch's last event_id
	for i, o := range batch {
		if err := o.ctx.Err(); err != nil {
			o.err = err
			continue
		}
		octx := context.WithoutCancel(o.ctx)
		if !single {
			if _, err := tx.ExecContext(octx, "SAVEPOINT op"); err != nil {
				fail(batch[i:], fmt.Errorf("savepoint: %w", interpretError(err)))
				fail(ok, fmt.Errorf("savepoint: %w", interpretError(err)))
				return
			}
		}
		// Stored times have millisecond precision; truncating here makes what
		// an operation returns equal what a later read returns.
		now := db.now().Truncate(time.Millisecond)
		w := &writeTx{db: db, tx: tx, ctx: octx, now: now, nowText: formatTime(now), prepared: stmts, bound: bound}
		if err := runOpFn(o.fn, w); err != nil {
			o.err = err
			if single {
				return // nothing else to commit; the deferred Rollback undoes fn
			}
			// Undo fn's writes, keep the batch's others.
			_, rbErr := tx.ExecContext(octx, "ROLLBACK TO op")
			if rbErr == nil {
				_, rbErr = tx.ExecContext(octx, "RELEASE op")
			}
			if rbErr != nil {
				// The transaction is unusable (SQLite rolled it back on
				// a hard error): nothing in the batch can commit.
				err := fmt.Errorf("roll back failed operation: %w", errors.Join(err, interpretError(rbErr)))
				fail(batch[i+1:], err)
				fail(ok, err)
				return
			}
			continue
		}
		if !single {
			if _, err := tx.ExecContext(octx, "RELEASE op"); err != nil {
				err = fmt.Errorf("release savepoint: %w", interpretError(err))
				fail(batch[i:], err)
				fail(ok, err)
				return
			}
		}
		o.ids = w.eventIDs
		if n := len(w.eventIDs); n > 0 {
			head = w.eventIDs[n-1]
		}
		ok = append(ok, o)
	}
	if len(ok) == 0 {
		return
	}
	if err := tx.Commit(); err != nil {
		fail(ok, fmt.Errorf("commit: %w", interpretError(err)))
		return
	}
	db.committed(head)
}

// runOpFn calls fn, turning a panic into an error so one bad operation
// fails alone instead of stranding its batch.
func runOpFn(fn func(w *writeTx) error, w *writeTx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("operation panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(w)
}
