package mqtt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dojot-es/dojot"
)

// Events is the event log as actuation reads it (the event store).
type Events interface {
	Subscribe(ctx context.Context, from uint64, fn func(dojot.Event) error) error
	LastSeq(ctx context.Context) (uint64, error)
}

// Actuate sends a device its configuration: attrs (the JSON object of
// dojot's configure event, data.attrs) on both config topics,
// <tenant>:<deviceid>/config and the legacy /<tenant>/<deviceid>/config,
// at QoS 1, to whichever client of this broker subscribed to them. A device
// connected to another instance gets it from that instance, which follows
// the same log. In external-broker mode it is published to that broker,
// and returns once the broker acknowledged both (Options.Timeout at most).
func (a *Agent) Actuate(tenant, deviceID string, attrs []byte) error {
	for _, topic := range []string{
		tenant + ":" + deviceID + "/" + KindConfig,
		"/" + tenant + "/" + deviceID + "/" + KindConfig,
	} {
		if err := a.publish(topic, attrs); err != nil {
			return fmt.Errorf("mqtt: actuate %s: %w", topic, err)
		}
	}
	a.actuated.Add(1)
	return nil
}

func (a *Agent) publish(topic string, payload []byte) error {
	if a.ext == nil {
		return a.srv.Publish(topic, payload, false, 1)
	}
	tok := a.ext.c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(a.opts.Timeout) {
		return errors.New("no acknowledgement from the broker in time")
	}
	return tok.Error()
}

// sharedLog is the event store as actuation in external-broker mode needs
// it (eventstore.Store): the EVENTS stream, to share one durable consumer.
type sharedLog interface {
	JetStream() jetstream.JetStream
	EventsStream() string
}

// FollowActuations sends every device.actuated event appended from now on
// to its device (Actuate), until ctx is done. Actuations older than the
// start are not sent again: dojot's k2v bridge delivered them live only
// too, and a device that was away reads its state otherwise.
//
// In external-broker mode every instance publishes to the same broker, so
// each actuation must be published by one instance only, and log must
// also be a JetStream store (eventstore.Store): see followShared.
func (a *Agent) FollowActuations(ctx context.Context, log Events) error {
	if a.ext != nil {
		sl, ok := log.(sharedLog)
		if !ok {
			return errors.New("mqtt: actuations: external-broker mode needs the event store's JetStream")
		}
		return a.followShared(ctx, sl)
	}
	last, err := log.LastSeq(ctx)
	if err != nil {
		return fmt.Errorf("mqtt: actuations: %w", err)
	}
	err = log.Subscribe(ctx, last+1, func(ev dojot.Event) error {
		if ev.Type != dojot.EventDeviceActuated {
			return nil
		}
		var p dojot.DeviceActuated
		if err := ev.Decode(&p); err != nil || len(p.Attrs) == 0 {
			a.log.Error("mqtt: undecodable actuation", "seq", ev.Seq, "err", err)
			return nil
		}
		if err := a.Actuate(ev.Tenant, p.ID, p.Attrs); err != nil {
			a.log.Error("mqtt: actuation not sent", "seq", ev.Seq, "tenant", ev.Tenant, "device_id", p.ID, "err", err)
		}
		return nil
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// followShared publishes device.actuated events to the external broker,
// each from one instance of the group: the instances share one durable
// JetStream consumer on EVENTS (mqtt_actuate_<group>, device subjects
// only), which hands each event to one of them, and the event is
// acknowledged to JetStream only once the broker acknowledged both
// publishes (else it is handed out again after a pause, maybe to another
// instance: at least once). A NATS core queue subscription on the event
// subjects would be simpler but wrong: core subscribers also get an append
// that JetStream then refuses (a failed expectation), and nothing is
// redelivered when the chosen instance fails. The consumer starts with the
// events appended after it was first created; actuations appended while
// every instance was down are sent when one comes back, as from dojot's
// k2v bridge (a Kafka consumer group), unless the consumer was idle for
// longer than an hour (InactiveThreshold), when it starts afresh.
func (a *Agent) followShared(ctx context.Context, log sharedLog) error {
	js, stream := log.JetStream(), log.EventsStream()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("mqtt: actuations: stream %s: %w", stream, err)
	}
	// The stream's subjects carry the store's prefix: <prefix>evt.>.
	var filter string
	for _, s := range st.CachedInfo().Config.Subjects {
		if p, ok := strings.CutSuffix(s, "evt.>"); ok {
			filter = p + dojot.Subject("*", dojot.KindDevice, "*")
		}
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:           ActuationConsumer(a.opts.BrokerGroup),
		Description:       "dojot MQTT agents of group " + a.opts.BrokerGroup + ": device.actuated to the external broker, each by one instance",
		FilterSubject:     filter,
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           2*a.opts.Timeout + 5*time.Second,
		MaxAckPending:     1000,
		InactiveThreshold: time.Hour,
	})
	if err != nil {
		return fmt.Errorf("mqtt: actuations: consumer: %w", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var ev dojot.Event
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			a.log.Error("mqtt: undecodable event", "subject", m.Subject(), "err", err)
			_ = m.Term()
			return
		}
		if ev.Type != dojot.EventDeviceActuated {
			_ = m.Ack()
			return
		}
		var p dojot.DeviceActuated
		if err := ev.Decode(&p); err != nil || len(p.Attrs) == 0 {
			a.log.Error("mqtt: undecodable actuation", "subject", m.Subject(), "err", err)
			_ = m.Term()
			return
		}
		if err := a.Actuate(ev.Tenant, p.ID, p.Attrs); err != nil {
			delay := minBackoff
			if md, err := m.Metadata(); err == nil {
				delay = retryDelay(md.NumDelivered)
			}
			a.log.Warn("mqtt: actuation not sent, retrying", "tenant", ev.Tenant, "device_id", p.ID, "retry_in", delay.String(), "err", err)
			_ = m.NakWithDelay(delay)
			return
		}
		_ = m.DoubleAck(ctx)
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		a.log.Debug("mqtt: actuations: consumer error", "err", err)
	}))
	if err != nil {
		return fmt.Errorf("mqtt: actuations: consume: %w", err)
	}
	a.log.Info("mqtt: following actuations", "consumer", ActuationConsumer(a.opts.BrokerGroup), "stream", stream)
	<-ctx.Done()
	cc.Stop()
	return nil
}

// ActuationConsumer is the name of the durable JetStream consumer through
// which the agents of an external-broker group share actuations.
func ActuationConsumer(group string) string { return "mqtt_actuate_" + group }
