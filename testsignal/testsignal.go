// Package testsignal lets tests wait for events inside production code
// without sleeping or polling (the idea of river's internal testsignal).
//
// A component declares a Signal field for each event a test may wait for
// and calls Signal at the point the event happens. The zero Signal is a
// no-op, so production pays one nil check; a test calls Init before the
// component starts and then waits with WaitOrTimeout or C.
//
// The package does not import testing, so linking it into the binary costs
// nothing beyond the calls.
package testsignal

import (
	"fmt"
	"time"
)

// DefaultSize is the buffer Init gives a signal.
const DefaultSize = 1024

// Timeout bounds WaitOrTimeout: long enough for a loaded CI machine, short
// enough that a missing event fails the test instead of the test binary.
const Timeout = 20 * time.Second

// TB is the part of testing.TB a signal uses.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Signal carries values of type T from the code under test to the test.
// Init it before the goroutine that signals starts; copies made after Init
// share its channel.
type Signal[T any] struct {
	ch      chan T
	tb      TB
	name    string
	timeout time.Duration
}

// Init makes the signal live with a buffer of DefaultSize. name says what
// the signal reports, for failure messages ("dispatcher commit").
func (s *Signal[T]) Init(tb TB, name string) { s.InitSize(tb, name, DefaultSize) }

// InitSize is Init with a buffer of size values.
func (s *Signal[T]) InitSize(tb TB, name string, size int) {
	s.ch, s.tb, s.name, s.timeout = make(chan T, size), tb, name, Timeout
}

// Signal sends v if the signal was initialised. It never blocks: when the
// buffer is full (the test does not drain it) the test fails and v is
// dropped, so a forgotten signal cannot stall the code under test.
func (s *Signal[T]) Signal(v T) {
	if s.ch == nil {
		return
	}
	select {
	case s.ch <- v:
	default:
		s.tb.Errorf("testsignal: %s: buffer of %d full; the test must drain the signals it initialises", s.name, cap(s.ch))
	}
}

// C returns the channel values arrive on, for a select; nil before Init.
func (s *Signal[T]) C() <-chan T { return s.ch }

// WaitOrTimeout returns the next value, failing the test after Timeout.
func (s *Signal[T]) WaitOrTimeout() T {
	s.tb.Helper()
	select {
	case v := <-s.ch:
		return v
	case <-time.After(s.timeout):
		s.tb.Fatalf("testsignal: timed out after %s waiting for %s", s.timeout, s.name)
	}
	var zero T
	return zero
}

// Until waits until cond holds, checking it now and after each value that
// arrives: the way to wait for state that changes only at a signalled event
// (a row written at a commit). what names the state for the failure message.
// The values are consumed.
func (s *Signal[T]) Until(what string, cond func() bool) {
	s.tb.Helper()
	deadline := time.NewTimer(s.timeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-s.ch:
		case <-deadline.C:
			s.tb.Fatalf("testsignal: timed out after %s waiting for %s (on %s)", s.timeout, what, s.name)
		}
	}
}

// RequireEmpty fails the test if a value is waiting.
func (s *Signal[T]) RequireEmpty() {
	s.tb.Helper()
	select {
	case v := <-s.ch:
		s.tb.Errorf("testsignal: %s: unexpected value %s", s.name, fmt.Sprint(v))
	default:
	}
}
