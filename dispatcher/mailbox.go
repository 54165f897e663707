package dispatcher

import "sync"

// mailbox is an unbounded FIFO between goroutines that never blocks the
// sender: a put appends under a mutex and leaves a token in a one-slot
// signal channel. Two loops that message each other through mailboxes
// cannot deadlock, which two loops sending on bounded channels can.
// Boundedness comes from elsewhere (max in-flight, the pending ceiling, the
// engine's backlog check).
type mailbox[T any] struct {
	mu     sync.Mutex
	items  []T
	signal chan struct{}
}

func newMailbox[T any]() *mailbox[T] {
	return &mailbox[T]{signal: make(chan struct{}, 1)}
}

func (m *mailbox[T]) put(v T) {
	m.mu.Lock()
	m.items = append(m.items, v)
	m.mu.Unlock()
	select {
	case m.signal <- struct{}{}:
	default:
	}
}

// take returns everything queued, oldest first.
func (m *mailbox[T]) take() []T {
	m.mu.Lock()
	defer m.mu.Unlock()
	items := m.items
	m.items = nil
	return items
}
