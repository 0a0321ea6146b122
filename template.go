package dojot

import "time"

// Template event types. Every template event of a tenant is appended with
// ExpectSubject = Subject(tenant, KindTemplate, "*"), so the tenant's
// template and attribute id sequences are allocated by exactly one writer at
// a time, as dojot's PostgreSQL sequences were.
const (
	EventTemplateCreated   = "template.created"
	EventTemplateUpdated   = "template.updated"
	EventTemplateDeleted   = "template.deleted"
	EventTemplatesDeleted  = "template.all_deleted" // DELETE /template, aggregate TemplatesAll
	EventTemplatesImported = "template.imported"    // POST /import, aggregate TemplatesImport
)

// Aggregate ids of the template events that touch the whole tenant.
const (
	TemplatesAll    = "_all"
	TemplatesImport = "_import"
)

// Attr is a template attribute, or (in Metadata) one of its metadata
// children. Ids come from one per-tenant sequence shared by attributes and
// metadata, as in dojot.
type Attr struct {
	ID          int        `json:"id"`
	Label       string     `json:"label"`
	Type        string     `json:"type"`
	ValueType   string     `json:"value_type"`
	StaticValue *string    `json:"static_value,omitempty"`
	Created     time.Time  `json:"created"`
	Updated     *time.Time `json:"updated,omitempty"`
	Metadata    []Attr     `json:"metadata,omitempty"`
}

// IsData reports whether the attribute is listed in a template's data_attrs
// (dojot: static, dynamic, actuator); any other type is a config attr.
func (a Attr) IsData() bool {
	return a.Type == "static" || a.Type == "dynamic" || a.Type == "actuator"
}

// Template is a device model: its id, label and attributes, as stored in
// events.
type Template struct {
	ID      int        `json:"id"`
	Label   string     `json:"label"`
	Created time.Time  `json:"created"`
	Updated *time.Time `json:"updated,omitempty"`
	Attrs   []Attr     `json:"attrs"`
}

// TemplateCreated is the payload of template.created.
type TemplateCreated struct {
	Template
}

// TemplateUpdated is the payload of template.updated: the whole template
// after the update. The devices that use it are not listed: a template may
// be used by a million devices, more than one event can hold, and whoever
// reproduces dojot's "update" per affected device (and "template.update")
// renders them from a view of the same log, at this event.
type TemplateUpdated struct {
	Template
}

// TemplateDeleted is the payload of template.deleted.
type TemplateDeleted struct {
	ID int `json:"id"`
}

// TemplatesDeleted is the payload of template.all_deleted: every template
// of the tenant went at once (none was in use).
type TemplatesDeleted struct {
	IDs []int `json:"ids"`
}

// TemplatesImported is the payload of template.imported: the tenant's
// templates are replaced by Templates (ids as imported), and its template
// and attribute sequences restart after the highest imported ids, as
// dojot's import recreates its sequences. The tenant's devices were deleted
// by device.deleted events (CauseImport) appended before it.
type TemplatesImported struct {
	Removed   []int      `json:"removed,omitempty"`
	Templates []Template `json:"templates"`
}

// TemplateCounters is what a tenant's id sequences stand at.
type TemplateCounters struct {
	LastTemplateID int    // highest template id allocated (0: none)
	LastAttrID     int    // highest attribute id allocated (0: none)
	Seq            uint64 // stream sequence of the tenant's last template event
}

// AttrFormat is GET /template's attr_format.
type AttrFormat int

const (
	AttrFormatBoth   AttrFormat = iota // attrs, data_attrs and config_attrs
	AttrFormatSplit                    // data_attrs and config_attrs only
	AttrFormatSingle                   // attrs only
)

// AttrFilter is one attr=<label>=<value> query filter.
type AttrFilter struct {
	Label, Value string
}

// Page asks for one page of a list (dojot: page_num from 1, page_size).
type Page struct {
	Num, Size int
}

// TemplateQuery is GET /template's query.
type TemplateQuery struct {
	Page
	Attr        []AttrFilter
	AttrType    []string
	Label       string // substring
	SortByLabel bool
	Format      AttrFormat
}
