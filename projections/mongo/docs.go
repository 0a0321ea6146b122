package mongo

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/dojot-es/dojot"
)

// Documents as stored. Times of devices and templates are Unix
// microseconds: BSON dates keep only milliseconds, and dojot shows
// microseconds.

type overrideDoc struct {
	AttrID      int    `bson:"attr_id"`
	StaticValue string `bson:"static_value"`
}

type deviceDoc struct {
	Key       string        `bson:"_id"`
	Tenant    string        `bson:"tenant"`
	ID        string        `bson:"id"`
	Label     string        `bson:"label"`
	Created   int64         `bson:"created"`
	Updated   *int64        `bson:"updated,omitempty"`
	Templates []int         `bson:"templates"`
	Overrides []overrideDoc `bson:"overrides,omitempty"`
	// PSKs are the keys by attr id (decimal): a template update drops
	// some with one $unset of psks.<id> on every device of the tenant,
	// which needs no read and is idempotent.
	PSKs map[string]string `bson:"psks,omitempty"`
}

type attrDoc struct {
	ID          int       `bson:"id"`
	Label       string    `bson:"label"`
	Type        string    `bson:"type"`
	ValueType   string    `bson:"value_type"`
	StaticValue *string   `bson:"static_value,omitempty"`
	Created     int64     `bson:"created"`
	Updated     *int64    `bson:"updated,omitempty"`
	Metadata    []attrDoc `bson:"metadata,omitempty"`
}

type templateDoc struct {
	Key     string    `bson:"_id"`
	Tenant  string    `bson:"tenant"`
	ID      int       `bson:"id"`
	Label   string    `bson:"label"`
	Created int64     `bson:"created"`
	Updated *int64    `bson:"updated,omitempty"`
	Attrs   []attrDoc `bson:"attrs"`
	// PSKVersions are the psk attributes of the template's recent
	// versions, by the sequence of the event that made each (see
	// lostPSKAttrs).
	PSKVersions []pskVersion `bson:"psk_versions"`
}

type pskVersion struct {
	Seq   int64 `bson:"seq"`
	Attrs []int `bson:"attrs"`
}

type userDoc struct {
	ID          int64   `bson:"_id"`
	Username    string  `bson:"username"`
	Name        string  `bson:"name"`
	Service     string  `bson:"service"`
	Email       string  `bson:"email"`
	Profile     string  `bson:"profile"`
	CreatedDate string  `bson:"created_date"`
	CreatedBy   int64   `bson:"created_by"`
	Groups      []int64 `bson:"groups"`
	Perms       []int64 `bson:"perms"`
}

type groupDoc struct {
	ID          int64   `bson:"_id"`
	Name        string  `bson:"name"`
	Description string  `bson:"description"`
	CreatedDate string  `bson:"created_date"`
	CreatedBy   int64   `bson:"created_by"`
	Perms       []int64 `bson:"perms"`
	// CreatedSeq is the sequence of group.created: a relation applied
	// again after a crash sees the group as it was at the relation's own
	// sequence (see batch.exist).
	CreatedSeq int64 `bson:"created_seq"`
}

type permDoc struct {
	ID          int64  `bson:"_id"`
	Name        string `bson:"name"`
	Path        string `bson:"path"`
	Method      string `bson:"method"`
	Permission  string `bson:"permission"`
	Type        string `bson:"type"`
	CreatedDate string `bson:"created_date"`
	CreatedBy   int64  `bson:"created_by"`
	CreatedSeq  int64  `bson:"created_seq"`
}

type checkpointDoc struct {
	ID            string `bson:"_id"`
	Seq           int64  `bson:"seq"`
	EventID       string `bson:"event_id"`
	SchemaVersion int    `bson:"schema_version"`
}

// Keys of the DeviceManager documents: the tenant and the aggregate id,
// joined by a dot, which neither a tenant nor a device id may hold (both
// are subject tokens). Within a tenant, keys sort as the ids do.
func deviceKey(tenant, id string) string { return tenant + "." + id }

func templateKey(tenant string, id int) string { return tenant + "." + strconv.Itoa(id) }

func micros(t time.Time) int64 { return t.UnixMicro() }

func microsPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	us := t.UnixMicro()
	return &us
}

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func fromMicrosPtr(us *int64) *time.Time {
	if us == nil {
		return nil
	}
	t := fromMicros(*us)
	return &t
}

// text and fromText keep auth times exactly as the events carried them
// (to the nanosecond, with their offset), as the memory view returns them.
func text(t time.Time) string {
	b, _ := t.MarshalText() // fails only for years outside 0-9999
	return string(b)
}

func fromText(s string) time.Time {
	var t time.Time
	_ = t.UnmarshalText([]byte(s)) // written by text
	return t
}

func overridesDoc(ovs []dojot.Override) []overrideDoc {
	if ovs == nil {
		return nil
	}
	out := make([]overrideDoc, len(ovs))
	for i, o := range ovs {
		out[i] = overrideDoc(o)
	}
	return out
}

func overridesOf(ds []overrideDoc) []dojot.Override {
	if ds == nil {
		return nil
	}
	out := make([]dojot.Override, len(ds))
	for i, d := range ds {
		out[i] = dojot.Override(d)
	}
	return out
}

func pskDoc(ovs []dojot.Override) map[string]string {
	if len(ovs) == 0 {
		return nil
	}
	m := make(map[string]string, len(ovs))
	for _, o := range ovs {
		m[strconv.Itoa(o.AttrID)] = o.StaticValue
	}
	return m
}

// psksOf lists keys by attr id (a device's keys are only looked up by id).
func psksOf(m map[string]string) []dojot.Override {
	if len(m) == 0 {
		return nil
	}
	out := make([]dojot.Override, 0, len(m))
	for k, v := range m {
		id, _ := strconv.Atoi(k)
		out = append(out, dojot.Override{AttrID: id, StaticValue: v})
	}
	slices.SortFunc(out, func(a, b dojot.Override) int { return cmp.Compare(a.AttrID, b.AttrID) })
	return out
}

func newDeviceDoc(tenant string, d dojot.Device) deviceDoc {
	tpls := d.Templates
	if tpls == nil {
		tpls = []int{} // an array, so that {templates: tid} always has one to look in
	}
	return deviceDoc{
		Key: deviceKey(tenant, d.ID), Tenant: tenant, ID: d.ID, Label: d.Label,
		Created: micros(d.Created), Updated: microsPtr(d.Updated), Templates: tpls,
		Overrides: overridesDoc(d.Overrides), PSKs: pskDoc(d.PSKs),
	}
}

func (d *deviceDoc) device() dojot.Device {
	return dojot.Device{
		ID: d.ID, Label: d.Label, Created: fromMicros(d.Created), Updated: fromMicrosPtr(d.Updated),
		Templates: d.Templates, Overrides: overridesOf(d.Overrides), PSKs: psksOf(d.PSKs),
	}
}

func newAttrDocs(as []dojot.Attr) []attrDoc {
	if as == nil {
		return nil
	}
	out := make([]attrDoc, len(as))
	for i, a := range as {
		out[i] = attrDoc{
			ID: a.ID, Label: a.Label, Type: a.Type, ValueType: a.ValueType, StaticValue: a.StaticValue,
			Created: micros(a.Created), Updated: microsPtr(a.Updated), Metadata: newAttrDocs(a.Metadata),
		}
	}
	return out
}

func attrsOf(ds []attrDoc) []dojot.Attr {
	if ds == nil {
		return nil
	}
	out := make([]dojot.Attr, len(ds))
	for i, d := range ds {
		out[i] = dojot.Attr{
			ID: d.ID, Label: d.Label, Type: d.Type, ValueType: d.ValueType, StaticValue: d.StaticValue,
			Created: fromMicros(d.Created), Updated: fromMicrosPtr(d.Updated), Metadata: attrsOf(d.Metadata),
		}
	}
	return out
}

// newTemplateDoc is tp as made by the event at seq, keeping from old (the
// document it replaces, nil: none) the psk attributes of the versions
// before seq that a replay of the batch may still ask for: every one after
// cp (the checkpoint before the batch) and the last one at or before it.
func newTemplateDoc(tenant string, tp dojot.Template, old *templateDoc, seq, cp uint64) templateDoc {
	attrs := newAttrDocs(tp.Attrs)
	if attrs == nil {
		attrs = []attrDoc{}
	}
	d := templateDoc{
		Key: templateKey(tenant, tp.ID), Tenant: tenant, ID: tp.ID, Label: tp.Label,
		Created: micros(tp.Created), Updated: microsPtr(tp.Updated), Attrs: attrs,
	}
	if old != nil {
		for i, v := range old.PSKVersions {
			newerBelowCP := i+1 < len(old.PSKVersions) && uint64(old.PSKVersions[i+1].Seq) <= cp
			if uint64(v.Seq) < seq && !newerBelowCP {
				d.PSKVersions = append(d.PSKVersions, v)
			}
		}
	}
	psk := []int{}
	for _, a := range tp.Attrs {
		if a.ValueType == "psk" {
			psk = append(psk, a.ID)
		}
	}
	d.PSKVersions = append(d.PSKVersions, pskVersion{Seq: int64(seq), Attrs: psk})
	return d
}

func (d *templateDoc) template() dojot.Template {
	return dojot.Template{
		ID: d.ID, Label: d.Label, Created: fromMicros(d.Created), Updated: fromMicrosPtr(d.Updated),
		Attrs: attrsOf(d.Attrs),
	}
}

// lostPSKAttrs lists the attributes whose keys go when the event at seq
// replaces old by nt: dojot deletes an attribute's keys when the attribute
// is removed or stops being psk. The version replaced is the last one
// before seq in old's history, not old itself: when a batch is applied
// again after a crash, old may already be this very version (or a later
// one), and the keys to drop are still those the first application
// dropped.
func lostPSKAttrs(old *templateDoc, nt dojot.Template, seq uint64) []int {
	if old == nil {
		return nil
	}
	var prev []int
	found := false
	for _, v := range old.PSKVersions {
		if uint64(v.Seq) < seq {
			prev, found = v.Attrs, true
		}
	}
	if !found {
		return nil
	}
	var lost []int
	for _, id := range prev {
		psk := false
		for _, a := range nt.Attrs {
			if a.ID == id {
				psk = a.ValueType == "psk"
				break
			}
		}
		if !psk {
			lost = append(lost, id)
		}
	}
	return lost
}

func newUserDoc(u dojot.User, groups []int64) userDoc {
	if groups == nil {
		groups = []int64{}
	}
	return userDoc{
		ID: u.ID, Username: u.Username, Name: u.Name, Service: u.Service, Email: u.Email, Profile: u.Profile,
		CreatedDate: text(u.CreatedDate), CreatedBy: u.CreatedBy, Groups: groups, Perms: []int64{},
	}
}

func (d *userDoc) user() dojot.User {
	return dojot.User{
		ID: d.ID, Name: d.Name, Username: d.Username, Service: d.Service, Email: d.Email, Profile: d.Profile,
		CreatedDate: fromText(d.CreatedDate), CreatedBy: d.CreatedBy,
	}
}

func (d *groupDoc) group() dojot.Group {
	return dojot.Group{ID: d.ID, Name: d.Name, Description: d.Description, CreatedDate: fromText(d.CreatedDate), CreatedBy: d.CreatedBy}
}

func (d *permDoc) permission() dojot.Permission {
	return dojot.Permission{
		ID: d.ID, Name: d.Name, Path: d.Path, Method: d.Method, Permission: d.Permission, Type: d.Type,
		CreatedDate: fromText(d.CreatedDate), CreatedBy: d.CreatedBy,
	}
}
