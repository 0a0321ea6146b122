package kafka_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/bridges/kafka"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

// publishReadings publishes n readings of 100 devices to DATA
// asynchronously; attrs.t is the publish time (Unix ns). It returns the
// last sequence.
func publishReadings(tb testing.TB, store *eventstore.Store, n int) uint64 {
	tb.Helper()
	js := store.JetStream()
	var last jetstream.PubAckFuture
	for i := range n {
		dev := "d" + strconv.Itoa(i%100)
		m := nats.NewMsg(store.DataSubject("admin", dev))
		m.Data = fmt.Appendf(nil, `{"metadata":{"deviceid":%q,"tenant":"admin","timestamp":1528226137452},"attrs":{"humidity":60,"temperature":23,"t":%d}}`, dev, time.Now().UnixNano())
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			tb.Fatal(err)
		}
		last = f
	}
	select {
	case ack := <-last.Ok():
		return ack.Sequence
	case err := <-last.Err():
		tb.Fatal(err)
	}
	return 0
}

// BenchmarkDataOut measures readings bridged per second from DATA (20,000
// already stored, 100 devices, acks=all, one partition) to
// <tenant>.device-data acknowledged, and, in the same run against the same
// kfake, a raw kafka-go producer writing the same records (same keys,
// values and headers) in batches of 1,000: x-raw is the bridge's rate over
// the raw producer's.
func BenchmarkDataOut(b *testing.B) {
	const n = 20_000
	store := eventstoretest.Open(b)
	brokers := newKafka(b).ListenAddrs()

	recs := make([]kafkago.Message, n)
	for i := range recs {
		dev := "d" + strconv.Itoa(i%100)
		recs[i] = kafkago.Message{Key: []byte(dev), Value: fmt.Appendf(nil, `{"metadata":{"deviceid":%q,"tenant":"admin","timestamp":1528226137452},"attrs":{"humidity":60,"temperature":23,"t":%d}}`, dev, time.Now().UnixNano()),
			Headers: []kafkago.Header{{Key: kafka.HeaderSeq, Value: []byte(strconv.Itoa(i))}, {Key: kafka.HeaderMsgID, Value: []byte("data:" + strconv.Itoa(i))}}}
	}
	c := &kafkago.Client{Addr: kafkago.TCP(brokers...)}
	if _, err := c.CreateTopics(context.Background(), &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{Topic: "raw", NumPartitions: 1, ReplicationFactor: 1}}}); err != nil {
		b.Fatal(err)
	}
	w := &kafkago.Writer{Addr: kafkago.TCP(brokers...), Topic: "raw", RequiredAcks: kafkago.RequireAll, Balancer: &kafkago.Hash{}, BatchSize: 1000, BatchTimeout: 2 * time.Millisecond}
	defer w.Close()
	start := time.Now()
	for i := 0; i < n; i += 1000 {
		if err := w.WriteMessages(context.Background(), recs[i:i+1000]...); err != nil {
			b.Fatal(err)
		}
	}
	raw := float64(n) / time.Since(start).Seconds()

	var rate float64
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		name := fmt.Sprintf("bench%d", i)
		// The DATA consumer starts at the stream's end: create it, stop,
		// then store the readings it will bridge.
		_, stop := runBridge(b, store, kafka.Options{Brokers: brokers, Consumer: name, GroupID: name})
		waitDataConsumer(b, store, name+"-data")
		stop()
		last := publishReadings(b, store, n)
		b.StartTimer()
		start := time.Now()
		br, stop := runBridge(b, store, kafka.Options{Brokers: brokers, Consumer: name, GroupID: name})
		for br.Status().Data.Acked < last {
			time.Sleep(time.Millisecond)
		}
		rate = float64(n) / time.Since(start).Seconds()
		b.StopTimer()
		stop()
		b.StartTimer()
	}
	b.ReportMetric(rate, "readings/s")
	b.ReportMetric(raw, "raw-msg/s")
	b.ReportMetric(rate/raw, "x-raw")
}

// BenchmarkDataLag publishes readings to DATA at a fixed rate (1,000/s
// and 20,000/s, in steps of 1 ms, for 10 s) and measures each one's lag
// from its JetStream publish to a kafka-go reader (MinBytes 1) of
// <tenant>.device-data seeing it.
func BenchmarkDataLag(b *testing.B) {
	for _, rate := range []int{1000, 20_000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) { benchDataLag(b, rate) })
	}
}

func benchDataLag(b *testing.B, rate int) {
	const dur = 10 * time.Second
	store := eventstoretest.Open(b)
	brokers := newKafka(b).ListenAddrs()
	br, _ := runBridge(b, store, kafka.Options{Brokers: brokers})
	waitDataConsumer(b, store, "kafka-bridge-data")
	publishReadings(b, store, 1) // creates the topic
	waitFor(b, func() bool { return br.Status().Data.Acked >= 1 })
	for b.Loop() {
		total := rate * int(dur/time.Second)
		lags := make([]time.Duration, 0, total)
		ctx, cancel := context.WithTimeout(context.Background(), dur+30*time.Second)
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: "admin.device-data", Partition: 0, MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 10 * time.Millisecond})
		_ = r.SetOffset(kafkago.LastOffset)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for len(lags) < total {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return
				}
				now := time.Now().UnixNano()
				v := m.Value
				i := slices.Index(v, '}') // end of metadata
				var t int64
				if _, err := fmt.Sscanf(string(v[i+1:]), `,"attrs":{"humidity":60,"temperature":23,"t":%d}}`, &t); err == nil {
					lags = append(lags, time.Duration(now-t))
				}
			}
		}()
		tick := time.NewTicker(time.Millisecond)
		start := time.Now()
		for sent := 0; sent < total; {
			<-tick.C
			due := min(total, int(time.Since(start)*time.Duration(rate)/time.Second))
			if due > sent {
				publishReadings(b, store, due-sent)
				sent = due
			}
		}
		tick.Stop()
		<-done
		cancel()
		r.Close()
		if len(lags) < total {
			b.Fatalf("read %d of %d readings", len(lags), total)
		}
		slices.Sort(lags)
		b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lags[len(lags)-1].Microseconds())/1000, "max-ms")
	}
}

// BenchmarkDataIn measures records a legacy producer wrote to
// <tenant>.device-data (50,000 already there, 100 devices, one partition)
// appended to DATA per second by the Kafka -> DATA direction, from its
// start to the last one stored; and, in the same run against the same
// kfake and NATS, the two halves alone: a kafka-go consumer-group reader
// reading the same records (x-raw-consume) and JetStream async publishes
// of the same payloads (x-raw-publish).
func BenchmarkDataIn(b *testing.B) {
	const n = 50_000
	store := eventstoretest.Open(b)
	brokers := newKafka(b).ListenAddrs()
	ctx := context.Background()
	c := &kafkago.Client{Addr: kafkago.TCP(brokers...)}
	w := &kafkago.Writer{Addr: kafkago.TCP(brokers...), RequiredAcks: kafkago.RequireAll, Balancer: &kafkago.Hash{}, BatchSize: 1000, BatchTimeout: time.Millisecond}
	defer w.Close()
	fill := func(topic, tenant string) {
		b.Helper()
		if _, err := c.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}}}); err != nil {
			b.Fatal(err)
		}
		msgs := make([]kafkago.Message, 1000)
		for i := 0; i < n; i += len(msgs) {
			for j := range msgs {
				dev := "d" + strconv.Itoa((i+j)%100)
				msgs[j] = kafkago.Message{Topic: topic, Key: []byte(dev), Value: fmt.Appendf(nil, `{"metadata":{"deviceid":%q,"tenant":%q,"timestamp":1528226137452},"attrs":{"humidity":60,"temperature":23,"i":%d}}`, dev, tenant, i+j)}
			}
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				b.Fatal(err)
			}
		}
	}

	// Baselines: consume alone, publish alone.
	fill("raw.device-data", "raw")
	start := time.Now()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, GroupID: "raw", GroupTopics: []string{"raw.device-data"}, MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 250 * time.Millisecond, QueueCapacity: 1024, StartOffset: kafkago.FirstOffset, CommitInterval: time.Second})
	for range n {
		if _, err := r.FetchMessage(ctx); err != nil {
			b.Fatal(err)
		}
	}
	rawConsume := float64(n) / time.Since(start).Seconds()
	r.Close()
	start = time.Now()
	publishReadings(b, store, n)
	rawPublish := float64(n) / time.Since(start).Seconds()

	var rate float64
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		tenant := fmt.Sprintf("in%d", i)
		fill(tenant+".device-data", tenant)
		appendEvent(b, store, dojot.EventTenantCreated, tenant, dojot.KindTenant, tenant, dojot.TenantCreated{Tenant: tenant})
		b.StartTimer()
		start := time.Now()
		br, stop := runBridge(b, store, kafka.Options{Brokers: brokers, Consumer: tenant, GroupID: tenant})
		for br.Status().In.Appended < n {
			time.Sleep(time.Millisecond)
		}
		rate = float64(n) / time.Since(start).Seconds()
		b.StopTimer()
		stop()
		b.StartTimer()
	}
	b.ReportMetric(rate, "records/s")
	b.ReportMetric(rate/rawConsume, "x-raw-consume")
	b.ReportMetric(rate/rawPublish, "x-raw-publish")
}
