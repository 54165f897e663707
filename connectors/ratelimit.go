package connectors

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"sentryhub/clock"
)

// Budget is an upstream's report of how much rate-limit budget is left,
// read from a response by a BudgetReader.
type Budget struct {
	// Remaining is what is left (requests, or cost points for Shopify).
	Remaining float64
	// Threshold overrides HTTPConfig.SlowdownThreshold when positive (a
	// provider that knows the cost of its next request sets it).
	Threshold float64
	// RestorePerSecond is how fast the budget refills (leaky bucket), when
	// known.
	RestorePerSecond float64
	// ResetIn is when the budget window resets, when known.
	ResetIn time.Duration
}

// BudgetReader reads the remaining budget from a response; false when the
// response does not report one. now is the client's clock.
type BudgetReader func(resp *Response, now time.Time) (Budget, bool)

// HeaderBudget reads the common X-RateLimit-Remaining header, with
// X-RateLimit-Reset as seconds until the reset (or a Unix time, when it is
// that large). It is every client's default reader.
func HeaderBudget(resp *Response, now time.Time) (Budget, bool) {
	rem, ok := headerFloat(resp.Header, "X-RateLimit-Remaining")
	if !ok {
		return Budget{}, false
	}
	b := Budget{Remaining: rem}
	if reset, ok := headerFloat(resp.Header, "X-RateLimit-Reset"); ok && reset > 0 {
		if reset > 1e9 { // a Unix timestamp
			b.ResetIn = time.Unix(int64(reset), 0).Sub(now)
		} else {
			b.ResetIn = time.Duration(reset * float64(time.Second))
		}
	}
	return b, true
}

// BigCommerceBudget reads BigCommerce's X-Rate-Limit-Requests-Left and
// X-Rate-Limit-Time-Reset-Ms headers.
func BigCommerceBudget(resp *Response, _ time.Time) (Budget, bool) {
	left, ok := headerFloat(resp.Header, "X-Rate-Limit-Requests-Left")
	if !ok {
		return Budget{}, false
	}
	b := Budget{Remaining: left}
	if ms, ok := headerFloat(resp.Header, "X-Rate-Limit-Time-Reset-Ms"); ok && ms > 0 {
		b.ResetIn = time.Duration(ms * float64(time.Millisecond))
	}
	return b, true
}

func headerFloat(h http.Header, name string) (float64, bool) {
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, false
	}
	return f, true
}

// pacer spaces the requests of one connector + warehouse when the upstream
// reports its budget running low: the proactive slowdown that keeps a sync
// from hitting 429s at all.
type pacer struct {
	mu        sync.Mutex
	notBefore time.Time
}

// observe pushes the next request back when b is below the threshold: by
// the time the budget needs to refill to the threshold, or by the reset
// window spread over what is left.
func (p *pacer) observe(now time.Time, b Budget, cfg *HTTPConfig) time.Duration {
	threshold := cfg.SlowdownThreshold
	if b.Threshold > 0 {
		threshold = b.Threshold
	}
	if b.Remaining >= threshold {
		return 0
	}
	var d time.Duration
	switch {
	case b.RestorePerSecond > 0:
		d = time.Duration((threshold - b.Remaining) / b.RestorePerSecond * float64(time.Second))
	case b.ResetIn > 0:
		d = time.Duration(float64(b.ResetIn) / (b.Remaining + 1))
	default:
		d = cfg.BaseBackoff
	}
	d = min(max(d, 0), cfg.MaxSlowdown)
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := now.Add(d); t.After(p.notBefore) {
		p.notBefore = t
	}
	return d
}

// wait blocks until the paced time, or ctx ends.
func (p *pacer) wait(ctx context.Context, c clock.Clock) error {
	p.mu.Lock()
	d := p.notBefore.Sub(c.Now())
	p.mu.Unlock()
	if d <= 0 {
		return ctx.Err()
	}
	return clock.Sleep(ctx, c, d)
}

// ParseRetryAfter parses a Retry-After value: delay-seconds or an HTTP-date
// (RFC 9110 10.2.3), relative to now. A date in the past is zero. It
// returns false for anything else (negative, fractional or absurd numbers,
// garbage).
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d := t.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}
