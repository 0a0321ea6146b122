package memory

import (
	"slices"
	"strings"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections/dmjson"
)

// Reads of templates and devices. Each takes the read lock once; the
// domain values returned share slices with the view and must not be
// modified (applied state is replaced, never changed in place).

// Template returns a template as its events left it.
func (v *View) Template(tenant string, id int) (dojot.Template, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if t := v.dm.tenants[tenant]; t != nil {
		if m := t.templates[id]; m != nil {
			return m.Template, true
		}
	}
	return dojot.Template{}, false
}

// TemplateIDs lists the tenant's template ids in order.
func (v *View) TemplateIDs(tenant string) []int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if t := v.dm.tenants[tenant]; t != nil {
		return slices.Clone(t.templateIDs)
	}
	return nil
}

// TemplateCounters is where the tenant's id sequences stand.
func (v *View) TemplateCounters(tenant string) dojot.TemplateCounters {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if t := v.dm.tenants[tenant]; t != nil {
		return t.counters
	}
	return dojot.TemplateCounters{}
}

// TemplateJSON renders a template as GET /template/:id shows it.
func (v *View) TemplateJSON(tenant string, id int) ([]byte, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if t := v.dm.tenants[tenant]; t != nil {
		if m := t.templates[id]; m != nil {
			return slices.Clone(m.json[dojot.AttrFormatBoth]), true
		}
	}
	return nil, false
}

// Device returns a device's own state as its events left it.
func (v *View) Device(tenant, id string) (dojot.Device, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	t := v.dm.tenants[tenant]
	if t == nil {
		return dojot.Device{}, false
	}
	dv := t.devices[id]
	if dv == nil {
		return dojot.Device{}, false
	}
	return dv.state(), true
}

func (dv *device) state() dojot.Device {
	d := dojot.Device{
		ID: dv.id, Label: dv.label, Created: unixMicro(dv.created),
		Templates: dv.templates, Overrides: dv.overrides(), PSKs: dv.psks(),
	}
	if dv.updated() != 0 {
		u := unixMicro(dv.updated())
		d.Updated = &u
	}
	return d
}

// DeviceJSON renders a device as GET /device/:id shows it.
func (v *View) DeviceJSON(tenant, id string) ([]byte, bool) {
	return v.deviceJSON(tenant, id, false)
}

func (v *View) deviceJSON(tenant, id string, internal bool) ([]byte, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	t := v.dm.tenants[tenant]
	if t == nil {
		return nil, false
	}
	dv := t.devices[id]
	if dv == nil {
		return nil, false
	}
	return t.renderDevice(make([]byte, 0, 512), dv, internal), true
}

// DeviceIDs lists the tenant's device ids in order.
func (v *View) DeviceIDs(tenant string) []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	t := v.dm.tenants[tenant]
	if t == nil {
		return nil
	}
	ids := make([]string, 0, t.byID.Len())
	t.byID.each(0, func(d *device) bool { ids = append(ids, d.id); return true })
	return ids
}

// DevicesWithTemplate lists, in id order, the devices that use template tid.
func (v *View) DevicesWithTemplate(tenant string, tid int) []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	t := v.dm.tenants[tenant]
	if t == nil || t.uses[tid] == 0 {
		return nil
	}
	ids := make([]string, 0, t.uses[tid])
	t.byID.each(0, func(d *device) bool {
		if slices.Contains(d.templates, tid) {
			ids = append(ids, d.id)
		}
		return len(ids) < cap(ids)
	})
	return ids
}

// Aggregate is where an aggregate's subject stands: the sequence and
// version of its last event (0, 0: none), deleted aggregates included.
func (v *View) Aggregate(tenant, kind, id string) (seq, version uint64) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if kind == dojot.KindCronJob {
		return v.cronAggregate(tenant, id)
	}
	t := v.dm.tenants[tenant]
	if t == nil {
		return 0, 0
	}
	var a agg
	switch kind {
	case dojot.KindTemplate:
		a = t.tplAggs[id]
	case dojot.KindDevice:
		if dv := t.devices[id]; dv != nil {
			a = dv.agg
		} else {
			a = t.tombs[id]
		}
	}
	return a.seq, a.version
}

// ListTemplates renders GET /template's answer.
func (v *View) ListTemplates(tenant string, q dojot.TemplateQuery) []byte {
	q.Page = dmjson.NormPage(q.Page)
	v.mu.RLock()
	defer v.mu.RUnlock()
	b := make([]byte, 0, 4096)
	b = append(b, `{"pagination":`...)
	t := v.dm.tenants[tenant]
	if t == nil {
		b = dmjson.AppendPagination(b, q.Page, 0)
		return append(b, `,"templates":[]}`...)
	}
	filtered := len(q.Attr) > 0 || len(q.AttrType) > 0 || q.Label != ""
	ms := make([]*tmpl, 0, len(t.templateIDs))
	for _, id := range t.templateIDs {
		m := t.templates[id]
		if !filtered || m.matches(q) {
			ms = append(ms, m)
		}
	}
	// dojot orders a filtered query by id first, so sortBy only counts
	// without filters.
	if q.SortByLabel && !filtered {
		slices.SortStableFunc(ms, func(a, b *tmpl) int { return strings.Compare(a.Label, b.Label) })
	}
	b = dmjson.AppendPagination(b, q.Page, len(ms))
	b = append(b, `,"templates":[`...)
	for i, m := range dmjson.PageOf(ms, q.Page) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m.json[q.Format]...)
	}
	return append(b, "]}"...)
}

// matches is dojot's template filter: one attribute must satisfy every
// attr and attr_type condition (they are ANDed on one joined attrs row).
func (m *tmpl) matches(q dojot.TemplateQuery) bool {
	if q.Label != "" && !dmjson.Like(m.Label, q.Label) {
		return false
	}
	if len(q.Attr) == 0 && len(q.AttrType) == 0 {
		return true
	}
	for _, a := range m.Attrs {
		if dmjson.AttrMatches(a, a.StaticValue, q.Attr, q.AttrType) {
			return true
		}
	}
	return false
}

// ListDevices renders GET /device's answer (a bare id array with
// IDsOnly). An unfiltered page walks the ordered index from its offset; a
// filtered one scans the index in order.
func (v *View) ListDevices(tenant string, q dojot.DeviceQuery) []byte {
	return v.listDevices(tenant, q, false)
}

func (v *View) listDevices(tenant string, q dojot.DeviceQuery, internal bool) []byte {
	q.Page = dmjson.NormPage(q.Page)
	v.mu.RLock()
	defer v.mu.RUnlock()
	t := v.dm.tenants[tenant]
	var idx *ordered
	switch {
	case t == nil:
	case q.SortByLabel:
		idx = t.byLabel
	default:
		idx = t.byID
	}
	filter := q.Label != "" || len(q.Attr) > 0 || len(q.AttrType) > 0 || q.Template != 0
	if q.Template != 0 && t != nil && t.uses[q.Template] == 0 {
		idx = nil // no device uses it: nothing to scan
	}
	offset := dmjson.Offset(q.Page)
	page := make([]*device, 0, min(q.Page.Size, 64))
	total := 0
	switch {
	case idx == nil:
	case !filter:
		total = idx.Len()
		idx.each(offset, func(d *device) bool {
			page = append(page, d)
			return len(page) < q.Page.Size
		})
	default:
		idx.each(0, func(d *device) bool {
			if t.deviceMatches(d, q) {
				if total >= offset && len(page) < q.Page.Size {
					page = append(page, d)
				}
				total++
			}
			return true
		})
	}
	if q.IDsOnly {
		b := make([]byte, 0, 16*len(page)+2)
		b = append(b, '[')
		for i, d := range page {
			if i > 0 {
				b = append(b, ',')
			}
			b = dmjson.AppendString(b, d.id)
		}
		return append(b, ']')
	}
	b := make([]byte, 0, 1024*(len(page)+1))
	b = append(b, `{"devices":[`...)
	for i, d := range page {
		if i > 0 {
			b = append(b, ',')
		}
		b = t.renderDevice(b, d, internal)
	}
	b = append(b, `],"pagination":`...)
	b = dmjson.AppendPagination(b, q.Page, total)
	return append(b, '}')
}

// deviceMatches is dojot's device filter: label LIKE, template membership,
// and one attribute of the device's templates whose effective static value
// (the device's override, else the template's) satisfies every attr and
// attr_type condition.
func (t *dmTenant) deviceMatches(d *device, q dojot.DeviceQuery) bool {
	if q.Label != "" && !dmjson.Like(d.label, q.Label) {
		return false
	}
	if q.Template != 0 && !slices.Contains(d.templates, q.Template) {
		return false
	}
	if len(q.Attr) == 0 && len(q.AttrType) == 0 {
		return true
	}
	for _, tid := range d.templates {
		m := t.templates[tid]
		if m == nil {
			continue
		}
		for _, a := range m.Attrs {
			value := a.StaticValue
			if ov, ok := dmjson.OverrideOf(d.overrides(), a.ID); ok {
				value = &ov
			}
			if dmjson.AttrMatches(a, value, q.Attr, q.AttrType) {
				return true
			}
		}
	}
	return false
}
