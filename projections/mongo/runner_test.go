package mongo

import (
	"context"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/projections"
	"github.com/dojot-es/dojot/projections/memory"
	"github.com/dojot-es/dojot/projections/viewtest"
)

// appendAll stores evs in the log as they are (the expectations they
// were decided with belong to another log) and returns them with the
// log's sequences.
func appendAll(t *testing.T, store *eventstore.Store, evs []dojot.Event) []dojot.Event {
	t.Helper()
	out := make([]dojot.Event, len(evs))
	for i, ev := range evs {
		ev.NoExpect = true
		seq, err := store.Append(t.Context(), ev)
		if err != nil {
			t.Fatal(err)
		}
		ev.Seq = seq
		out[i] = ev
	}
	return out
}

// TestRunner: the projections Runner keeps the view up to date from the
// log (leading, through ApplyTx), a rebuild beside it switches over while
// it runs, and it goes on applying to the new generation.
func TestRunner(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	store := eventstoretest.Open(t)
	evs := scenario(t)
	half := len(evs) / 2
	first := appendAll(t, store, evs[:half])
	v := open(t, "", Options{LeaseTTL: time.Second})
	r := projections.NewRunner(store, v, projections.Options{Retry: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	if err := r.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := projections.Rebuild(ctx, store, v, projections.RebuildOptions{Fresh: true}); err != nil {
		t.Fatal(err)
	}
	rest := appendAll(t, store, evs[half:])
	if err := r.WaitFor(ctx, rest[len(rest)-1].Seq); err != nil {
		t.Fatal(err)
	}
	ref := memory.New()
	for _, ev := range append(first, rest...) {
		if err := ref.Apply(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	// WaitFor answers from the follower's poll of the checkpoint; the
	// leader wrote it, so the view has it all.
	for _, tenant := range []string{"admin", "acme"} {
		got, err := v.ListInternalDevices(ctx, tenant, dojot.DeviceQuery{Page: dojot.Page{Num: 1, Size: 1000}})
		if want := ref.ListInternalDevices(tenant, dojot.DeviceQuery{Page: dojot.Page{Num: 1, Size: 1000}}); err != nil || string(got) != string(want) {
			t.Errorf("%s devices:\n got  %.300s, %v\n want %.300s", tenant, got, err, want)
		}
	}
	if st, err := v.Stamp(ctx); err != nil || st.Seq != rest[len(rest)-1].Seq {
		t.Errorf("Stamp = %+v, %v", st, err)
	}
	if gen, _, err := v.served(ctx); err != nil || gen != 2 {
		t.Errorf("served generation = %d, %v; want 2 (after the rebuild)", gen, err)
	}
}

func scenario(t *testing.T) []dojot.Event { return viewtest.Scenario(t, 6) }
