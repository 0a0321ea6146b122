package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/flows/replay"
)

// benchView: 100 devices d000..d099 of template 6, no static attrs.
type benchView struct{}

func (benchView) Device(tenant, id string) (dojot.Device, bool) {
	return dojot.Device{ID: id, Templates: []int{6}}, tenant == "admin" && len(id) == 4 && id[0] == 'd'
}

func (benchView) Template(_ string, id int) (dojot.Template, bool) {
	return dojot.Template{ID: id}, id == 6
}

// speedFlow is issue 17's speed flow on a template head (the replay reads
// every device of the tenant): switch -> change -> template ->
// notification.
const speedFlow = `[{"id":"tab","type":"tab","label":"speed"},
 {"id":"in","type":"event template in","template_id":"6","event_publish":true,"wires":[["sw"]]},
 {"id":"sw","type":"switch","property":"payload.data.attrs.temperature","propertyType":"msg","rules":[{"t":"gt","v":"32","vt":"num"}],"checkall":"false","outputs":1,"wires":[["ch"]]},
 {"id":"ch","type":"change","rules":[{"t":"set","p":"alert.priority","pt":"msg","to":"high","tot":"str"}],"wires":[["tp"]]},
 {"id":"tp","type":"template","field":"notification","syntax":"handlebars","output":"json","template":"{\"metadata\":{\"priority\":\"{{alert.priority}}\"},\"message\":\"Temp {{payload.data.attrs.temperature}} too high on {{payload.data.id}}\"}","wires":[["nt"]]},
 {"id":"nt","type":"notification","source":"notification.metadata","messageDynamic":"notification.message","msgType":"dynamic","wires":[]}]`

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReplay: a replay of 10,000 stored readings (100 devices, every
// reading past the switch: 4 nodes run and a notification is recorded per
// input) against, in the same op, the same range read by a bare ordered
// consumer (the tenant's DATA subjects from the range's start time, each
// message only counted) and by eventstore.ReadRange alone. Reported:
// inputs/s of each, of the replay (Replayer.Replay) and of the answer
// (the replay and its JSON, as the gateway sends it), their wall times
// and the answer's CPU time as ratios to the bare read, and the answer's
// JSON size.
func BenchmarkReplay(b *testing.B) {
	const n = replay.MaxLimit
	store := eventstoretest.Open(b)
	ctx := context.Background()
	from := time.Now().Add(-time.Second)
	waits := make([]func(<-chan time.Time) (uint64, error), 0, n)
	for i := range n {
		dev := fmt.Sprintf("d%03d", i%100)
		w, err := store.AppendDataAsync("admin", dev, fmt.Appendf(nil, `{"metadata":{"deviceid":%q,"tenant":"admin","timestamp":%d},"attrs":{"temperature":%d,"humidity":%d}}`,
			dev, 1700000000000+i, 33+i%60, i%100))
		if err != nil {
			b.Fatal(err)
		}
		waits = append(waits, w)
	}
	for _, w := range waits {
		if _, err := w(nil); err != nil {
			b.Fatal(err)
		}
	}
	to := time.Now()
	p := &replay.Replayer{Store: store, View: benchView{}, Logger: slog.New(slog.DiscardHandler)}
	req := replay.Request{Tenant: "admin", FlowID: "speed", Nodes: json.RawMessage(speedFlow), From: from, To: to, Limit: n}

	bare := func() {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		start := from
		cons, err := store.JetStream().OrderedConsumer(ctx, store.DataStream(), jetstream.OrderedConsumerConfig{
			FilterSubjects: store.DataFilters("admin", "*"), DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &start})
		if err != nil {
			b.Fatal(err)
		}
		count := 0
		cc, err := cons.Consume(func(jetstream.Msg) {
			if count++; count == n {
				cancel()
			}
		}, jetstream.PullMaxBytes(8<<20))
		if err != nil {
			b.Fatal(err)
		}
		<-ctx.Done()
		cc.Stop()
	}
	var bareWall, rangeWall, replayWall, answerWall, bareCPU, replayCPU time.Duration
	var size int
	for b.Loop() {
		t0, c0 := time.Now(), cpuTime()
		bare()
		t1, c1 := time.Now(), cpuTime()
		read := 0
		if err := store.ReadRange(ctx, eventstoreRange(req), func(eventstoreItem) error { read++; return nil }); err != nil || read != n {
			b.Fatalf("read range: %d, %v", read, err)
		}
		t2, c2 := time.Now(), cpuTime()
		res, err := p.Replay(ctx, req)
		if err != nil || res.Inputs != n || res.Effects["notification"] != n {
			b.Fatalf("replay: %v (%+v)", err, res)
		}
		t3 := time.Now()
		body, err := json.Marshal(res)
		if err != nil {
			b.Fatal(err)
		}
		t4, c3 := time.Now(), cpuTime()
		size = len(body)
		bareWall, rangeWall, replayWall, answerWall = bareWall+t1.Sub(t0), rangeWall+t2.Sub(t1), replayWall+t3.Sub(t2), answerWall+t4.Sub(t2)
		bareCPU, replayCPU = bareCPU+c1-c0, replayCPU+c3-c2
	}
	rate := func(d time.Duration) float64 { return float64(n) * float64(b.N) / d.Seconds() }
	b.ReportMetric(rate(bareWall), "bare-inputs/s")
	b.ReportMetric(rate(rangeWall), "readrange-inputs/s")
	b.ReportMetric(rate(replayWall), "replay-inputs/s")
	b.ReportMetric(rate(answerWall), "answer-inputs/s")
	b.ReportMetric(replayWall.Seconds()/bareWall.Seconds(), "replay/bare-wall")
	b.ReportMetric(answerWall.Seconds()/bareWall.Seconds(), "answer/bare-wall")
	b.ReportMetric(replayCPU.Seconds()/bareCPU.Seconds(), "answer/bare-cpu")
	b.ReportMetric(float64(replayCPU.Microseconds())/float64(n*b.N), "answer-cpu-µs/input")
	b.ReportMetric(float64(size)/n, "answer-B/input")
}

type eventstoreItem = eventstore.RangeItem

func eventstoreRange(r replay.Request) eventstore.Range {
	return eventstore.Range{Tenant: r.Tenant, From: r.From, To: r.To}
}
