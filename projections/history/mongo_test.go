package history_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/internal/mongotest"
	"github.com/dojot-es/dojot/projections"
	"github.com/dojot-es/dojot/projections/history"
	"github.com/dojot-es/dojot/projections/history/historytest"
)

// mongoView adapts *history.Mongo to the suite's View.
type mongoView struct{ *history.Mongo }

func (m mongoView) Readings() projections.View { return m.Mongo.Readings() }
func (m mongoView) Events() projections.View   { return m.Mongo.Events() }

// openMongo opens a Mongo history on a database of the test's own (or
// on db, to share it with another instance).
func openMongo(t testing.TB, db string, opts history.MongoOptions) (*history.Mongo, string) {
	t.Helper()
	if db == "" {
		opts.URL, opts.Database = mongotest.Database(t)
	} else {
		opts.URL, opts.Database = mongotest.URL(t), db
	}
	m, err := history.OpenMongo(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, opts.Database
}

func TestMongoConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: a FerretDB and thousands of queries")
	}
	historytest.Run(t, eventstoretest.Open, func(t *testing.T, _ *eventstore.Store) historytest.View {
		m, _ := openMongo(t, "", history.MongoOptions{})
		return mongoView{m}
	})
}

// rawClient connects to the test server to read what a view stored.
func rawClient(t testing.TB) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(mongotest.URL(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	return c
}

// syncBuffer is a log destination tests read.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func appendEvent(t testing.TB, store *eventstore.Store, tenant, typ, id string, data any) uint64 {
	t.Helper()
	ev, err := dojot.NewEvent(typ, tenant, "device", id, time.Now(), data)
	if err != nil {
		t.Fatal(err)
	}
	ev.NoExpect = true
	seq, err := store.Append(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// TestMongoLayout reads back what the view stored, with the driver, and
// checks dojot's persister layout: collection <tenant>_<deviceid>, one
// document per attribute with its fields in dojot's order, ts a date,
// values and metadata as pymongo stores JSON, dojot's indexes.
func TestMongoLayout(t *testing.T) {
	ctx := t.Context()
	store := eventstoretest.Open(t)
	logs := &syncBuffer{}
	m, dbName := openMongo(t, "", history.MongoOptions{Expiration: time.Hour, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	mv := mongoView{m}
	appendEvent(t, store, "ta", dojot.EventDeviceCreated, "c6ea4b", dojot.DeviceCreated{Device: dojot.Device{ID: "c6ea4b", Label: "x"}})
	appendEvent(t, store, "ta", dojot.EventDeviceCreated, "quiet", dojot.DeviceCreated{Device: dojot.Device{ID: "quiet", Label: "x"}})
	seq, err := store.AppendData(ctx, "ta", "c6ea4b", []byte(`{"metadata":{"deviceid":"c6ea4b","tenant":"ta","timestamp":1700000000123,"protocol":"mqtt","a":{"z":1,"b":[true,null]}},`+
		`"attrs":{"int":23,"big":12345678901234567890,"float":22.5,"one":1.0,"exp":1e3,"neg":-0,"str":"s\u00e9<","obj":{"b":1,"a":[1,2.5,{"z":null}],"b":2},"bool":false,"nil":null}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	evSeq := appendEvent(t, store, "ta", dojot.EventDeviceActuated, "c6ea4b", dojot.DeviceActuated{ID: "c6ea4b", Attrs: json.RawMessage(`{"int":7}`), Timestamp: 1700000000123})
	historytest.Feed(t, store, mv, nil)

	db := rawClient(t).Database(dbName)
	names, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	slicesSort(names)
	if want := []string{"_dojot_meta", "ta_c6ea4b", "ta_quiet"}; !reflect.DeepEqual(names, want) {
		t.Errorf("collections = %v; want %v", names, want)
	}

	coll := db.Collection("ta_c6ea4b")
	cur, err := coll.Find(ctx, bson.D{{Key: "_id", Value: "d" + itoa(seq) + ":obj"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []bson.D
	if err := cur.All(ctx, &got); err != nil || len(got) != 1 {
		t.Fatalf("obj doc: %v, %v", got, err)
	}
	ts := bson.NewDateTimeFromTime(time.UnixMilli(1700000000123))
	want := bson.D{
		{Key: "_id", Value: "d" + itoa(seq) + ":obj"},
		{Key: "attr", Value: "obj"},
		{Key: "value", Value: bson.D{{Key: "b", Value: int64(2)}, {Key: "a", Value: bson.A{int64(1), 2.5, bson.D{{Key: "z", Value: nil}}}}}},
		{Key: "device_id", Value: "c6ea4b"},
		{Key: "ts", Value: ts},
		{Key: "metadata", Value: bson.D{{Key: "a", Value: bson.D{{Key: "z", Value: int64(1)}, {Key: "b", Value: bson.A{true, nil}}}}, {Key: "protocol", Value: "mqtt"}}},
		{Key: "ref", Value: int64(seq)},
	}
	if !reflect.DeepEqual(got[0], want) {
		t.Errorf("stored\n got %v\nwant %v", got[0], want)
	}

	// Every attribute's value as BSON, and as History renders it back.
	values := map[string]struct {
		bson any
		json string
	}{
		"int":   {int64(23), `23`},
		"big":   {12345678901234567890.0, `1.2345678901234567e+19`},
		"float": {22.5, `22.5`},
		"one":   {1.0, `1.0`},
		"exp":   {1000.0, `1000.0`},
		"neg":   {int64(0), `0`},
		"str":   {"sé<", `"sé<"`},
		"obj":   {want[2].Value, `{"b":2,"a":[1,2.5,{"z":null}]}`},
		"bool":  {false, `false`},
		"nil":   {nil, `null`},
	}
	for attr, w := range values {
		var d struct {
			Value any `bson:"value"`
		}
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "d" + itoa(seq) + ":" + attr}}).Decode(&d); err != nil {
			t.Errorf("%s: %v", attr, err)
			continue
		}
		if !reflect.DeepEqual(d.Value, w.bson) {
			t.Errorf("%s stored as %#v; want %#v", attr, d.Value, w.bson)
		}
		docs, err := m.Find(ctx, "ta", "c6ea4b", history.Query{Attr: attr, Oldest: true})
		if err != nil || len(docs) == 0 {
			t.Errorf("Find %s = %v, %v", attr, docs, err)
			continue
		}
		if string(docs[0].Value) != w.json {
			t.Errorf("Find %s value = %s; want %s", attr, docs[0].Value, w.json)
		}
		if attr == "int" {
			b, _ := json.Marshal(docs[0])
			if w := `{"attr":"int","value":23,"device_id":"c6ea4b","ts":"2023-11-14T22:13:20.123000Z","metadata":{"a":{"z":1,"b":[true,null]},"protocol":"mqtt"}}`; string(b) != w {
				t.Errorf("Find int = %s; want %s", b, w)
			}
		}
	}
	// The actuation: an EVENTS id, ref with RefEvent, metadata {}; at the
	// same ts as the reading, after it (a larger ref).
	var act bson.D
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "e" + itoa(evSeq) + ":int"}}).Decode(&act); err != nil {
		t.Fatal(err)
	}
	if w := (bson.D{{Key: "_id", Value: "e" + itoa(evSeq) + ":int"}, {Key: "attr", Value: "int"}, {Key: "value", Value: int64(7)},
		{Key: "device_id", Value: "c6ea4b"}, {Key: "ts", Value: ts}, {Key: "metadata", Value: bson.D{}},
		{Key: "ref", Value: int64(evSeq | history.RefEvent)}}); !reflect.DeepEqual(act, w) {
		t.Errorf("actuation\n got %v\nwant %v", act, w)
	}
	docs, err := m.Find(ctx, "ta", "c6ea4b", history.Query{Attr: "int"})
	if err != nil || len(docs) != 2 || string(docs[0].Value) != "7" || string(docs[1].Value) != "23" {
		t.Errorf("Find int newest first = %v, %v; want 7 then 23", docs, err)
	}

	// dojot's indexes on both collections; the TTL one unless the server
	// has none (FerretDB), which the log says.
	ferret := isFerret(t, db)
	for _, name := range []string{"ta_c6ea4b", "ta_quiet"} {
		idx := indexes(t, db.Collection(name))
		for key, keys := range map[string]bson.D{
			"ts_-1":             {{Key: "ts", Value: int32(-1)}},
			"attr_-1_ts_-1":     {{Key: "attr", Value: int32(-1)}, {Key: "ts", Value: int32(-1)}},
			"attr_1_ts_1_ref_1": {{Key: "attr", Value: int32(1)}, {Key: "ts", Value: int32(1)}, {Key: "ref", Value: int32(1)}},
		} {
			if !reflect.DeepEqual(idx[key].Key, keys) {
				t.Errorf("%s: index %s = %v; want keys %v", name, key, idx[key].Key, keys)
			}
		}
		ttl, ok := idx["ts_1"]
		switch {
		case ok && (!reflect.DeepEqual(ttl.Key, bson.D{{Key: "ts", Value: int32(1)}}) || ttl.Expire == nil || *ttl.Expire != 3600):
			t.Errorf("%s: TTL index %+v; want ts_1 expiring after 3600 s", name, ttl)
		case !ok && !ferret:
			t.Errorf("%s: no TTL index ts_1 (indexes %v)", name, idx)
		case !ok && !strings.Contains(logs.String(), "no TTL indexes"):
			t.Errorf("FerretDB refused the TTL index and the log does not say so: %s", logs)
		}
	}
	if n := strings.Count(logs.String(), "no TTL indexes"); ferret && n != 1 {
		t.Errorf("the missing TTL index is logged %d times; want once", n)
	}

	for _, dev := range []string{"c6ea4b", "quiet"} {
		if ok, err := m.Known(ctx, "ta", dev); err != nil || !ok {
			t.Errorf("Known(ta, %s) = %v, %v", dev, ok, err)
		}
	}
	// Another process sees the collections too (no cache).
	other, _ := openMongo(t, dbName, history.MongoOptions{})
	if ok, err := other.Known(ctx, "ta", "quiet"); err != nil || !ok {
		t.Errorf("Known from another process = %v, %v", ok, err)
	}
	if ok, err := other.Known(ctx, "ta", "nope"); err != nil || ok {
		t.Errorf("Known(ta, nope) = %v, %v", ok, err)
	}
}

type indexInfo struct {
	Name   string `bson:"name"`
	Key    bson.D `bson:"key"`
	Expire *int32 `bson:"expireAfterSeconds"`
}

func indexes(t testing.TB, coll *mongo.Collection) map[string]indexInfo {
	t.Helper()
	cur, err := coll.Indexes().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var all []indexInfo
	if err := cur.All(context.Background(), &all); err != nil {
		t.Fatal(err)
	}
	m := map[string]indexInfo{}
	for _, i := range all {
		m[i.Name] = i
	}
	return m
}

// isFerret says whether the server is FerretDB (its buildInfo says so).
func isFerret(t testing.TB, db *mongo.Database) bool {
	t.Helper()
	var info bson.M
	if err := db.Client().Database("admin").RunCommand(context.Background(), bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		t.Fatal(err)
	}
	_, ok := info["ferretdbVersion"]
	return ok
}

// TestMongoApplyTwice: a batch applied again with its checkpoint lost in
// between (a crash after the inserts) stores each document once, and
// readings that cannot be stored are refused without failing the batch.
func TestMongoApplyTwice(t *testing.T) {
	ctx := t.Context()
	store := eventstoretest.Open(t)
	for i := range 20 {
		b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"deviceid": "d1", "tenant": "ta", "timestamp": 1700000000000 + i}, "attrs": map[string]any{"n": i, "s": "x"}})
		if _, err := store.AppendData(ctx, "ta", "d1", b, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{`{"metadata":{"deviceid":"d1"},"attrs":{"o":{"$where":1}}}`, `{"metadata":{"deviceid":"d1"},"attrs":{"o":{"a.b":1}}}`, `nope`} {
		if _, err := store.AppendData(ctx, "ta", "d1", []byte(bad), ""); err != nil {
			t.Fatal(err)
		}
	}
	var evs []dojot.Event
	err := store.DataLog().Subscribe(ctx, 1, func(ev dojot.Event) error {
		evs = append(evs, ev)
		if len(evs) == 23 {
			return context.Canceled
		}
		return nil
	})
	if len(evs) != 23 {
		t.Fatalf("read %d readings: %v", len(evs), err)
	}
	m, dbName := openMongo(t, "", history.MongoOptions{})
	r := m.Readings()
	db := rawClient(t).Database(dbName)
	for try := range 2 {
		refused, err := r.ApplyTx(ctx, evs)
		if err != nil {
			t.Fatalf("try %d: %v", try, err)
		}
		if len(refused) != len(evs) || refused[19] != nil || refused[20] == nil || refused[21] == nil || refused[22] == nil {
			t.Fatalf("try %d: refused %v; want the last three", try, refused)
		}
		for _, err := range refused[20:] {
			if !errors.Is(err, history.ErrNoReading) {
				t.Errorf("refused %v; want ErrNoReading", err)
			}
		}
		n, err := db.Collection("ta_d1").CountDocuments(ctx, bson.D{})
		if err != nil || n != 40 {
			t.Fatalf("try %d: %d docs, %v; want 40", try, n, err)
		}
		if cp, err := r.Checkpoint(ctx); err != nil || cp != evs[22].Seq {
			t.Fatalf("try %d: checkpoint %d, %v; want %d", try, cp, err, evs[22].Seq)
		}
		// The crash: the inserts stayed, the checkpoint did not.
		if _, err := db.Collection("_dojot_meta").DeleteOne(ctx, bson.D{{Key: "_id", Value: "readings"}}); err != nil {
			t.Fatal(err)
		}
	}
	// A batch below the checkpoint writes nothing, and the checkpoint
	// never goes back.
	if _, err := r.ApplyTx(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ApplyTx(ctx, evs[:5]); err != nil {
		t.Fatal(err)
	}
	if cp, err := r.Checkpoint(ctx); err != nil || cp != evs[22].Seq {
		t.Errorf("checkpoint after an older batch = %d, %v; want %d", cp, err, evs[22].Seq)
	}
	docs, err := m.Find(ctx, "ta", "d1", history.Query{Attr: "n", Limit: 3})
	if err != nil || len(docs) != 3 || string(docs[0].Value) != "19" || string(docs[2].Value) != "17" {
		t.Errorf("Find n lastN=3 = %v, %v", docs, err)
	}
}

// TestMongoLease: one instance applies at a time; another takes over
// once the lease is free, and the first one's batches are then refused
// and its lease context ends.
func TestMongoLease(t *testing.T) {
	ctx := t.Context()
	opts := history.MongoOptions{LeaseTTL: 500 * time.Millisecond, FollowInterval: 20 * time.Millisecond}
	a, dbName := openMongo(t, "", opts)
	b, _ := openMongo(t, dbName, opts)
	ar, br := a.Readings(), b.Readings()
	la, releaseA, err := ar.Lead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The other stream's view has a lease of its own.
	_, releaseEv, err := b.Events().Lead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	releaseEv()
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, _, err := br.Lead(short); err == nil {
		t.Fatal("b took a held lease")
	}
	// Followers see the checkpoint move.
	seen := make(chan uint64, 16)
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	go br.Follow(fctx, func(seq uint64) { seen <- seq })
	if got := <-seen; got != 0 {
		t.Fatalf("first Follow = %d; want 0", got)
	}
	reading := func(seq uint64) []dojot.Event {
		return []dojot.Event{{Type: dojot.EventReading, Tenant: "ta", AggregateID: "d1", Seq: seq, Time: time.Now(),
			Data: []byte(`{"metadata":{"deviceid":"d1"},"attrs":{"t":1}}`)}}
	}
	if _, err := ar.ApplyTx(la, reading(5)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-seen:
		if got != 5 {
			t.Fatalf("Follow = %d; want 5", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not see the checkpoint move")
	}
	// a's lease is taken from it (it expired while a stalled): b leads.
	if _, err := rawClient(t).Database(dbName).Collection("_dojot_meta").DeleteOne(ctx, bson.D{{Key: "_id", Value: "readings.applier"}}); err != nil {
		t.Fatal(err)
	}
	_, releaseB, err := br.Lead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseB()
	if _, err := ar.ApplyTx(la, reading(6)); err == nil {
		t.Error("a applied a batch while b held the lease")
	}
	select {
	case <-la.Done():
	case <-time.After(5 * time.Second):
		t.Error("a's lease context is alive after b took the lease")
	}
	releaseA() // must not free b's lease
	if _, _, err := ar.Lead(short); err == nil {
		t.Error("a took b's lease after releasing its own")
	}
	if cp, err := br.Checkpoint(ctx); err != nil || cp != 5 {
		t.Errorf("checkpoint = %d, %v; want 5", cp, err)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func slicesSort(s []string) { slices.Sort(s) }

func TestMongoNotifications(t *testing.T) {
	historytest.RunNotifications(t, eventstoretest.Open, func(t *testing.T, _ *eventstore.Store) historytest.NotificationView {
		m, _ := openMongo(t, "", history.MongoOptions{})
		return mongoNotifications{m}
	})
}

// mongoNotifications adapts *history.Mongo to the notifications suite.
type mongoNotifications struct{ *history.Mongo }

func (m mongoNotifications) Notifications() projections.View { return m.Mongo.Notifications() }
