package eventstore

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Pauses between the attempts of an append that rides through an election:
// retryMin, doubling up to retryMax.
const (
	retryMin = 50 * time.Millisecond
	retryMax = time.Second
)

// electionErrCodes are JetStream's answers while a stream or the cluster
// has no leader: the message was not stored, so sending it again is safe.
// 10158 ("duplicate message id is in process") is a retry that overtook
// its first attempt, still being replicated: the next try answers with
// that attempt's sequence.
var electionErrCodes = map[jetstream.ErrorCode]bool{
	10005:                                  true, // no suitable peers for placement
	10008:                                  true, // JetStream system temporarily unavailable
	10009:                                  true, // JetStream cluster can not handle request
	jetstream.JSErrCodeJetStreamNotEnabled: true, // a node still recovering its store
	10118:                                  true, // stream is offline
	10158:                                  true, // duplicate message id is in process
	10163:                                  true, // expected last sequence per subject temporarily unavailable (a new leader)
}

// retryable reports whether an append that failed with err may be sent
// again. Errors that prove nothing was stored (no responders: the stream
// has no leader; an election's API errors) always may. Errors that leave
// it open (no answer in time, the connection lost with the request)
// only may when the message carries a Nats-Msg-Id (idempotent), which
// makes JetStream store it once and answer a repeat with the first
// sequence.
func retryable(err error, idempotent bool) bool {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse):
		return true
	case errors.As(err, &apiErr):
		return electionErrCodes[apiErr.ErrorCode]
	case errors.Is(err, nats.ErrConnectionClosed): // the store is closing
		return false
	}
	return idempotent && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrDisconnected) || errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, jetstream.ErrAsyncPublishTimeout))
}

// publishRetry sends m and returns JetStream's ack, sending it again while
// the failure is one an election or a lost node gives (retryable), with a
// growing pause, until the ack comes, ctx is done or until passed: then
// the last error. An attempt of an idempotent message waits for its ack
// ElectionWait/4 at most, so that an ack lost with a node is not waited
// for the whole Timeout; others wait Timeout, as they are not sent again
// after a timeout. ctx's own deadline, when sooner, bounds both.
func (s *Store) publishRetry(ctx context.Context, m *nats.Msg, until time.Time) (*jetstream.PubAck, error) {
	idempotent := m.Header.Get(jetstream.MsgIDHeader) != ""
	attempt := s.opts.Timeout
	if idempotent {
		attempt = min(attempt, s.opts.ElectionWait/4)
	}
	pause := retryMin
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeout(ctx, attempt)
		ack, err := s.js.PublishMsg(actx, m)
		cancel()
		if err == nil {
			if n > 1 {
				s.log.Info("append stored after retrying", "subject", m.Subject, "attempts", n, "duplicate", ack.Duplicate)
			}
			return ack, nil
		}
		if ctx.Err() != nil || !retryable(err, idempotent) || time.Now().Add(pause).After(until) {
			return nil, err
		}
		s.log.Debug("append failed, retrying", "subject", m.Subject, "attempt", n, "retry_in", pause.String(), "err", err)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		pause = min(2*pause, retryMax)
	}
}
