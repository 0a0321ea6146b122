package mqtt

import (
	"context"
	"fmt"

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
// the same log.
func (a *Agent) Actuate(tenant, deviceID string, attrs []byte) error {
	for _, topic := range []string{
		tenant + ":" + deviceID + "/" + KindConfig,
		"/" + tenant + "/" + deviceID + "/" + KindConfig,
	} {
		if err := a.srv.Publish(topic, attrs, false, 1); err != nil {
			return fmt.Errorf("mqtt: actuate %s: %w", topic, err)
		}
	}
	a.actuated.Add(1)
	return nil
}

// FollowActuations sends every device.actuated event appended from now on
// to its device (Actuate), until ctx is done. Actuations older than the
// start are not sent again: dojot's k2v bridge delivered them live only
// too, and a device that was away reads its state otherwise.
func (a *Agent) FollowActuations(ctx context.Context, log Events) error {
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
