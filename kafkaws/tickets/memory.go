package tickets

import (
	"context"
	"errors"
	"sync"
	"time"
)

// sweepEvery bounds how long an expired ticket that nobody takes stays in
// a Memory store's map.
const sweepEvery = time.Second

var errClosed = errors.New("tickets: memory store closed")

// Memory is the embedded default store: a map with expiry. Expired entries
// are never returned and are swept so memory stays bounded by live tickets.
// It only serves the process it lives in, so it fits a single instance of
// the service (see the package comment). Close stops its sweeper.
type Memory struct {
	mu      sync.Mutex
	entries map[string]memoryEntry
	closed  bool

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

type memoryEntry struct {
	payload []byte
	expires time.Time // carries the monotonic clock: wall clock jumps do not matter
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty store with its sweeper running.
func NewMemory() *Memory {
	return newMemory(sweepEvery)
}

func newMemory(every time.Duration) *Memory {
	m := &Memory{
		entries: make(map[string]memoryEntry),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go m.sweep(every)
	return m
}

// Put stores a copy of payload, so the caller may reuse its slice.
func (m *Memory) Put(ctx context.Context, ticket string, payload []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ttl <= 0 {
		return errTTL
	}
	e := memoryEntry{payload: append([]byte(nil), payload...), expires: time.Now().Add(ttl)}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed
	}
	m.entries[ticket] = e
	return nil
}

// Take returns the payload and removes it; ErrNotFound when absent, taken
// or expired.
func (m *Memory) Take(ctx context.Context, ticket string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errClosed
	}
	e, ok := m.entries[ticket]
	if !ok {
		return nil, ErrNotFound
	}
	delete(m.entries, ticket)
	if !time.Now().Before(e.expires) {
		return nil, ErrNotFound
	}
	return e.payload, nil
}

// Close stops the sweeper and drops every ticket; later calls fail. It is
// safe to call more than once.
func (m *Memory) Close() error {
	m.closeOnce.Do(func() {
		close(m.stop)
		<-m.done
		m.mu.Lock()
		m.closed = true
		m.entries = nil
		m.mu.Unlock()
	})
	return nil
}

func (m *Memory) sweep(every time.Duration) {
	defer close(m.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			now := time.Now()
			m.mu.Lock()
			for k, e := range m.entries {
				if !now.Before(e.expires) {
					delete(m.entries, k)
				}
			}
			m.mu.Unlock()
		}
	}
}

// len counts the entries held, expired or not, for tests of the sweeper.
func (m *Memory) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
