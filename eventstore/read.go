package eventstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dojot-es/dojot"
)

// pullBytes bounds what a replay buffers ahead of fn: by bytes, not
// messages, since an event can be anything up to the server's max payload.
// 8 MiB is ~15,000 typical envelopes: enough for the server to stream ahead
// of a fast fn (4-16x fewer pull round trips than the library's 500 messages;
// replay was ~25% faster).
const pullBytes = 8 << 20

// Load returns the events of one aggregate in order, with Seq set (empty,
// not nil, if it has none). It reads up to the aggregate's last event at the
// time of the call.
func (s *Store) Load(ctx context.Context, tenant, kind, id string) ([]dojot.Event, error) {
	subj := s.opts.SubjectPrefix + dojot.Subject(tenant, kind, id)
	// The last sequence first: it tells an empty aggregate apart without
	// waiting for a consumer that has nothing to deliver, and where to stop.
	last, err := s.eventsSt.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return []dojot.Event{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", subj, unavailable(err))
	}
	cons, err := s.js.OrderedConsumer(ctx, s.events, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{subj},
		InactiveThreshold: 30 * time.Second, // backstop for dropConsumer
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", subj, unavailable(err))
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", subj, unavailable(err))
	}
	defer s.dropConsumer(s.events, cons)
	defer it.Stop()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.Timeout)
		defer cancel()
	}
	var evs []dojot.Event
	var strs interner
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", subj, unavailable(err))
		}
		seq, err := streamSeq(m)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", subj, err)
		}
		var ev dojot.Event
		if err := s.loadDecode(m.Data(), &ev, &strs); err != nil {
			return nil, fmt.Errorf("load %s: decode seq %d: %w", subj, seq, err)
		}
		ev.Seq = seq
		evs = append(evs, ev)
		if seq >= last.Sequence {
			return evs, nil
		}
	}
}

// Subscribe calls fn with every event from sequence from on (0 or 1: the
// beginning), in order, with Seq set, and then with each new event as it is
// stored, until ctx is done (it returns ctx.Err()) or fn fails (it returns
// fn's error). A message that is not an event envelope is logged and
// skipped: one bad write must not stop every view.
func (s *Store) Subscribe(ctx context.Context, from uint64, fn func(dojot.Event) error) error {
	var mu sync.Mutex // guards strs: a reset may start a new handler goroutine
	var strs interner
	return s.consume(ctx, s.events, from, func(m jetstream.Msg, seq uint64) error {
		var ev dojot.Event
		mu.Lock()
		err := s.decode(m.Data(), &ev, &strs)
		mu.Unlock()
		if err != nil {
			s.log.Error("subscribe: skipping undecodable event", "stream", s.events, "seq", seq, "subject", m.Subject(), "err", err)
			return nil
		}
		ev.Seq = seq
		return fn(ev)
	})
}

// consume calls fn with every message of stream from sequence from on, in
// order, then with each new one, until ctx is done (ctx.Err()) or fn fails
// (fn's error). Subscribe and SubscribeData differ only in what they make
// of a message.
func (s *Store) consume(ctx context.Context, stream string, from uint64, fn func(m jetstream.Msg, seq uint64) error) error {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if from > 1 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = from
	}
	return s.consumeWith(ctx, stream, cfg, fn)
}

// consumeWith is consume with the ordered consumer's start and filter as
// cfg says.
func (s *Store) consumeWith(ctx context.Context, stream string, cfg jetstream.OrderedConsumerConfig, fn func(m jetstream.Msg, seq uint64) error) error {
	from := cfg.OptStartSeq
	cons, err := s.js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return fmt.Errorf("subscribe %s from %d: %w", stream, from, unavailable(err))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The handler runs on the subscription's goroutine (a new one after the
	// ordered consumer resets), so its stop flag and error cross goroutines.
	var failed atomic.Bool
	fnErr := make(chan error, 1)
	handle := func(m jetstream.Msg) {
		if failed.Load() {
			return
		}
		seq, err := streamSeq(m)
		if err != nil {
			s.log.Error("subscribe: message without metadata", "stream", stream, "err", err)
			return
		}
		if err := fn(m, seq); err != nil {
			if failed.CompareAndSwap(false, true) {
				fnErr <- err
			}
			cancel()
		}
	}
	cc, err := cons.Consume(handle,
		jetstream.PullMaxBytes(pullBytes),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			// The ordered consumer recovers from these by itself (it
			// recreates the consumer at the next sequence).
			s.log.Debug("subscribe: consumer error", "stream", stream, "err", err)
		}))
	if err != nil {
		return fmt.Errorf("subscribe %s from %d: %w", stream, from, unavailable(err))
	}
	var closed error
	select {
	case <-ctx.Done():
	case <-cc.Closed():
		closed = fmt.Errorf("subscribe %s: consumer closed: %w", stream, dojot.ErrUnavailable)
	}
	cc.Stop()
	<-cc.Closed()
	s.dropConsumer(stream, cons)
	select {
	case err := <-fnErr:
		return err
	default:
	}
	if closed != nil && ctx.Err() == nil {
		return closed
	}
	return ctx.Err()
}

// dropConsumer deletes a stopped ordered consumer's server side, in the
// background: the library leaves it to expire (5 minutes by default), and a
// Load per command would pile them up.
func (s *Store) dropConsumer(stream string, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
		defer cancel()
		if err := s.js.DeleteConsumer(ctx, stream, info.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			s.log.Debug("delete consumer", "stream", stream, "consumer", info.Name, "err", err)
		}
	}()
}

func streamSeq(m jetstream.Msg) (uint64, error) {
	md, err := m.Metadata()
	if err != nil {
		return 0, err
	}
	return md.Sequence.Stream, nil
}

// EventAt returns the event stored at sequence seq of EVENTS, with Seq set.
// A sequence that holds nothing (never written, or beyond the end) is
// dojot.ErrNotFound. Durable views use it to check that the event they
// recorded with their checkpoint is the one the log holds there.
func (s *Store) EventAt(ctx context.Context, seq uint64) (dojot.Event, error) {
	m, err := s.eventsSt.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return dojot.Event{}, dojot.Errorf(dojot.ErrNotFound, "no event at sequence %d", seq)
	}
	if err != nil {
		return dojot.Event{}, fmt.Errorf("event at %d: %w", seq, unavailable(err))
	}
	var ev dojot.Event
	var strs interner
	if err := s.decode(m.Data, &ev, &strs); err != nil {
		return dojot.Event{}, fmt.Errorf("event at %d: %w", seq, err)
	}
	ev.Seq = seq
	return ev, nil
}
