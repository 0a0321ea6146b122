package eventstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dojot-es/dojot"
)

// Work names a durable consumer the instances of one deployment share to
// split a stream's messages between them (the flow engine's inputs): each
// message is handed to one instance, and handed out again when it is not
// acknowledged within AckWait.
type Work struct {
	Durable     string
	Description string
	// Events picks the EVENTS stream (device subjects only), else DATA.
	Events bool
	// AckWait is how long an instance may hold a message (default 60 s).
	AckWait time.Duration
	// MaxAckPending bounds the messages in flight across instances
	// (default 1024).
	MaxAckPending int
}

// WorkItem is one message of a Work consumer. Exactly one of Ack and Nak
// must be called.
type WorkItem struct {
	Seq       uint64 // stream sequence: the same on every delivery
	Subject   string // without the store's prefix
	Data      []byte
	Depth     int    // the Flow-Depth header of a reading a flow made (0: none)
	Delivered uint64 // 1 on the first delivery
	m         jetstream.Msg
}

// Ack acknowledges the item: it is done.
func (w WorkItem) Ack() { _ = w.m.Ack() }

// Nak hands the item out again after delay.
func (w WorkItem) Nak(delay time.Duration) { _ = w.m.NakWithDelay(delay) }

// FlowDepthHeader carries, on a reading a flow made, how many flow
// outputs led to it, so a loop of flows through device data is cut.
const FlowDepthHeader = "Dojot-Flow-Depth"

// Follow calls fn with each message of w's stream stored after the
// consumer was first created, until ctx is done. fn is called from one
// goroutine, in stream order; it must return quickly (hand the item to a
// worker) and the item be acknowledged later.
func (s *Store) Follow(ctx context.Context, w Work, fn func(WorkItem)) error {
	if w.AckWait <= 0 {
		w.AckWait = 60 * time.Second
	}
	if w.MaxAckPending <= 0 {
		w.MaxAckPending = 1024
	}
	stream, filter := s.data, s.opts.SubjectPrefix+"data.>"
	if w.Events {
		stream, filter = s.events, s.opts.SubjectPrefix+"evt.*.device.*"
	}
	cons, err := s.js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:           w.Durable,
		Description:       w.Description,
		FilterSubject:     filter,
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           w.AckWait,
		MaxAckPending:     w.MaxAckPending,
		InactiveThreshold: 24 * time.Hour,
	})
	if err != nil {
		return fmt.Errorf("work consumer %s: %w", w.Durable, unavailable(err))
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			_ = m.Term()
			return
		}
		item := WorkItem{Seq: md.Sequence.Stream, Subject: m.Subject()[len(s.opts.SubjectPrefix):], Data: m.Data(),
			Delivered: md.NumDelivered, m: m}
		if h := m.Headers(); h != nil {
			item.Depth, _ = strconv.Atoi(h.Get(FlowDepthHeader))
		}
		fn(item)
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		s.log.Debug("work consumer: error", "consumer", w.Durable, "err", err)
	}))
	if err != nil {
		return fmt.Errorf("work consumer %s: consume: %w", w.Durable, unavailable(err))
	}
	<-ctx.Done()
	cc.Stop()
	return nil
}

// AppendFlowData stores a reading a flow made: as AppendData with msgID
// (the output's deterministic id: a redelivered input stores it once) and
// its flow depth in FlowDepthHeader.
func (s *Store) AppendFlowData(ctx context.Context, tenant, deviceID string, payload []byte, msgID string, depth int) (uint64, error) {
	return s.appendData(ctx, tenant, deviceID, payload, nats.Header{
		jetstream.MsgIDHeader: []string{msgID}, FlowDepthHeader: []string{strconv.Itoa(depth)}})
}

// AppendNotification stores a flow's notification (dojot's
// <tenant>.dojot.notifications message, as is) in the NOTIFICATIONS
// stream on notify.<tenant>, with msgID (its msgID, the output's
// deterministic id) as its dedupe id.
func (s *Store) AppendNotification(ctx context.Context, tenant string, payload []byte, msgID string) (uint64, error) {
	if !dojot.ValidTenant(tenant) {
		return 0, fmt.Errorf("append notification %q: not a tenant: %w", tenant, dojot.ErrInvalid)
	}
	m := &nats.Msg{Subject: s.NotificationSubject(tenant), Data: payload, Header: nats.Header{jetstream.MsgIDHeader: []string{msgID}}}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.Timeout)
		defer cancel()
	}
	ack, err := s.js.PublishMsg(ctx, m)
	if err != nil {
		return 0, fmt.Errorf("append notification %s: %w", tenant, unavailable(err))
	}
	return ack.Sequence, nil
}
