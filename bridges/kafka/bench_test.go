package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/bridges/kafka"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

// BenchmarkBridge measures events bridged per second (device.updated of
// 100 devices, acks=all, one partition) from EVENTS already stored to Kafka
// acknowledged, and, in the same run against the same kfake, a raw kafka-go
// producer writing as many records of the same size in batches of 1,000:
// x-raw is the bridge's rate over the raw producer's.
func BenchmarkBridge(b *testing.B) {
	const n = 20_000
	store := eventstoretest.Open(b)
	brokers := newKafka(b).ListenAddrs()
	evs := make([]dojot.Event, n)
	for i := range evs {
		id := fmt.Sprintf("d%d", i%100)
		typ := dojot.EventDeviceUpdated
		if i < 100 {
			typ = dojot.EventDeviceCreated
		}
		ev, _ := dojot.NewEvent(typ, "admin", dojot.KindDevice, id, t0, dojot.DeviceUpdated{Device: dojot.Device{ID: id, Label: fmt.Sprintf("l%d", i), Created: t0, Updated: &t0, Templates: []int{}}})
		ev.NoExpect = true
		evs[i] = ev
	}
	if _, errs := store.AppendBatch(context.Background(), evs); errs != nil {
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}

	// Baseline: the same number of records, of a bridged record's size.
	val := make([]byte, 230)
	w := &kafkago.Writer{Addr: kafkago.TCP(brokers...), Topic: "raw", RequiredAcks: kafkago.RequireAll, Balancer: &kafkago.Hash{}, BatchSize: 1000, BatchTimeout: 2 * time.Millisecond, AllowAutoTopicCreation: true}
	defer w.Close()
	msgs := make([]kafkago.Message, 1000)
	for i := range msgs {
		msgs[i] = kafkago.Message{Key: []byte(fmt.Sprintf("d%d", i%100)), Value: val}
	}
	c := &kafkago.Client{Addr: kafkago.TCP(brokers...)}
	if _, err := c.CreateTopics(context.Background(), &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{Topic: "raw", NumPartitions: 1, ReplicationFactor: 1}}}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for range n / 1000 {
		if err := w.WriteMessages(context.Background(), msgs...); err != nil {
			b.Fatal(err)
		}
	}
	raw := float64(n) / time.Since(start).Seconds()

	b.ResetTimer()
	var rate float64
	for i := 0; b.Loop(); i++ {
		br, err := kafka.New(store, kafka.Options{Brokers: brokers, Consumer: fmt.Sprintf("bench%d", i), Logger: eventstoretest.Logger(b)})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		start := time.Now()
		go func() { defer close(done); _ = br.Run(ctx) }()
		for br.Status().Acked < n {
			time.Sleep(time.Millisecond)
		}
		rate = float64(n) / time.Since(start).Seconds()
		cancel()
		<-done
		_ = br.Close()
	}
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(raw, "raw-msg/s")
	b.ReportMetric(rate/raw, "x-raw")
}
