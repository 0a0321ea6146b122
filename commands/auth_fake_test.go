package commands_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/projections/memory"
)

var _ commands.AuthState = (*memory.View)(nil)

// follower is one instance's view of the log: it applies events only when
// the command handler syncs or waits, as a projection runner would.
type follower struct {
	log  *commandstest.Store
	view *memory.View
	mu   sync.Mutex
	next int
}

func (f *follower) WaitFor(ctx context.Context, seq uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ev := range f.log.Events()[f.next:] {
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
func instance(t *testing.T, log *commandstest.Store) (*commands.Auth, *memory.View) {
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
