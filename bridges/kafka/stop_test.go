package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dojot-es/dojot/bridges/kafka"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	kafkago "github.com/segmentio/kafka-go"
)

// TestStopSendsNothingTwice: a bridge stopped while it writes (a graceful
// stop, not a crash) lets the write it has on its way finish and
// acknowledges it, so the bridge started again sends nothing twice.
func TestStopSendsNothingTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	store := eventstoretest.Open(t)
	brokers := newKafka(t).ListenAddrs()
	ctx := context.Background()
	const rounds, each = 6, 300
	// The pump's consumer starts at the stream's end: made first, by a
	// bridge that sent one notification.
	_, stop := runBridge(t, store, kafka.Options{Brokers: brokers})
	for len(readNotifications(t, brokers, 200*time.Millisecond)) == 0 {
		if _, err := store.AppendNotification(ctx, "acme", []byte(`{"msgID":"warm"}`), "warm"); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	for round := range rounds {
		_, stop := runBridge(t, store, kafka.Options{Brokers: brokers})
		stopped := make(chan struct{})
		for i := range each {
			if _, err := store.AppendNotification(ctx, "acme", []byte(fmt.Sprintf(`{"msgID":"n-%d-%d"}`, round, i)), fmt.Sprintf("n-%d-%d", round, i)); err != nil {
				t.Fatal(err)
			}
			if i == each/2 { // stop while the pump is busy writing
				go func() { stop(); close(stopped) }()
			}
		}
		<-stopped
	}
	_, stop = runBridge(t, store, kafka.Options{Brokers: brokers})
	defer stop()
	msgs := readN(t, brokers, "acme.dojot.notifications", rounds*each+1, 30*time.Second)
	time.Sleep(time.Second) // and any copy behind
	seen := map[string]bool{"warm": false}
	for _, m := range msgs {
		id := header(m, kafka.HeaderMsgID)
		if seen[id] && id != "warm" {
			t.Errorf("%s sent twice", id)
		}
		seen[id] = true
	}
	for round := range rounds {
		for i := range each {
			if id := fmt.Sprintf("n-%d-%d", round, i); !seen[id] {
				t.Errorf("%s missing", id)
			}
		}
	}
	if n := lastOffset(t, brokers, "acme.dojot.notifications"); n != rounds*each+int64(warmups(msgs)) {
		t.Errorf("the topic holds %d records; want the %d notifications once each", n, rounds*each)
	}
}

// readNotifications reads what acme.dojot.notifications holds, waiting
// up to wait for a first record.
func readNotifications(tb testing.TB, brokers []string, wait time.Duration) []kafkago.Message {
	tb.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: "acme.dojot.notifications", Partition: 0, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	m, err := r.ReadMessage(ctx)
	if err != nil {
		return nil
	}
	return []kafkago.Message{m}
}

// warmups counts the warm-up notifications among msgs (one or more were
// appended before the first reached Kafka).
func warmups(msgs []kafkago.Message) int {
	n := 0
	for _, m := range msgs {
		if header(m, kafka.HeaderMsgID) == "warm" {
			n++
		}
	}
	return n
}
