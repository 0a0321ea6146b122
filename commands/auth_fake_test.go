package commands_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/projections/memory"
)

var _ commands.AuthState = (*memory.View)(nil)

// fakeLog is an in-memory event log that enforces appends' expectations as
// JetStream does (last sequence on a subject or a wildcard filter).
type fakeLog struct {
	mu  sync.Mutex
	evs []dojot.Event
}

func (l *fakeLog) Append(_ context.Context, ev dojot.Event) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !ev.NoExpect {
		filter := ev.ExpectSubject
		if filter == "" {
			filter = ev.Subject()
		}
		var last uint64
		for _, e := range l.evs {
			if matchSubject(filter, e.Subject()) {
				last = e.Seq
			}
		}
		if last != ev.Expect {
			return 0, fmt.Errorf("wrong last sequence %d on %s, want %d: %w", ev.Expect, filter, last, dojot.ErrConflict)
		}
	}
	ev.Seq = uint64(len(l.evs) + 1)
	l.evs = append(l.evs, ev)
	return ev.Seq, nil
}

func (l *fakeLog) AppendBatch(ctx context.Context, evs []dojot.Event) ([]uint64, []error) {
	seqs, errs := make([]uint64, len(evs)), make([]error, len(evs))
	for i, ev := range evs {
		seqs[i], errs[i] = l.Append(ctx, ev)
	}
	return seqs, errs
}

func (l *fakeLog) events() []dojot.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]dojot.Event(nil), l.evs...)
}

func (l *fakeLog) count(typ string) int {
	n := 0
	for _, ev := range l.events() {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

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

// follower is one instance's view of the log: it applies events only when
// the command handler syncs or waits, as a projection runner would.
type follower struct {
	log  *fakeLog
	view *memory.View
	mu   sync.Mutex
	next int
}

func (f *follower) WaitFor(ctx context.Context, seq uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ev := range f.log.events()[f.next:] {
		if ev.Seq > seq {
			break
		}
		if err := f.view.Apply(ctx, ev); err != nil {
			return err
		}
		f.next++
	}
	return nil
}

func (f *follower) Sync(ctx context.Context) error { return f.WaitFor(ctx, ^uint64(0)) }

// instance is one platform instance on the shared log.
func instance(t *testing.T, log *fakeLog) (*commands.Auth, *memory.View) {
	t.Helper()
	v := memory.New()
	f := &follower{log: log, view: v}
	if err := f.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	a := commands.NewAuth(commands.Options{Store: log, Sync: f, Now: fixedNow}, v)
	a.BcryptCost = bcrypt.MinCost
	return a, v
}

var t0 = time.Date(2018, 1, 3, 12, 49, 25, 717374000, time.UTC)

func fixedNow() time.Time { return t0 }

// asAdmin is the context of a request by the bootstrap admin (user id 1).
func asAdmin(t *testing.T) context.Context {
	return dojot.WithIdentity(t.Context(), dojot.Identity{Tenant: "admin", Username: "admin", UserID: 1})
}
