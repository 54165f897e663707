package testsignal

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTB records failures; Fatalf ends the calling goroutine as
// testing.T's does.
type fakeTB struct {
	mu   sync.Mutex
	errs []string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) failures() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.errs, "\n")
}

// run calls fn on its own goroutine, as a test body, and waits for it.
func run(fn func()) {
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	<-done
}

func TestZeroSignalIsNoOp(t *testing.T) {
	var s Signal[int]
	s.Signal(1) // must neither block nor panic
	if s.C() != nil {
		t.Fatal("zero signal has a channel")
	}
}

func TestSignalAndWait(t *testing.T) {
	var s Signal[string]
	s.Init(t, "greeting")
	go s.Signal("hello")
	if v := s.WaitOrTimeout(); v != "hello" {
		t.Fatalf("got %q", v)
	}
	s.Signal("again")
	if v := <-s.C(); v != "again" {
		t.Fatalf("got %q", v)
	}
	s.RequireEmpty()
}

func TestFullBufferFailsWithoutBlocking(t *testing.T) {
	var f fakeTB
	var s Signal[int]
	s.InitSize(&f, "outcome", 1)
	s.Signal(1)
	s.Signal(2) // full: reported, dropped, not blocked
	if got := f.failures(); !strings.Contains(got, "outcome: buffer of 1 full") {
		t.Fatalf("failure %q", got)
	}
	if v := <-s.C(); v != 1 {
		t.Fatalf("got %d", v)
	}
}

func TestTimeoutNamesWhatWasAwaited(t *testing.T) {
	var f fakeTB
	var s Signal[int]
	s.Init(&f, "dispatcher commit")
	s.timeout = 10 * time.Millisecond
	run(func() { s.WaitOrTimeout() })
	if got := f.failures(); !strings.Contains(got, "waiting for dispatcher commit") {
		t.Fatalf("failure %q", got)
	}
	run(func() { s.Until("3 deliveries", func() bool { return false }) })
	if got := f.failures(); !strings.Contains(got, "waiting for 3 deliveries (on dispatcher commit)") {
		t.Fatalf("failure %q", got)
	}
	s.Signal(1)
	run(func() { s.RequireEmpty() })
	if got := f.failures(); !strings.Contains(got, "unexpected value 1") {
		t.Fatalf("failure %q", got)
	}
}

func TestUntilChecksAfterEachValue(t *testing.T) {
	var s Signal[struct{}]
	s.Init(t, "commit")
	var mu sync.Mutex
	n := 0
	go func() {
		for range 3 {
			mu.Lock()
			n++
			mu.Unlock()
			s.Signal(struct{}{})
		}
	}()
	checks := 0
	s.Until("three commits", func() bool {
		checks++
		mu.Lock()
		defer mu.Unlock()
		return n == 3
	})
	if checks > 4 {
		t.Fatalf("cond checked %d times for 3 signals", checks)
	}
}
