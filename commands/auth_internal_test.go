package commands

import (
	"context"
	"testing"

	"github.com/dojot-es/dojot"
)

func TestSubjectMatches(t *testing.T) {
	tests := []struct {
		filter, subject string
		want            bool
	}{
		{"evt.dojot-management.user.*", "evt.dojot-management.user.bob", true},
		{"evt.dojot-management.user.*", "evt.dojot-management.group.1", false},
		{"evt.dojot-management.user.*", "evt.dojot-management.user", false},
		{"evt.acme.tenant.acme", "evt.acme.tenant.acme", true},
		{"evt.acme.tenant.acme", "evt.acme.tenant.acm", false},
		{"evt.>", "evt.a.b.c", true},
		{"evt.>", "evt", false},
	}
	for _, tt := range tests {
		if got := subjectMatches(tt.filter, tt.subject); got != tt.want {
			t.Errorf("subjectMatches(%q, %q) = %v, want %v", tt.filter, tt.subject, got, tt.want)
		}
	}
}

type recordStore struct{ got []dojot.Event }

func (s *recordStore) Append(_ context.Context, ev dojot.Event) (uint64, error) {
	s.got = append(s.got, ev)
	return uint64(100 + len(s.got)), nil
}

func (s *recordStore) AppendBatch(context.Context, []dojot.Event) ([]uint64, []error) {
	panic("not used")
}

// Within one batch, an event whose expectation covers an earlier event of
// the batch expects that event's sequence.
func TestAuthAppendChains(t *testing.T) {
	kind := dojot.Subject(dojot.ManagementTenant, dojot.KindPermission, "*")
	evs := []dojot.Event{
		{Tenant: "acme", Kind: dojot.KindTenant, AggregateID: "acme", Expect: 7},
		{Tenant: dojot.ManagementTenant, Kind: dojot.KindPermission, AggregateID: "1", ExpectSubject: kind, Expect: 9},
		{Tenant: dojot.ManagementTenant, Kind: dojot.KindPermission, AggregateID: "2", ExpectSubject: kind, Expect: 9},
		{Tenant: dojot.ManagementTenant, Kind: dojot.KindGroup, AggregateID: "1", Expect: 0},
		{Tenant: dojot.ManagementTenant, Kind: dojot.KindGroup, AggregateID: "1", Expect: 0},
	}
	st := &recordStore{}
	seqs, err := authAppend(t.Context(), st, evs)
	if err != nil || len(seqs) != 5 {
		t.Fatal(seqs, err)
	}
	for i, want := range []uint64{7, 9, 102, 0, 104} {
		if got := st.got[i].Expect; got != want {
			t.Errorf("event %d expects %d, want %d", i, got, want)
		}
	}
}
