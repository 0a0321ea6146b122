// Package historytest is the conformance suite every history view (memory,
// Mongo) passes: readings and actuations are stored in a real event store,
// read back from its streams and applied to the view, and every query
// dojot's History can make is compared with a reference computed by brute
// force from the same documents.
package historytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/projections"
	"github.com/dojot-es/dojot/projections/history"
)

// View is a history view under test.
type View interface {
	// Readings applies the DATA stream, Events the EVENTS stream.
	Readings() projections.View
	Events() projections.View
	Known(ctx context.Context, tenant, id string) (bool, error)
	Find(ctx context.Context, tenant, id string, q history.Query) ([]history.Doc, error)
	Attrs(ctx context.Context, tenant, id string) ([]string, error)
}

// Open returns a fresh, empty view reading from store.
type Open func(t *testing.T, store *eventstore.Store) View

// Run runs the suite: each test stores its own scenario in a fresh store
// (made by newStore) and opens a view on it.
func Run(t *testing.T, newStore func(testing.TB) *eventstore.Store, open Open) {
	t.Run("Answers", func(t *testing.T) { testAnswers(t, newStore(t), open) })
	t.Run("Idempotent", func(t *testing.T) { testIdempotent(t, newStore(t), open) })
	t.Run("Empty", func(t *testing.T) { testEmpty(t, newStore(t), open) })
	t.Run("CopiesOfAnOutput", func(t *testing.T) { testCopies(t, newStore(t), open) })
}

// The scenario's names.
var (
	tenants = []string{"hta", "htb"}
	devices = []string{"d1", "d2", "d3", "d4"}
	attrs   = []string{"temperature", "humidity", "status", "blob", "n"}
	// created has a device.created and no reading; unseen is never named.
	created, unseen = "d9", "d0"
)

// base is the scenario's earliest reading time.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Scenario stores readings (every timestamp form dojot accepts, extra
// metadata, blank values, repeated times, late arrivals, bad readings) and
// device events (creations, actuations) in store. It returns how many
// readings it stored.
func Scenario(t testing.TB, store *eventstore.Store, readings int) int {
	t.Helper()
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(7, 7))
	for _, tn := range tenants {
		for _, d := range append([]string{created}, devices[:2]...) {
			appendEvent(t, store, tn, dojot.EventDeviceCreated, d, dojot.DeviceCreated{Device: dojot.Device{ID: d, Label: d, Created: base}})
		}
	}
	stored := 0
	for i := range readings {
		tn := tenants[rnd.IntN(len(tenants))]
		dev := devices[rnd.IntN(len(devices))]
		payload := reading(rnd, i, tn, dev)
		if _, err := store.AppendData(ctx, tn, dev, payload, ""); err != nil {
			t.Fatalf("historytest: append reading: %v", err)
		}
		stored++
		if i%37 == 0 {
			ts := base.Add(time.Duration(rnd.IntN(3600)) * time.Second)
			if i%74 == 0 {
				ts = time.Time{} // the event's own time
			}
			cfg := fmt.Sprintf(`{"status":"cfg-%d","n":%d}`, i, -i)
			ms := int64(0)
			if !ts.IsZero() {
				ms = ts.UnixMilli()
			}
			appendEvent(t, store, tn, dojot.EventDeviceActuated, dev, dojot.DeviceActuated{ID: dev, Attrs: json.RawMessage(cfg), Timestamp: ms})
		}
	}
	// Readings the persister refuses: they are skipped, nothing else is.
	for _, bad := range []string{
		`not json`,
		`{"attrs":{"temperature":1}}`,
		`{"metadata":{"tenant":"hta"},"attrs":{"temperature":1}}`,
		`{"metadata":{"deviceid":"d2","tenant":"hta"},"attrs":{"temperature":1}}`, // on d1's subject
		`{"metadata":{"deviceid":"d1","tenant":"hta"},"attrs":[1,2]}`,
		`{"metadata":{"deviceid":"d1","tenant":"hta"}}`,
	} {
		if _, err := store.AppendData(ctx, "hta", "d1", []byte(bad), ""); err != nil {
			t.Fatalf("historytest: append: %v", err)
		}
		stored++
	}
	// Something unrelated to history in EVENTS: it moves the checkpoint only.
	appendEvent(t, store, "hta", dojot.EventDeviceDeleted, "d2", dojot.DeviceDeleted{ID: "d2"})
	return stored
}

func appendEvent(t testing.TB, store *eventstore.Store, tenant, typ, id string, data any) {
	t.Helper()
	ev, err := dojot.NewEvent(typ, tenant, "device", id, time.Now(), data)
	if err != nil {
		t.Fatal(err)
	}
	ev.NoExpect = true
	if _, err := store.Append(context.Background(), ev); err != nil {
		t.Fatalf("historytest: append %s: %v", typ, err)
	}
}

// reading makes reading i of a device: a few attributes with values of
// every JSON kind, and a timestamp in one of dojot's forms.
func reading(rnd *rand.Rand, i int, tenant, dev string) []byte {
	// Mostly in time order, some late, some at the same millisecond.
	at := base.Add(time.Duration(i)*time.Second + time.Duration(rnd.IntN(1000))*time.Millisecond)
	switch rnd.IntN(10) {
	case 0:
		at = base.Add(time.Duration(rnd.IntN(i+1)) * time.Second) // late
	case 1:
		at = base.Add(time.Duration(i/2) * time.Second) // shared times
	}
	meta := map[string]any{"deviceid": dev, "tenant": tenant}
	switch rnd.IntN(6) {
	case 0: // no timestamp: the time JetStream stored it
	case 1:
		meta["timestamp"] = at.Unix() // seconds
	case 2:
		meta["timestamp"] = at.Format(time.RFC3339Nano)
	case 3:
		meta["timestamp"] = strconv.FormatInt(at.UnixMilli(), 10)
	default:
		meta["timestamp"] = at.UnixMilli()
	}
	if rnd.IntN(5) == 0 {
		meta["shouldPersist"] = true
		meta["protocol"] = "mqtt"
	}
	a := map[string]any{}
	for _, name := range attrs {
		if rnd.IntN(2) == 0 {
			continue
		}
		switch name {
		case "temperature":
			a[name] = float64(rnd.IntN(4000))/100 - 5
		case "humidity":
			a[name] = rnd.IntN(100)
		case "status":
			a[name] = []any{"on", "off", " ", "", "é\"quoted\""}[rnd.IntN(5)]
		case "blob":
			a[name] = []any{map[string]any{"x": i, "y": []int{1, 2}}, nil, true, []any{"a", 1.5}}[rnd.IntN(4)]
		case "n":
			a[name] = i
		}
	}
	b, _ := json.Marshal(map[string]any{"metadata": meta, "attrs": a})
	return b
}

// Feed applies everything store holds to v, in batches of random sizes,
// as a projections.Runner would: readings to Readings(), events to
// Events(). Refusals of bad readings are expected; any other failure
// fails the test.
func Feed(t testing.TB, store *eventstore.Store, v View, rnd *rand.Rand) {
	t.Helper()
	if rnd == nil {
		rnd = rand.New(rand.NewPCG(1, 1))
	}
	feed(t, store.DataLog(), v.Readings(), rnd)
	feed(t, store, v.Events(), rnd)
}

type source interface {
	Subscribe(ctx context.Context, from uint64, fn func(dojot.Event) error) error
	LastSeq(ctx context.Context) (uint64, error)
}

func feed(t testing.TB, src source, v projections.View, rnd *rand.Rand) {
	t.Helper()
	evs := read(t, src)
	ctx := context.Background()
	for len(evs) > 0 {
		n := min(len(evs), 1+rnd.IntN(64))
		batch := evs[:n]
		evs = evs[n:]
		var errs []error
		switch a := v.(type) {
		case projections.TxApplier:
			refused, err := a.ApplyTx(ctx, batch)
			if err != nil {
				t.Fatalf("historytest: ApplyTx %d..%d: %v", batch[0].Seq, batch[n-1].Seq, err)
			}
			errs = refused
		case projections.BatchApplier:
			errs = a.ApplyBatch(ctx, batch)
		default:
			for _, ev := range batch {
				errs = append(errs, v.Apply(ctx, ev))
			}
		}
		for i, err := range errs {
			if err != nil && !errors.Is(err, history.ErrNoReading) {
				t.Fatalf("historytest: apply seq %d: %v", batch[i].Seq, err)
			}
		}
	}
}

// read returns every event src holds, in order.
func read(t testing.TB, src source) []dojot.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	last, err := src.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var evs []dojot.Event
	if last == 0 {
		return nil
	}
	done := errors.New("done")
	err = src.Subscribe(ctx, 1, func(ev dojot.Event) error {
		evs = append(evs, ev)
		if ev.Seq >= last {
			return done
		}
		return nil
	})
	if !errors.Is(err, done) {
		t.Fatalf("historytest: read the log: %v", err)
	}
	return evs
}

// Reference is every doc of the scenario, by tenant, device and attribute,
// sorted by time then stream position: what a view must answer from.
type Reference map[[3]string][]history.Doc

// NewReference builds the reference from what store holds.
func NewReference(t testing.TB, store *eventstore.Store) Reference {
	t.Helper()
	ref := Reference{}
	add := func(tenant string, docs []history.Doc) {
		for _, d := range docs {
			k := [3]string{tenant, d.DeviceID, d.Attr}
			ref[k] = append(ref[k], d)
		}
	}
	for _, ev := range read(t, store.DataLog()) {
		if docs, err := history.ReadingDocs(ev); err == nil {
			add(ev.Tenant, docs)
		}
	}
	for _, ev := range read(t, store) {
		if ev.Type == dojot.EventDeviceActuated {
			docs, err := history.ActuationDocs(ev)
			if err != nil {
				t.Fatal(err)
			}
			add(ev.Tenant, docs)
		}
	}
	for _, docs := range ref {
		slices.SortStableFunc(docs, func(a, b history.Doc) int {
			if c := a.TS.Compare(b.TS); c != 0 {
				return c
			}
			return order(a.Ref, b.Ref)
		})
	}
	return ref
}

// order sorts refs as views do: readings and actuations by their own
// sequence (the two streams interleave only at equal times, which dojot
// leaves in any order; the suite avoids asserting it, see Find).
func order(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// attrs are the attributes a device has docs of, sorted.
func (r Reference) attrs(tenant, id string) []string {
	var out []string
	for k := range r {
		if k[0] == tenant && k[1] == id {
			out = append(out, k[2])
		}
	}
	slices.Sort(out)
	return out
}

// Find answers q by brute force.
func (r Reference) Find(tenant, id string, q history.Query) []history.Doc {
	var out []history.Doc
	for _, d := range r[[3]string{tenant, id, q.Attr}] {
		if history.Blank(d.Value) || !q.From.IsZero() && d.TS.Before(q.From) || !q.To.IsZero() && d.TS.After(q.To) {
			continue
		}
		out = append(out, d)
	}
	if !q.Oldest {
		slices.Reverse(out)
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out
}

// times are instants worth bounding a query by: some docs' own times (the
// bounds are inclusive) and a few around them.
func (r Reference) times(rnd *rand.Rand) []time.Time {
	var all []time.Time
	for _, docs := range r {
		for _, d := range docs {
			all = append(all, d.TS)
		}
	}
	if len(all) == 0 {
		return []time.Time{base}
	}
	var ts []time.Time
	for range 6 {
		t := all[rnd.IntN(len(all))]
		ts = append(ts, t, t.Add(time.Millisecond), t.Add(-time.Millisecond))
	}
	return ts
}

func queries(r Reference, rnd *rand.Rand) []history.Query {
	var qs []history.Query
	ts := r.times(rnd)
	for _, attr := range append(slices.Clone(attrs), "nope") {
		for _, limit := range []int{0, 1, 3, 10, 1000} {
			for _, oldest := range []bool{false, true} {
				q := history.Query{Attr: attr, Limit: limit, Oldest: oldest}
				qs = append(qs, q)
				from, to := ts[rnd.IntN(len(ts))], ts[rnd.IntN(len(ts))]
				if to.Before(from) {
					from, to = to, from
				}
				qs = append(qs,
					history.Query{Attr: attr, Limit: limit, Oldest: oldest, From: from},
					history.Query{Attr: attr, Limit: limit, Oldest: oldest, To: to},
					history.Query{Attr: attr, Limit: limit, Oldest: oldest, From: from, To: to},
					history.Query{Attr: attr, Limit: limit, Oldest: oldest, From: to, To: from})
			}
		}
	}
	return qs
}

// testAnswers: every query of every device answers as the reference does,
// document for document (JSON as the History API renders it).
func testAnswers(t *testing.T, store *eventstore.Store, open Open) {
	Scenario(t, store, 1500)
	v := open(t, store)
	Feed(t, store, v, rand.New(rand.NewPCG(1, 2)))
	checkAnswers(t, v, NewReference(t, store))
}

func checkAnswers(t *testing.T, v View, ref Reference) {
	t.Helper()
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(3, 4))
	qs := queries(ref, rnd)
	asked, nonEmpty := 0, 0
	for _, tn := range tenants {
		for _, dev := range append(slices.Clone(devices), created, unseen) {
			known, err := v.Known(ctx, tn, dev)
			if err != nil {
				t.Fatal(err)
			}
			if want := dev != unseen; known != want {
				t.Errorf("Known(%s, %s) = %v; want %v", tn, dev, known, want)
			}
			got, err := v.Attrs(ctx, tn, dev)
			if err != nil {
				t.Fatal(err)
			}
			if want := ref.attrs(tn, dev); !slices.Equal(got, want) {
				t.Errorf("Attrs(%s, %s) = %v; want %v", tn, dev, got, want)
			}
			for _, q := range qs {
				got, err := v.Find(ctx, tn, dev, q)
				if err != nil {
					t.Fatalf("Find(%s, %s, %+v): %v", tn, dev, q, err)
				}
				want := ref.Find(tn, dev, q)
				asked++
				if len(want) > 0 {
					nonEmpty++
				}
				if g, w := render(got), render(want); g != w {
					t.Fatalf("Find(%s, %s, %+v):\n got %d docs %s\nwant %d docs %s", tn, dev, q, len(got), trunc(g), len(want), trunc(w))
				}
			}
		}
	}
	if nonEmpty < asked/3 {
		t.Fatalf("only %d of %d queries had answers: the scenario tests too little", nonEmpty, asked)
	}
	// Another tenant's device of the same id is another history.
	if known, _ := v.Known(ctx, "htc", "d1"); known {
		t.Error("Known(htc, d1) = true; the tenant has nothing")
	}
}

func render(docs []history.Doc) string {
	b, err := json.Marshal(docs)
	if err != nil {
		panic(err)
	}
	if docs == nil {
		return "[]"
	}
	return string(b)
}

func trunc(s string) string {
	if len(s) > 600 {
		return s[:600] + "..."
	}
	return s
}

// testIdempotent: applying part of the log again (a crash between a batch
// and its checkpoint, an at-least-once redelivery) stores nothing twice.
func testIdempotent(t *testing.T, store *eventstore.Store, open Open) {
	Scenario(t, store, 400)
	v := open(t, store)
	rnd := rand.New(rand.NewPCG(5, 6))
	Feed(t, store, v, rnd)
	evs := read(t, store.DataLog())
	// The last 150 readings, again, as a redelivery after a crash would.
	again := evs[len(evs)-150:]
	replay(t, v.Readings(), again)
	replay(t, v.Events(), read(t, store)[10:])
	checkAnswers(t, v, NewReference(t, store))
	ctx := context.Background()
	last, _ := store.DataLog().LastSeq(ctx)
	if cp, err := v.Readings().Checkpoint(ctx); err != nil || cp != last {
		t.Errorf("Readings checkpoint = %d, %v; want %d", cp, err, last)
	}
	last, _ = store.LastSeq(ctx)
	if cp, err := v.Events().Checkpoint(ctx); err != nil || cp != last {
		t.Errorf("Events checkpoint = %d, %v; want %d", cp, err, last)
	}
}

// replay applies evs as they are (below the checkpoint: no-ops for a
// view that checks it, idempotent writes for one that cannot).
func replay(t *testing.T, v projections.View, evs []dojot.Event) {
	t.Helper()
	ctx := context.Background()
	if tx, ok := v.(projections.TxApplier); ok {
		if _, err := tx.ApplyTx(ctx, evs); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, ev := range evs {
		if err := v.Apply(ctx, ev); err != nil && !errors.Is(err, history.ErrNoReading) {
			t.Fatal(err)
		}
	}
}

// testEmpty: a view of nothing knows no device and has checkpoints 0.
func testEmpty(t *testing.T, store *eventstore.Store, open Open) {
	v := open(t, store)
	ctx := context.Background()
	if known, err := v.Known(ctx, "hta", "d1"); err != nil || known {
		t.Errorf("Known on an empty view = %v, %v", known, err)
	}
	docs, err := v.Find(ctx, "hta", "d1", history.Query{Attr: "temperature"})
	if err != nil || len(docs) != 0 {
		t.Errorf("Find on an empty view = %v, %v", docs, err)
	}
	for _, sub := range []projections.View{v.Readings(), v.Events()} {
		if cp, err := sub.Checkpoint(ctx); err != nil || cp != 0 {
			t.Errorf("Checkpoint of an empty view = %d, %v", cp, err)
		}
	}
}

// testCopies: a flow's output stored again in DATA past the stream's
// Duplicates window (its input run again long after a crash), with the
// same id, is in history once, whether both copies come in one batch or
// the second long after; readings without an id are never merged, nor
// are readings of other devices with the same id.
func testCopies(t *testing.T, store *eventstore.Store, open Open) {
	ctx := context.Background()
	out := func(dev string, n int) []byte {
		return []byte(fmt.Sprintf(`{"metadata":{"deviceid":%q,"tenant":"hta","timestamp":%d},"attrs":{"n":%d}}`, dev, base.Add(time.Duration(n)*time.Second).UnixMilli(), n))
	}
	appendOut := func(dev string, n int, id string) uint64 {
		t.Helper()
		seq, err := store.AppendFlowData(ctx, "hta", dev, out(dev, n), id, 1)
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	// The same id again within the window is JetStream's to drop; past
	// it, DATA stores a second copy. A short window stands for the
	// minutes a crash loop can hold an input.
	st, err := store.JetStream().Stream(ctx, store.DataStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.Config
	cfg.Duplicates = 100 * time.Millisecond
	if _, err := store.JetStream().UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	again := func(dev string, n int, id string, first uint64) uint64 {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if seq := appendOut(dev, n, id); seq != first {
				return seq
			}
		}
		t.Fatalf("historytest: DATA never stored a second copy of %s", id)
		return 0
	}

	first := appendOut("d1", 1, "7:node1:0")
	appendOut("d1", 2, "8:node1:0")
	for range 2 { // plain readings, the same twice: two readings
		if _, err := store.AppendData(ctx, "hta", "d1", out("d1", 3), ""); err != nil {
			t.Fatal(err)
		}
	}
	copied := again("d1", 1, "7:node1:0", first)
	again("d2", 1, "7:node1:0", copied) // another device's reading, the same id
	early := open(t, store)
	Feed(t, store, early, rand.New(rand.NewPCG(9, 9)))
	// A copy long after, applied by a view that has the first already.
	again("d1", 2, "8:node1:0", first+1)
	evs := read(t, store.DataLog())
	replay(t, early.Readings(), evs[len(evs)-1:])

	want := map[string][]string{"d1": {"1", "2", "3", "3"}, "d2": {"1"}}
	for name, v := range map[string]View{"fed as it came": early, "fed at once": func() View {
		v := open(t, store)
		Feed(t, store, v, rand.New(rand.NewPCG(9, 10)))
		return v
	}()} {
		for dev, w := range want {
			docs, err := v.Find(ctx, "hta", dev, history.Query{Attr: "n", Oldest: true})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range docs {
				got = append(got, string(d.Value))
			}
			if !slices.Equal(got, w) {
				t.Errorf("%s: history of %s = %v; want %v (each output once)", name, dev, got, w)
			}
		}
	}
}
