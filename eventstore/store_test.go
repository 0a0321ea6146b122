package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

// backend gives fresh, isolated store options on one kind of server.
type backend struct {
	name     string
	embedded bool
	opts     func(t *testing.T) eventstore.Options
}

// each runs f against the embedded server and, when DOJOT_TEST_NATS_URL is
// set, against that external server (a fresh prefix per test).
func each(t *testing.T, f func(t *testing.T, b backend)) {
	t.Helper()
	t.Parallel()
	bs := []backend{{name: "embedded", embedded: true, opts: func(t *testing.T) eventstore.Options {
		return eventstore.Options{DataDir: t.TempDir(), Logger: eventstoretest.Logger(t)}
	}}}
	if u := os.Getenv("DOJOT_TEST_NATS_URL"); u != "" {
		bs = append(bs, backend{name: "external", opts: func(t *testing.T) eventstore.Options {
			return eventstoretest.Isolated(t, u)
		}})
	} else if os.Getenv("CI") == "true" {
		t.Fatal("CI=true but DOJOT_TEST_NATS_URL is not set: the external NATS would go untested")
	}
	for _, b := range bs {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

func newEvent(t testing.TB, tenant, kind, id string, version uint64) dojot.Event {
	t.Helper()
	ev, err := dojot.NewEvent(kind+".updated", tenant, kind, id, time.Now(), map[string]any{"label": "pump " + id, "v": version})
	if err != nil {
		t.Fatal(err)
	}
	ev.Version = version
	ev.Actor = "admin"
	return ev
}

func mustAppend(t testing.TB, s *eventstore.Store, ev dojot.Event) uint64 {
	t.Helper()
	seq, err := s.Append(context.Background(), ev)
	if err != nil {
		t.Fatalf("Append(%s %s) = %v", ev.Type, ev.Subject(), err)
	}
	return seq
}

// stored is ev as it comes back from the store.
func stored(ev dojot.Event, seq uint64) dojot.Event {
	ev.Seq, ev.Expect, ev.ExpectSubject, ev.NoExpect = seq, 0, "", false
	return ev
}

func TestAppendLoadRoundTrip(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		s := eventstoretest.OpenWith(t, b.opts(t))
		ctx := dojot.WithRequestID(t.Context(), "req-42")
		first := newEvent(t, "admin", dojot.KindDevice, "a1998e", 1)
		first.Time = time.Date(2026, 11, 24, 10, 11, 12, 123456789, time.UTC)
		first.Data = json.RawMessage(`{"label":"pump","attrs":[{"label":"temp","type":"dynamic"}]}`)
		s1, err := s.Append(ctx, first)
		if err != nil {
			t.Fatal(err)
		}
		other := newEvent(t, "admin", dojot.KindDevice, "other", 1)
		mustAppend(t, s, other)
		second := newEvent(t, "admin", dojot.KindDevice, "a1998e", 2)
		second.Actor = ""
		second.Expect = s1
		s2 := mustAppend(t, s, second)

		got, err := s.Load(t.Context(), "admin", dojot.KindDevice, "a1998e")
		// The request id of the append's context is the first event's
		// correlation id; the second was appended without one.
		firstStored := stored(first, s1)
		firstStored.CorrelationID = "req-42"
		want := []dojot.Event{firstStored, stored(second, s2)}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Load = %+v, %v; want %+v", got, err, want)
		}
		got, err = s.Load(t.Context(), "admin", dojot.KindDevice, "nobody")
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("Load(unknown) = %#v, %v; want an empty slice", got, err)
		}

		// On the wire: the prefixed subject and the dedupe id header.
		st, err := s.JetStream().Stream(t.Context(), s.EventsStream())
		if err != nil {
			t.Fatal(err)
		}
		raw, err := st.GetMsg(t.Context(), s1)
		if err != nil {
			t.Fatal(err)
		}
		if want := b.opts(t).SubjectPrefix; !strings.HasPrefix(raw.Subject, "") || !strings.HasSuffix(raw.Subject, first.Subject()) {
			t.Errorf("stored subject = %q, want %q with a prefix like %q", raw.Subject, first.Subject(), want)
		}
		if got := raw.Header.Get(jetstream.MsgIDHeader); got != first.ID {
			t.Errorf("header %s = %q, want %q", jetstream.MsgIDHeader, got, first.ID)
		}
		if last, err := s.LastSeq(t.Context()); err != nil || last != s2 {
			t.Errorf("LastSeq = %d, %v; want %d", last, err, s2)
		}
	})
}

func TestLoadManyEvents(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		s := eventstoretest.OpenWith(t, b.opts(t))
		var want []dojot.Event
		var last uint64
		for v := uint64(1); v <= 1200; v++ { // more than one pull batch
			ev := newEvent(t, "admin", dojot.KindDevice, "busy", v)
			ev.Expect = last
			evs := []dojot.Event{ev, newEvent(t, "admin", dojot.KindDevice, fmt.Sprint("noise", v%7), v)}
			evs[1].NoExpect = true
			seqs, errs := s.AppendBatch(t.Context(), evs)
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			last = seqs[0]
			want = append(want, stored(ev, last))
		}
		got, err := s.Load(t.Context(), "admin", dojot.KindDevice, "busy")
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Load = %d events, %v; want %d events", len(got), err, len(want))
		}
	})
}

func TestLastSeqEmpty(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		s := eventstoretest.OpenWith(t, b.opts(t))
		if got, err := s.LastSeq(t.Context()); err != nil || got != 0 {
			t.Errorf("LastSeq = %d, %v; want 0", got, err)
		}
	})
}

func TestExpect(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		s := eventstoretest.OpenWith(t, b.opts(t))
		created := newEvent(t, "t1", dojot.KindDevice, "d1", 1)
		s1 := mustAppend(t, s, created)
		mustAppend(t, s, newEvent(t, "t1", dojot.KindDevice, "d2", 1)) // moves the stream, not d1
		tests := map[string]struct {
			expect   uint64
			noExpect bool
			conflict bool
		}{
			"claim taken id": {expect: 0, conflict: true},
			"stale":          {expect: s1 - 1, conflict: true},
			"ahead":          {expect: s1 + 100, conflict: true},
			"no expectation": {noExpect: true},
		}
		for name, tt := range tests {
			t.Run(name, func(t *testing.T) {
				ev := newEvent(t, "t1", dojot.KindDevice, "d1", 2)
				ev.Expect, ev.NoExpect = tt.expect, tt.noExpect
				seq, err := s.Append(t.Context(), ev)
				if got := errors.Is(err, dojot.ErrConflict); got != tt.conflict || (!tt.conflict && err != nil) {
					t.Errorf("Append(expect %d) = %d, %v; want conflict %v", tt.expect, seq, err, tt.conflict)
				}
			})
		}
		// The right expectation still wins after all that.
		evs, err := s.Load(t.Context(), "t1", dojot.KindDevice, "d1")
		if err != nil {
			t.Fatal(err)
		}
		ev := newEvent(t, "t1", dojot.KindDevice, "d1", 3)
		ev.Expect = evs[len(evs)-1].Seq
		if _, err := s.Append(t.Context(), ev); err != nil {
			t.Errorf("Append(expect last) = %v", err)
		}
	})
}

func TestExpectSubjectWildcard(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		s := eventstoretest.OpenWith(t, b.opts(t))
		// Template ids are allocated by claiming "nothing new under
		// evt.t1.template.* since I looked".
		all := dojot.Subject("t1", dojot.KindTemplate, "*")
		tpl := func(id string, expect uint64) dojot.Event {
			ev := newEvent(t, "t1", dojot.KindTemplate, id, 1)
			ev.Expect, ev.ExpectSubject = expect, all
			return ev
		}
		s1, err := s.Append(t.Context(), tpl("1", 0))
		if v := s.Conn().ConnectedServerVersion(); errors.Is(err, errors.ErrUnsupported) && !strings.HasPrefix(v, "2.1") {
			// An old server would check the event's own subject instead:
			// refusing is right. Nothing may have been stored.
			if last, err := s.LastSeq(t.Context()); err != nil || last != 0 {
				t.Errorf("LastSeq after a refused append = %d, %v; want 0", last, err)
			}
			t.Logf("nats-server %s does not support ExpectSubject (2.11+); append refused as it must be: %v", v, err)
			return
		}
		if err != nil {
			t.Fatalf("first template: %v", err)
		}
		if _, err := s.Append(t.Context(), tpl("2", 0)); !errors.Is(err, dojot.ErrConflict) {
			t.Errorf("second template expecting none = %v, want a conflict", err)
		}
		mustAppend(t, s, newEvent(t, "t1", dojot.KindDevice, "x", 1))   // another kind
		mustAppend(t, s, newEvent(t, "t2", dojot.KindTemplate, "1", 1)) // another tenant
		s2, err := s.Append(t.Context(), tpl("2", s1))
		if err != nil {
			t.Fatalf("second template expecting %d: %v", s1, err)
		}
		if _, err := s.Append(t.Context(), tpl("3", s1)); !errors.Is(err, dojot.ErrConflict) {
			t.Errorf("third template expecting stale %d = %v, want a conflict", s1, err)
		}
		if _, err := s.Append(t.Context(), tpl("3", s2)); err != nil {
			t.Errorf("third template expecting %d = %v", s2, err)
		}
	})
}

func TestConcurrentClaim(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		opts := b.opts(t)
		if b.embedded {
			opts.Listen = "127.0.0.1:0"
		}
		s1 := eventstoretest.OpenWith(t, opts)
		// A second instance on the same log: the external URL itself, or the
		// port of the first store's embedded server.
		opts2 := opts
		opts2.URL, opts2.Listen, opts2.DataDir = s1.ClientURL(), "", ""
		if s1.ClientURL() == "" {
			t.Fatal("ClientURL is empty")
		}
		s2 := eventstoretest.OpenWith(t, opts2)
		const ids, racers = 20, 6
		for i := range ids {
			id := fmt.Sprint("dev", i)
			var wg sync.WaitGroup
			errs := make([]error, racers)
			for r := range racers {
				store := []*eventstore.Store{s1, s2}[r%2]
				wg.Go(func() {
					_, errs[r] = store.Append(t.Context(), newEvent(t, "t1", dojot.KindDevice, id, 1))
				})
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, dojot.ErrConflict):
					t.Errorf("%s: Append = %v, want nil or a conflict", id, err)
				}
			}
			if won != 1 {
				t.Errorf("%s: %d appends won, want exactly 1", id, won)
			}
		}
		if last, err := s2.LastSeq(t.Context()); err != nil || last != ids {
			t.Errorf("LastSeq = %d, %v; want %d", last, err, ids)
		}
	})
}

func TestDedupe(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		s := eventstoretest.OpenWith(t, b.opts(t))
		ev := newEvent(t, "t1", dojot.KindDevice, "d1", 1)
		seq := mustAppend(t, s, ev)
		// A retry after a lost ack: same id, same (now stale) expectation.
		if got, err := s.Append(t.Context(), ev); err != nil || got != seq {
			t.Errorf("Append again = %d, %v; want %d, nil", got, err, seq)
		}
		seqs, errs := s.AppendBatch(t.Context(), []dojot.Event{ev, ev})
		for i := range seqs {
			if seqs[i] != seq || errs[i] != nil {
				t.Errorf("AppendBatch again [%d] = %d, %v; want %d, nil", i, seqs[i], errs[i], seq)
			}
		}
		if last, err := s.LastSeq(t.Context()); err != nil || last != seq {
			t.Errorf("LastSeq = %d, %v; want %d (nothing stored twice)", last, err, seq)
		}
	})
}

func TestAppendBatch(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		s := eventstoretest.OpenWith(t, b.opts(t))
		taken := mustAppend(t, s, newEvent(t, "t1", dojot.KindDevice, "d500", 1))
		const n = 10000 // over the in-flight bound
		evs := make([]dojot.Event, n)
		for i := range evs {
			evs[i] = newEvent(t, "t1", dojot.KindDevice, fmt.Sprint("d", i), 1)
		}
		evs[n-1].Expect = 12345 // a failed expectation at the very end too
		seqs, errs := s.AppendBatch(t.Context(), evs)
		if len(seqs) != n || len(errs) != n {
			t.Fatalf("AppendBatch returned %d seqs, %d errs; want %d", len(seqs), len(errs), n)
		}
		next := taken + 1
		for i := range evs {
			conflict := i == 500 || i == n-1
			switch {
			case conflict && !errors.Is(errs[i], dojot.ErrConflict):
				t.Errorf("[%d] err = %v, want a conflict", i, errs[i])
			case conflict && seqs[i] != 0:
				t.Errorf("[%d] seq = %d, want 0 with a conflict", i, seqs[i])
			case !conflict && (errs[i] != nil || seqs[i] != next):
				t.Errorf("[%d] = %d, %v; want %d, nil", i, seqs[i], errs[i], next)
			}
			if !conflict {
				next++
			}
		}
		if got, err := s.Load(t.Context(), "t1", dojot.KindDevice, "d77"); err != nil || len(got) != 1 || got[0].ID != evs[77].ID {
			t.Errorf("Load(d77) = %+v, %v; want the batch's event", got, err)
		}
		seqs, errs = s.AppendBatch(t.Context(), nil)
		if len(seqs) != 0 || len(errs) != 0 {
			t.Errorf("AppendBatch(nil) = %v, %v", seqs, errs)
		}
	})
}

func TestAppendBatchCanceled(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		s := eventstoretest.OpenWith(t, b.opts(t))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, errs := s.AppendBatch(ctx, []dojot.Event{newEvent(t, "t1", dojot.KindDevice, "d", 1)})
		if !errors.Is(errs[0], context.Canceled) {
			t.Errorf("AppendBatch(canceled) err = %v, want context.Canceled", errs[0])
		}
	})
}

// collector gathers what Subscribe delivers, for a test to wait on.
type collector struct {
	mu  sync.Mutex
	evs []dojot.Event
	ch  chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1)} }

func (c *collector) fn(ev dojot.Event) error {
	c.mu.Lock()
	c.evs = append(c.evs, ev)
	c.mu.Unlock()
	select {
	case c.ch <- struct{}{}:
	default:
	}
	return nil
}

func (c *collector) wait(t *testing.T, n int) []dojot.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		evs := append([]dojot.Event(nil), c.evs...)
		c.mu.Unlock()
		if len(evs) >= n {
			return evs
		}
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("got %d events, want %d", len(evs), n)
		}
	}
}

func TestSubscribe(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		s := eventstoretest.OpenWith(t, b.opts(t))
		var all []dojot.Event
		for i := range 10 {
			ev := newEvent(t, "t1", dojot.KindDevice, fmt.Sprint("d", i), 1)
			all = append(all, stored(ev, mustAppend(t, s, ev)))
		}
		for _, tt := range []struct {
			from uint64
			skip int
		}{{0, 0}, {1, 0}, {all[4].Seq, 4}} {
			t.Run(fmt.Sprint("from", tt.from), func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				c := newCollector()
				done := make(chan error, 1)
				go func() { done <- s.Subscribe(ctx, tt.from, c.fn) }()
				if got := c.wait(t, len(all)-tt.skip); !reflect.DeepEqual(got, all[tt.skip:]) {
					t.Errorf("replay = %+v, want %+v", got, all[tt.skip:])
				}
				cancel()
				if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("Subscribe after cancel = %v, want nil or context.Canceled", err)
				}
			})
		}

		// From the middle, then live events as they are appended.
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		c := newCollector()
		done := make(chan error, 1)
		go func() { done <- s.Subscribe(ctx, all[7].Seq, c.fn) }()
		c.wait(t, 3)
		want := all[7:]
		for i := range 5 {
			ev := newEvent(t, "t1", dojot.KindDevice, fmt.Sprint("live", i), 1)
			want = append(want, stored(ev, mustAppend(t, s, ev)))
		}
		if got := c.wait(t, len(want)); !reflect.DeepEqual(got, want) {
			t.Errorf("replay + live = %+v, want %+v", got, want)
		}
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Subscribe after cancel = %v", err)
		}
	})
}

func TestSubscribeStopsOnError(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		s := eventstoretest.OpenWith(t, b.opts(t))
		for i := range 10 {
			mustAppend(t, s, newEvent(t, "t1", dojot.KindDevice, fmt.Sprint("d", i), 1))
		}
		boom := errors.New("view is full")
		var calls int
		err := s.Subscribe(t.Context(), 0, func(ev dojot.Event) error {
			calls++
			if ev.Seq == 3 {
				return boom
			}
			return nil
		})
		if !errors.Is(err, boom) || calls != 3 {
			t.Errorf("Subscribe = %v after %d calls, want %v after 3", err, calls, boom)
		}
	})
}

func TestSubscribeSkipsUndecodable(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		opts := b.opts(t)
		s := eventstoretest.OpenWith(t, opts)
		if _, err := s.JetStream().Publish(t.Context(), opts.SubjectPrefix+"evt.t1.device.bad", []byte("{not json")); err != nil {
			t.Fatal(err)
		}
		ev := newEvent(t, "t1", dojot.KindDevice, "good", 1)
		want := []dojot.Event{stored(ev, mustAppend(t, s, ev))}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		c := newCollector()
		go s.Subscribe(ctx, 0, c.fn)
		if got := c.wait(t, 1); !reflect.DeepEqual(got, want) {
			t.Errorf("Subscribe = %+v, want %+v (the bad message skipped)", got, want)
		}
	})
}

func TestReopen(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		if testing.Short() {
			t.Skip("slow: restarts the server")
		}
		opts := b.opts(t)
		var want []dojot.Event
		for round := range 3 {
			s, err := eventstore.Open(t.Context(), opts)
			if err != nil {
				t.Fatalf("open #%d: %v", round, err)
			}
			if last, err := s.LastSeq(t.Context()); err != nil || last != uint64(len(want)) {
				t.Errorf("open #%d: LastSeq = %d, %v; want %d", round, last, err, len(want))
			}
			got, err := s.Load(t.Context(), "t1", dojot.KindDevice, "d")
			if err != nil || !reflect.DeepEqual(got, append([]dojot.Event{}, want...)) {
				t.Errorf("open #%d: Load = %+v, %v; want %+v", round, got, err, want)
			}
			for range 100 {
				ev := newEvent(t, "t1", dojot.KindDevice, "d", uint64(len(want)+1))
				if len(want) > 0 {
					ev.Expect = want[len(want)-1].Seq
				}
				want = append(want, stored(ev, mustAppend(t, s, ev)))
			}
			if err := s.Close(); err != nil {
				t.Fatalf("close #%d: %v", round, err)
			}
		}
	})
}

func TestOpenTwiceSideBySide(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		opts := b.opts(t)
		if b.embedded {
			t.Skip("an embedded data dir belongs to one server; TestConcurrentClaim covers a second client")
		}
		s1 := eventstoretest.OpenWith(t, opts)
		s2 := eventstoretest.OpenWith(t, opts) // updates the same streams, no error
		seq := mustAppend(t, s1, newEvent(t, "t1", dojot.KindDevice, "d", 1))
		if got, err := s2.Load(t.Context(), "t1", dojot.KindDevice, "d"); err != nil || len(got) != 1 || got[0].Seq != seq {
			t.Errorf("second store Load = %+v, %v", got, err)
		}
	})
}

func TestListenBusy(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.Addr().String()
	_, err = eventstore.Open(t.Context(), eventstore.Options{DataDir: t.TempDir(), Listen: addr, Logger: eventstoretest.Logger(t)})
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("Open(Listen: busy %s) = %v, want an error naming the address", addr, err)
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://user:secret@" + l.Addr().String()
	l.Close() // nothing listens there any more
	_, err = eventstore.Open(t.Context(), eventstore.Options{URL: url, Timeout: time.Second, Logger: eventstoretest.Logger(t)})
	if err == nil || !strings.Contains(err.Error(), l.Addr().String()) || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open(URL: %s) = %v, want an error naming the address without the password", url, err)
	}
}

func TestNoDataDir(t *testing.T) {
	t.Parallel()
	if _, err := eventstore.Open(t.Context(), eventstore.Options{}); err == nil {
		t.Error("Open without URL or DataDir succeeded")
	}
}

func TestClientURL(t *testing.T) {
	t.Parallel()
	s := eventstoretest.OpenWith(t, eventstore.Options{DataDir: t.TempDir(), Logger: eventstoretest.Logger(t)})
	if got := s.ClientURL(); got != "" {
		t.Errorf("ClientURL without Listen = %q, want empty", got)
	}
	_ = nuid.Next
}

func TestReadsLeaveNoConsumers(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		s := eventstoretest.OpenWith(t, b.opts(t))
		mustAppend(t, s, newEvent(t, "t1", dojot.KindDevice, "d", 1))
		for range 5 {
			if _, err := s.Load(t.Context(), "t1", dojot.KindDevice, "d"); err != nil {
				t.Fatal(err)
			}
		}
		boom := errors.New("stop")
		if err := s.Subscribe(t.Context(), 0, func(dojot.Event) error { return boom }); !errors.Is(err, boom) {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			info, err := s.JetStream().Stream(t.Context(), s.EventsStream())
			if err != nil {
				t.Fatal(err)
			}
			n := info.CachedInfo().State.Consumers
			if n == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d consumers left on %s after the reads", n, s.EventsStream())
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func TestEventAt(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		s := eventstoretest.OpenWith(t, b.opts(t))
		ev := newEvent(t, "t1", dojot.KindDevice, "d1", 1)
		seq, err := s.Append(t.Context(), ev)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.EventAt(t.Context(), seq)
		if err != nil || got.ID != ev.ID || got.Seq != seq {
			t.Errorf("EventAt(%d) = %s seq %d, %v; want %s", seq, got.ID, got.Seq, err, ev.ID)
		}
		if _, err := s.EventAt(t.Context(), seq+1); !errors.Is(err, dojot.ErrNotFound) {
			t.Errorf("EventAt past the end: %v; want ErrNotFound", err)
		}
	})
}

func TestDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	s := eventstoretest.OpenWith(t, eventstore.Options{DataDir: dir})
	if _, err := eventstore.Open(t.Context(), eventstore.Options{DataDir: dir}); !errors.Is(err, eventstore.ErrDataDirInUse) {
		t.Fatalf("second Open on a data dir in use = %v; want ErrDataDirInUse", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := eventstore.Open(t.Context(), eventstore.Options{DataDir: dir})
	if err != nil {
		t.Fatalf("Open after the first closed: %v", err)
	}
	s2.Close()
}

// TestAppendTooLarge: an event larger than the server takes is the
// caller's input too large (dojot.ErrTooLarge, a 413), not the store
// unavailable nor an internal error; nothing is stored.
func TestAppendTooLarge(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		s := eventstoretest.OpenWith(t, b.opts(t))
		ev := newEvent(t, "admin", dojot.KindDevice, "huge", 1)
		ev.Data = json.RawMessage(`{"label":"` + strings.Repeat("x", 2<<20) + `"}`)
		if _, err := s.Append(t.Context(), ev); !errors.Is(err, dojot.ErrTooLarge) || errors.Is(err, dojot.ErrUnavailable) {
			t.Fatalf("Append of a 2 MB event = %v; want dojot.ErrTooLarge", err)
		}
		if got, err := s.Load(t.Context(), "admin", dojot.KindDevice, "huge"); err != nil || len(got) != 0 {
			t.Errorf("Load = %d events, %v; want none", len(got), err)
		}
	})
}
