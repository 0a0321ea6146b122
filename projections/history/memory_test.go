package history_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/projections"
	"github.com/dojot-es/dojot/projections/history"
	"github.com/dojot-es/dojot/projections/history/historytest"
)

// memoryView adapts *history.Memory to the suite's View.
type memoryView struct{ *history.Memory }

func (m memoryView) Readings() projections.View { return m.Memory.Readings() }
func (m memoryView) Events() projections.View   { return m.Memory.Events() }

func TestMemoryConformance(t *testing.T) {
	historytest.Run(t, eventstoretest.Open, func(t *testing.T, store *eventstore.Store) historytest.View {
		return memoryView{history.NewMemory(store)}
	})
}

// TestMemoryTrim: readings gone from DATA and actuations older than the
// retention leave the index, and a reading that expired before it was
// trimmed is skipped, not an error.
func TestMemoryTrim(t *testing.T) {
	store := eventstoretest.Open(t)
	ctx := context.Background()
	var seqs []uint64
	for i := range 5 {
		b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"deviceid": "d1", "tenant": "ta", "timestamp": 1700000000000 + i}, "attrs": map[string]any{"n": i}})
		seq, err := store.AppendData(ctx, "ta", "d1", b, "")
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	m := history.NewMemory(store)
	historytest.Feed(t, store, memoryView{m}, nil)
	js := store.JetStream()
	st, err := js.Stream(ctx, store.DataStream())
	if err != nil {
		t.Fatal(err)
	}
	// Expire the first two, as age or size limits would.
	for _, seq := range seqs[:2] {
		if err := st.DeleteMsg(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	docs, err := m.Find(ctx, "ta", "d1", history.Query{Attr: "n", Oldest: true, Limit: 2})
	if err != nil || len(docs) != 2 || string(docs[0].Value) != "2" || string(docs[1].Value) != "3" {
		t.Fatalf("Find after expiry = %v, %v; want n=2, n=3", docs, err)
	}
	first, _, err := store.DataRange(ctx)
	if err != nil || first != seqs[2] {
		t.Fatalf("DataRange first = %d, %v; want %d", first, err, seqs[2])
	}
	if n := m.Trim(first, time.Time{}); n != 2 {
		t.Errorf("Trim dropped %d; want 2", n)
	}
	docs, _ = m.Find(ctx, "ta", "d1", history.Query{Attr: "n"})
	if len(docs) != 3 {
		t.Errorf("after Trim %d docs; want 3", len(docs))
	}
}

func TestMemoryNotifications(t *testing.T) {
	historytest.RunNotifications(t, eventstoretest.Open, func(t *testing.T, store *eventstore.Store) historytest.NotificationView {
		return memoryNotifications{history.NewMemory(store)}
	})
}

// memoryNotifications adapts *history.Memory to the notifications suite.
type memoryNotifications struct{ *history.Memory }

func (m memoryNotifications) Notifications() projections.View { return m.Memory.Notifications() }
