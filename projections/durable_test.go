package projections_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/projections"
)

// gens is a durable view in memory: generations of applied sequences, one
// served, with a lease and a failure switch, to test the Runner's and
// Rebuild's side of the contract without a database.
type gens struct {
	mu     sync.Mutex
	served int
	g      map[int]*gen
	fail   int // ApplyTx calls left to fail
	leased bool
	moved  chan struct{} // closed and replaced when a checkpoint moves
}

type gen struct {
	seq  uint64
	id   string
	seen []uint64
}

func newGens() *gens {
	return &gens{served: 1, g: map[int]*gen{1: {}}, moved: make(chan struct{})}
}

// view is the served generation as the Runner applies to it.
type view struct {
	*gens
	n int // the generation it applies to
}

func (s *gens) servedView() *view { return &view{s, s.served} }

func (v *view) Apply(ctx context.Context, ev dojot.Event) error {
	_, err := v.ApplyTx(ctx, []dojot.Event{ev})
	return err
}

func (v *view) ApplyTx(_ context.Context, evs []dojot.Event) ([]error, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.fail > 0 {
		v.fail--
		return nil, errors.New("database unreachable")
	}
	if v.n != v.served && v.n != 0 {
		return nil, projections.ErrSwitched
	}
	g := v.g[v.n]
	for _, ev := range evs {
		if ev.Seq <= g.seq {
			continue
		}
		g.seq, g.id = ev.Seq, ev.ID
		g.seen = append(g.seen, ev.Seq)
	}
	close(v.moved)
	v.moved = make(chan struct{})
	return nil, nil
}

func (v *view) Checkpoint(context.Context) (uint64, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.n != v.served {
		v.n = v.served // a new Run reads the served generation
	}
	return v.g[v.n].seq, nil
}

func (v *view) Lead(ctx context.Context) (context.Context, func(), error) {
	for {
		v.mu.Lock()
		if !v.leased {
			v.leased = true
			v.mu.Unlock()
			lease, cancel := context.WithCancel(ctx)
			return lease, func() {
				cancel()
				v.mu.Lock()
				v.leased = false
				v.mu.Unlock()
			}, nil
		}
		v.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (v *view) Follow(ctx context.Context, fn func(uint64)) error {
	for {
		v.mu.Lock()
		seq, moved := v.g[v.served].seq, v.moved
		v.mu.Unlock()
		fn(seq)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-moved:
		}
	}
}

func (v *view) applied(n int) []uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]uint64(nil), v.g[n].seen...)
}

// building is a generation under construction.
type building struct{ *view }

func (s *gens) Build(_ context.Context, fresh bool) (projections.Building, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.g) + 1
	s.g[n] = &gen{}
	return building{&view{s, n}}, nil
}

func (b building) Checkpoint(context.Context) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.g[b.n].seq, nil
}

func (b building) ApplyTx(ctx context.Context, evs []dojot.Event) ([]error, error) {
	b.mu.Lock()
	g := b.g[b.n]
	for _, ev := range evs {
		if ev.Seq > g.seq {
			g.seq, g.id = ev.Seq, ev.ID
			g.seen = append(g.seen, ev.Seq)
		}
	}
	b.mu.Unlock()
	return nil, nil
}

func (b building) Switch(_ context.Context, force bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.g[b.n].seq < b.g[b.served].seq && !force {
		return projections.ErrBehindServed
	}
	b.served = b.n
	close(b.moved)
	b.moved = make(chan struct{})
	return nil
}

func (s *gens) Stamp(context.Context) (projections.Stamp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.g[s.served]
	return projections.Stamp{Seq: g.seq, EventID: g.id, Schema: 1, Exists: true}, nil
}

func (s *gens) SchemaVersion() int { return 1 }

func TestRunnerRetriesFailedBatches(t *testing.T) {
	store := eventstoretest.Open(t)
	last := appendN(t, store, "x", 20)
	g := newGens()
	g.fail = 3
	v := g.servedView()
	r := startRunner(t, store, v, projections.Options{Retry: 10 * time.Millisecond})
	if err := r.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := v.applied(1); len(got) != int(last) {
		t.Errorf("applied %v; want every one of %d events once, despite 3 failed batches", got, last)
	}
}

func TestRunnerFollowsAndLeads(t *testing.T) {
	store := eventstoretest.Open(t)
	appendN(t, store, "x", 5)
	g := newGens()
	a := startRunner(t, store, g.servedView(), projections.Options{Retry: 10 * time.Millisecond})
	if err := a.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A second runner on the same view never gets the lease while the
	// first holds it, yet its WaitFor sees what the first applies.
	b := startRunner(t, store, g.servedView(), projections.Options{Retry: 10 * time.Millisecond})
	last := appendN(t, store, "x", 5)
	if err := b.WaitFor(t.Context(), last); err != nil {
		t.Fatal(err)
	}
	if got := g.servedView().applied(1); len(got) != int(last) {
		t.Errorf("applied %v; want %d events once", got, last)
	}
}

func TestRebuildSwitchesOver(t *testing.T) {
	store := eventstoretest.Open(t)
	appendN(t, store, "x", 30)
	g := newGens()
	serving := startRunner(t, store, g.servedView(), projections.Options{Retry: 10 * time.Millisecond})
	if err := serving.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Events keep coming while the rebuild runs.
	stop := make(chan struct{})
	writing := make(chan struct{})
	go func() {
		defer close(writing)
		for {
			select {
			case <-stop:
				return
			default:
				appendN(t, store, "x", 1)
			}
		}
	}()
	var reports []projections.Progress
	err := projections.Rebuild(t.Context(), store, g, projections.RebuildOptions{
		Every:    time.Millisecond,
		Progress: func(p projections.Progress) { reports = append(reports, p) },
		Runner:   projections.Options{Retry: 10 * time.Millisecond},
	})
	close(stop)
	<-writing
	if err != nil {
		t.Fatal(err)
	}
	if g.served != 2 {
		t.Fatalf("served generation %d; want 2", g.served)
	}
	if len(reports) == 0 || !reports[len(reports)-1].Done {
		t.Errorf("progress reports %+v; want a last one with Done", reports)
	}
	last, _ := store.LastSeq(t.Context())
	if err := serving.WaitFor(t.Context(), last); err != nil {
		t.Fatal(err)
	}
	// The serving runner moved to generation 2 and applied the rest there,
	// each event once.
	got := g.servedView().applied(2)
	for i, seq := range got {
		if seq != uint64(i+1) {
			t.Fatalf("generation 2 applied %v; want 1..%d in order, once each", got, last)
		}
	}
	if uint64(len(got)) != last {
		t.Errorf("generation 2 has %d events; want %d", len(got), last)
	}
}

func TestCheck(t *testing.T) {
	store := eventstoretest.Open(t)
	appendN(t, store, "x", 3)
	ctx := t.Context()
	ev, err := store.EventAt(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct {
		stamp projections.Stamp
		want  string // substring of the reason; "" trusted
	}{
		"trusted":     {projections.Stamp{Seq: 2, EventID: ev.ID, Schema: 1, Exists: true}, ""},
		"empty log":   {projections.Stamp{Schema: 1, Exists: true}, ""},
		"missing":     {projections.Stamp{}, "no checkpoint"},
		"old schema":  {projections.Stamp{Seq: 2, EventID: ev.ID, Schema: 0, Exists: true}, "schema version 0"},
		"ahead":       {projections.Stamp{Seq: 9, EventID: "x", Schema: 1, Exists: true}, "beyond the log"},
		"another log": {projections.Stamp{Seq: 2, EventID: "other", Schema: 1, Exists: true}, "is " + ev.ID},
	} {
		reason, err := projections.Check(ctx, store, stamped(tt.stamp))
		if err != nil || (tt.want == "") != (reason == "") || !strings.Contains(reason, tt.want) {
			t.Errorf("%s: Check = %q, %v; want %q", name, reason, err, tt.want)
		}
	}
}

type stamped projections.Stamp

func (s stamped) Stamp(context.Context) (projections.Stamp, error) { return projections.Stamp(s), nil }
func (stamped) SchemaVersion() int                                 { return 1 }
