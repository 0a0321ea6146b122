package eventstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dojot-es/dojot"
)

// Share names a durable consumer of EVENTS's device subjects that the
// instances of one deployment share, so that each device event is handled
// by one of them: what an agent needs to send each actuation to a shared
// external broker (MQTT, RabbitMQ) once.
type Share struct {
	Durable     string
	Description string
	// AckWait is how long an instance may take on one event before it is
	// handed out again (default 30 s).
	AckWait time.Duration
	// Started, when set, is called once the consumer delivers (for the
	// caller's "following" log line).
	Started func()
}

// Retry delays of a failed event: ShareRetryMin, doubling up to
// ShareRetryMax.
const (
	ShareRetryMin = 500 * time.Millisecond
	ShareRetryMax = 30 * time.Second
)

// ShareRetry is the pause before the n-th delivery of a failed event.
func ShareRetry(n uint64) time.Duration {
	d := ShareRetryMin
	for ; n > 1 && d < ShareRetryMax; n-- {
		d *= 2
	}
	return min(d, ShareRetryMax)
}

// FollowShared calls fn with each device event appended after the shared
// consumer was first created, each in one of the instances that follow
// sh.Durable, until ctx is done. An event is acknowledged once fn returned
// nil; when fn fails it is handed out again (maybe to another instance)
// after ShareRetry: at least once. An event that does not decode is
// dropped and logged. Events appended while every instance was down are
// handled when one comes back, unless the consumer was idle for longer
// than an hour, when it starts afresh.
//
// A NATS core queue subscription on the event subjects would be simpler
// but wrong: core subscribers also get an append that JetStream then
// refuses (a failed expectation), and nothing is redelivered when the
// chosen instance fails.
func (s *Store) FollowShared(ctx context.Context, sh Share, fn func(ev dojot.Event) error) error {
	if sh.AckWait <= 0 {
		sh.AckWait = 30 * time.Second
	}
	st, err := s.js.Stream(ctx, s.events)
	if err != nil {
		return fmt.Errorf("shared consumer %s: stream %s: %w", sh.Durable, s.events, unavailable(err))
	}
	// The stream's subjects carry the store's prefix: <prefix>evt.>.
	var filter string
	for _, subj := range st.CachedInfo().Config.Subjects {
		if p, ok := strings.CutSuffix(subj, "evt.>"); ok {
			filter = p + dojot.Subject("*", dojot.KindDevice, "*")
		}
	}
	cons, err := s.js.CreateOrUpdateConsumer(ctx, s.events, jetstream.ConsumerConfig{
		Durable:           sh.Durable,
		Description:       sh.Description,
		FilterSubject:     filter,
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           sh.AckWait,
		MaxAckPending:     1000,
		InactiveThreshold: time.Hour,
	})
	if err != nil {
		return fmt.Errorf("shared consumer %s: %w", sh.Durable, unavailable(err))
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var ev dojot.Event
		if err := s.decode(m.Data(), &ev, nil); err != nil {
			s.log.Error("shared consumer: undecodable event", "consumer", sh.Durable, "subject", m.Subject(), "err", err)
			_ = m.Term()
			return
		}
		if md, err := m.Metadata(); err == nil {
			ev.Seq = md.Sequence.Stream
		}
		if err := fn(ev); err != nil {
			delay := ShareRetryMin
			if md, err := m.Metadata(); err == nil {
				delay = ShareRetry(md.NumDelivered)
			}
			s.log.Warn("shared consumer: event not handled, retrying", "consumer", sh.Durable, "seq", ev.Seq,
				"tenant", ev.Tenant, "type", ev.Type, "retry_in", delay.String(), "err", err)
			_ = m.NakWithDelay(delay)
			return
		}
		_ = m.DoubleAck(ctx)
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		s.log.Debug("shared consumer: error", "consumer", sh.Durable, "err", err)
	}))
	if err != nil {
		return fmt.Errorf("shared consumer %s: consume: %w", sh.Durable, unavailable(err))
	}
	s.log.Debug("following shared consumer", "consumer", sh.Durable, "stream", s.events)
	if sh.Started != nil {
		sh.Started()
	}
	<-ctx.Done()
	cc.Stop()
	return nil
}
