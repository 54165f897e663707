// Package clock abstracts time so retry schedules, expiries and throttles can
// run in milliseconds under test.
package clock

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and waits.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has elapsed.
	After(d time.Duration) <-chan time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// At returns a channel that receives once c reaches t. A clock that can
// wait for an absolute time (Fake) does so; any other waits t.Sub(c.Now()).
// Waiting for a deadline rather than a duration read off an earlier Now
// keeps a fake clock moved in between from pushing the wake-up past t.
func At(c Clock, t time.Time) <-chan time.Time {
	if a, ok := c.(deadlineClock); ok {
		return a.At(t)
	}
	return c.After(t.Sub(c.Now()))
}

type deadlineClock interface {
	At(t time.Time) <-chan time.Time
}

// Sleep waits for d on c, returning early with ctx.Err() when ctx ends.
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.After(d):
		return nil
	}
}

// Fake is a manually advanced clock for tests. Its zero value is not usable;
// use NewFake.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	// added is signalled whenever a waiter is registered, so tests can wait
	// for the code under test to block before advancing.
	added chan struct{}
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewFake returns a fake clock set to start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, added: make(chan struct{}, 1024)}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// After registers a waiter that fires when the clock is advanced past d.
func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.atLocked(f.now.Add(d))
}

func (f *Fake) atLocked(t time.Time) <-chan time.Time {
	ch := make(chan time.Time, 1)
	if !t.After(f.now) {
		ch <- f.now
		return ch
	}
	f.waiters = append(f.waiters, waiter{at: t, ch: ch})
	select {
	case f.added <- struct{}{}:
	default:
	}
	return ch
}

// At registers a waiter that fires once the clock reaches t (at once if it
// already has).
func (f *Fake) At(t time.Time) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.atLocked(t)
}

// Advance moves the clock forward by d and fires every due waiter.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	kept := f.waiters[:0]
	for _, w := range f.waiters {
		if !w.at.After(f.now) {
			w.ch <- f.now
			continue
		}
		kept = append(kept, w)
	}
	f.waiters = kept
}

// Set moves the clock to t (forward only) and fires due waiters.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	d := t.Sub(f.now)
	f.mu.Unlock()
	if d > 0 {
		f.Advance(d)
	}
}

// Waiters returns how many After calls are pending.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// WaiterAdded is signalled each time After registers a waiter.
func (f *Fake) WaiterAdded() <-chan struct{} { return f.added }
