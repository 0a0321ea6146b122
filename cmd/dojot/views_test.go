package main

import (
	"bytes"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/projections"
)

func TestProgressNotATerminal(t *testing.T) {
	var out bytes.Buffer
	fn, every := barProgress(&out, "postgres")
	if every != 5*time.Second {
		t.Errorf("every = %s; want plain lines every 5s off a terminal", every)
	}
	fn(projections.Progress{Applied: 50, Last: 200, Rate: 25, ETA: 6 * time.Second})
	fn(projections.Progress{Applied: 200, Last: 200, Rate: 40, Elapsed: 5 * time.Second, Done: true})
	want := "replay postgres: 50/200 events, 25 events/s, ETA 6s   \nreplay postgres: 200/200 events, 40 events/s, done in 5s\n"
	if out.String() != want {
		t.Errorf("progress lines:\n%q\nwant\n%q", out.String(), want)
	}
	if strings.Contains(out.String(), "\r") {
		t.Error("a carriage return off a terminal")
	}
}

func TestBar(t *testing.T) {
	for _, tt := range []struct {
		p    projections.Progress
		want string
	}{
		{projections.Progress{Applied: 0, Last: 100}, "[                              ]   0%"},
		{projections.Progress{Applied: 50, Last: 100}, "[===============               ]  50%"},
		{projections.Progress{Applied: 100, Last: 100}, "[==============================] 100%"},
		{projections.Progress{Applied: 0, Last: 0}, "[==============================] 100%"}, // empty log
	} {
		if got := bar(tt.p); got != tt.want {
			t.Errorf("bar(%d/%d) = %q; want %q", tt.p.Applied, tt.p.Last, got, tt.want)
		}
	}
}

func TestReplayGC(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT set: replayGC leaves the GC alone")
	}
	if memoryAvailable() <= 0 {
		t.Error("memoryAvailable found no limit and no /proc/meminfo")
	}
	log := slog.New(slog.DiscardHandler)
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	restore := replayGC(64, log)
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Errorf("GC percent during the replay = %d; want -1 (paced by the limit)", p)
	}
	if l := debug.SetMemoryLimit(-1); l != 64<<20 {
		t.Errorf("memory limit during the replay = %d; want 64 MiB", l)
	}
	restore()
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("GC percent after = %d; want 100 restored", p)
	}
	replayGC(0, log)() // off: nothing to restore
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("-replay-memory-mib 0 changed the GC percent to %d", p)
	}
}
