package kafka

import (
	"context"
	"strconv"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections/kafkamsg"
)

// Topic names, as dojot's services use them (CONTRACT.md 2, 4.4, 10).
const tenancyTopic = kafkamsg.TenancyTopic

var (
	deviceTopic  = kafkamsg.DeviceTopic
	devicesTopic = kafkamsg.DevicesTopic
	dataTopic    = kafkamsg.DataTopic
)

// Record headers: a consumer drops a duplicate device event by
// (HeaderEventID, HeaderPart), a duplicate reading by HeaderMsgID.
// HeaderRequestID is the X-Request-Id of the request that caused the event
// (dojot.Event.CorrelationID), when one did.
const (
	HeaderRequestID = "dojot-request-id"
	HeaderEventID   = "dojot-event-id"
	HeaderSeq       = "dojot-seq"
	HeaderPart      = "dojot-part"
	HeaderMsgID     = "dojot-msg-id"
)

// records maps one event, already applied to b.view, to its Kafka records
// (none for most events): kafkamsg's messages with the headers that let a
// consumer drop a duplicate.
func (b *Bridge) records(ev dojot.Event) []kafkago.Message {
	msgs, err := kafkamsg.Render(b.view, ev)
	if err != nil {
		b.log.ErrorContext(ev.Context(context.Background()), "kafka bridge: event not rendered in full", "seq", ev.Seq, "type", ev.Type, "err", err)
	}
	if ev.Type == dojot.EventTenantCreated || ev.Type == dojot.EventTenantDeleted {
		var p dojot.TenantCreated
		if ev.Decode(&p) == nil {
			// As dojot's data-broker: ready for the tenant's consumers and
			// agents; the inbound reader follows once they exist.
			b.wantTenantTopics(kafkamsg.TenantOf(ev, p))
			b.tenantEvent = true
		}
	}
	out := make([]kafkago.Message, 0, len(msgs))
	for i, m := range msgs {
		h := []kafkago.Header{
			{Key: HeaderEventID, Value: []byte(ev.ID)},
			{Key: HeaderSeq, Value: strconv.AppendUint(nil, ev.Seq, 10)},
			{Key: HeaderPart, Value: strconv.AppendInt(nil, int64(i), 10)},
		}
		if ev.CorrelationID != "" {
			h = append(h, kafkago.Header{Key: HeaderRequestID, Value: []byte(ev.CorrelationID)})
		}
		out = append(out, kafkago.Message{Topic: m.Topic, Key: []byte(m.Key), Value: m.Value, Headers: h})
	}
	if b.opts.DevicesTopic {
		for _, m := range out[:len(msgs)] {
			if m.Topic == deviceTopic(ev.Tenant) {
				m.Topic = devicesTopic(ev.Tenant)
				out = append(out, m)
			}
		}
	}
	return out
}
