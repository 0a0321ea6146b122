package tickets_test

import (
	"errors"
	"testing"

	"github.com/dojot-es/dojot/kafkaws/tickets"
)

// FuzzRedeem: whatever a client sends as ?ticket=, Redeem answers
// ErrInvalid unless it is the one ticket issued, and never panics.
func FuzzRedeem(f *testing.F) {
	m := tickets.NewMemory()
	f.Cleanup(func() { _ = m.Close() })
	i := tickets.NewIssuer(m, secret, 0)
	issued, err := i.Issue(f.Context(), aliceHere)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(issued[:63] + "0")
	f.Add("")
	f.Add("ticket:" + issued)
	f.Fuzz(func(t *testing.T, s string) {
		if s == issued {
			return // the real one is used up on first sight; not the point here
		}
		if c, err := i.Redeem(t.Context(), s); !errors.Is(err, tickets.ErrInvalid) {
			t.Errorf("Redeem(%q) = %+v, %v; want ErrInvalid", s, c, err)
		}
	})
}
