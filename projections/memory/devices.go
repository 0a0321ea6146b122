package memory

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections/dmjson"
)

// deviceManager is the templates-and-devices part of the view: per tenant,
// the templates (with their JSON pre-rendered, templates are few), the
// devices (kept small: rendered on read from the cached template parts), the
// indexes that page them, and what commands need to append safely (id
// sequences, last sequence and version of every aggregate).
type deviceManager struct {
	tenants map[string]*dmTenant
}

// agg is where an aggregate's subject stands in the stream.
type agg struct {
	seq     uint64
	version uint64
}

func (a *agg) advance(ev dojot.Event) {
	a.seq = ev.Seq
	if ev.Version != 0 {
		a.version = ev.Version
	} else {
		a.version++
	}
}

type dmTenant struct {
	templates   map[int]*tmpl
	templateIDs []int          // sorted
	tplAggs     map[string]agg // by aggregate id, deleted ones included
	counters    dojot.TemplateCounters

	devices map[string]*device
	slab    slab           // handles of the devices, for the indexes
	tombs   map[string]agg // deleted device ids: a re-creation expects their last seq
	byID    *ordered
	byLabel *ordered
	// uses counts the devices of each template. Listing a template's
	// devices scans byID instead of keeping a third ordered index: that
	// index would cost every replayed device one more sorted insert, for a
	// rarely used filter.
	uses map[int]int
	// lastTemplates is the templates list of the last device decoded,
	// shared by the next devices with an equal one (see decodeDevice).
	lastTemplates []int
	// creds are the devices' basic-auth password hashes, by device id
	// (devices_credentials.go); nil until one is set.
	creds map[string]string
	// static maps the keyed static values devices show to their ids
	// (devices_static.go); nil until one has one.
	static map[staticKey][]string
}

// device is one device as applied: times in Unix microseconds (0: none).
// What most devices do not have (an update time, overrides, keys) is
// behind x, so a replayed million devices take 96 bytes each, not 144.
type device struct {
	id, label string
	created   int64
	templates []int
	x         *deviceExtra // nil: none of it
	agg
	h uint32 // handle in the tenant's slab
}

type deviceExtra struct {
	updated   int64
	overrides []dojot.Override
	psks      []dojot.Override
}

func (dv *device) updated() int64 {
	if dv.x == nil {
		return 0
	}
	return dv.x.updated
}

func (dv *device) overrides() []dojot.Override {
	if dv.x == nil {
		return nil
	}
	return dv.x.overrides
}

func (dv *device) psks() []dojot.Override {
	if dv.x == nil {
		return nil
	}
	return dv.x.psks
}

// setExtra replaces x (nil when all is zero); readers may still hold the
// old one.
func (dv *device) setExtra(updated int64, overrides, psks []dojot.Override) {
	dv.x = nil
	if updated != 0 || overrides != nil || psks != nil {
		dv.x = &deviceExtra{updated: updated, overrides: overrides, psks: psks}
	}
}

func (d *deviceManager) init() { d.tenants = make(map[string]*dmTenant) }

func (d *deviceManager) tenant(name string) *dmTenant {
	t := d.tenants[name]
	if t == nil {
		t = &dmTenant{
			templates: make(map[int]*tmpl),
			tplAggs:   make(map[string]agg),
			devices:   make(map[string]*device),
			tombs:     make(map[string]agg),
			uses:      make(map[int]int),
		}
		t.byID = newOrdered(orderByID, &t.slab)
		t.byLabel = newOrdered(orderByLabel, &t.slab)
		d.tenants[name] = t
	}
	return t
}

// apply never fails on dangling references (a device naming a template that
// another instance deleted meanwhile): the log is the truth, and the view
// shows what it can.
func (d *deviceManager) apply(ev dojot.Event) error {
	t := d.tenant(ev.Tenant)
	switch ev.Kind {
	case dojot.KindTemplate:
		return t.applyTemplate(ev)
	case dojot.KindDevice:
		return t.applyDevice(ev)
	}
	return nil
}

func (t *dmTenant) applyTemplate(ev dojot.Event) error {
	a := t.tplAggs[ev.AggregateID]
	a.advance(ev)
	t.tplAggs[ev.AggregateID] = a
	t.counters.Seq = ev.Seq
	switch ev.Type {
	case dojot.EventTemplateCreated:
		var p dojot.TemplateCreated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		t.putTemplate(p.Template)
	case dojot.EventTemplateUpdated:
		var p dojot.TemplateUpdated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		lost := lostPSKAttrs(t.templates[p.ID], p.Template)
		t.reindexStatic(p.ID, func() { t.putTemplate(p.Template) })
		t.dropPSKs(lost)
	case dojot.EventTemplateDeleted:
		var p dojot.TemplateDeleted
		if err := ev.Decode(&p); err != nil {
			return err
		}
		t.dropTemplate(p.ID)
	case dojot.EventTemplatesDeleted:
		var p dojot.TemplatesDeleted
		if err := ev.Decode(&p); err != nil {
			return err
		}
		for _, id := range p.IDs {
			t.dropTemplate(id)
		}
	case dojot.EventTemplatesImported:
		var p dojot.TemplatesImported
		if err := ev.Decode(&p); err != nil {
			return err
		}
		for _, id := range slices.Clone(t.templateIDs) {
			t.dropTemplate(id)
		}
		// dojot recreates its sequences after the highest imported ids.
		t.counters.LastTemplateID, t.counters.LastAttrID = 0, 0
		for _, tp := range p.Templates {
			t.putTemplate(tp)
		}
	}
	return nil
}

func (t *dmTenant) putTemplate(tp dojot.Template) {
	if _, ok := t.templates[tp.ID]; !ok {
		i, _ := slices.BinarySearch(t.templateIDs, tp.ID)
		t.templateIDs = slices.Insert(t.templateIDs, i, tp.ID)
	}
	t.templates[tp.ID] = newTmpl(tp)
	t.counters.LastTemplateID = max(t.counters.LastTemplateID, tp.ID)
	for _, a := range tp.Attrs {
		t.counters.LastAttrID = max(t.counters.LastAttrID, a.ID)
		for _, m := range a.Metadata {
			t.counters.LastAttrID = max(t.counters.LastAttrID, m.ID)
		}
	}
}

func (t *dmTenant) dropTemplate(id int) {
	if _, ok := t.templates[id]; !ok {
		return
	}
	delete(t.templates, id)
	if i, ok := slices.BinarySearch(t.templateIDs, id); ok {
		t.templateIDs = slices.Delete(t.templateIDs, i, i+1)
	}
}

func (t *dmTenant) applyDevice(ev dojot.Event) error {
	switch ev.Type {
	case dojot.EventDeviceCreated, dojot.EventDeviceUpdated:
		// One decode; both payloads are a Device plus a cause.
		var p dojot.Device
		if err := t.decodeDevice(ev, &p); err != nil {
			return err
		}
		if p.ID != ev.AggregateID {
			return fmt.Errorf("device payload id %q on aggregate %q", p.ID, ev.AggregateID)
		}
		t.putDevice(ev, p)
	case dojot.EventDeviceDeleted:
		// The aggregate id is the device id: no need to decode the payload
		// (it carries the rendered device, for the Kafka bridge).
		a := t.tombs[ev.AggregateID]
		if dv := t.devices[ev.AggregateID]; dv != nil {
			a = dv.agg
			t.unindex(dv)
			t.slab.drop(dv)
			delete(t.devices, dv.id)
		}
		delete(t.creds, ev.AggregateID)
		a.advance(ev)
		t.tombs[ev.AggregateID] = a
	case dojot.EventDeviceCredentialsSet:
		return t.applyCredentials(ev)
	default: // device.actuated and anything newer: only the position moves
		if dv := t.devices[ev.AggregateID]; dv != nil {
			dv.agg.advance(ev)
		} else {
			a := t.tombs[ev.AggregateID]
			a.advance(ev)
			t.tombs[ev.AggregateID] = a
		}
	}
	return nil
}

func (t *dmTenant) putDevice(ev dojot.Event, p dojot.Device) {
	dv := t.devices[p.ID]
	if dv == nil {
		dv = &device{id: p.ID, agg: t.tombs[p.ID]}
		delete(t.tombs, p.ID)
		t.devices[p.ID] = dv
		t.slab.add(dv)
	} else {
		t.unindex(dv)
	}
	dv.agg.advance(ev)
	dv.label = p.Label
	dv.created = p.Created.UnixMicro()
	var updated int64
	if p.Updated != nil {
		updated = p.Updated.UnixMicro()
	}
	dv.templates = p.Templates
	dv.setExtra(updated, p.Overrides, p.PSKs)
	t.index(dv)
}

func (t *dmTenant) index(dv *device) {
	t.byID.insert(dv)
	t.byLabel.insert(dv)
	for _, tid := range dv.templates {
		t.uses[tid]++
	}
	t.indexStatic(dv)
}

func (t *dmTenant) unindex(dv *device) {
	t.unindexStatic(dv)
	t.byID.remove(dv)
	t.byLabel.remove(dv)
	for _, tid := range dv.templates {
		if t.uses[tid]--; t.uses[tid] <= 0 {
			delete(t.uses, tid)
		}
	}
}

// tmpl is an applied template with its renderings, made once per change:
// templates change rarely and are read with every device that uses them.
type tmpl struct {
	dojot.Template
	attrs map[int]*dojot.Attr // top-level attrs and metadata, by id
	json  [3][]byte           // GET /template forms, by dojot.AttrFormat
	// devAttrs is the "attrs" list as a device without overrides shows it.
	devAttrs []byte
	// keyed are its static attributes IoT agents find devices by.
	keyed []keyedAttr
}

func newTmpl(tp dojot.Template) *tmpl {
	m := &tmpl{Template: tp, attrs: make(map[int]*dojot.Attr)}
	for i := range tp.Attrs {
		a := &tp.Attrs[i]
		m.attrs[a.ID] = a
		for j := range a.Metadata {
			m.attrs[a.Metadata[j].ID] = &a.Metadata[j]
		}
	}
	for f := range m.json {
		m.json[f] = dmjson.AppendTemplate(nil, tp, dojot.AttrFormat(f))
	}
	m.devAttrs = dmjson.AppendDeviceAttrs(nil, tp, nil, nil)
	m.keyed = keyedAttrs(tp)
	return m
}

// idText is a template id as dojot writes it where it is a string.
func idText(id int) string { return strconv.Itoa(id) }
