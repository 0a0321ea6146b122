package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// produced is what the Kafka producer's completion knows of a record.
type produced struct {
	d  *device
	n  int
	at time.Duration
}

// produceLoad is a legacy IoT agent: it produces the readings of devs to
// <tenant>.device-data with kafka-go (acks=all, async, linger 1 ms), in
// dojot's agent shape without metadata.tenant, at rate readings/s in
// total for the window, open loop. A reading counts as acknowledged when
// Kafka acknowledged it; from there the bridge must bring it into DATA
// (history and Kafka WS show it).
func produceLoad(ctx context.Context, broker, tenant string, devs []*device, rate float64, base time.Time, start, dur time.Duration) (window time.Duration, err error) {
	var (
		mu      sync.Mutex
		first   error
		pending sync.WaitGroup
	)
	w := &kafka.Writer{Addr: kafka.TCP(broker), Topic: tenant + ".device-data", RequiredAcks: kafka.RequireAll, Balancer: &kafka.Hash{},
		BatchSize: 1000, BatchTimeout: time.Millisecond, Async: true,
		Completion: func(msgs []kafka.Message, err error) {
			now := time.Since(base)
			for _, m := range msgs {
				p := m.WriterData.(produced)
				p.d.mu.Lock()
				if err == nil {
					p.d.acked++
					p.d.maxAck = max(p.d.maxAck, p.n)
					p.d.puback = append(p.d.puback, now-p.at)
				} else {
					p.d.failN = append(p.d.failN, p.n)
					p.d.failed++
				}
				p.d.mu.Unlock()
				pending.Done()
			}
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}}
	interval := time.Duration(float64(time.Second) / rate)
	for k := 0; ; k++ {
		due := start + time.Duration(k)*interval
		if due >= start+dur || ctx.Err() != nil {
			break
		}
		if wait := due - time.Since(base); wait > 0 {
			time.Sleep(wait)
		}
		d := devs[k%len(devs)]
		now := time.Since(base)
		d.mu.Lock()
		n := len(d.sentAt)
		d.sentAt = append(d.sentAt, now)
		d.mu.Unlock()
		d.sent++
		value := fmt.Appendf(nil, `{"metadata":{"deviceid":%q,"timestamp":%d,"protocol":"kafka"},"attrs":{"temperature":23.5,"n":%d}}`, d.id, base.Add(now).UnixMilli(), n)
		pending.Add(1)
		if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(d.id), Value: value, WriterData: produced{d, n, now}}); err != nil {
			pending.Done()
			return 0, fmt.Errorf("kafka produce: %w", err)
		}
	}
	pending.Wait()
	window = time.Since(base) - start
	if err := w.Close(); err != nil {
		return window, err
	}
	mu.Lock()
	defer mu.Unlock()
	return window, first
}

// produceWarmUp produces each device's reading 0 and waits for Kafka's
// acknowledgement (the window's readings start at 1).
func produceWarmUp(ctx context.Context, broker, tenant string, devs []*device, base time.Time) error {
	w := &kafka.Writer{Addr: kafka.TCP(broker), Topic: tenant + ".device-data", RequiredAcks: kafka.RequireAll, Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond}
	defer w.Close()
	msgs := make([]kafka.Message, len(devs))
	for i, d := range devs {
		d.sentAt = append(d.sentAt[:0], time.Since(base))
		msgs[i] = kafka.Message{Key: []byte(d.id), Value: fmt.Appendf(nil, `{"metadata":{"deviceid":%q,"protocol":"kafka"},"attrs":{"temperature":23.5,"n":0}}`, d.id)}
	}
	// The bridge creates the topic with the tenant; retry until it is there.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := w.WriteMessages(ctx, msgs...)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("kafka warm-up produce: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kafkaBase is raw kafka-go on the same Kafka: produce -> consume latency
// at the producer's rate, and the burst rate of a producer alone.
type kafkaBase struct {
	lat   latencies
	burst float64 // records/s, acks=all, batches of 1,000
	note  string
}

// runKafkaBase produces readings-sized records at rate for dur to a topic
// of its own (acks=all, async, linger 1 ms, as produceLoad) read by a
// kafka-go reader (MinBytes 1, as the Kafka sink's), then 50,000 more as
// fast as one producer writes them.
func runKafkaBase(ctx context.Context, broker string, rate float64, dur time.Duration) (b kafkaBase) {
	const topic = "ingest-raw"
	c := &kafka.Client{Addr: kafka.TCP(broker)}
	if _, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}}}); err != nil {
		b.note = err.Error()
		return b
	}
	base := time.Now()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: 0, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 10 * time.Millisecond})
	defer r.Close()
	total := int(rate * dur.Seconds())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range total {
			m, err := r.ReadMessage(rctx)
			if err != nil {
				return
			}
			if t, err := strconv.ParseInt(string(field(m.Value, `"t":`)), 10, 64); err == nil {
				b.lat.add(time.Since(base) - time.Duration(t))
			}
		}
	}()
	w := &kafka.Writer{Addr: kafka.TCP(broker), Topic: topic, RequiredAcks: kafka.RequireAll, Balancer: &kafka.Hash{}, BatchSize: 1000, BatchTimeout: time.Millisecond, Async: true}
	interval := time.Duration(float64(time.Second) / rate)
	for k := range total {
		if wait := time.Duration(k)*interval - time.Since(base); wait > 0 {
			time.Sleep(wait)
		}
		v := fmt.Appendf(nil, `{"metadata":{"deviceid":"d%d","timestamp":1528226137452},"attrs":{"temperature":23.5,"t":%d}}`, k%100, time.Since(base))
		if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(strconv.Itoa(k % 100)), Value: v}); err != nil {
			b.note = err.Error()
			return b
		}
	}
	_ = w.Close()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		b.note = "raw consumer did not read every record in 30 s"
	}
	cancel()
	<-done

	sw := &kafka.Writer{Addr: kafka.TCP(broker), Topic: topic, RequiredAcks: kafka.RequireAll, Balancer: &kafka.Hash{}, BatchSize: 1000, BatchTimeout: time.Millisecond}
	defer sw.Close()
	msgs := make([]kafka.Message, 1000)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte(strconv.Itoa(i % 100)), Value: fmt.Appendf(nil, `{"metadata":{"deviceid":"d%d","timestamp":1528226137452},"attrs":{"temperature":23.5,"n":%d}}`, i%100, i)}
	}
	start := time.Now()
	for range 50 {
		if err := sw.WriteMessages(ctx, msgs...); err != nil {
			b.note = err.Error()
			return b
		}
	}
	b.burst = 50_000 / time.Since(start).Seconds()
	return b
}
