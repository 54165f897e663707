package dispatcher

import (
	"sync"
	"sync/atomic"
	"time"

	"sentryhub/broadcast"
	"sentryhub/store"
)

// record is one change to a delivery, sent by an actor to the completer.
type record struct {
	sub      int64
	upd      store.DeliveryUpdate
	mark     bool // in-flight mark, superseded by a later outcome
	terminal bool // succeeded or dead: leaves the open count
	dead     bool
	// outcome marks an attempt's result, a dead-letter transition or
	// (state) a report without a delivery change: stuck is then the
	// actor's stuck() right after it, when it had applied seq batches of
	// new deliveries (see subState.handed).
	outcome   bool
	state     bool
	stuck     bool
	seq       int64
	successAt time.Time
	failureAt time.Time
	kind      store.ErrorKind
	status    int
}

// completer is all an actor knows of where its results go (river's
// JobCompleter): it records them for a later group commit, and says when
// the actor should hold back new sends until a commit catches up.
type completer interface {
	// record queues a delivery change; it never blocks.
	record(r record)
	// backlogged reports whether too many records wait uncommitted.
	backlogged() bool
	// committed returns a channel closed after the next commit.
	committed() <-chan struct{}
}

// batchCompleter is the engine's completer: records queue in memory until
// the engine takes them into its next transaction. A full batch cuts the
// engine's linger short.
type batchCompleter struct {
	batch      int   // records that make a full batch (Config.CommitBatch)
	maxBacklog int64 // Config.MaxBacklog
	poke       func()

	mu      sync.Mutex
	records []record
	full    chan struct{} // one slot: a batch is ready, stop lingering
	backlog atomic.Int64  // records queued, not yet committed
	drained broadcast.Broadcast
}

func newBatchCompleter(batch, maxBacklog int, poke func()) *batchCompleter {
	return &batchCompleter{batch: batch, maxBacklog: int64(maxBacklog), poke: poke, full: make(chan struct{}, 1)}
}

func (c *batchCompleter) record(r record) {
	c.mu.Lock()
	c.records = append(c.records, r)
	n := len(c.records)
	c.mu.Unlock()
	c.backlog.Add(1)
	c.poke()
	if n >= c.batch {
		select {
		case c.full <- struct{}{}:
		default:
		}
	}
}

// backlogged: actors wait for the engine to commit before starting more
// sends, so outcomes cannot pile up without bound when the disk is slower
// than the consumers.
func (c *batchCompleter) backlogged() bool { return c.backlog.Load() > c.maxBacklog }

func (c *batchCompleter) committed() <-chan struct{} { return c.drained.Wait() }

// isFull reports whether a whole batch is queued.
func (c *batchCompleter) isFull() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.records) >= c.batch
}

// take returns the queued records, oldest first.
func (c *batchCompleter) take() []record {
	c.mu.Lock()
	defer c.mu.Unlock()
	recs := c.records
	c.records = nil
	return recs
}

// done reports that n records taken earlier committed, and wakes the
// actors waiting for it.
func (c *batchCompleter) done(n int) {
	c.backlog.Add(-int64(n))
	c.drained.Fire()
}
