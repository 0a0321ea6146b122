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
	var ids attrNumbering
	for _, a := range in.Attrs {
		if slices.ContainsFunc(tp.Attrs, func(b dojot.Attr) bool { return a.Label == b.Label && a.Type == b.Type }) {
			return dojot.Event{}, 0, errAttrConstraints
		}
		ids.addAttr(len(tp.Attrs), a)
		tp.Attrs = append(tp.Attrs, newAttr(a, e.now))
	}
	ids.assign(tp.Attrs, c.LastAttrID)
	ev, err := e.templateEvent(st, c, dojot.EventTemplateCreated, tenant, strconv.Itoa(tp.ID), dojot.TemplateCreated{Template: tp})
	return ev, tp.ID, err
}

// newAttr is a new attribute with its metadata, not yet numbered.
func newAttr(a attrInput, now time.Time) dojot.Attr {
	out := dojot.Attr{Label: a.Label, Type: a.Type, ValueType: a.ValueType, StaticValue: a.StaticValue, Created: now}
	for _, m := range a.Metadata {
		out.Metadata = append(out.Metadata, newMeta(m, now))
	}
	return out
}

func newMeta(m attrInput, now time.Time) dojot.Attr {
	return dojot.Attr{Label: m.Label, Type: m.Type, ValueType: m.ValueType, StaticValue: m.StaticValue, Created: now}
}

// attrNumbering gives new attributes and metadata the ids dojot's database
// gives them. dojot's ORM (SQLAlchemy) inserts what a flush holds level by
// level, every new attribute before any new metadata (a metadata row needs
// its parent's id), each level in the order the rows were added; so a
// template with attrs gps (metadata descricao) and serial numbers gps,
// serial, descricao. An update may flush in the middle too (see
// decideUpdateTemplate), which numbers what was added so far.
type attrNumbering struct {
	flushes [][]attrRef // the new rows of each flush, in the order added
}

// attrRef is a new row: attribute attr, or its metadata meta (>= 0).
type attrRef struct{ attr, meta int }

func (n *attrNumbering) add(attr, meta int) {
	if len(n.flushes) == 0 {
		n.flush()
	}
	last := &n.flushes[len(n.flushes)-1]
	*last = append(*last, attrRef{attr, meta})
}

// addAttr adds new attribute i and then its metadata.
func (n *attrNumbering) addAttr(i int, a attrInput) {
	n.add(i, -1)
	for j := range a.Metadata {
		n.add(i, j)
	}
}

// flush ends a flush: rows added later are numbered after its rows.
func (n *attrNumbering) flush() { n.flushes = append(n.flushes, nil) }

// assign numbers the rows after last, the tenant's last attribute id.
func (n *attrNumbering) assign(attrs []dojot.Attr, last int) {
	for _, f := range n.flushes {
		for _, metadata := range []bool{false, true} {
			for _, r := range f {
				if (r.meta >= 0) != metadata {
					continue
				}
				last++
				if r.meta < 0 {
					attrs[r.attr].ID = last
				} else {
					attrs[r.attr].Metadata[r.meta].ID = last
				}
			}
		}
	}
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
	now := e.now
	nt := dojot.Template{ID: old.ID, Label: in.Label, Created: old.Created, Updated: old.Updated, Attrs: []dojot.Attr{}}
	structural := false
	var ids attrNumbering
	var touched []int // inserted or updated rows of nt.Attrs: dojot's trigger checks these
	req := slices.Clone(in.Attrs)
	for _, a := range old.Attrs {
		j := slices.IndexFunc(req, func(r attrInput) bool { return r.Label == a.Label && r.Type == a.Type })
		if j < 0 {
			// dojot deletes it, and the delete's cascade loads its
			// children: a load that flushes the metadata added so far.
			ids.flush()
			structural = true
			continue
		}
		r := req[j]
		req = slices.Delete(req, j, j+1)
		na := a
		i := len(nt.Attrs)
		if na.ValueType != r.ValueType || !sameValue(na.StaticValue, r.StaticValue) {
			na.ValueType, na.StaticValue, na.Updated = r.ValueType, r.StaticValue, &now
			touched = append(touched, i)
		}
		if r.HasMetadata {
			// dojot reads the attribute's children here, which flushes.
			ids.flush()
			var changed bool
			na.Metadata, changed = mergeMetadata(a.Metadata, r.Metadata, now)
			for k, m := range na.Metadata {
				if m.ID == 0 {
					ids.add(i, k)
				}
			}
			structural = structural || changed
		}
		nt.Attrs = append(nt.Attrs, na)
	}
	for _, r := range req {
		i := len(nt.Attrs)
		ids.addAttr(i, r)
		nt.Attrs = append(nt.Attrs, newAttr(r, now))
		touched = append(touched, i)
		structural = true
	}
	ids.assign(nt.Attrs, c.LastAttrID)
	for i, a := range nt.Attrs {
		if slices.ContainsFunc(nt.Attrs[:i], func(b dojot.Attr) bool { return a.Label == b.Label && a.Type == b.Type }) {
			return dojot.Event{}, dmInvalid(`duplicate key value violates unique constraint "attrs_template_id_type_label_key"`)
		}
	}
	if err := checkAttrConflicts(st, tenant, old.ID, touched, nt.Attrs); err != nil {
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
// attribute's metadata; changed reports additions or removals. Added
// metadata has no id yet (0).
func mergeMetadata(old []dojot.Attr, req []attrInput, now time.Time) ([]dojot.Attr, bool) {
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
		out = append(out, newMeta(r, now))
		changed = true
	}
	return out, changed
}

// checkAttrConflicts is dojot's attrs trigger: an inserted or updated
// attribute may not repeat the (label, type) of an attribute of another
// template that shares a device with this one.
func checkAttrConflicts(st DeviceState, tenant string, tid int, touched []int, attrs []dojot.Attr) error {
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
	for _, i := range touched {
		a := attrs[i]
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
