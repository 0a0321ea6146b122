package gateway

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

var (
	_ authCommands = (*commands.Auth)(nil)
	_ authView     = (*memory.View)(nil)
)

// authLog is an in-memory event store that checks expectations as
// JetStream does and applies every stored event to the view at once, so no
// NATS is needed.
type authLog struct {
	mu   sync.Mutex
	view *memory.View
	evs  []dojot.Event
}

func (l *authLog) Append(ctx context.Context, ev dojot.Event) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !ev.NoExpect {
		filter := ev.ExpectSubject
		if filter == "" {
			filter = ev.Subject()
		}
		var last uint64
		for _, e := range l.evs {
			if subjectIn(filter, e.Subject()) {
				last = e.Seq
			}
		}
		if last != ev.Expect {
			return 0, fmt.Errorf("last sequence %d, want %d: %w", last, ev.Expect, dojot.ErrConflict)
		}
	}
	ev.Seq = uint64(len(l.evs) + 1)
	l.evs = append(l.evs, ev)
	return ev.Seq, l.view.Apply(ctx, ev)
}

func (l *authLog) AppendBatch(ctx context.Context, evs []dojot.Event) ([]uint64, []error) {
	seqs, errs := make([]uint64, len(evs)), make([]error, len(evs))
	for i, ev := range evs {
		seqs[i], errs[i] = l.Append(ctx, ev)
	}
	return seqs, errs
}

func (l *authLog) WaitFor(context.Context, uint64) error { return nil }
func (l *authLog) Sync(context.Context) error            { return nil }

func (l *authLog) types() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, ev := range l.evs {
		out = append(out, ev.Type+" "+ev.Tenant)
	}
	return out
}

func subjectIn(filter, subject string) bool {
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

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// authServer is a gateway on a bootstrapped platform (admin/admin) whose
// clock is *now.
func authServer(t *testing.T) (*Server, *authLog, *time.Time) {
	t.Helper()
	v := memory.New()
	log := &authLog{view: v}
	now := time.Now()
	clock := func() time.Time { return now }
	a := commands.NewAuth(commands.Options{Store: log, Sync: log, Now: clock}, v)
	a.BcryptCost = bcrypt.MinCost
	if _, err := a.Bootstrap(t.Context(), "admin"); err != nil {
		t.Fatal(err)
	}
	s := New(Options{AuthCommands: a, AuthView: v, JWTSecret: testSecret, Now: clock})
	return s, log, &now
}
