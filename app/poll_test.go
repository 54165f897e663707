package app

import (
	"testing"
	"time"
)

// poll re-checks cond every 20 ms until it holds, failing the test after
// timeout. It is this package's one way to wait for state no signal
// reports: another process (the binary under test, its sink, its lock on
// the data directory) or a page in the browser. Waits on this process's
// own events use their channels instead.
func poll(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
