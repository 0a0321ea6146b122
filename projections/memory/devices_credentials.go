package memory

import "github.com/dojot-es/dojot"

// Device basic credentials: the bcrypt hash of each device's basic-auth
// password (device.credentials_set), kept beside the devices rather than in
// them, since few devices have one. They are never rendered: no device JSON,
// public or internal, shows them. A device.deleted drops them with the
// device. Every instance has this view, so credentials are checked here
// (commands.Devices.CheckDeviceCredentials), never in the shared Postgres or
// Mongo views, which do not store them.

// applyCredentials applies device.credentials_set: the hash replaces any
// earlier one. An event for a device the view does not have (the log
// cannot hold one, as its append expected the device's last sequence) only
// moves the aggregate's position.
func (t *dmTenant) applyCredentials(ev dojot.Event) error {
	dv := t.devices[ev.AggregateID]
	if dv == nil {
		a := t.tombs[ev.AggregateID]
		a.advance(ev)
		t.tombs[ev.AggregateID] = a
		return nil
	}
	var p dojot.DeviceCredentialsSet
	if err := ev.Decode(&p); err != nil {
		return err
	}
	dv.agg.advance(ev)
	if t.creds == nil {
		t.creds = make(map[string]string)
	}
	t.creds[dv.id] = p.Hash
	return nil
}

// DeviceCredentials returns the bcrypt hash of a device's basic-auth
// password; ok is false when the device has none (or does not exist).
func (v *View) DeviceCredentials(tenant, id string) (hash string, ok bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if t := v.dm.tenants[tenant]; t != nil {
		hash, ok = t.creds[id]
	}
	return hash, ok
}
