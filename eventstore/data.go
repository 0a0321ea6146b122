package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dojot-es/dojot"
)

// AppendData stores one device reading (dojot's IoT-agent JSON, as is) in
// the DATA stream on DataSubject(tenant, deviceID) and returns its stream
// sequence once JetStream has stored it. A non-empty msgID is its
// Nats-Msg-Id: the same id again within the Duplicates window stores
// nothing and returns the first sequence. The tenant and device id must be
// safe subject tokens (dojot.ErrInvalid otherwise); a NATS that cannot
// answer is dojot.ErrUnavailable. Without a deadline on ctx the store's
// Timeout bounds the wait.
func (s *Store) AppendData(ctx context.Context, tenant, deviceID string, payload []byte, msgID string) (uint64, error) {
	var h nats.Header
	if msgID != "" {
		h = nats.Header{jetstream.MsgIDHeader: []string{msgID}}
	}
	return s.appendData(ctx, tenant, deviceID, payload, h)
}

func (s *Store) appendData(ctx context.Context, tenant, deviceID string, payload []byte, h nats.Header) (uint64, error) {
	if !dojot.ValidTenant(tenant) || !dojot.ValidToken(deviceID) {
		return 0, fmt.Errorf("append data %q/%q: not a tenant and device id: %w", tenant, deviceID, dojot.ErrInvalid)
	}
	seq, err := s.publish(ctx, &nats.Msg{Subject: s.DataSubject(tenant, deviceID), Data: payload, Header: h})
	if err != nil {
		return 0, fmt.Errorf("append data %s/%s: %w", tenant, deviceID, err)
	}
	return seq, nil
}

// publish stores m and returns its sequence once JetStream stored it,
// riding through an election as Append does (see publishRetry). A NATS
// that cannot answer is dojot.ErrUnavailable.
func (s *Store) publish(ctx context.Context, m *nats.Msg) (uint64, error) {
	ack, err := s.publishRetry(ctx, m, time.Now().Add(s.opts.ElectionWait))
	if err != nil {
		return 0, unavailable(err)
	}
	return ack.Sequence, nil
}

// AppendDataAsync starts storing a reading as AppendData does, without a
// Nats-Msg-Id, and returns at once, so a caller can have many readings in
// flight on one connection (the MQTT agent acknowledges each as it is
// stored). wait returns the reading's sequence once JetStream stored it,
// or why not; it returns dojot.ErrUnavailable when expired fires first
// (a nil expired waits for JetStream's own answer; an election may extend
// the wait, see AppendDataAsyncID). Call wait once. When
// more appends are in flight than the connection allows, AppendDataAsync
// blocks for up to the store's Timeout.
func (s *Store) AppendDataAsync(tenant, deviceID string, payload []byte) (wait func(expired <-chan time.Time) (uint64, error), err error) {
	return s.AppendDataAsyncID(tenant, deviceID, payload, "")
}

// AppendDataAsyncID is AppendDataAsync with a Nats-Msg-Id when msgID is
// not empty, as AppendData has: a redelivered message (an AMQP delivery
// that carries its publisher's message-id) is stored once within the
// stream's Duplicates window.
//
// While wait waits, a reading that failed as an election makes it fail
// (no responders: not stored) is sent again, with a growing pause, for
// Options.ElectionWait from the start at most: that bound replaces
// expired, so that ingest rides through an election as Append does. A
// reading whose ack was lost (its connection's node died) is not sent
// again: it may have been stored, and without a Nats-Msg-Id a second copy
// would be a second reading; its sender's retry (MQTT, HTTP) is the one
// that may store it twice, at least once as dojot's agents are.
func (s *Store) AppendDataAsyncID(tenant, deviceID string, payload []byte, msgID string) (wait func(expired <-chan time.Time) (uint64, error), err error) {
	if !dojot.ValidTenant(tenant) || !dojot.ValidToken(deviceID) {
		return nil, fmt.Errorf("append data %q/%q: not a tenant and device id: %w", tenant, deviceID, dojot.ErrInvalid)
	}
	m := &nats.Msg{Subject: s.DataSubject(tenant, deviceID), Data: payload}
	if msgID != "" {
		m.Header = nats.Header{jetstream.MsgIDHeader: []string{msgID}}
	}
	until := time.Now().Add(s.opts.ElectionWait)
	stall := jetstream.WithStallWait(s.opts.Timeout)
	f, err := s.js.PublishMsgAsync(m, stall)
	if err != nil {
		return nil, fmt.Errorf("append data %s/%s: %w", tenant, deviceID, unavailable(err))
	}
	fail := func(err error) (uint64, error) {
		return 0, fmt.Errorf("append data %s/%s: %w", tenant, deviceID, unavailable(err))
	}
	return func(expired <-chan time.Time) (uint64, error) {
		select { // already answered: the common case of a pipelined caller
		case ack := <-f.Ok():
			return ack.Sequence, nil
		default:
		}
		pause := retryMin
		var electing <-chan time.Time // set once JetStream said "no leader"
		for {
			select {
			case ack := <-f.Ok():
				return ack.Sequence, nil
			case err := <-f.Err():
				if !retryable(err, msgID != "") || time.Now().Add(pause).After(until) {
					return fail(err)
				}
				if electing == nil {
					// From now on until bounds the wait, not expired: the
					// reading is not lost in flight but refused until the
					// stream has a leader, as an Append waits for one.
					t := time.NewTimer(time.Until(until))
					defer t.Stop()
					electing, expired = t.C, nil
				}
				t := time.NewTimer(pause)
				select {
				case <-electing:
					t.Stop()
					return fail(err)
				case <-t.C:
				}
				pause = min(2*pause, retryMax)
				if f, err = s.js.PublishMsgAsync(m, stall); err != nil {
					return fail(err)
				}
			case <-electing:
				return 0, fmt.Errorf("append data %s/%s: no stream leader in %s: %w", tenant, deviceID, s.opts.ElectionWait, dojot.ErrUnavailable)
			case <-expired:
				return 0, fmt.Errorf("append data %s/%s: no answer from JetStream in time: %w", tenant, deviceID, dojot.ErrUnavailable)
			}
		}
	}, nil
}

// Start says where a feed begins: at stream sequence Seq when it is
// not 0, else at the first message stored at or after At when it is not
// zero, else with the messages stored from now on.
type Start struct {
	Seq uint64
	At  time.Time
}

// FollowData calls fn with each reading of tenant's devices in DATA from
// start on, in order, with its stream sequence, and then with each new one
// as it is stored, until ctx is done (it returns ctx.Err()) or fn fails
// (fn's error). The replay and the live part are one ordered consumer, so
// nothing is missed or repeated between them. data is only valid during
// the call.
func (s *Store) FollowData(ctx context.Context, tenant string, start Start, fn func(seq uint64, data []byte) error) error {
	if !dojot.ValidTenant(tenant) {
		return fmt.Errorf("follow data of %q: not a tenant: %w", tenant, dojot.ErrInvalid)
	}
	return s.follow(ctx, s.data, s.DataFilters(tenant, "*"), start, fn)
}

// follow calls fn with each message of stream on subject from start on,
// then with each new one (FollowData, FollowNotifications).
func (s *Store) follow(ctx context.Context, stream string, filters []string, start Start, fn func(seq uint64, data []byte) error) error {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: filters,
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	}
	switch {
	case start.Seq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, start.Seq
	case !start.At.IsZero():
		at := start.At
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &at
	}
	return s.consumeWith(ctx, stream, cfg, func(m jetstream.Msg, seq uint64) error { return fn(seq, m.Data()) })
}

// DataLog is the DATA stream read as a log of events of type
// dojot.EventReading, so projections.Runner can follow it like EVENTS.
// Readings expire (by age and size), so its sequences have gaps.
type DataLog struct{ s *Store }

// DataLog returns the DATA stream as a projection source.
func (s *Store) DataLog() DataLog { return DataLog{s} }

// Subscribe calls fn with every reading from sequence from on, in order,
// then with each new one, until ctx is done or fn fails (see
// Store.Subscribe). A message on a subject that names no device is logged
// and skipped.
func (d DataLog) Subscribe(ctx context.Context, from uint64, fn func(dojot.Event) error) error {
	s := d.s
	return s.consume(ctx, s.data, from, func(m jetstream.Msg, seq uint64) error {
		md, err := m.Metadata()
		if err != nil {
			return nil
		}
		ev, ok := s.reading(m.Subject(), m.Data(), m.Headers(), seq, md.Timestamp)
		if !ok {
			s.log.Error("subscribe: skipping a reading on a subject that names no device", "stream", s.data, "seq", seq, "subject", m.Subject())
			return nil
		}
		return fn(ev)
	})
}

// LastSeq is the sequence of the last reading stored (0: none).
func (d DataLog) LastSeq(ctx context.Context) (uint64, error) {
	_, last, err := d.s.DataRange(ctx)
	return last, err
}

// DataRange is the sequence of the first reading the DATA stream still
// holds and of the last one stored (0, 0: none yet). Readings before first
// have expired.
func (s *Store) DataRange(ctx context.Context) (first, last uint64, err error) {
	return streamRange(ctx, s.dataSt, s.data)
}

// streamRange is the first sequence st still holds and the last stored
// (0, last when it holds none).
func streamRange(ctx context.Context, st jetstream.Stream, name string) (first, last uint64, err error) {
	info, err := st.Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("stream %s: %w", name, unavailable(err))
	}
	if info.State.Msgs == 0 {
		return 0, info.State.LastSeq, nil
	}
	return info.State.FirstSeq, info.State.LastSeq, nil
}

// ReadingAt returns the reading stored at sequence seq of DATA, as DataLog
// delivers it. A sequence that holds nothing (expired, never written) is
// dojot.ErrNotFound.
func (s *Store) ReadingAt(ctx context.Context, seq uint64) (dojot.Event, error) {
	m, err := s.dataSt.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return dojot.Event{}, dojot.Errorf(dojot.ErrNotFound, "no reading at sequence %d", seq)
	}
	if err != nil {
		return dojot.Event{}, fmt.Errorf("reading at %d: %w", seq, unavailable(err))
	}
	ev, ok := s.reading(m.Subject, m.Data, m.Header, seq, m.Time)
	if !ok {
		return dojot.Event{}, dojot.Errorf(dojot.ErrNotFound, "no reading at sequence %d (subject %s)", seq, m.Subject)
	}
	return ev, nil
}

// reading makes a DATA message an event of type dojot.EventReading; ok is
// false when its subject is not data.<tenant>.<deviceid>. The event's ID
// is the message's Nats-Msg-Id (empty for a plain reading): a reading
// with an id (a flow's output, derived from its input) may be stored
// again past the Duplicates window, and a view that keeps it once per id
// stores it once whatever the delay.
func (s *Store) reading(subject string, data []byte, h nats.Header, seq uint64, at time.Time) (dojot.Event, bool) {
	tenant, device, ok := s.DataDevice(subject)
	if !ok {
		return dojot.Event{}, false
	}
	var id string
	if h != nil {
		id = h.Get(jetstream.MsgIDHeader)
	}
	return dojot.Event{ID: id, Type: dojot.EventReading, Kind: "data", Tenant: tenant, AggregateID: device, Time: at, Data: data, Seq: seq}, true
}
