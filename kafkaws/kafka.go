package kafkaws

import (
	"context"
	"errors"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// followKafka feeds one connection a topic the log does not hold (say
// <tenant>.dojot.notifications, or what another service writes) from
// Kafka, as dojot's kafka-ws does: every partition from its latest offset
// on, one reader per partition for this connection. A topic that does not
// exist yet is looked for again every few seconds, as a consumer would
// wait for it. seq=true frames carry the Kafka offset.
func (s *Server) followKafka(ctx context.Context, c *conn, sub *subscriber) {
	var parts []kafkago.Partition
	for {
		var err error
		if parts, err = s.partitions(ctx, c.topic); err == nil && len(parts) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-c.closing:
			return
		case <-time.After(5 * time.Second):
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancel() // one partition failing ends the connection's feed
			r := kafkago.NewReader(kafkago.ReaderConfig{
				Brokers: s.opts.KafkaBrokers, Topic: c.topic, Partition: p.ID,
				MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 250 * time.Millisecond,
			})
			defer r.Close()
			if err := r.SetOffset(kafkago.LastOffset); err != nil {
				return
			}
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
						s.log.Warn("kafka-ws: kafka feed failed", "topic", c.topic, "partition", p.ID, "err", err)
						c.shut(CloseServerUnavailable, "Server unavailable at this moment")
					}
					return
				}
				if out, ok := sub.render(uint64(m.Offset), m.Value); ok && !c.wait(out) {
					return
				}
			}
		}()
	}
	select {
	case <-ctx.Done():
	case <-c.closing:
		cancel()
	}
	wg.Wait()
}

// partitions lists topic's partitions on the first broker that answers.
func (s *Server) partitions(ctx context.Context, topic string) ([]kafkago.Partition, error) {
	var errs []error
	for _, b := range s.opts.KafkaBrokers {
		d := kafkago.Dialer{Timeout: 5 * time.Second}
		conn, err := d.DialContext(ctx, "tcp", b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		parts, err := conn.ReadPartitions(topic)
		conn.Close()
		if err == nil {
			return parts, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
