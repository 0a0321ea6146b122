package flows

import (
	"context"
	"sync"
)

// Lanes runs work in one lane per key (a device): the work of a key runs
// in submission order, one at a time, and lanes run in parallel on at
// most Workers goroutines. A slow http node then delays only its own
// device, where one consumer per partition would stall every device of
// the partition behind it. Do blocks once MaxPending submissions are
// waiting or running: backpressure for the consumer feeding it, never
// unbounded memory.
type Lanes struct {
	workers chan struct{}
	slots   chan struct{}
	mu      sync.Mutex
	lanes   map[string]*lane
	wg      sync.WaitGroup
}

type lane struct{ queue []func() }

// laneBurst is how many items a lane runs before it lets another lane
// have its worker, so a busy device cannot starve the others.
const laneBurst = 32

// NewLanes returns Lanes with at most workers lanes running at once and at
// most maxPending items submitted and not finished.
func NewLanes(workers, maxPending int) *Lanes {
	if workers < 1 {
		workers = 1
	}
	if maxPending < workers {
		maxPending = workers
	}
	return &Lanes{workers: make(chan struct{}, workers), slots: make(chan struct{}, maxPending), lanes: map[string]*lane{}}
}

// Do queues fn on key's lane. It returns once fn is queued (not run), or
// with ctx's error when ctx ends while it waits for room.
func (l *Lanes) Do(ctx context.Context, key string, fn func()) error {
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	l.mu.Lock()
	if ln, ok := l.lanes[key]; ok {
		ln.queue = append(ln.queue, fn)
		l.mu.Unlock()
		return nil
	}
	ln := &lane{queue: []func(){fn}}
	l.lanes[key] = ln
	l.mu.Unlock()
	l.wg.Add(1)
	go l.drain(key, ln)
	return nil
}

func (l *Lanes) drain(key string, ln *lane) {
	defer l.wg.Done()
	for {
		l.workers <- struct{}{}
		for range laneBurst {
			l.mu.Lock()
			if len(ln.queue) == 0 {
				delete(l.lanes, key)
				l.mu.Unlock()
				<-l.workers
				return
			}
			fn := ln.queue[0]
			ln.queue[0] = nil
			ln.queue = ln.queue[1:]
			l.mu.Unlock()
			fn()
			<-l.slots
		}
		<-l.workers // back of the line: other lanes get a turn
	}
}

// Wait returns when everything submitted so far has run.
func (l *Lanes) Wait() { l.wg.Wait() }
