package amqp_test

import (
	"context"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	agentamqp "github.com/dojot-es/dojot/agents/amqp"
	"github.com/dojot-es/dojot/agents/amqp/amqptest"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

const benchBody = `{"temperature":21.5,"humidity":60,"battery":3.3}`

// publishAll publishes n readings of device c to the inbound exchange
// (no confirms: the publisher should not be what is measured).
// It runs in its own goroutine: failures are b.Error.
func publishAll(b *testing.B, url string, n int) {
	conn, err := amqp091.Dial(url)
	if err != nil {
		b.Error(err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		b.Error(err)
		return
	}
	msg := amqp091.Publishing{ContentType: "application/json", Body: []byte(benchBody)}
	for range n {
		if err := ch.PublishWithContext(context.Background(), agentamqp.InboundExchange, "own-c", false, false, msg); err != nil {
			b.Error(err)
			return
		}
	}
}

// BenchmarkIngest: RabbitMQ -> DATA through the agent, each message acked
// after JetStream (embedded, file store) stored it. Compare with
// BenchmarkRawConsume, the same messages consumed and acked with no store.
func BenchmarkIngest(b *testing.B) {
	url := amqptest.URL(b)
	store := eventstoretest.OpenWith(b, eventstore.Options{DataDir: b.TempDir(), Logger: eventstoretest.Logger(b)})
	a, err := agentamqp.New(agentamqp.Options{URL: url, Store: store, Devices: devices(b), Logger: eventstoretest.Logger(b)})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = a.Run(ctx) }()
	for !a.Status().Connected {
		time.Sleep(10 * time.Millisecond)
	}
	b.ResetTimer()
	go publishAll(b, url, b.N)
	for a.Status().Stored < uint64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkRawConsume is the baseline: a bare amqp091 consumer of the same
// queue, prefetch 256, acking every message (multiple, per batch) with
// nothing stored.
func BenchmarkRawConsume(b *testing.B) {
	url := amqptest.URL(b)
	conn, err := amqp091.Dial(url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	if err := ch.ExchangeDeclare(agentamqp.InboundExchange, "topic", true, false, false, false, nil); err != nil {
		b.Fatal(err)
	}
	if _, err := ch.QueueDeclare(agentamqp.InboundQueue, true, false, false, false, amqp091.Table{
		"x-message-ttl": int32(20000), "x-max-length": int32(100000), "x-max-length-bytes": int32(512000000), "x-overflow": "reject-publish",
	}); err != nil {
		b.Fatal(err)
	}
	if err := ch.QueueBind(agentamqp.InboundQueue, "#", agentamqp.InboundExchange, false, nil); err != nil {
		b.Fatal(err)
	}
	if err := ch.Qos(256, 0, false); err != nil {
		b.Fatal(err)
	}
	deliveries, err := ch.Consume(agentamqp.InboundQueue, "", false, false, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	go publishAll(b, url, b.N)
	for i := 0; i < b.N; i++ {
		d := <-deliveries
		if len(deliveries) == 0 || i == b.N-1 {
			_ = d.Ack(true)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}
