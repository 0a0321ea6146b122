package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/nats-io/nats.go/jetstream"
)

// worker is one instance following a Work: it records, per device, the
// sequences it handled in the order it handled them.
type worker struct {
	mu   sync.Mutex
	seen map[string][]uint64
	n    int
}

func (w *worker) handle(item eventstore.WorkItem) {
	w.mu.Lock()
	if w.seen == nil {
		w.seen = map[string][]uint64{}
	}
	w.seen[item.Subject] = append(w.seen[item.Subject], item.Seq)
	w.n++
	w.mu.Unlock()
	item.Ack()
}

func (w *worker) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// TestWorkPartitions: two instances following one Work share the DATA
// partitions (both get work, each reading is handled once, a device's
// readings by one instance in order); when one stops, the other takes its
// partitions and handles what comes next.
func TestWorkPartitions(t *testing.T) {
	opts := eventstoretest.Isolated(t, eventstoretest.URL(t))
	a, b := eventstoretest.OpenWith(t, opts), eventstoretest.OpenWith(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if n, err := a.DataPartitions(ctx); err != nil || n != 16 {
		t.Fatalf("DataPartitions = %d, %v; want the default 16", n, err)
	}
	work := eventstore.Work{Durable: "test_work", MemberTTL: 3 * time.Second}
	var wa, wb worker
	actx, stopA := context.WithCancel(ctx)
	doneA := make(chan error, 1)
	go func() { doneA <- a.Follow(actx, work, wa.handle) }()
	go func() { _ = b.Follow(ctx, work, wb.handle) }()
	time.Sleep(3 * time.Second) // both announced, partitions settled

	const devices, each = 40, 25
	publish := func(round int) {
		for i := range each {
			for d := range devices {
				if _, err := a.AppendData(ctx, "t1", fmt.Sprintf("d%d", d), []byte(fmt.Sprintf(`{"attrs":{"n":%d}}`, round*each+i)), ""); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	publish(0)
	waitFor(t, func() bool { return wa.count()+wb.count() == devices*each })
	t.Logf("instance a handled %d readings, b %d", wa.count(), wb.count())
	if wa.count() == 0 || wb.count() == 0 {
		t.Errorf("the instances handled %d and %d readings; both should have had partitions", wa.count(), wb.count())
	}
	for dev, seqs := range wa.seen {
		if _, ok := wb.seen[dev]; ok {
			t.Errorf("%s handled by both instances", dev)
		}
		_ = seqs
	}
	checkOrder := func(w *worker) {
		w.mu.Lock()
		defer w.mu.Unlock()
		for dev, seqs := range w.seen {
			if !strings.HasPrefix(dev, "data.t1.d") {
				t.Errorf("subject %q; want data.t1.<device> without the partition", dev)
			}
			for i := 1; i < len(seqs); i++ {
				if seqs[i] <= seqs[i-1] {
					t.Fatalf("%s: sequence %d after %d", dev, seqs[i], seqs[i-1])
				}
			}
		}
	}
	checkOrder(&wa)
	checkOrder(&wb)

	// A leaves: B takes every partition.
	stopA()
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	before := wa.count()
	publish(1)
	waitFor(t, func() bool { return wa.count()+wb.count() == 2*devices*each })
	if wa.count() != before {
		t.Errorf("a stopped instance handled %d more readings", wa.count()-before)
	}
	checkOrder(&wb)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met in 30 s")
}

// TestDataDevice: DATA subjects with and without a partition.
func TestDataDevice(t *testing.T) {
	s := eventstoretest.Open(t)
	pre := strings.TrimSuffix(s.DataSubject("", ""), "data..")
	for subj, want := range map[string]string{
		"data.t1.d1":     "t1/d1",
		"data.7.t1.d1":   "t1/d1",
		"data.15.t1.d1":  "t1/d1",
		"data.7.t1":      "7/t1", // stored before partitions: tenant 7
		"data.x.t1.d1":   "",
		"data.t1":        "",
		"data..d1":       "",
		"data.7..d1":     "",
		"data.7.t1.d1.8": "",
		"evt.t1.d1":      "",
	} {
		tenant, device, ok := s.DataDevice(pre + subj)
		got := ""
		if ok {
			got = tenant + "/" + device
		}
		if got != want {
			t.Errorf("DataDevice(%q) = %q; want %q", subj, got, want)
		}
	}
}

// TestWorkUpgrade: a Work consumer of the versions before partitions is
// replaced by the partitioned ones, which start where it stood: the
// readings it had not acknowledged (stored before the stream was
// partitioned) come, once, with those stored after.
func TestWorkUpgrade(t *testing.T) {
	for _, n := range []int{16, 1} { // 1: the stream stays unpartitioned
		t.Run(fmt.Sprint(n, " partitions"), func(t *testing.T) { testWorkUpgrade(t, n) })
	}
}

func testWorkUpgrade(t *testing.T, partitions int) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := eventstoretest.Isolated(t, eventstoretest.URL(t))
	opts.DataPartitions = 1
	old := eventstoretest.OpenWith(t, opts)
	if _, err := old.JetStream().CreateConsumer(ctx, old.DataStream(), jetstream.ConsumerConfig{
		Durable: "test_up", FilterSubject: opts.SubjectPrefix + "data.>", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := old.AppendData(ctx, "t1", fmt.Sprintf("d%d", i), []byte(`{"attrs":{}}`), ""); err != nil {
			t.Fatal(err)
		}
	}
	opts.DataPartitions = partitions
	s := eventstoretest.OpenWith(t, opts)
	for i := range 5 {
		if _, err := s.AppendData(ctx, "t1", fmt.Sprintf("d%d", i), []byte(`{"attrs":{}}`), ""); err != nil {
			t.Fatal(err)
		}
	}
	var w worker
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = s.Follow(fctx, eventstore.Work{Durable: "test_up", MemberTTL: 3 * time.Second}, w.handle) }()
	waitFor(t, func() bool { return w.count() == 10 })
	time.Sleep(500 * time.Millisecond)
	if w.count() != 10 {
		t.Errorf("handled %d readings; want the 10 stored once", w.count())
	}
	if _, err := s.JetStream().Consumer(ctx, s.DataStream(), "test_up"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("the old consumer: %v; want it deleted", err)
	}
}

// TestWorkTakeoverKeepsOrder: an instance that dies holding inputs (its
// connection gone, nothing acknowledged) leaves its partition to another,
// which runs the held inputs before the newer ones of their devices.
func TestWorkTakeoverKeepsOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	work := eventstore.Work{Durable: "test_takeover", MemberTTL: 2 * time.Second, AckWait: 6 * time.Second}
	b, _, publish := diesHolding(ctx, t, work)

	var w worker
	go func() { _ = b.Follow(ctx, work, w.handle) }()
	time.Sleep(3 * time.Second) // a's announcement and pin expired: b holds the partition
	publish(5, 10)
	waitFor(t, func() bool { return w.count() >= 10 })
	w.inOrder(t, "data.t1.d1")
}

// diesHolding starts an instance following work on a one-partition DATA
// that receives inputs 0 to 4 of device d1, never acknowledges them and
// dies (no ack, no unpin, its announcement expires). It returns another
// store, the options to open more, and how to publish more inputs.
func diesHolding(ctx context.Context, t *testing.T, work eventstore.Work) (*eventstore.Store, eventstore.Options, func(from, to int)) {
	t.Helper()
	opts := eventstoretest.Isolated(t, eventstoretest.URL(t))
	opts.DataPartitions = 1
	b := eventstoretest.OpenWith(t, opts)
	a, err := eventstore.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan eventstore.WorkItem, 100)
	go func() { _ = a.Follow(ctx, work, func(item eventstore.WorkItem) { held <- item }) }() // never acks
	time.Sleep(work.MemberTTL / 2)
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := b.AppendData(ctx, "t1", "d1", []byte(fmt.Sprintf(`{"attrs":{"n":%d}}`, i)), ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(0, 5)
	for range 5 {
		select {
		case <-held:
		case <-ctx.Done():
			t.Fatal("the first instance got nothing")
		}
	}
	a.Close()
	return b, opts, publish
}

// inOrder fails t unless the inputs of subject ran in stream order.
func (w *worker) inOrder(t *testing.T, subject string) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	seqs := w.seen[subject]
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("%s's inputs ran in the order %v; the held ones should come first", subject, seqs)
		}
	}
}

// TestWorkTakeoverInCrashLoop: the inputs a dead instance held run in
// the first instance alive AckWait after their delivery, even when every
// instance since lived less than AckWait (restarts every few seconds),
// and before the newer inputs of their device.
func TestWorkTakeoverInCrashLoop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	work := eventstore.Work{Durable: "test_loop", MemberTTL: time.Second, AckWait: 4 * time.Second}
	_, opts, publish := diesHolding(ctx, t, work)
	publish(5, 10)

	// Instances that each live half an AckWait, one after another.
	var w worker
	for i := 0; i < 8 && w.count() < 10; i++ {
		s, err := eventstore.Open(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		fctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Follow(fctx, work, w.handle) }()
		time.Sleep(work.AckWait / 2)
		stop()
		<-done
		s.Close()
	}
	if n := w.count(); n < 10 {
		t.Fatalf("%d of the 10 inputs ran in 8 restarts of AckWait/2 each; want all", n)
	}
	w.inOrder(t, "data.t1.d1")
}
