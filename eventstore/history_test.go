package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

// appendN appends n device events of device id in tenant (versions from
// 1), interleaved with those of the other aggregates named in noise, and
// returns the sequences of id's.
func appendN(t testing.TB, s *eventstore.Store, tenant, id string, n int, noise ...string) []uint64 {
	t.Helper()
	var evs []dojot.Event
	for i := range n {
		for _, other := range append([]string{id}, noise...) {
			ev, err := dojot.NewEvent(dojot.EventDeviceUpdated, tenant, dojot.KindDevice, other, time.Now(), dojot.DeviceUpdated{Device: dojot.Device{ID: other, Label: fmt.Sprint(i)}})
			if err != nil {
				t.Fatal(err)
			}
			ev.Version, ev.NoExpect = uint64(i+1), true
			evs = append(evs, ev)
		}
	}
	var seqs []uint64
	for from := 0; from < len(evs); from += 1000 {
		batch := evs[from:min(from+1000, len(evs))]
		got, errs := s.AppendBatch(context.Background(), batch)
		for i, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
			if batch[i].AggregateID == id {
				seqs = append(seqs, got[i])
			}
		}
	}
	return seqs
}

// TestLoadBefore: an aggregate's history newest first, a page at a time
// from any sequence, others' events (another device, the same id in
// another tenant) skipped.
func TestLoadBefore(t *testing.T) {
	s := eventstoretest.Open(t)
	ctx := t.Context()
	if evs, err := s.LoadBefore(ctx, "acme", dojot.KindDevice, "a1", 0, 10); err != nil || len(evs) != 0 || evs == nil {
		t.Fatalf("LoadBefore of nothing = %v, %v; want empty", evs, err)
	}
	seqs := appendN(t, s, "acme", "a1", 25, "b2")
	for _, id := range []string{"*", ">", "a1.x", ""} { // a filter would read others' events
		if evs, err := s.LoadBefore(ctx, "acme", dojot.KindDevice, id, 0, 10); !errors.Is(err, dojot.ErrInvalid) {
			t.Errorf("LoadBefore(%q) = %d events, %v; want ErrInvalid", id, len(evs), err)
		}
	}
	appendN(t, s, "other", "a1", 3)
	page := func(before uint64, n int) []uint64 {
		t.Helper()
		evs, err := s.LoadBefore(ctx, "acme", dojot.KindDevice, "a1", before, n)
		if err != nil {
			t.Fatalf("LoadBefore(%d, %d) = %v", before, n, err)
		}
		var got []uint64
		for i, ev := range evs {
			if ev.AggregateID != "a1" || ev.Tenant != "acme" || ev.Seq == 0 {
				t.Fatalf("LoadBefore(%d, %d)[%d] = %+v", before, n, i, ev)
			}
			var d dojot.DeviceUpdated
			if err := ev.Decode(&d); err != nil || d.Label != fmt.Sprint(ev.Version-1) {
				t.Errorf("event %d: %s version %d", ev.Seq, ev.Data, ev.Version)
			}
			got = append(got, ev.Seq)
		}
		return got
	}
	want := func(from, to int) []uint64 { // seqs[to-1] down to seqs[from]
		var w []uint64
		for i := to - 1; i >= from; i-- {
			w = append(w, seqs[i])
		}
		return w
	}
	for _, tc := range []struct {
		before   uint64
		n        int
		from, to int
	}{
		{0, 10, 15, 25},
		{seqs[15], 10, 5, 15},
		{seqs[5], 10, 0, 5},
		{seqs[5] - 1, 10, 0, 5}, // another aggregate's sequence
		{seqs[0], 10, 0, 0},
		{1, 10, 0, 0},
		{0, 100, 0, 25},
		{seqs[24] + 1000, 2, 23, 25}, // beyond the end
		{0, 0, 0, 0},
	} {
		if got, w := page(tc.before, tc.n), want(tc.from, tc.to); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("LoadBefore(%d, %d) = %v, want %v", tc.before, tc.n, got, w)
		}
	}
}

// BenchmarkLoadBefore: the first page (20 events) of a device with
// 100,000 events, and one from its middle, against Load of the same device
// (the whole history, what a change log without LoadBefore would read) as
// the baseline.
func BenchmarkLoadBefore(b *testing.B) {
	s := eventstoretest.Open(b)
	const total = 100_000
	seqs := appendN(b, s, "acme", "a1", total)
	// Load of 100,000 events outlasts the store's default timeout on a
	// loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.Run("page1", func(b *testing.B) {
		for b.Loop() {
			if evs, err := s.LoadBefore(ctx, "acme", dojot.KindDevice, "a1", 0, 20); err != nil || len(evs) != 20 {
				b.Fatal(len(evs), err)
			}
		}
	})
	b.Run("page_middle", func(b *testing.B) { // page 2,500 of 5,000: the same cost
		for b.Loop() {
			if evs, err := s.LoadBefore(ctx, "acme", dojot.KindDevice, "a1", seqs[total/2], 20); err != nil || len(evs) != 20 {
				b.Fatal(len(evs), err)
			}
		}
	})
	b.Run("load_all", func(b *testing.B) {
		for b.Loop() {
			if evs, err := s.Load(ctx, "acme", dojot.KindDevice, "a1"); err != nil || len(evs) != total {
				b.Fatal(len(evs), err)
			}
		}
	})
}
