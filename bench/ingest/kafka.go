package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// kafkaWatch reads <tenant>.device-data and measures each reading's time
// from its publish to its arrival there.
type kafkaWatch struct {
	byID map[string]*device
	base time.Time

	mu        sync.Mutex
	seen      map[*device][]bool // by n
	lat       []time.Duration
	delivered int // distinct readings of the window (n >= 1)
	dups      int
	bad       int // records not from this run
	err       error
}

func newKafkaWatch(devs []*device, base time.Time) *kafkaWatch {
	w := &kafkaWatch{byID: map[string]*device{}, base: base, seen: map[*device][]bool{}}
	for _, d := range devs {
		w.byID[d.id] = d
	}
	return w
}

// start reads the topic's readings (readTopic).
func (w *kafkaWatch) start(ctx context.Context, broker, topic string) error {
	return readTopic(ctx, broker, topic, w.base, w.record, func(err error) {
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
	})
}

// readTopic waits (up to 30 s) for the topic and reads each of its
// partitions from the first offset until ctx is done, calling fn with
// each record's value and its arrival time since base; a reader's failure
// goes to fail.
func readTopic(ctx context.Context, broker, topic string, base time.Time, fn func(value []byte, at time.Duration), fail func(error)) error {
	var parts []kafka.Partition
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := kafka.DialContext(ctx, "tcp", broker)
		if err == nil {
			parts, err = conn.ReadPartitions(topic)
			conn.Close()
		}
		if err == nil && len(parts) > 0 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("kafka %s: topic %s: %v", broker, topic, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, p := range parts {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: p.ID,
			MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 10 * time.Millisecond, StartOffset: kafka.FirstOffset})
		go func() {
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					if ctx.Err() == nil {
						fail(err)
					}
					return
				}
				fn(m.Value, time.Since(base))
			}
		}()
	}
	return nil
}

func (w *kafkaWatch) record(value []byte, at time.Duration) {
	var r struct {
		Metadata struct {
			DeviceID string `json:"deviceid"`
		} `json:"metadata"`
		Attrs struct {
			N *int `json:"n"`
		} `json:"attrs"`
	}
	d := (*device)(nil)
	if json.Unmarshal(value, &r) == nil {
		d = w.byID[r.Metadata.DeviceID]
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if d == nil || r.Attrs.N == nil || *r.Attrs.N < 0 {
		w.bad++
		return
	}
	n := *r.Attrs.N
	s := w.seen[d]
	for len(s) <= n {
		s = append(s, false)
	}
	w.seen[d] = s
	if s[n] {
		w.dups++
		return
	}
	s[n] = true
	if n == 0 { // warm-up
		return
	}
	w.delivered++
	if sent, ok := d.sentTime(n); ok {
		w.lat = append(w.lat, at-sent)
	}
}

// missing counts the acknowledged readings of the window not seen yet.
func (w *kafkaWatch) missing(devs []*device) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	miss := 0
	for _, d := range devs {
		d.mu.Lock()
		sent := len(d.sentAt)
		failN := d.failN
		d.mu.Unlock()
		s := w.seen[d]
		for n := 1; n < sent; n++ {
			if (n >= len(s) || !s[n]) && !slices.Contains(failN, n) {
				miss++
			}
		}
	}
	return miss
}

func (w *kafkaWatch) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return errors.Join(errors.New("kafka reader"), w.err)
	}
	return nil
}
