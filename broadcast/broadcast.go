// Package broadcast wakes every goroutine waiting for a change at once.
//
// A Broadcast hands out a channel that is closed at the next Fire and then
// replaced, as litestream's DB.Notify does. A listener takes the channel
// before it looks at the state it watches, so a change that lands while it
// looks closes the channel it is about to wait on and none is missed:
//
//	for {
//		changed := b.Wait()
//		work()
//		select {
//		case <-changed:
//		case <-ctx.Done():
//			return
//		}
//	}
//
// Fire never blocks, however many listeners there are or however slow, and
// a burst of Fires while a listener works wakes it once.
package broadcast

import "sync"

// Broadcast is a closed-and-replaced channel. The zero value is ready to
// use; a Broadcast must not be copied after first use.
type Broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

// Wait returns the channel the next Fire closes.
func (b *Broadcast) Wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

// Fire wakes everyone waiting on the current channel.
func (b *Broadcast) Fire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil { // nil: nobody has asked to wait since the last Fire
		close(b.ch)
		b.ch = nil
	}
}
