package memory

import (
	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections/dmjson"
)

// decodeDevice is ev.Decode into a dojot.DeviceUpdated (the shape of both
// device.created and device.updated), keeping only the Device. Start-up
// replay decodes one such payload per device, and encoding/json took as
// long as the rest of applying it, so payloads as json.Marshal writes them
// (known keys once each, no escapes) take a direct path; anything else
// goes through ev.Decode. FuzzDecodeDevice checks the two agree.
//
// The id is taken from ev.AggregateID when equal (no copy), and a
// templates list equal to the previous device's is shared with it: applied
// state is never changed in place.
func (t *dmTenant) decodeDevice(ev dojot.Event, p *dojot.Device) error {
	if dmjson.DecodeDevice(ev.Data, p, ev.AggregateID, &t.lastTemplates) {
		return nil
	}
	var u dojot.DeviceUpdated
	if err := ev.Decode(&u); err != nil {
		return err
	}
	*p = u.Device
	return nil
}
