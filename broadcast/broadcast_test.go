package broadcast

import (
	"sync"
	"testing"
)

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Fire closes the channel every waiter holds, and only that one; the zero
// value works and a Fire nobody waits for is a no-op.
func TestBroadcast(t *testing.T) {
	var b Broadcast
	b.Fire() // nobody waiting
	first := b.Wait()
	if first != b.Wait() {
		t.Fatal("two waits before a fire got different channels")
	}
	if closed(first) {
		t.Fatal("closed before any fire")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-first
		}()
	}
	b.Fire()
	wg.Wait() // every waiter woke
	next := b.Wait()
	if !closed(first) || closed(next) {
		t.Fatal("fire must close the old channel and leave the next one open")
	}
	b.Fire()
	b.Fire()
	if !closed(next) {
		t.Fatal("second channel not closed")
	}
}
