package projections_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/projections"
)

// recorder is a view that remembers what it applied; it refuses events of
// type "bad" to show a refusal does not stop the runner.
type recorder struct {
	mu   sync.Mutex
	seq  uint64
	seen []uint64
}

func (r *recorder) Apply(_ context.Context, ev dojot.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ev.Seq <= r.seq {
		return nil
	}
	r.seq = ev.Seq
	if ev.Type == "bad" {
		return errors.New("refused")
	}
	r.seen = append(r.seen, ev.Seq)
	return nil
}

func (r *recorder) Checkpoint(context.Context) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq, nil
}

func (r *recorder) applied() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.seen...)
}

func appendN(t *testing.T, store *eventstore.Store, typ string, n int) uint64 {
	t.Helper()
	var last uint64
	for range n {
		ev, err := dojot.NewEvent(typ, "t1", dojot.KindDevice, "ab12", time.Now(), map[string]int{"n": 1})
		if err != nil {
			t.Fatal(err)
		}
		ev.NoExpect = true
		if last, err = store.Append(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	return last
}

func startRunner(t *testing.T, store *eventstore.Store, view projections.View, opts projections.Options) *projections.Runner {
	t.Helper()
	r := projections.NewRunner(store, view, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func TestRunnerReplaysThenFollows(t *testing.T) {
	store := eventstoretest.Open(t)
	appendN(t, store, "x", 10)
	view := &recorder{}
	r := startRunner(t, store, view, projections.Options{})
	if err := r.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := len(view.applied()); got != 10 {
		t.Fatalf("after CatchUp applied %d events; want 10", got)
	}
	// Read-your-writes: once WaitFor(seq) returns, the view has the event.
	seq := appendN(t, store, "x", 1)
	if err := r.WaitFor(t.Context(), seq); err != nil {
		t.Fatal(err)
	}
	if got := view.applied(); got[len(got)-1] != seq {
		t.Errorf("last applied %d; want %d", got[len(got)-1], seq)
	}
	// A refused event is skipped, counted, and later events still apply.
	appendN(t, store, "bad", 1)
	seq = appendN(t, store, "x", 1)
	if err := r.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r.Failed() != 1 || r.Applied() != seq {
		t.Errorf("failed %d applied %d; want 1 and %d", r.Failed(), r.Applied(), seq)
	}
}

func TestRunnerResumesFromCheckpoint(t *testing.T) {
	store := eventstoretest.Open(t)
	appendN(t, store, "x", 5)
	view := &recorder{}
	r := startRunner(t, store, view, projections.Options{})
	if err := r.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A second runner over the same (persistent) view starts after its
	// checkpoint: nothing is applied twice.
	appendN(t, store, "x", 3)
	r2 := startRunner(t, store, view, projections.Options{})
	if err := r2.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := view.applied()
	if len(got) != 8 {
		t.Fatalf("applied %v; want 8 distinct events", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("applied out of order or twice: %v", got)
		}
	}
}

func TestWaitForIsBounded(t *testing.T) {
	store := eventstoretest.Open(t)
	r := startRunner(t, store, &recorder{}, projections.Options{WaitTimeout: 50 * time.Millisecond})
	err := r.WaitFor(t.Context(), 1_000_000)
	if !errors.Is(err, dojot.ErrUnavailable) {
		t.Errorf("WaitFor(unreachable seq) = %v; want ErrUnavailable", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r2 := startRunner(t, store, &recorder{}, projections.Options{WaitTimeout: time.Hour})
	if err := r2.WaitFor(ctx, 1_000_000); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitFor with a cancelled ctx = %v; want context.Canceled", err)
	}
}

func TestRunnerFrom(t *testing.T) {
	store := eventstoretest.Open(t)
	last := appendN(t, store, "x", 10)
	view := &recorder{}
	r := startRunner(t, store, view, projections.Options{From: 5})
	if err := r.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := view.applied()
	if len(got) != int(last)-4 || got[0] != 5 {
		t.Errorf("applied %v; want 5..%d", got, last)
	}
}
