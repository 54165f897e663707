package connectors

import (
	"sync"
	"time"
)

// BreakerState is the state of a circuit breaker.
type BreakerState string

// Breaker states.
const (
	BreakerClosed BreakerState = "closed"
	BreakerOpen   BreakerState = "open"
	// BreakerHalfOpen: the cooldown is over and one probe call may go
	// through; its outcome closes or reopens the breaker.
	BreakerHalfOpen BreakerState = "half_open"
)

// BreakerStatus is a breaker's state for display.
type BreakerStatus struct {
	State               BreakerState `json:"state"`
	ConsecutiveFailures int          `json:"consecutive_failures"`
	OpenedAt            *time.Time   `json:"opened_at,omitempty"`
	RetryAt             *time.Time   `json:"retry_at,omitempty"`
}

// breaker opens after `threshold` consecutive failed calls of one connector
// + warehouse and fails calls fast for `cooldown`; then it lets one probe
// through (half-open) and closes on its success or reopens on its failure.
// A failure is a call that ended transient (5xx, 429, timeouts, connection
// errors) after the helper's own retries; any upstream answer that is not
// (a 4xx included) proves the upstream reachable and resets the count.
type breaker struct {
	mu        sync.Mutex
	threshold int
	cooldown  time.Duration
	failures  int
	open      bool
	openedAt  time.Time
	probing   bool
}

type outcome int

const (
	outcomeNeutral outcome = iota // cancelled, blocked: says nothing about the upstream
	outcomeSuccess
	outcomeFailure
)

// allow decides whether a call may go out. probe is true when the call is
// the half-open probe; its outcome must be reported with probe set.
func (b *breaker) allow(now time.Time) (probe bool, retryAt time.Time, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return false, time.Time{}, true
	}
	until := b.openedAt.Add(b.cooldown)
	if now.Before(until) || b.probing {
		return false, until, false
	}
	b.probing = true
	return true, time.Time{}, true
}

// record reports a call's outcome; it returns true when this outcome opened
// (or reopened) the breaker.
func (b *breaker) record(now time.Time, o outcome, probe bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
	}
	switch o {
	case outcomeSuccess:
		b.failures = 0
		b.open = false
	case outcomeFailure:
		b.failures++
		if (b.open && probe) || (!b.open && b.failures >= b.threshold) {
			b.open = true
			b.openedAt = now
			return true
		}
	}
	return false
}

func (b *breaker) status(now time.Time) BreakerStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := BreakerStatus{State: BreakerClosed, ConsecutiveFailures: b.failures}
	if b.open {
		opened, retry := b.openedAt, b.openedAt.Add(b.cooldown)
		st.OpenedAt, st.RetryAt = &opened, &retry
		st.State = BreakerOpen
		if !now.Before(retry) {
			st.State = BreakerHalfOpen
		}
	}
	return st
}
