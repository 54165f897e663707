package fakekit

import "sync"

// Switches are the faults a test turns on in a fake. The zero value is off.
type Switches struct {
	mu         sync.Mutex
	throttle   int
	dropWrites bool
	throttled  int
	rejecting  bool
}

// ThrottleNext makes the next n API requests answer the provider's
// throttling response.
func (s *Switches) ThrottleNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = n
}

// TakeThrottle reports whether this request is to be throttled, using up
// one of the throttled requests.
func (s *Switches) TakeThrottle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.throttle <= 0 {
		return false
	}
	s.throttle--
	s.throttled++
	return true
}

// Throttled is how many requests were throttled so far.
func (s *Switches) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// DropWrites makes writes answer as if they succeeded without keeping the
// change, so a verification read disagrees and the writer must roll back.
func (s *Switches) DropWrites(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropWrites = on
}

// Dropping reports whether writes are being dropped.
func (s *Switches) Dropping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropWrites
}

// Reject makes the fake refuse every credential from now on, echoing the
// credential it was sent in its error body, as some real APIs do: a client
// must not let that body reach its logs or results.
func (s *Switches) Reject() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejecting = true
}

// Rejecting reports whether Reject was called.
func (s *Switches) Rejecting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rejecting
}
