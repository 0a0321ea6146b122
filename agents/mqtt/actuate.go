package mqtt

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
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
// it (eventstore.Store): a consumer shared by the group's instances.
type sharedLog interface {
	FollowShared(ctx context.Context, sh eventstore.Share, fn func(ev dojot.Event) error) error
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
// only, eventstore.Store.FollowShared), which hands each event to one of
// them, and the event is acknowledged to JetStream only once the broker
// acknowledged both publishes (else it is handed out again after a pause,
// maybe to another instance: at least once). Actuations appended while
// every instance was down are sent when one comes back, as from dojot's
// k2v bridge (a Kafka consumer group).
func (a *Agent) followShared(ctx context.Context, log sharedLog) error {
	err := log.FollowShared(ctx, eventstore.Share{
		Durable:     ActuationConsumer(a.opts.BrokerGroup),
		Description: "dojot MQTT agents of group " + a.opts.BrokerGroup + ": device.actuated to the external broker, each by one instance",
		AckWait:     2*a.opts.Timeout + 5*time.Second,
		Started: func() {
			a.log.Info("mqtt: following actuations", "consumer", ActuationConsumer(a.opts.BrokerGroup))
		},
	}, func(ev dojot.Event) error {
		if ev.Type != dojot.EventDeviceActuated {
			return nil
		}
		var p dojot.DeviceActuated
		if err := ev.Decode(&p); err != nil || len(p.Attrs) == 0 {
			a.log.Error("mqtt: undecodable actuation", "seq", ev.Seq, "err", err)
			return nil
		}
		return a.Actuate(ev.Tenant, p.ID, p.Attrs)
	})
	if err != nil {
		return fmt.Errorf("mqtt: actuations: %w", err)
	}
	return nil
}

// ActuationConsumer is the name of the durable JetStream consumer through
// which the agents of an external-broker group share actuations.
func ActuationConsumer(group string) string { return "mqtt_actuate_" + group }
