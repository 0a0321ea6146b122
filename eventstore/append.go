package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dojot-es/dojot"
)

// Append stores ev if its expectation holds (see dojot.Event.Expect) and
// returns its stream sequence. A failed expectation is an error wrapping
// dojot.ErrConflict. Appending an event id again within the Duplicates window
// stores nothing and returns the first append's sequence, so a retry after a
// lost ack is safe, and an append rides through a stream's leader election
// (Options.ElectionWait).
func (s *Store) Append(ctx context.Context, ev dojot.Event) (uint64, error) {
	m, err := s.msg(ctx, ev)
	if err != nil {
		return 0, err
	}
	ack, err := s.publishRetry(ctx, m, time.Now().Add(s.opts.ElectionWait))
	if err != nil {
		return s.failed(ctx, ev, err)
	}
	return ack.Sequence, nil
}

// AppendBatch stores many events pipelined on one connection, each with its
// own expectation as in Append; errs[i] is nil when evs[i] was stored at
// seqs[i]. JetStream applies them in order, so a later event may expect an
// earlier one of the same batch. The number in flight is bounded; a batch
// larger than that waits for acks as it goes. Events that failed as an
// election makes them fail are sent again one by one, in order, within one
// Options.ElectionWait for the whole batch.
func (s *Store) AppendBatch(ctx context.Context, evs []dojot.Event) (seqs []uint64, errs []error) {
	until := time.Now().Add(s.opts.ElectionWait)
	seqs = make([]uint64, len(evs))
	errs = make([]error, len(evs)) // JetStream's own errors until the end
	msgs := make([]*nats.Msg, len(evs))
	futs := make([]jetstream.PubAckFuture, len(evs))
	// The default stall wait (200ms) fails a batch as soon as the server is
	// slower than that for maxPending messages, e.g. with SyncAlways.
	stall := jetstream.WithStallWait(s.opts.Timeout)
	for i, ev := range evs {
		if errs[i] = ctx.Err(); errs[i] != nil {
			continue
		}
		if msgs[i], errs[i] = s.msg(ctx, ev); errs[i] == nil {
			futs[i], errs[i] = s.js.PublishMsgAsync(msgs[i], stall)
		}
	}
	// After the loop at most maxPending acks are outstanding, so one
	// Timeout for all of them bounds the wait like a single request.
	timer := time.NewTimer(s.opts.Timeout)
	defer timer.Stop()
	var stop error
	for i, f := range futs {
		if f == nil {
			continue
		}
		if stop != nil {
			errs[i] = stop
			continue
		}
		select {
		case ack := <-f.Ok():
			seqs[i] = ack.Sequence
		case errs[i] = <-f.Err():
		case <-ctx.Done():
			stop = ctx.Err()
			errs[i] = stop
		case <-timer.C:
			stop = jetstream.ErrAsyncPublishTimeout
			errs[i] = stop
		}
	}
	for i, err := range errs {
		if err == nil {
			continue
		}
		if msgs[i] != nil && ctx.Err() == nil && retryable(err, true) && time.Now().Before(until) {
			var ack *jetstream.PubAck
			if ack, err = s.publishRetry(ctx, msgs[i], until); err == nil {
				seqs[i], errs[i] = ack.Sequence, nil
				continue
			}
		}
		if msgs[i] == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			continue // s.msg's error, already described
		}
		seqs[i], errs[i] = s.failed(ctx, evs[i], err)
	}
	return seqs, errs
}

// msg builds the message of ev: the JSON envelope on the prefixed subject,
// with the dedupe id and the expectation as JetStream headers (what
// jetstream.WithMsgID and WithExpectLastSequence* would set, without
// allocating their options on the hot path).
func (s *Store) msg(ctx context.Context, ev dojot.Event) (*nats.Msg, error) {
	if ev.ID == "" {
		return nil, fmt.Errorf("append %s %s: event without id: %w", ev.Type, ev.Subject(), dojot.ErrInvalid)
	}
	if ev.CorrelationID == "" {
		// The request that caused the event, for whoever acts on it or
		// logs about it (dojot.Event.Context).
		ev.CorrelationID = dojot.RequestID(ctx)
	}
	if s.opts.Sealer != nil {
		if err := s.opts.Sealer.Seal(&ev); err != nil {
			return nil, fmt.Errorf("append %s %s: %w", ev.Type, ev.Subject(), err)
		}
	}
	data, err := encodeEvent(ev)
	if err != nil {
		return nil, fmt.Errorf("append %s %s: %w", ev.Type, ev.Subject(), err)
	}
	h := make(nats.Header, 4)
	h[jetstream.MsgIDHeader] = []string{ev.ID}
	if !ev.NoExpect {
		h[jetstream.ExpectedLastSubjSeqHeader] = []string{strconv.FormatUint(ev.Expect, 10)}
		if ev.ExpectSubject != "" {
			if !s.expectSubject {
				return nil, fmt.Errorf("append %s %s: ExpectSubject %s needs nats-server 2.11 or later, connected to %s: %w",
					ev.Type, ev.Subject(), ev.ExpectSubject, s.nc.ConnectedServerVersion(), errors.ErrUnsupported)
			}
			h[jetstream.ExpectedLastSubjSeqSubjHeader] = []string{s.opts.SubjectPrefix + ev.ExpectSubject}
		}
	}
	return &nats.Msg{Subject: s.opts.SubjectPrefix + ev.Subject(), Data: data, Header: h}, nil
}

// failed turns a rejected append into its result. A failed expectation may
// be a retry of an append that was stored but whose ack was lost: a
// single-server stream checks expectations before the dedupe window (nats-server
// 2.15; a clustered one dedupes first), so the retry is told "wrong last
// sequence" instead of "duplicate". If ev is the last event on its subject,
// it is that earlier append, and its sequence is the result.
func (s *Store) failed(ctx context.Context, ev dojot.Event, err error) (uint64, error) {
	if !isWrongLastSeq(err) {
		return 0, s.appendErr(ev, err)
	}
	if ctx.Err() == nil {
		last, gerr := s.eventsSt.GetLastMsgForSubject(ctx, s.opts.SubjectPrefix+ev.Subject())
		if gerr == nil && last.Header.Get(jetstream.MsgIDHeader) == ev.ID {
			return last.Sequence, nil
		}
	}
	return 0, s.appendErr(ev, err)
}

// tooLarge reports an event larger than the server takes (its
// max_payload, checked by the client, or the stream's largest message):
// the caller's input is too large, not the store unavailable.
func tooLarge(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, nats.ErrMaxPayload) ||
		errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum
}

func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

func (s *Store) appendErr(ev dojot.Event, err error) error {
	if isWrongLastSeq(err) {
		return fmt.Errorf("append %s %s: expected last sequence %d: %w: %w", ev.Type, ev.Subject(), ev.Expect, dojot.ErrConflict, err)
	}
	if tooLarge(err) {
		return fmt.Errorf("append %s %s: %w: %w", ev.Type, ev.Subject(), dojot.ErrTooLarge, err)
	}
	return fmt.Errorf("append %s %s: %w", ev.Type, ev.Subject(), unavailable(err))
}
