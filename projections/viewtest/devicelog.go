package viewtest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
)

// DeviceLog is the log the rebuild benchmarks replay: one template and n
// device.created events shaped as POST /device?count= makes them (random
// 5-6 hex digit ids, numbered labels, the one template), with sequences
// 1..n+1.
func DeviceLog(tb testing.TB, n int) []dojot.Event {
	tb.Helper()
	at := time.Date(2025, 3, 1, 10, 0, 0, 123456000, time.UTC)
	tpl := dojot.Template{ID: 1, Label: "bench", Created: at, Attrs: []dojot.Attr{
		{ID: 1, Label: "temperature", Type: "dynamic", ValueType: "float", Created: at},
	}}
	ev, err := dojot.NewEvent(dojot.EventTemplateCreated, "admin", dojot.KindTemplate, "1", at, dojot.TemplateCreated{Template: tpl})
	if err != nil {
		tb.Fatal(err)
	}
	ev.Version, ev.Actor, ev.Seq = 1, "admin", 1
	evs := make([]dojot.Event, 0, n+1)
	evs = append(evs, ev)
	rnd := rand.New(rand.NewPCG(1, 2))
	taken := make(map[string]bool, n)
	width := len(strconv.Itoa(n))
	for i := range n {
		id := fmt.Sprintf("%05x", rnd.Uint32N(1<<24))
		for taken[id] {
			id = fmt.Sprintf("%05x", rnd.Uint32N(1<<24))
		}
		taken[id] = true
		d := dojot.Device{ID: id, Label: fmt.Sprintf("r_%0*d", width, i), Created: at, Templates: []int{1}}
		ev, err := dojot.NewEvent(dojot.EventDeviceCreated, "admin", dojot.KindDevice, id, at, dojot.DeviceCreated{Device: d})
		if err != nil {
			tb.Fatal(err)
		}
		ev.Version, ev.Actor, ev.Seq = 1, "admin", uint64(i+2)
		evs = append(evs, ev)
	}
	return evs
}

// BenchEvents is DOJOT_BENCH_EVENTS, the size of a benchmark's log, or def.
func BenchEvents(tb testing.TB, def int) int {
	s := os.Getenv("DOJOT_BENCH_EVENTS")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		tb.Fatalf("DOJOT_BENCH_EVENTS=%q: %v", s, err)
	}
	return n
}
