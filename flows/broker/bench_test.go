package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

// cpuTime is the process's user+system CPU time (with the embedded NATS
// server, its CPU too).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// speedFlow is issue 17's speed flow for one device: event device in ->
// switch -> change -> template -> notification.
func speedFlow(device string) json.RawMessage {
	return json.RawMessage(`[{"id":"tab","type":"tab","label":"speed"},
{"id":"in","type":"event device in","device_id":"` + device + `","event_publish":true,"wires":[["sw"]]},
{"id":"sw","type":"switch","property":"payload.data.attrs.temperature","propertyType":"msg","rules":[{"t":"gt","v":"32","vt":"num"}],"checkall":"false","outputs":1,"wires":[["ch"]]},
{"id":"ch","type":"change","rules":[{"t":"set","p":"alert.priority","pt":"msg","to":"high","tot":"str"}],"wires":[["tp"]]},
{"id":"tp","type":"template","field":"notification","syntax":"handlebars","output":"json","template":"{\"metadata\":{\"priority\":\"{{alert.priority}}\"},\"message\":\"Temp {{payload.data.attrs.temperature}} too high on {{payload.data.id}}\"}","wires":[["nt"]]},
{"id":"nt","type":"notification","source":"notification.metadata","messageDynamic":"notification.message","msgType":"dynamic","wires":[]}]`)
}

// speedView is tenant admin with 1,000 devices of template 1 (a dynamic
// temperature and a static model, merged into every input) and one speed
// flow per device.
type speedView struct {
	flows []dojot.Flow
}

const speedDevices = 1000

func speedDevice(i int) string { return fmt.Sprintf("dev%04d", i) }

func newSpeedView() *speedView {
	v := &speedView{}
	for i := range speedDevices {
		v.flows = append(v.flows, dojot.Flow{ID: "flow-" + strconv.Itoa(i), Enabled: true, Nodes: speedFlow(speedDevice(i))})
	}
	return v
}

func (v *speedView) Flows(string) []dojot.Flow { return v.flows }
func (v *speedView) FlowsSeq(string) uint64    { return 1 }
func (v *speedView) Device(tenant, id string) (dojot.Device, bool) {
	return dojot.Device{ID: id, Label: id, Templates: []int{1}}, tenant == "admin"
}
func (v *speedView) Template(tenant string, id int) (dojot.Template, bool) {
	return dojot.Template{ID: 1, Attrs: []dojot.Attr{
		{ID: 1, Label: "temperature", Type: "dynamic"},
		{ID: 2, Label: "model", Type: "static", StaticValue: sp("m-1")},
	}}, tenant == "admin" && id == 1
}

// countingStore counts the notifications it stored.
type countingStore struct {
	*eventstore.Store
	notes atomic.Int64
	first atomic.Int64 // unix ns of the first notification stored
}

func (c *countingStore) AppendNotification(ctx context.Context, tenant string, payload []byte, msgID string) (uint64, error) {
	seq, err := c.Store.AppendNotification(ctx, tenant, payload, msgID)
	if err == nil {
		if c.notes.Add(1) == 1 {
			c.first.Store(time.Now().UnixNano())
		}
	}
	return seq, err
}

// waitConsumer waits until the durable's consumers exist on DATA (one
// per partition, eventstore.Work).
func waitConsumer(tb testing.TB, store *eventstore.Store, durable string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := store.DataPartitions(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	name := fmt.Sprintf("%s_p%d", durable, n-1) // the last one created
	for {
		if _, err := store.JetStream().Consumer(ctx, store.DataStream(), name); err == nil {
			return
		} else if ctx.Err() != nil {
			tb.Fatalf("consumer %s: %v", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fillReadings stores n readings of the speed devices (round robin, each
// above the switch's threshold) and waits until JetStream stored them all.
func fillReadings(tb testing.TB, store *eventstore.Store, n int) {
	tb.Helper()
	js := store.JetStream()
	futures := make([]jetstream.PubAckFuture, 0, 4096)
	wait := func() {
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				tb.Fatal(err)
			}
		}
		futures = futures[:0]
	}
	for i := range n {
		dev := speedDevice(i % speedDevices)
		m := nats.NewMsg(store.DataSubject("admin", dev))
		m.Data = dojot.Reading("admin", dev, 1700000000000+int64(i), fmt.Appendf(nil, `{"temperature":%d,"humidity":%d}`, 33+i%60, i%100))
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			tb.Fatal(err)
		}
		if futures = append(futures, f); len(futures) == cap(futures) {
			wait()
		}
	}
	wait()
}

// BenchmarkBrokerFiveNodeFlow: issue 17's flow speed through the wired
// engine on a real JetStream (embedded in this process, or
// DOJOT_TEST_NATS_URL's). 1,000 devices, each with its own 5-node flow
// (event device in -> switch -> change -> template -> notification),
// n readings stored in DATA first (every one passes the switch), then
// consumed by flows/broker: its durable DATA consumers (eventstore Follow,
// one per DATA partition),
// lanes per device, the input normalised with the device's statics, the
// device's flow found among the tenant's 1,000 and run, the notification
// appended to the NOTIFICATIONS stream (a synchronous JetStream publish
// with its msgID as dedupe id), the input acked. Each consumer is
// started once before the readings are stored and stopped, so that they
// are its backlog; the clock runs from the first reading acked (baseline)
// or notification stored (flows) after its start again to the n-th (the
// start, taking the partitions, is not throughput); CPU from the start.
//
// Baseline, same run, same n stored readings: a bare consumer of DATA
// (eventstore Follow, an ack per message, nothing else).
//
// DOJOT_BENCH_LANES sets the broker's Options.Lanes (default 64),
// DOJOT_BENCH_PARTITIONS the store's DataPartitions (default 16; 1: DATA
// not partitioned, one consumer).
//
// Reported: readings/s of each, x-baseline (flows' rate over the bare
// consumer's), and CPU (process user+system: this process holds the
// embedded NATS server too) per reading per executed node (4: the head
// does not execute) with its baseline's part subtracted or not.
func BenchmarkBrokerFiveNodeFlow(b *testing.B) {
	lanes := 0 // the default
	if s := os.Getenv("DOJOT_BENCH_LANES"); s != "" {
		lanes, _ = strconv.Atoi(s)
	}
	const n = 50_000
	opts := eventstoretest.Options(b)
	if s := os.Getenv("DOJOT_BENCH_PARTITIONS"); s != "" {
		opts.DataPartitions, _ = strconv.Atoi(s)
	}
	store := eventstoretest.OpenWith(b, opts)
	view := newSpeedView()
	var rate, baseRate, cpuPer, baseCPUPer, redelivered float64
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		bare, group := fmt.Sprintf("bare_%d", i), fmt.Sprintf("bench%d", i)
		var acked, firstAck atomic.Int64
		cs := &countingStore{Store: store}
		// Each consumer is started once so that its durable exists before
		// the readings are stored (Follow delivers what comes after), and
		// stopped: started again, it has them as its backlog.
		bareRun := func(ctx context.Context) {
			err := store.Follow(ctx, eventstore.Work{Durable: bare}, func(item eventstore.WorkItem) {
				item.Ack()
				if acked.Add(1) == 1 {
					firstAck.Store(time.Now().UnixNano())
				}
			})
			if err != nil && !errors.Is(err, context.Canceled) {
				b.Error(err)
			}
		}
		var br *Broker
		brokerRun := func(ctx context.Context) {
			var err error
			if br, err = New(Options{Store: cs, View: view, Actuator: nopActuator{}, Group: group, Lanes: lanes, Logger: eventstoretest.Logger(b)}); err != nil {
				b.Error(err)
				return
			}
			_ = br.flowsOf("admin") // parse the 1,000 flows before the clock starts
			if err := br.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				b.Error(err)
			}
		}
		for _, c := range []struct {
			name string
			run  func(context.Context)
		}{{bare, bareRun}, {"flows_data_" + group, brokerRun}} {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); c.run(ctx) }()
			waitConsumer(b, store, c.name)
			cancel()
			<-done
		}
		fillReadings(b, store, n)

		// The rate runs from the first item done to the n-th: the
		// consumers' start (taking their partitions) is not throughput.
		measure := func(run func(context.Context), done func() bool, first *atomic.Int64) (float64, time.Duration) {
			ctx, cancel := context.WithCancel(context.Background())
			stopped := make(chan struct{})
			defer func() { cancel(); <-stopped }()
			start, cpu0 := time.Now(), cpuTime()
			go func() { defer close(stopped); run(ctx) }()
			for !done() {
				if time.Since(start) > 5*time.Minute {
					b.Fatalf("not done in 5 min: %d acked by the bare consumer, %d notifications stored", acked.Load(), cs.notes.Load())
				}
				time.Sleep(time.Millisecond)
			}
			return float64(n-1) / time.Since(time.Unix(0, first.Load())).Seconds(), cpuTime() - cpu0
		}
		b.StartTimer()
		var baseCPU, cpu time.Duration
		baseRate, baseCPU = measure(bareRun, func() bool { return acked.Load() >= n }, &firstAck)
		rate, cpu = measure(brokerRun, func() bool { return cs.notes.Load() >= n }, &cs.first)
		b.StopTimer()
		ctx := context.Background()
		redelivered = 0
		st, err := store.JetStream().Stream(ctx, store.DataStream())
		if err != nil {
			b.Fatal(err)
		}
		for name := range st.ConsumerNames(ctx).Name() {
			if !strings.HasPrefix(name, "flows_data_"+group+"_") {
				continue
			}
			if c, err := store.JetStream().Consumer(ctx, store.DataStream(), name); err == nil {
				if ci, err := c.Info(ctx); err == nil {
					redelivered += float64(ci.NumRedelivered)
				}
			}
		}
		for _, f := range view.flows {
			for id, st := range br.Stats(f.ID).Nodes {
				if st.Errors > 0 {
					b.Errorf("flow %s node %s: %d errors, last %s", f.ID, id, st.Errors, st.LastError)
				}
			}
		}
		cpuPer = float64(cpu.Nanoseconds()) / 1e3 / n
		baseCPUPer = float64(baseCPU.Nanoseconds()) / 1e3 / n
		if got := cs.notes.Load(); got != n {
			b.Fatalf("%d notifications for %d readings", got, n)
		}
		b.StartTimer()
	}
	b.ReportMetric(rate, "readings/s")
	b.ReportMetric(baseRate, "baseline-readings/s")
	b.ReportMetric(rate/baseRate, "x-baseline")
	b.ReportMetric(cpuPer/4, "cpu-us/reading/node")
	b.ReportMetric((cpuPer-baseCPUPer)/4, "cpu-us/reading/node-over-baseline")
	b.ReportMetric(baseCPUPer, "baseline-cpu-us/reading")
	b.ReportMetric(redelivered, "redelivered")
}

// BenchmarkFollowDelayedAck: what the broker's inputs see of eventstore
// Follow when each is acknowledged some time after its delivery (as an
// input is, once its flows ran and their outputs were stored). A bare
// consumer of 30,000 stored readings acks each one delay later from a
// goroutine; delay 0 acks at once, the baseline of the same run.
// Reported: readings/s from the first ack to the last, and the items in
// flight that rate implies (rate x delay) against what the consumers
// allow (MaxAckPending per partition).
func BenchmarkFollowDelayedAck(b *testing.B) {
	const n = 30_000
	store := eventstoretest.Open(b)
	for i, delay := range []time.Duration{0, 5 * time.Millisecond, 20 * time.Millisecond} {
		b.Run("delay="+delay.String(), func(b *testing.B) {
			var rate float64
			for j := 0; b.Loop(); j++ {
				name := fmt.Sprintf("delayed_%d_%d", i, j)
				var acked, first atomic.Int64
				run := func(ctx context.Context) {
					err := store.Follow(ctx, eventstore.Work{Durable: name}, func(item eventstore.WorkItem) {
						done := func() {
							item.Ack()
							if acked.Add(1) == 1 {
								first.Store(time.Now().UnixNano())
							}
						}
						if delay == 0 {
							done()
							return
						}
						go func() { time.Sleep(delay); done() }()
					})
					if err != nil && !errors.Is(err, context.Canceled) {
						b.Error(err)
					}
				}
				ctx, cancel := context.WithCancel(context.Background())
				stopped := make(chan struct{})
				go func() { defer close(stopped); run(ctx) }()
				waitConsumer(b, store, name)
				cancel()
				<-stopped
				fillReadings(b, store, n)
				ctx, cancel = context.WithCancel(context.Background())
				stopped = make(chan struct{})
				start := time.Now()
				go func() { defer close(stopped); run(ctx) }()
				for acked.Load() < n {
					if time.Since(start) > 5*time.Minute {
						b.Fatalf("%d of %d acked in 5 min", acked.Load(), n)
					}
					time.Sleep(time.Millisecond)
				}
				rate = float64(n-1) / time.Since(time.Unix(0, first.Load())).Seconds()
				cancel()
				<-stopped
			}
			b.ReportMetric(rate, "readings/s")
			b.ReportMetric(rate*delay.Seconds(), "in-flight")
		})
	}
}
