package eventstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

// TestPending: a Work's readings count as pending, over its partitions,
// until they are acknowledged; another prefix's consumers are not counted.
func TestPending(t *testing.T) {
	s := eventstoretest.OpenWith(t, eventstoretest.Isolated(t, eventstoretest.URL(t)))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	var held []eventstore.WorkItem
	go func() {
		_ = s.Follow(ctx, eventstore.Work{Durable: "pend_work"}, func(item eventstore.WorkItem) {
			mu.Lock()
			held = append(held, item) // not acknowledged yet
			mu.Unlock()
		})
	}()
	pending := func(prefix string) uint64 {
		n, err := s.Pending(ctx, s.DataStream(), prefix)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The partitions' consumers deliver new readings only: publish once
	// all 16 exist.
	waitFor(t, func() bool {
		st, err := s.JetStream().Stream(ctx, s.DataStream())
		if err != nil {
			return false
		}
		n := 0
		for range st.ListConsumers(ctx).Info() {
			n++
		}
		return n == 16
	})
	for i := range 10 {
		if _, err := s.AppendData(ctx, "t1", fmt.Sprintf("d%d", i), []byte(`{"attrs":{"n":1}}`), ""); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return pending("pend_work_") == 10 })
	if n := pending("other_"); n != 0 {
		t.Errorf("Pending(other_) = %d; want 0", n)
	}
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(held) == 10 })
	if n := pending("pend_work_"); n != 10 {
		t.Errorf("Pending with 10 readings delivered, not acknowledged = %d; want 10", n)
	}
	mu.Lock()
	for _, item := range held {
		item.Ack()
	}
	mu.Unlock()
	waitFor(t, func() bool { return pending("pend_work_") == 0 })
}
