package dispatcher

import (
	"math"
	"math/rand/v2"
	"time"
)

// MaxAttempts is how many times a delivery is tried before it is
// dead-lettered.
const MaxAttempts = 8

// DeadLetterDelay is how long after the last attempt's failure a delivery
// is moved to the DLQ, holding its lane until then. It is not jittered:
// the jitter exists to spread retries that hit a consumer, and
// dead-lettering sends nothing.
const DeadLetterDelay = 12 * time.Hour

// JitterFraction is the half-width of the jitter band around each retry
// delay (±10%).
const JitterFraction = 0.10

// RetryDelay returns the nominal delay before attempt n+1 after attempt n
// (1..7) failed: 1s, 4s, 15s, 60s, 5m, 30m, 2h. It returns 0 outside 1..7.
func RetryDelay(n int) time.Duration {
	switch n {
	case 1:
		return time.Second
	case 2:
		return 4 * time.Second
	case 3:
		return 15 * time.Second
	case 4:
		return time.Minute
	case 5:
		return 5 * time.Minute
	case 6:
		return 30 * time.Minute
	case 7:
		return 2 * time.Hour
	}
	return 0
}

// Jitter returns a value in [-1, 1) that scales the jitter band. The
// dispatcher takes it as a function so tests can make schedules exact.
type Jitter func() float64

func defaultJitter() float64 { return rand.Float64()*2 - 1 }

// jittered applies j to d: d * (1 + JitterFraction*j), with j clamped to
// [-1, 1].
func jittered(d time.Duration, j float64) time.Duration {
	j = min(max(j, -1), 1)
	return time.Duration(math.Round(float64(d) * (1 + JitterFraction*j)))
}

// nextAttemptAt returns when the next attempt is due, delay (jittered by
// j) after the attempt that started in the unix second lastSec failed at
// failedAt. The time is also pushed past that attempt's second, so
// X-Sentry-Timestamp, and with it X-Sentry-Delivery-Id, differ between
// attempts as the contract promises (with the contract's delays this can
// only move the first retry, by under 100 ms).
func nextAttemptAt(delay time.Duration, failedAt time.Time, lastSec int64, j float64) time.Time {
	at := failedAt.Add(jittered(delay, j))
	if floor := time.Unix(lastSec+1, 0); at.Before(floor) {
		at = floor
	}
	return at
}
