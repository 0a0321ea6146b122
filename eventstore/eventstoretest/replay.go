package eventstoretest

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// RawReplay reads the first total messages of stream with a bare ordered
// consumer and only counts them: the baseline that replay benchmarks
// measure eventstore.Subscribe and the projections against. It pulls with
// Subscribe's buffer (8 MiB), so a ratio to it is the store's own work
// (decoding, metadata) and not a tuning difference.
func RawReplay(tb testing.TB, js jetstream.JetStream, stream string, total int) {
	tb.Helper()
	ctx, cancel := context.WithCancel(tb.Context())
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	var count int
	cc, err := cons.Consume(func(jetstream.Msg) {
		if count++; count == total {
			cancel()
		}
	}, jetstream.PullMaxBytes(8<<20))
	if err != nil {
		tb.Fatal(err)
	}
	<-ctx.Done()
	cc.Stop()
	<-cc.Closed()
}
