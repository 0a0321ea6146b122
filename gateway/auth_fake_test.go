package gateway

import (
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/projections/memory"
)

var (
	_ authCommands = (*commands.Auth)(nil)
	_ authView     = memory.Reads{}
)

// eventTypes lists "<type> <tenant>" for each event.
func eventTypes(evs []dojot.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type+" "+ev.Tenant)
	}
	return out
}

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// authServer is a gateway on a bootstrapped platform (admin/admin) whose
// clock is *now.
func authServer(t testing.TB) (*Server, *commandstest.Store, *time.Time) {
	t.Helper()
	v := memory.New()
	log := &commandstest.Store{View: v}
	now := time.Now()
	clock := func() time.Time { return now }
	a := commands.NewAuth(commands.Options{Store: log, Sync: commandstest.Syncer{}, Now: clock}, v)
	a.BcryptCost = bcrypt.MinCost
	if _, err := a.Bootstrap(t.Context(), "admin"); err != nil {
		t.Fatal(err)
	}
	s := New(Options{AuthCommands: a, AuthView: v.Reads(), JWTSecret: testSecret, Now: clock})
	return s, log, &now
}
