package broker

import (
	"context"
	"sync"
	"time"
)

// inProgress is an input that can report it is still being worked on
// (eventstore.WorkItem).
type inProgress interface{ InProgress() }

// holding tracks the inputs an instance holds, from their delivery to
// their ack, so that those held long are reported in progress before the
// consumer's AckWait runs out. Without it an input queued behind a slow
// http node on its device's lane was handed out again while still
// queued: its flows ran twice (the http call made twice), and its outputs
// were stored once only while the second run came within the store's
// de-duplication window.
type holding struct {
	mu    sync.Mutex
	items map[*held]struct{}
}

type held struct {
	item  inProgress
	since time.Time
}

func (h *holding) add(item inProgress) *held {
	e := &held{item: item, since: time.Now()}
	h.mu.Lock()
	if h.items == nil {
		h.items = map[*held]struct{}{}
	}
	h.items[e] = struct{}{}
	h.mu.Unlock()
	return e
}

func (h *holding) remove(e *held) {
	h.mu.Lock()
	delete(h.items, e)
	h.mu.Unlock()
}

// touch reports in progress every input held since before now-age: a
// quick input costs nothing, one held long is touched every tick.
func (h *holding) touch(now time.Time, age time.Duration) int {
	h.mu.Lock()
	var old []inProgress
	for e := range h.items {
		if now.Sub(e.since) >= age {
			old = append(old, e.item)
		}
	}
	h.mu.Unlock()
	for _, it := range old {
		it.InProgress()
	}
	return len(old)
}

// keepAlive touches the inputs held longer than every, every every, until
// ctx is done: with every = AckWait/3 an input is reported at most
// 2/3 AckWait after its delivery or its last report.
func (h *holding) keepAlive(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			h.touch(now, every)
		}
	}
}
