package flowstest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/flows"
)

// RunContextStore checks a ContextStore: a missing key reads as nil at
// revision 0; CompareAndSet creates only at revision 0, replaces only at
// the current revision and otherwise fails with dojot.ErrConflict; keys
// are distinct by every field (tenant, flow, node type with spaces, node
// id with dots, name); racing writers lose no update when they retry.
// newStore returns an empty store each call.
func RunContextStore(t *testing.T, newStore func(t *testing.T) flows.ContextStore) {
	t.Run("MissingIsEmpty", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		v, rev, err := s.Get(t.Context(), flows.ContextKey{Tenant: "t1", Name: "x"})
		if err != nil || v != nil || rev != 0 {
			t.Errorf("Get(missing) = %q, %d, %v; want nil, 0, nil", v, rev, err)
		}
	})
	t.Run("CompareAndSet", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), t.Context()
		k := flows.ContextKey{Tenant: "t1", FlowID: "f1", NodeType: "cumulative sum", NodeID: "a1.b2", Name: "data"}
		if err := s.CompareAndSet(ctx, k, []byte(`{"sum":1}`), 0); err != nil {
			t.Fatalf("create: %v", err)
		}
		if err := s.CompareAndSet(ctx, k, []byte(`{"sum":2}`), 0); !errors.Is(err, dojot.ErrConflict) {
			t.Errorf("create twice: %v, want dojot.ErrConflict", err)
		}
		v, rev, err := s.Get(ctx, k)
		if err != nil || string(v) != `{"sum":1}` || rev == 0 {
			t.Fatalf("Get = %s, %d, %v", v, rev, err)
		}
		if err := s.CompareAndSet(ctx, k, []byte(`{"sum":3}`), rev+1000); !errors.Is(err, dojot.ErrConflict) {
			t.Errorf("stale revision: %v, want dojot.ErrConflict", err)
		}
		if err := s.CompareAndSet(ctx, k, []byte(`{"sum":3}`), rev); err != nil {
			t.Fatalf("update: %v", err)
		}
		if v, rev2, _ := s.Get(ctx, k); string(v) != `{"sum":3}` || rev2 == rev {
			t.Errorf("after update: %s at %d (was %d)", v, rev2, rev)
		}
	})
	t.Run("KeysDistinct", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), t.Context()
		keys := []flows.ContextKey{
			{Tenant: "t1", Name: "x"}, {Tenant: "t2", Name: "x"}, {Tenant: "t1", FlowID: "f", Name: "x"},
			{Tenant: "t1", FlowID: "f", NodeType: "merge data", NodeID: "n.1", Name: "x"},
			{Tenant: "t1", FlowID: "f", NodeType: "cumulative sum", NodeID: "n.1", Name: "x"},
			{Tenant: "t1", FlowID: "f", NodeType: "merge data", NodeID: "n.2", Name: "x"},
			{Tenant: "t1", Name: "f/x"}, // dojot's layout would make it t1/f/x, as the flow context above
			{Tenant: "t1", Name: "f.x"}, {Tenant: "t1", Name: "f_x"}, {Tenant: "t1", Name: "_"}, {Tenant: "t1", Name: "=5F"},
			{Tenant: "t1", Name: "olá mundo"},
		}
		for i, k := range keys {
			if err := s.CompareAndSet(ctx, k, []byte{'a' + byte(i)}, 0); err != nil {
				t.Fatalf("%v: %v", k, err)
			}
		}
		for i, k := range keys {
			if v, _, _ := s.Get(ctx, k); string(v) != string([]byte{'a' + byte(i)}) {
				t.Errorf("%+v = %q, want %q", k, v, []byte{'a' + byte(i)})
			}
		}
	})
	t.Run("RacingWritersLoseNothing", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), t.Context()
		k := flows.ContextKey{Tenant: "t1", Name: "counter"}
		const writers, each = 4, 10
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				for range each {
					increment(ctx, t, s, k)
				}
			})
		}
		wg.Wait()
		if v, _, _ := s.Get(ctx, k); len(v) != writers*each {
			t.Errorf("counter = %d, want %d", len(v), writers*each)
		}
	})
}

// increment appends one byte with compare-and-set, retrying on conflict.
func increment(ctx context.Context, t *testing.T, s flows.ContextStore, k flows.ContextKey) {
	for {
		v, rev, err := s.Get(ctx, k)
		if err != nil {
			t.Error(err)
			return
		}
		err = s.CompareAndSet(ctx, k, append(append([]byte(nil), v...), 'x'), rev)
		if err == nil {
			return
		}
		if !errors.Is(err, dojot.ErrConflict) {
			t.Error(err)
			return
		}
	}
}
