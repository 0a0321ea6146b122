package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/dojot-es/dojot"
)

// templateEvent builds a template event that also claims the tenant's id
// sequences: it expects the tenant's last template event on the wildcard
// subject, so two instances never hand out the same template or attr id.
func (e decideEnv) templateEvent(st DeviceState, c dojot.TemplateCounters, typ, tenant, id string, data any) (dojot.Event, error) {
	ev, err := e.newEvent(st, typ, tenant, dojot.KindTemplate, id, data)
	if err != nil {
		return ev, err
	}
	ev.ExpectSubject = dojot.Subject(tenant, dojot.KindTemplate, "*")
	ev.Expect = c.Seq
	return ev, nil
}

// CreateTemplate creates a template (POST /template) and returns its id.
func (d *Devices) CreateTemplate(ctx context.Context, tenant string, body []byte) (int, error) {
	in, err := parseTemplate(body)
	if err != nil {
		return 0, err
	}
	var id int
	err = d.appendOne(ctx, func() (dojot.Event, error) {
		ev, tid, err := decideCreateTemplate(d.st, d.env(ctx), tenant, in)
		id = tid
		return ev, err
	})
	return id, err
}

// errAttrConstraints is dojot's answer when a template repeats a (label,
// type) pair.
var errAttrConstraints = dmInvalid("Template attribute constraints are violated by the request")

func decideCreateTemplate(st DeviceState, e decideEnv, tenant string, in templateInput) (dojot.Event, int, error) {
	c := st.TemplateCounters(tenant)
	tp := dojot.Template{ID: c.LastTemplateID + 1, Label: in.Label, Created: e.now, Attrs: []dojot.Attr{}}
	next := c.LastAttrID
	for _, a := range in.Attrs {
		if slices.ContainsFunc(tp.Attrs, func(b dojot.Attr) bool { return a.Label == b.Label && a.Type == b.Type }) {
			return dojot.Event{}, 0, errAttrConstraints
		}
		tp.Attrs = append(tp.Attrs, newAttr(a, &next, e.now))
	}
	ev, err := e.templateEvent(st, c, dojot.EventTemplateCreated, tenant, strconv.Itoa(tp.ID), dojot.TemplateCreated{Template: tp})
	return ev, tp.ID, err
}

// newAttr allocates ids for an attribute and then its metadata, in order.
func newAttr(a attrInput, next *int, now time.Time) dojot.Attr {
	*next++
	out := dojot.Attr{ID: *next, Label: a.Label, Type: a.Type, ValueType: a.ValueType, StaticValue: a.StaticValue, Created: now}
	for _, m := range a.Metadata {
		*next++
		out.Metadata = append(out.Metadata, dojot.Attr{ID: *next, Label: m.Label, Type: m.Type, ValueType: m.ValueType, StaticValue: m.StaticValue, Created: now})
	}
	return out
}

// lookupTemplate reads a template id from a path.
func lookupTemplate(st DeviceState, tenant, idText string) (dojot.Template, error) {
	id, err := strconv.Atoi(idText)
	if tp, ok := st.Template(tenant, id); err == nil && ok {
		return tp, nil
	}
	return dojot.Template{}, dmNotFound("No such template: %s", idText)
}

// UpdateTemplate applies PUT /template/:id: attributes are matched by
// (label, type); matched ones take the new value_type and static_value,
// unmatched ones go, new ones are added (metadata likewise, one level).
func (d *Devices) UpdateTemplate(ctx context.Context, tenant, idText string, body []byte) (int, error) {
	tp, err := lookupTemplate(d.st, tenant, idText) // dojot answers 404 before reading the body
	if err != nil {
		return 0, err
	}
	in, err := parseTemplate(body)
	if err != nil {
		return 0, err
	}
	err = d.appendOne(ctx, func() (dojot.Event, error) {
		return decideUpdateTemplate(d.st, d.env(ctx), tenant, idText, in)
	})
	return tp.ID, err
}

func decideUpdateTemplate(st DeviceState, e decideEnv, tenant, idText string, in templateInput) (dojot.Event, error) {
	old, err := lookupTemplate(st, tenant, idText)
	if err != nil {
		return dojot.Event{}, err
	}
	c := st.TemplateCounters(tenant)
	next := c.LastAttrID
	now := e.now
	nt := dojot.Template{ID: old.ID, Label: in.Label, Created: old.Created, Updated: old.Updated, Attrs: []dojot.Attr{}}
	structural := false
	var touched []dojot.Attr // inserted or updated rows: dojot's trigger checks these
	req := slices.Clone(in.Attrs)
	for _, a := range old.Attrs {
		j := slices.IndexFunc(req, func(r attrInput) bool { return r.Label == a.Label && r.Type == a.Type })
		if j < 0 {
			structural = true
			continue
		}
		r := req[j]
		req = slices.Delete(req, j, j+1)
		na := a
		if na.ValueType != r.ValueType || !sameValue(na.StaticValue, r.StaticValue) {
			na.ValueType, na.StaticValue, na.Updated = r.ValueType, r.StaticValue, &now
			touched = append(touched, na)
		}
		if r.HasMetadata {
			var changed bool
			na.Metadata, changed = mergeMetadata(a.Metadata, r.Metadata, &next, now)
			structural = structural || changed
		}
		nt.Attrs = append(nt.Attrs, na)
	}
	for _, r := range req {
		na := newAttr(r, &next, now)
		nt.Attrs = append(nt.Attrs, na)
		touched = append(touched, na)
		structural = true
	}
	for i, a := range nt.Attrs {
		if slices.ContainsFunc(nt.Attrs[:i], func(b dojot.Attr) bool { return a.Label == b.Label && a.Type == b.Type }) {
			return dojot.Event{}, dmInvalid(`duplicate key value violates unique constraint "attrs_template_id_type_label_key"`)
		}
	}
	if err := checkAttrConflicts(st, tenant, old.ID, touched); err != nil {
		return dojot.Event{}, err
	}
	if structural || nt.Label != old.Label {
		nt.Updated = &now
	}
	return e.templateEvent(st, c, dojot.EventTemplateUpdated, tenant, idText, dojot.TemplateUpdated{Template: nt})
}

func sameValue(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// mergeMetadata is the one-level matching of a template update for an
// attribute's metadata; changed reports additions or removals.
func mergeMetadata(old []dojot.Attr, req []attrInput, next *int, now time.Time) ([]dojot.Attr, bool) {
	var out []dojot.Attr
	changed := false
	req = slices.Clone(req)
	for _, m := range old {
		j := slices.IndexFunc(req, func(r attrInput) bool { return r.Label == m.Label && r.Type == m.Type })
		if j < 0 {
			changed = true
			continue
		}
		r := req[j]
		req = slices.Delete(req, j, j+1)
		if m.ValueType != r.ValueType || !sameValue(m.StaticValue, r.StaticValue) {
			m.ValueType, m.StaticValue, m.Updated = r.ValueType, r.StaticValue, &now
		}
		out = append(out, m)
	}
	for _, r := range req {
		*next++
		out = append(out, dojot.Attr{ID: *next, Label: r.Label, Type: r.Type, ValueType: r.ValueType, StaticValue: r.StaticValue, Created: now})
		changed = true
	}
	return out, changed
}

// checkAttrConflicts is dojot's attrs trigger: an inserted or updated
// attribute may not repeat the (label, type) of an attribute of another
// template that shares a device with this one.
func checkAttrConflicts(st DeviceState, tenant string, tid int, touched []dojot.Attr) error {
	if len(touched) == 0 {
		return nil
	}
	others := map[int]bool{}
	for _, id := range st.DevicesWithTemplate(tenant, tid) {
		if dv, ok := st.Device(tenant, id); ok {
			for _, t := range dv.Templates {
				if t != tid {
					others[t] = true
				}
			}
		}
	}
	ids := make([]int, 0, len(others))
	for id := range others {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, a := range touched {
		for _, id := range ids {
			tp, ok := st.Template(tenant, id)
			if ok && slices.ContainsFunc(tp.Attrs, func(b dojot.Attr) bool { return a.Label == b.Label && a.Type == b.Type }) {
				return dmInvalid(fmt.Sprintf("Attribute %s (%d) has standing conflicts", a.Label, a.ID))
			}
		}
	}
	return nil
}

// errTemplateInUse is dojot's answer to removing a template a device uses.
var errTemplateInUse = dmInvalid("Templates cannot be removed as they are being used by devices")

// DeleteTemplate removes an unused template and returns it as it was.
func (d *Devices) DeleteTemplate(ctx context.Context, tenant, idText string) (json.RawMessage, error) {
	var removed json.RawMessage
	err := d.appendOne(ctx, func() (dojot.Event, error) {
		ev, r, err := decideDeleteTemplate(d.st, d.env(ctx), tenant, idText)
		removed = r
		return ev, err
	})
	return removed, err
}

func decideDeleteTemplate(st DeviceState, e decideEnv, tenant, idText string) (dojot.Event, json.RawMessage, error) {
	tp, err := lookupTemplate(st, tenant, idText)
	if err != nil {
		return dojot.Event{}, nil, err
	}
	if len(st.DevicesWithTemplate(tenant, tp.ID)) > 0 {
		return dojot.Event{}, nil, errTemplateInUse
	}
	rendered, _ := st.TemplateJSON(tenant, tp.ID)
	ev, err := e.templateEvent(st, st.TemplateCounters(tenant), dojot.EventTemplateDeleted, tenant, strconv.Itoa(tp.ID), dojot.TemplateDeleted{ID: tp.ID})
	return ev, rendered, err
}

// DeleteAllTemplates removes every template of the tenant, or none if one
// is in use, and returns them as they were.
func (d *Devices) DeleteAllTemplates(ctx context.Context, tenant string) ([]json.RawMessage, error) {
	var removed []json.RawMessage
	err := retry(ctx, &d.opts, func() (uint64, error) {
		before, err := d.checkpoint(ctx)
		if err != nil {
			return 0, err
		}
		ev, r, err := decideDeleteAllTemplates(d.st, d.env(ctx), tenant)
		removed = r
		if err != nil || ev == nil {
			return 0, err
		}
		return d.appendFresh(ctx, before, *ev)
	})
	if removed == nil && err == nil {
		removed = []json.RawMessage{}
	}
	return removed, err
}

// decideDeleteAllTemplates decides one template.all_deleted event, or none
// when the tenant has no template.
func decideDeleteAllTemplates(st DeviceState, e decideEnv, tenant string) (*dojot.Event, []json.RawMessage, error) {
	ids := st.TemplateIDs(tenant)
	if len(ids) == 0 {
		return nil, nil, nil
	}
	removed := make([]json.RawMessage, 0, len(ids))
	for _, id := range ids {
		if len(st.DevicesWithTemplate(tenant, id)) > 0 {
			return nil, nil, errTemplateInUse
		}
		r, _ := st.TemplateJSON(tenant, id)
		removed = append(removed, r)
	}
	ev, err := e.templateEvent(st, st.TemplateCounters(tenant), dojot.EventTemplatesDeleted, tenant, dojot.TemplatesAll, dojot.TemplatesDeleted{IDs: ids})
	if err != nil {
		return nil, nil, err
	}
	return &ev, removed, nil
}
