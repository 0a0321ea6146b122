package eventstore_test

import (
	"encoding/json"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

// Each benchmark measures its baseline (bare JetStream, same payload size,
// same server, same connection) in the same run and reports the ratio of
// the store's time per event to the baseline's: 1.0 means no overhead.

// benchEvent is a device.created as the commands make it (~330 bytes of
// envelope).
func benchEvent(b *testing.B, i int) dojot.Event {
	ev, err := dojot.NewEvent("device.created", "admin", dojot.KindDevice, "d"+strconv.Itoa(i), time.Now(), map[string]any{
		"label": "pump " + strconv.Itoa(i), "templates": []int{1, 2},
		"attrs": []map[string]string{{"label": "temperature", "type": "dynamic", "value_type": "float"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	ev.Version, ev.Actor = 1, "admin"
	return ev
}

type benchEnv struct {
	s       *eventstore.Store
	js      jetstream.JetStream
	payload []byte // the envelope size the store publishes
	rawSubj string // a subject of the EVENTS stream for bare publishes
}

func setup(b *testing.B) benchEnv {
	b.Helper()
	opts := eventstoretest.Options(b)
	s := eventstoretest.OpenWith(b, opts)
	payload, err := json.Marshal(benchEvent(b, 0))
	if err != nil {
		b.Fatal(err)
	}
	return benchEnv{s: s, js: s.JetStream(), payload: payload, rawSubj: opts.SubjectPrefix + "evt.raw.device."}
}

func BenchmarkAppend(b *testing.B) {
	env := setup(b)
	ctx := b.Context()
	var n int
	var base time.Duration
	for b.Loop() {
		if _, err := env.s.Append(ctx, benchEvent(b, n)); err != nil {
			b.Fatal(err)
		}
		// The baseline interleaved, so both see the same load on a shared
		// machine.
		b.StopTimer()
		start := time.Now()
		if _, err := env.js.Publish(ctx, env.rawSubj+strconv.Itoa(n), env.payload); err != nil {
			b.Fatal(err)
		}
		base += time.Since(start)
		b.StartTimer()
		n++
	}
	report(b, n, base, "x-raw-publish")
}

func BenchmarkAppendParallel(b *testing.B) {
	const parallelism = 8 // goroutines per GOMAXPROCS: requests waiting on acks
	env := setup(b)
	ctx := b.Context()
	workers := parallelism * runtimeProcs()
	// The baseline cannot be interleaved with RunParallel: it runs once
	// before and once after, and the mean is used.
	before := rawParallel(b, env, workers, b.N, "a")
	var next atomic.Int64
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := env.s.Append(ctx, benchEvent(b, int(next.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	n := int(next.Load())
	per := float64(b.Elapsed().Nanoseconds()) / float64(n)
	base := (before + rawParallel(b, env, workers, n, "b")) / 2
	b.ReportMetric(per/(float64(base.Nanoseconds())/float64(n)), "x-raw-publish")
	b.ReportMetric(1e9/per, "events/s")
}

func rawParallel(b *testing.B, env benchEnv, workers, n int, tag string) time.Duration {
	ctx := b.Context()
	start := time.Now()
	var wg sync.WaitGroup
	var i atomic.Int64
	for range workers {
		wg.Go(func() {
			for k := int(i.Add(1)); k <= n; k = int(i.Add(1)) {
				if _, err := env.js.Publish(ctx, env.rawSubj+tag+strconv.Itoa(k), env.payload); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

func BenchmarkAppendBatch(b *testing.B) {
	const batch = 1000
	env := setup(b)
	ctx := b.Context()
	evs := make([]dojot.Event, batch)
	var n int
	var base, baseHdr time.Duration
	for b.Loop() {
		b.StopTimer() // building the events is the caller's work
		for i := range evs {
			evs[i] = benchEvent(b, n+i)
		}
		b.StartTimer()
		_, errs := env.s.AppendBatch(ctx, evs)
		if err := errors.Join(errs...); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		start := time.Now()
		for i := range batch {
			if _, err := env.js.PublishAsync(env.rawSubj+strconv.Itoa(n+i), env.payload, jetstream.WithStallWait(5*time.Second)); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-env.js.PublishAsyncComplete():
		case <-time.After(10 * time.Second):
			b.Fatal("raw async publish: acks timed out")
		}
		base += time.Since(start)
		// Bare publishes with the headers the store sends (dedupe id and
		// expectation): the part of the ratio that is JetStream's own work.
		start = time.Now()
		for i := range batch {
			m := &nats.Msg{Subject: env.rawSubj + "h" + strconv.Itoa(n+i), Data: env.payload, Header: nats.Header{
				jetstream.MsgIDHeader: {nuid.Next()}, jetstream.ExpectedLastSubjSeqHeader: {"0"}}}
			if _, err := env.js.PublishMsgAsync(m, jetstream.WithStallWait(5*time.Second)); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-env.js.PublishAsyncComplete():
		case <-time.After(10 * time.Second):
			b.Fatal("raw async publish: acks timed out")
		}
		baseHdr += time.Since(start)
		b.StartTimer()
		n += batch
	}
	report(b, n, base, "x-raw-publish")
	b.ReportMetric(float64(b.Elapsed())/float64(baseHdr), "x-raw-publish-hdrs")
}

// report adds the store's events/s and its time per event over the
// baseline's.
func report(b *testing.B, n int, base time.Duration, unit string) {
	per := float64(b.Elapsed().Nanoseconds()) / float64(n)
	b.ReportMetric(per/(float64(base.Nanoseconds())/float64(n)), unit)
	b.ReportMetric(1e9/per, "events/s")
}

var errReplayed = errors.New("replayed")

// BenchmarkReplay is the start-up path: one op replays every event of the
// log into a cheap fn; the baseline is a bare ordered consumer that only
// counts the same messages.
func BenchmarkReplay(b *testing.B) {
	const total = 200_000
	env := setup(b)
	ctx := b.Context()
	evs := make([]dojot.Event, 10_000)
	for off := 0; off < total; off += len(evs) {
		for i := range evs {
			evs[i] = benchEvent(b, off+i)
		}
		if _, errs := env.s.AppendBatch(ctx, evs); errors.Join(errs...) != nil {
			b.Fatal(errors.Join(errs...))
		}
	}
	stream := env.s.EventsStream()
	runs := 0
	var base time.Duration
	for b.Loop() {
		var count int
		var sum uint64
		err := env.s.Subscribe(ctx, 0, func(ev dojot.Event) error {
			count++
			sum += ev.Seq
			if count == total {
				return errReplayed
			}
			return nil
		})
		if !errors.Is(err, errReplayed) || sum != total*(total+1)/2 {
			b.Fatalf("Subscribe = %v after %d events", err, count)
		}
		b.StopTimer()
		start := time.Now()
		eventstoretest.RawReplay(b, env.js, stream, total)
		base += time.Since(start)
		b.StartTimer()
		runs++
	}
	report(b, runs*total, base, "x-raw-replay")
	b.ReportMetric(float64(runs*total)/base.Seconds(), "raw-events/s")
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
