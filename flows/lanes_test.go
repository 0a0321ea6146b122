package flows

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLanesOrderPerKey(t *testing.T) {
	l := NewLanes(4, 64)
	var mu sync.Mutex
	got := map[string][]int{}
	var running, maxRunning atomic.Int32
	for i := range 400 {
		key := fmt.Sprintf("dev%d", i%7)
		l.Do(t.Context(), key, func() {
			if n := running.Add(1); n > maxRunning.Load() {
				maxRunning.Store(n)
			}
			mu.Lock()
			got[key] = append(got[key], i)
			mu.Unlock()
			running.Add(-1)
		})
	}
	l.Wait()
	for key, seq := range got {
		for k := 1; k < len(seq); k++ {
			if seq[k] < seq[k-1] {
				t.Fatalf("%s ran out of order: %v", key, seq)
			}
		}
	}
	if n := len(got["dev0"]) + len(got["dev6"]); n != 58+57 {
		t.Errorf("ran %d of dev0 and dev6", n)
	}
	if maxRunning.Load() > 4 {
		t.Errorf("%d ran at once, want at most 4", maxRunning.Load())
	}
}

// TestLanesSlowKey: a blocked device does not hold up the others.
func TestLanesSlowKey(t *testing.T) {
	l := NewLanes(2, 100)
	release := make(chan struct{})
	l.Do(t.Context(), "slow", func() { <-release })
	l.Do(t.Context(), "slow", func() {})
	done := make(chan struct{})
	var n atomic.Int32
	for range 50 {
		l.Do(t.Context(), "fast", func() {
			if n.Add(1) == 50 {
				close(done)
			}
		})
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the fast device waited for the slow one")
	}
	close(release)
	l.Wait()
}

// TestLanesBackpressure: Do blocks when MaxPending items are in, and gives
// up with the context.
func TestLanesBackpressure(t *testing.T) {
	l := NewLanes(1, 2)
	release := make(chan struct{})
	l.Do(t.Context(), "a", func() { <-release })
	l.Do(t.Context(), "a", func() {}) // queued behind the blocked one
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := l.Do(ctx, "c", func() {}); err == nil {
		t.Error("Do did not block with 2 of 2 pending")
	}
	close(release)
	if err := l.Do(t.Context(), "c", func() {}); err != nil {
		t.Error(err)
	}
	l.Wait()
}
