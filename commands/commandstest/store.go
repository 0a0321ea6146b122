package commandstest

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/dojot-es/dojot"
)

// Applier is what Store applies stored events to: a projection's view, such
// as *memory.View.
type Applier interface {
	Apply(ctx context.Context, ev dojot.Event) error
}

// Store is an in-memory commands.Store. It checks each event's expectation
// as the eventstore does on JetStream: the last sequence on the event's
// subject, or on ExpectSubject (a subject or a filter with '*' tokens, such
// as evt.t1.template.*), must be Expect, unless NoExpect is set; a failed
// expectation is an error wrapping dojot.ErrConflict. Each stored event is
// numbered from 1 and applied to View, when set, before Append returns, so
// Syncer is all a command needs to wait for it. The zero Store is empty and
// ready to use.
type Store struct {
	View Applier
	// AppendFn, when set, is called with each event before its expectation
	// is checked. An error it returns is Append's, and the event is not
	// stored: a test forces a conflict with it.
	AppendFn func(ev dojot.Event) error

	mu   sync.Mutex
	evs  []dojot.Event
	last map[string]uint64 // subject -> last sequence on it
}

// Append stores ev if its expectation holds and returns its sequence.
func (s *Store) Append(ctx context.Context, ev dojot.Event) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.AppendFn != nil {
		if err := s.AppendFn(ev); err != nil {
			return 0, err
		}
	}
	if !ev.NoExpect {
		filter := ev.ExpectSubject
		if filter == "" {
			filter = ev.Subject()
		}
		if last := s.lastOn(filter); last != ev.Expect {
			return 0, fmt.Errorf("append %s %s: expected last sequence %d on %s, last is %d: %w",
				ev.Type, ev.Subject(), ev.Expect, filter, last, dojot.ErrConflict)
		}
	}
	ev.Seq = uint64(len(s.evs) + 1)
	s.evs = append(s.evs, ev)
	if s.last == nil {
		s.last = map[string]uint64{}
	}
	s.last[ev.Subject()] = ev.Seq
	if s.View == nil {
		return ev.Seq, nil
	}
	return ev.Seq, s.View.Apply(ctx, ev)
}

// AppendBatch appends evs one by one.
func (s *Store) AppendBatch(ctx context.Context, evs []dojot.Event) ([]uint64, []error) {
	seqs, errs := make([]uint64, len(evs)), make([]error, len(evs))
	for i, ev := range evs {
		seqs[i], errs[i] = s.Append(ctx, ev)
	}
	return seqs, errs
}

// Events returns a copy of the stored events, in order.
func (s *Store) Events() []dojot.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]dojot.Event(nil), s.evs...)
}

// LoadBefore returns up to n events of one aggregate stored before
// sequence before (0: up to the newest), newest first, as
// eventstore.Store's LoadBefore does.
func (s *Store) LoadBefore(_ context.Context, tenant, kind, id string, before uint64, n int) ([]dojot.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	subj := dojot.Subject(tenant, kind, id)
	out := []dojot.Event{}
	for i := len(s.evs) - 1; i >= 0 && len(out) < n; i-- {
		if ev := s.evs[i]; ev.Subject() == subj && (before == 0 || ev.Seq < before) {
			out = append(out, ev)
		}
	}
	return out, nil
}

// Count returns how many stored events are of type typ.
func (s *Store) Count(typ string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ev := range s.evs {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

// lastOn is the last sequence on the subjects filter matches (0: none).
func (s *Store) lastOn(filter string) uint64 {
	if !strings.Contains(filter, "*") {
		return s.last[filter]
	}
	var last uint64
	for subj, seq := range s.last {
		if matchSubject(filter, subj) {
			last = max(last, seq)
		}
	}
	return last
}

// matchSubject reports whether subject matches filter, where a '*' token
// matches any one token.
func matchSubject(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	if len(f) != len(s) {
		return false
	}
	for i := range f {
		if f[i] != "*" && f[i] != s[i] {
			return false
		}
	}
	return true
}

// Syncer is a commands.Syncer for a view that Store applies events to
// before Append returns: WaitFor and Sync return at once.
type Syncer struct{}

func (Syncer) WaitFor(context.Context, uint64) error { return nil }
func (Syncer) Sync(context.Context) error            { return nil }
