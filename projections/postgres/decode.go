package postgres

import (
	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections/dmjson"
)

// decodeDevice is ev.Decode into a dojot.DeviceUpdated (the shape of both
// device.created and device.updated), keeping the Device. A rebuild
// decodes one such payload per device on the applier's critical path
// (the batch waits for it before it is sent), and encoding/json took a
// sixth of a rebuild, so payloads as json.Marshal writes them take a
// direct path (dmjson.DecodeDevice), as in the memory view; anything else goes
// through encoding/json. FuzzDecodeDevice checks that the two agree.
func decodeDevice(ev dojot.Event) (dojot.Device, error) {
	var p dojot.Device
	if dmjson.DecodeDevice(ev.Data, &p, ev.AggregateID, nil) {
		return p, nil
	}
	var u dojot.DeviceUpdated
	err := ev.Decode(&u)
	return u.Device, err
}
