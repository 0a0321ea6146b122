package history_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections/history"
)

// notificationLog is n notifications as the NOTIFICATIONS stream delivers
// them (FLOWS.md 7.2's message, all kept), without a store: the benchmark
// measures the view, not JetStream.
func notificationLog(b *testing.B, n int) []dojot.Event {
	b.Helper()
	evs := make([]dojot.Event, n)
	base := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	for i := range evs {
		msg := fmt.Sprintf(`{"msgID":"%d:A377ec7c9094378:0","timestamp":%d,"message":"Temp %d too high","metaAttrsFilter":{"priority":"low","shouldPersist":true},"subject":"user_notification"}`,
			i+1, base.Add(time.Duration(i)*time.Millisecond).UnixMilli(), 30+i%10)
		evs[i] = dojot.Event{Type: dojot.EventNotification, Kind: "notification", Tenant: "admin", Time: base, Data: []byte(msg), Seq: uint64(i + 1)}
	}
	return evs
}

// BenchmarkPersistNotificationsMongo: one op applies n notifications
// (DOJOT_BENCH_NOTIFICATIONS, default 10,000) to a fresh Mongo
// notifications view, in batches of 256 (the Runner's largest) through
// ApplyTx: decoding each message, shouldPersist, the BSON document, the
// insert and the checkpoint. The baseline, same run and server: the same
// documents, already made, inserted with InsertMany in batches of 256
// into a fresh collection with the view's indexes. Against FerretDB (the
// tests' server) the figures say nothing about MongoDB.
func BenchmarkPersistNotificationsMongo(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("DOJOT_BENCH_NOTIFICATIONS")); err == nil && v > 0 {
		n = v
	}
	evs := notificationLog(b, n)
	ctx := context.Background()
	var base time.Duration
	runs := 0
	for b.Loop() {
		b.StopTimer()
		m, db := openMongo(b, "", history.MongoOptions{Logger: slog.New(slog.DiscardHandler)})
		v := m.Notifications()
		b.StartTimer()
		for i := 0; i < len(evs); i += 256 {
			refused, err := v.ApplyTx(ctx, evs[i:min(len(evs), i+256)])
			if err != nil {
				b.Fatal(err)
			}
			if err := errors.Join(refused...); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		got, err := m.FindNotifications(ctx, "admin", history.NotificationQuery{})
		if err != nil || len(got) != n {
			b.Fatalf("after the run: %d notifications, %v; want %d", len(got), err, n)
		}
		base += rawNotifications(b, db, evs)
		b.StartTimer()
		runs++
	}
	per := float64(b.Elapsed().Nanoseconds()) / float64(runs*n)
	b.ReportMetric(1e9/per, "notifications/s")
	b.ReportMetric(per/(float64(base.Nanoseconds())/float64(runs*n)), "x-raw-insert")
	b.ReportMetric(float64(runs*n)/base.Seconds(), "raw-docs/s")
}

// rawNotifications inserts the documents the view stores of evs into a
// fresh collection of db with the view's indexes and returns how long the
// inserts took.
func rawNotifications(b *testing.B, db string, evs []dojot.Event) time.Duration {
	ctx := context.Background()
	coll := rawClient(b).Database(db).Collection("raw_notifications")
	for _, keys := range []bson.D{{{Key: "ts", Value: -1}}, {{Key: "attr", Value: -1}, {Key: "ts", Value: -1}}, {{Key: "ts", Value: -1}, {Key: "_id", Value: -1}}} {
		if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: keys}); err != nil {
			b.Fatal(err)
		}
	}
	docs := make([]any, len(evs))
	for i, ev := range evs {
		n, _, err := history.NotificationDoc(ev)
		if err != nil {
			b.Fatal(err)
		}
		d := bson.D{{Key: "_id", Value: int64(ev.Seq)}}
		elems, _ := n.Doc.Elements()
		for _, e := range elems {
			d = append(d, bson.E{Key: e.Key(), Value: e.Value()})
		}
		docs[i] = d
	}
	start := time.Now()
	for i := 0; i < len(docs); i += 256 {
		if _, err := coll.InsertMany(ctx, docs[i:min(len(docs), i+256)], options.InsertMany().SetOrdered(false)); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

// BenchmarkPersistNotificationsMemory: the same log applied to the memory
// view, one Apply each (it has no batch form); the baseline, same run:
// decoding each message with encoding/json into a map.
func BenchmarkPersistNotificationsMemory(b *testing.B) {
	evs := notificationLog(b, 10_000)
	ctx := context.Background()
	var base time.Duration
	runs := 0
	for b.Loop() {
		b.StopTimer()
		m := history.NewMemory(nil)
		v := m.Notifications()
		b.StartTimer()
		for _, ev := range evs {
			if err := v.Apply(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		start := time.Now()
		for _, ev := range evs {
			var msg map[string]any
			if err := json.Unmarshal(ev.Data, &msg); err != nil {
				b.Fatal(err)
			}
		}
		base += time.Since(start)
		b.StartTimer()
		runs++
	}
	per := float64(b.Elapsed().Nanoseconds()) / float64(runs*len(evs))
	b.ReportMetric(1e9/per, "notifications/s")
	b.ReportMetric(per/(float64(base.Nanoseconds())/float64(runs*len(evs))), "x-json-decode")
}
