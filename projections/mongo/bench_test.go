package mongo

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections/viewtest"
)

// BenchmarkRebuildMongo is a rebuild: one op makes a fresh generation
// (Build), applies the whole log to it in batches of 256 (the Runner's
// largest batch) through ApplyTx, and switches to it. The baseline,
// measured in the same run on the same server, is one InsertMany of the
// same device documents into a fresh collection with the view's indexes:
// the fastest way to put them there. DOJOT_BENCH_EVENTS sets the number
// of devices (default 20,000). Against FerretDB (the tests' server) the
// figures say nothing about MongoDB.
func BenchmarkRebuildMongo(b *testing.B) {
	n := viewtest.BenchEvents(b, 20_000)
	evs := viewtest.DeviceLog(b, n)
	v := open(b, "", Options{})
	ctx := context.Background()
	var base time.Duration
	runs := 0
	for b.Loop() {
		bld, err := v.Build(ctx, true)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(evs); i += 256 {
			batch := evs[i:min(len(evs), i+256)]
			refused, err := bld.ApplyTx(ctx, batch)
			if err != nil {
				b.Fatal(err)
			}
			if err := errors.Join(refused...); err != nil {
				b.Fatal(err)
			}
		}
		if err := bld.Switch(ctx, false); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		got, err := v.ListDevices(ctx, "admin", dojot.DeviceQuery{Page: dojot.Page{Num: 1, Size: 1}})
		if want := fmt.Sprintf(`"total":%d}}`, n); err != nil || len(got) < len(want) || string(got[len(got)-len(want):]) != want {
			b.Fatalf("after the rebuild: %s, %v; want %d pages of 1", got[max(0, len(got)-80):], err, n)
		}
		base += rawInsert(b, v, evs[1:])
		b.StartTimer()
		runs++
	}
	per := float64(b.Elapsed().Nanoseconds()) / float64(runs*len(evs))
	b.ReportMetric(1e9/per, "events/s")
	b.ReportMetric(per/(float64(base.Nanoseconds())/float64(runs*len(evs))), "x-raw-insert")
	b.ReportMetric(float64(runs*len(evs))/base.Seconds(), "raw-docs/s")
}

// rawInsert inserts the devices of evs, as the view stores them, into a
// fresh collection with the view's device indexes, and returns how long
// the InsertMany took.
func rawInsert(b *testing.B, v *View, evs []dojot.Event) time.Duration {
	ctx := context.Background()
	coll := v.client.Database(v.opts.Database).Collection("raw_devices")
	if err := coll.Drop(ctx); err != nil {
		b.Fatal(err)
	}
	for _, keys := range []bson.D{
		{{Key: "tenant", Value: 1}, {Key: "_id", Value: 1}},
		{{Key: "tenant", Value: 1}, {Key: "label", Value: 1}, {Key: "_id", Value: 1}},
		{{Key: "tenant", Value: 1}, {Key: "templates", Value: 1}},
	} {
		if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: keys}); err != nil {
			b.Fatal(err)
		}
	}
	docs := make([]any, len(evs))
	for i, ev := range evs {
		var p dojot.DeviceCreated
		if err := ev.Decode(&p); err != nil {
			b.Fatal(err)
		}
		docs[i] = newDeviceDoc("admin", p.Device)
	}
	start := time.Now()
	if _, err := coll.InsertMany(ctx, docs); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}
