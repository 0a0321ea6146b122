package commands_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/projections"
	"github.com/dojot-es/dojot/projections/memory"
)

// TestCreate100kDevices: POST /device?count=100000 through JetStream
// (embedded, or DOJOT_TEST_NATS_URL) and the memory view: every device
// created and shown. How long it takes is logged, not checked (a test on a
// shared machine checks behaviour; the speed is a benchmark's).
func TestCreate100kDevices(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	store := eventstoretest.Open(t)
	view := memory.New()
	runner := projections.NewRunner(store, view, projections.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = runner.Run(ctx) }()
	d := commands.NewDevices(commands.Options{Store: store, Sync: runner}, view)
	tid, err := d.CreateTemplate(t.Context(), "t1", []byte(`{"label":"T","attrs":[{"label":"a","type":"dynamic","value_type":"float"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	refs, err := d.CreateDevices(t.Context(), "t1", []byte(`{"label":"d","templates":[`+strconv.Itoa(tid)+`]}`), 100_000)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(view.DeviceIDs("t1")); len(refs) != 100_000 || n != 100_000 {
		t.Fatalf("created %d, view has %d", len(refs), n)
	}
	t.Logf("100000 devices in %v (%.0f/s)", elapsed, 1e5/elapsed.Seconds())
}
