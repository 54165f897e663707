package dispatcher

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// The engine's linger, in a synctest bubble: its real-time waits run on the
// bubble's fake clock, so each case checks the exact wait, instantly.
func TestLinger(t *testing.T) {
	t.Parallel()
	const commit, outcome = 2 * time.Millisecond, 25 * time.Millisecond
	for _, tc := range []struct {
		name       string
		wake       bool // events were appended before the wait
		moreFanout bool
		during     func(e *engine, cancel context.CancelFunc) // 1 ms into the wait
		want       time.Duration
	}{
		{name: "only outcomes wait OutcomeLinger", want: outcome},
		{name: "appended events wait CommitLinger", wake: true, want: commit},
		{name: "events appended meanwhile shorten the wait", want: commit,
			during: func(e *engine, _ context.CancelFunc) { e.wake.Store(true); e.poke() }},
		{name: "an admin request ends it", want: time.Millisecond,
			during: func(e *engine, _ context.CancelFunc) {
				e.mu.Lock()
				e.requests = append(e.requests, &request{})
				e.mu.Unlock()
				e.poke()
			}},
		{name: "a full batch ends it", want: time.Millisecond,
			during: func(e *engine, _ context.CancelFunc) {
				for range 4 {
					e.comp.record(record{})
				}
			}},
		{name: "a poke with nothing new does not", want: outcome,
			during: func(e *engine, _ context.CancelFunc) { e.poke() }},
		{name: "the end of the context ends it", want: time.Millisecond,
			during: func(_ *engine, cancel context.CancelFunc) { cancel() }},
		{name: "pending fan-out does not wait", moreFanout: true, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEngine(&Dispatcher{cfg: Config{CommitLinger: commit, OutcomeLinger: outcome, CommitBatch: 4, MaxBacklog: 100}})
				e.wake.Store(tc.wake)
				e.moreFanout = tc.moreFanout
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				if tc.during != nil {
					go func() {
						time.Sleep(time.Millisecond)
						tc.during(e, cancel)
					}()
				}
				start := time.Now()
				e.linger(ctx)
				if got := time.Since(start); got != tc.want {
					t.Fatalf("lingered %v, want %v", got, tc.want)
				}
				synctest.Wait()
			})
		})
	}
}
