package projections_test

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"syscall"
	"testing"
	"time"

	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/projections"
	"github.com/dojot-es/dojot/projections/memory"
	"github.com/dojot-es/dojot/projections/viewtest"
)

// replayLog fills a fresh store with one template and n device.created
// events shaped as POST /device?count= makes them (random 5-6 hex digit
// ids, numbered labels, one template), and returns the store.
func replayLog(b *testing.B, n int) *eventstore.Store {
	b.Helper()
	store := eventstoretest.Open(b)
	ctx := b.Context()
	evs := viewtest.DeviceLog(b, n)
	for len(evs) > 0 {
		k := min(len(evs), 10_000)
		if _, errs := store.AppendBatch(ctx, evs[:k]); errors.Join(errs...) != nil {
			b.Fatal(errors.Join(errs...))
		}
		evs = evs[k:]
	}
	return store
}

// BenchmarkReplayMemory is the start-up replay: one op builds a fresh
// memory view from the whole log through a Runner (Run + CatchUp). The
// baseline, measured in the same run against the same server, is a bare
// ordered consumer that only counts the same messages.
// DOJOT_BENCH_EVENTS sets the number of devices (default 200,000).
func BenchmarkReplayMemory(b *testing.B) { replayMemory(b) }

// BenchmarkReplayMemoryPaced is BenchmarkReplayMemory with the GC paced as
// dojot serve paces it during its start-up replay (-replay-memory-mib
// 2048: no GC until the heap nears 2 GiB); the raw baseline runs under the
// same pacing.
func BenchmarkReplayMemoryPaced(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(2 << 30))
	replayMemory(b)
}

func replayMemory(b *testing.B) {
	n := viewtest.BenchEvents(b, 200_000)
	store := replayLog(b, n)
	total := n + 1
	var base time.Duration
	runs := 0
	var cpu, rawCPU time.Duration // process CPU time (all goroutines, the server's too)
	var heap uint64               // live heap after a replay: the view and the server
	for b.Loop() {
		cpu0 := cpuTime()
		view := memory.New()
		r := projections.NewRunner(store, view, projections.Options{})
		ctx, cancel := context.WithCancel(b.Context())
		done := make(chan struct{})
		go func() { defer close(done); _ = r.Run(ctx) }()
		if err := r.CatchUp(b.Context()); err != nil {
			b.Fatal(err)
		}
		cancel()
		<-done
		cpu += cpuTime() - cpu0
		b.StopTimer()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = ms.HeapAlloc
		if got := len(view.DeviceIDs("admin")); got != n {
			b.Fatalf("view has %d devices, want %d", got, n)
		}
		start, cpu0 := time.Now(), cpuTime()
		eventstoretest.RawReplay(b, store.JetStream(), store.EventsStream(), total)
		base += time.Since(start)
		rawCPU += cpuTime() - cpu0
		b.StartTimer()
		runs++
	}
	per := float64(b.Elapsed().Nanoseconds()) / float64(runs*total)
	b.ReportMetric(per/(float64(base.Nanoseconds())/float64(runs*total)), "x-raw-replay")
	b.ReportMetric(1e9/per, "events/s")
	b.ReportMetric(float64(runs*total)/base.Seconds(), "raw-events/s")
	b.ReportMetric(cpu.Seconds()/float64(runs), "cpu-s/op")
	b.ReportMetric(rawCPU.Seconds()/float64(runs), "raw-cpu-s/op")
	b.ReportMetric(float64(heap)/(1<<20), "MiB-live-heap")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
