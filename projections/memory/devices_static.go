package memory

import (
	"slices"
	"strings"

	"github.com/dojot-es/dojot"
)

// keyedLabels are the static attributes IoT agents find devices by: the
// view keeps an index from their values to devices, so an agent maps a
// LoRaWAN EUI, a Sigfox id or an AMQP routing key to its devices at once,
// whatever the number of devices.
var keyedLabels = []string{dojot.AttrDevEUI, dojot.AttrSigfoxDevice, dojot.AttrAMQPRoutingKey}

// keyedAttr is a template's static attribute of a keyed label.
type keyedAttr struct {
	label string
	id    int
	value *string // the template's static value; a device may override it
}

func keyedAttrs(tp dojot.Template) []keyedAttr {
	var out []keyedAttr
	for _, a := range tp.Attrs {
		if a.Type == "static" && slices.Contains(keyedLabels, a.Label) {
			out = append(out, keyedAttr{label: a.Label, id: a.ID, value: a.StaticValue})
		}
	}
	return out
}

// staticKey is an index entry's key: a keyed label and a value.
type staticKey struct{ label, value string }

// indexKey is the index's key of a value: a LoRaWAN EUI as
// dojot.NormalEUI writes it (the network servers send it in upper or lower
// case), the other labels exactly as dojot compared them.
func indexKey(label, value string) staticKey {
	if label == dojot.AttrDevEUI {
		value = dojot.NormalEUI(value)
	}
	return staticKey{label, value}
}

// eachStatic calls fn with every keyed static value dv shows: its
// templates' values, overridden by its own.
func (t *dmTenant) eachStatic(dv *device, fn func(staticKey)) {
	for _, tid := range dv.templates {
		tp := t.templates[tid]
		if tp == nil {
			continue
		}
		for _, k := range tp.keyed {
			v := k.value
			for _, o := range dv.overrides() {
				if o.AttrID == k.id {
					v = &o.StaticValue
				}
			}
			if v != nil {
				fn(indexKey(k.label, *v))
			}
		}
	}
}

func (t *dmTenant) indexStatic(dv *device) {
	t.eachStatic(dv, func(k staticKey) {
		if t.static == nil {
			t.static = make(map[staticKey][]string)
		}
		if ids := t.static[k]; !slices.Contains(ids, dv.id) {
			t.static[k] = append(ids, dv.id)
		}
	})
}

func (t *dmTenant) unindexStatic(dv *device) {
	t.eachStatic(dv, func(k staticKey) {
		ids := slices.DeleteFunc(t.static[k], func(id string) bool { return id == dv.id })
		if len(ids) == 0 {
			delete(t.static, k)
			return
		}
		t.static[k] = ids
	})
}

// reindexStatic re-reads the keyed values of the devices of template tid
// around change, which replaces the template.
func (t *dmTenant) reindexStatic(tid int, change func()) {
	old := t.templates[tid]
	if t.uses[tid] == 0 || old == nil || len(old.keyed) == 0 {
		change()
		if nt := t.templates[tid]; t.uses[tid] > 0 && nt != nil && len(nt.keyed) > 0 {
			t.eachUser(tid, t.indexStatic)
		}
		return
	}
	t.eachUser(tid, t.unindexStatic)
	change()
	t.eachUser(tid, t.indexStatic)
}

// eachUser calls fn with every device of template tid.
func (t *dmTenant) eachUser(tid int, fn func(*device)) {
	t.byID.each(0, func(dv *device) bool {
		if slices.Contains(dv.templates, tid) {
			fn(dv)
		}
		return true
	})
}

// DevicesByStatic returns the devices, of every tenant, whose static
// attribute label (dojot.AttrDevEUI, dojot.AttrSigfoxDevice or
// dojot.AttrAMQPRoutingKey) shows value, by tenant and then device id. EUIs
// compare as dojot.NormalEUI writes them.
func (v *View) DevicesByStatic(label, value string) []dojot.DeviceKey {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []dojot.DeviceKey
	for name, t := range v.dm.tenants {
		for _, id := range t.static[indexKey(label, value)] {
			out = append(out, dojot.DeviceKey{Tenant: name, ID: id})
		}
	}
	slices.SortFunc(out, func(a, b dojot.DeviceKey) int {
		if c := strings.Compare(a.Tenant, b.Tenant); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// StaticValue returns the static value a device shows for its attribute
// label: its own override, else its template's (the first of its templates
// that has one); false when it has none.
func (v *View) StaticValue(tenant, id, label string) (string, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	t := v.dm.tenants[tenant]
	if t == nil || t.devices[id] == nil {
		return "", false
	}
	dv := t.devices[id]
	for _, tid := range dv.templates {
		tp := t.templates[tid]
		if tp == nil {
			continue
		}
		for _, a := range tp.Attrs {
			if a.Label != label || a.Type != "static" {
				continue
			}
			for _, o := range dv.overrides() {
				if o.AttrID == a.ID {
					return o.StaticValue, true
				}
			}
			if a.StaticValue != nil {
				return *a.StaticValue, true
			}
		}
	}
	return "", false
}
