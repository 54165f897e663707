package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fired reports whether ch, taken from DB.Changed, has been closed.
func fired(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func gcTable(t *testing.T, db *DB) {
	t.Helper()
	if err := db.withTx(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`CREATE TABLE gc_test (v TEXT NOT NULL UNIQUE)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func gcValues(t *testing.T, db *DB) []string {
	t.Helper()
	rows, err := db.r.Query(`SELECT v FROM gc_test ORDER BY v`)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := scanColumn[string](rows)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func scanColumn[T any](rows *sql.Rows) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func insertV(v string) func(w *writeTx) error {
	return func(w *writeTx) error {
		_, err := w.ExecContext(context.Background(), `INSERT INTO gc_test (v) VALUES (?)`, v)
		return err
	}
}

// One batch: each operation commits or rolls back on its own.
func TestGroupCommitBatchIsolation(t *testing.T) {
	db := openTest(t)
	gcTable(t, db)
	changed := db.Changed()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	boom := errors.New("boom")
	ev := NewEvent{EventType: "adjustment.applied", EventVersion: 1, AggregateType: "inventory",
		AggregateID: "7d0b5f5e-3c1a-4c55-9a51-2b2f1a0f0c11", WarehouseID: 1,
		SourceTxnID: "0b9c2f1e-8a41-4f2b-9d7e-1c6c0f3a2e55", Data: []byte(`{"sku":"A"}`)}
	ops := []*pendingOp{
		{ctx: bg, fn: insertV("a")},
		{ctx: bg, fn: func(w *writeTx) error { // writes, then fails: undone
			if err := insertV("b")(w); err != nil {
				return err
			}
			return boom
		}},
		{ctx: bg, fn: insertV("a")},           // unique violation: its own error
		{ctx: cancelled, fn: insertV("skip")}, // cancelled before it started
		{ctx: bg, fn: func(w *writeTx) error {
			if err := insertV("c")(w); err != nil {
				return err
			}
			_, err := w.appendEvent(bg, ev)
			return err
		}},
	}
	db.commitBatch(ops)

	if ops[0].err != nil || ops[4].err != nil {
		t.Fatalf("good ops failed: %v, %v", ops[0].err, ops[4].err)
	}
	if !errors.Is(ops[1].err, boom) {
		t.Fatalf("failing op: %v", ops[1].err)
	}
	if ops[2].err == nil {
		t.Fatal("duplicate insert succeeded")
	}
	if !errors.Is(ops[3].err, context.Canceled) {
		t.Fatalf("cancelled op: %v", ops[3].err)
	}
	if len(ops[4].ids) != 1 || len(ops[0].ids) != 0 {
		t.Fatalf("event ids %v %v", ops[0].ids, ops[4].ids)
	}
	if got := gcValues(t, db); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("committed %v, want [a c]", got)
	}
	if !fired(changed) || db.CommittedEventID() != ops[4].ids[0] {
		t.Fatalf("after the commit: changed fired %v, committed event %d, want %d",
			fired(changed), db.CommittedEventID(), ops[4].ids[0])
	}
}

// A batch whose every operation fails commits nothing and wakes no one.
func TestGroupCommitAllFail(t *testing.T) {
	db := openTest(t)
	gcTable(t, db)
	changed := db.Changed()
	boom := errors.New("boom")
	for _, n := range []int{1, 3} {
		var ops []*pendingOp
		for i := range n {
			ops = append(ops, &pendingOp{ctx: context.Background(), fn: func(w *writeTx) error {
				if err := insertV(fmt.Sprint(n, i))(w); err != nil {
					return err
				}
				return boom
			}})
		}
		db.commitBatch(ops)
		for _, o := range ops {
			if !errors.Is(o.err, boom) {
				t.Fatalf("batch of %d: %v", n, o.err)
			}
		}
	}
	if got := gcValues(t, db); len(got) != 0 {
		t.Fatalf("committed %v", got)
	}
	if fired(changed) || db.CommittedEventID() != 0 {
		t.Fatal("a batch that committed nothing fired Changed")
	}
}

// Many concurrent callers: each gets exactly its own outcome, every
// success is committed and no failure leaves a row.
func TestGroupCommitConcurrentCallers(t *testing.T) {
	db := openTest(t)
	gcTable(t, db)
	const callers, each = 16, 40
	var wg sync.WaitGroup
	errs := make([][]error, callers)
	start := make(chan struct{})
	for c := range callers {
		errs[c] = make([]error, each)
		wg.Go(func() {
			<-start
			for i := range each {
				v := fmt.Sprintf("%02d-%03d", c, i)
				_, errs[c][i] = db.update(context.Background(), func(w *writeTx) error {
					if err := insertV(v)(w); err != nil {
						return err
					}
					if i%3 == 0 {
						return fmt.Errorf("refuse %s", v)
					}
					return nil
				})
			}
		})
	}
	close(start)
	wg.Wait()
	var want []string
	for c := range callers {
		for i := range each {
			v := fmt.Sprintf("%02d-%03d", c, i)
			switch err := errs[c][i]; {
			case i%3 == 0 && (err == nil || err.Error() != "refuse "+v):
				t.Fatalf("%s: got %v, want its own refusal", v, err)
			case i%3 != 0 && err != nil:
				t.Fatalf("%s: %v", v, err)
			case i%3 != 0:
				want = append(want, v)
			}
		}
	}
	if got := gcValues(t, db); !slices.Equal(got, want) {
		t.Fatalf("committed %d rows, want %d", len(got), len(want))
	}
	if db.group.leading || len(db.group.queue) != 0 {
		t.Fatal("group commit left a leader or a queue behind")
	}
}

// A panicking operation fails alone: the others in its batch commit, and
// later writes are not stranded behind a leader that never handed off.
func TestGroupCommitPanic(t *testing.T) {
	db := openTest(t)
	gcTable(t, db)
	ops := []*pendingOp{
		{ctx: context.Background(), fn: insertV("a")},
		{ctx: context.Background(), fn: func(w *writeTx) error {
			if err := insertV("b")(w); err != nil {
				return err
			}
			panic("bug")
		}},
		{ctx: context.Background(), fn: insertV("c")},
	}
	db.commitBatch(ops)
	if ops[0].err != nil || ops[2].err != nil {
		t.Fatalf("neighbours of the panic failed: %v, %v", ops[0].err, ops[2].err)
	}
	if ops[1].err == nil || !strings.Contains(ops[1].err.Error(), "panicked: bug") {
		t.Fatalf("panicking op: %v", ops[1].err)
	}
	// Through update, alone in its batch.
	if _, err := db.update(context.Background(), func(w *writeTx) error { panic("bug again") }); err == nil {
		t.Fatal("panic reported as success")
	}
	if _, err := db.update(context.Background(), insertV("d")); err != nil {
		t.Fatalf("write after a panic: %v", err)
	}
	if got := gcValues(t, db); !slices.Equal(got, []string{"a", "c", "d"}) {
		t.Fatalf("committed %v, want [a c d]", got)
	}
}

// A caller whose context ends while its operation is queued gets ctx.Err()
// at once, its operation never runs, and the queue keeps moving.
func TestGroupCommitCancelledWhileQueued(t *testing.T) {
	db := openTest(t)
	gcTable(t, db)
	release := make(chan struct{})
	started := make(chan struct{})
	leader := make(chan error, 1)
	go func() {
		_, err := db.update(context.Background(), func(w *writeTx) error {
			close(started)
			<-release // holds the lead
			return insertV("a")(w)
		})
		leader <- err
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	queued := make(chan error, 1)
	go func() {
		_, err := db.update(ctx, insertV("b"))
		queued <- err
	}()
	for { // wait until b is queued behind the leader
		db.group.mu.Lock()
		n := len(db.group.queue)
		db.group.mu.Unlock()
		if n == 1 {
			break
		}
		runtime.Gosched()
	}
	cancel()
	if err := <-queued; !errors.Is(err, context.Canceled) {
		t.Fatalf("queued op: %v", err)
	}
	close(release)
	if err := <-leader; err != nil {
		t.Fatal(err)
	}
	if _, err := db.update(context.Background(), insertV("c")); err != nil {
		t.Fatal(err)
	}
	if got := gcValues(t, db); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("committed %v, want [a c]", got)
	}
}

// Once an operation runs, its caller's cancellation cannot interrupt it
// (SQLite would roll back the whole shared transaction).
func TestGroupCommitIgnoresCancellationOnceStarted(t *testing.T) {
	db := openTest(t)
	gcTable(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	ops := []*pendingOp{
		{ctx: context.Background(), fn: insertV("a")},
		{ctx: ctx, fn: func(w *writeTx) error {
			cancel() // the client goes away mid-operation
			return insertV("b")(w)
		}},
		{ctx: context.Background(), fn: insertV("c")},
	}
	db.commitBatch(ops)
	for i, o := range ops {
		if o.err != nil {
			t.Fatalf("op %d: %v", i, o.err)
		}
	}
	if got := gcValues(t, db); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("committed %v", got)
	}
}
