package mongo

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections/dmjson"
)

// Reads of templates and devices, rendered by dmjson as every view does.

// templates loads a tenant's templates (all of them when ids is nil), by id.
func templates(ctx context.Context, db *mongo.Database, tenant string, ids []int) (map[int]*dojot.Template, []*dojot.Template, error) {
	filter := bson.D{{Key: "tenant", Value: tenant}}
	if ids != nil {
		if len(ids) == 0 {
			return map[int]*dojot.Template{}, nil, nil
		}
		filter = append(filter, bson.E{Key: "id", Value: bson.D{{Key: "$in", Value: ids}}})
	}
	cur, err := db.Collection(collTemplates).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "id", Value: 1}}))
	if err != nil {
		return nil, nil, wrap("find templates", err)
	}
	var docs []templateDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, nil, wrap("read templates", err)
	}
	byID := make(map[int]*dojot.Template, len(docs))
	list := make([]*dojot.Template, len(docs))
	for i := range docs {
		tp := docs[i].template()
		byID[tp.ID], list[i] = &tp, &tp
	}
	return byID, list, nil
}

func lookup(m map[int]*dojot.Template) func(int) (*dojot.Template, bool) {
	return func(id int) (*dojot.Template, bool) {
		tp, ok := m[id]
		return tp, ok
	}
}

// TemplateJSON renders a template as GET /template/:id shows it.
func (v *View) TemplateJSON(ctx context.Context, tenant string, id int) ([]byte, bool, error) {
	db, err := v.reading(ctx)
	if err != nil {
		return nil, false, err
	}
	var d templateDoc
	err = db.Collection(collTemplates).FindOne(ctx, byID(templateKey(tenant, id))).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, wrap("find template", err)
	}
	return dmjson.AppendTemplate(nil, d.template(), dojot.AttrFormatBoth), true, nil
}

// ListTemplates renders GET /template's answer. A tenant has few
// templates: they are all loaded and filtered, sorted and paged here, as
// the memory view does.
func (v *View) ListTemplates(ctx context.Context, tenant string, q dojot.TemplateQuery) ([]byte, error) {
	q.Page = dmjson.NormPage(q.Page)
	db, err := v.reading(ctx)
	if err != nil {
		return nil, err
	}
	_, all, err := templates(ctx, db, tenant, nil)
	if err != nil {
		return nil, err
	}
	filtered := len(q.Attr) > 0 || len(q.AttrType) > 0 || q.Label != ""
	ms := all[:0:0]
	for _, tp := range all {
		if !filtered || dmjson.TemplateMatches(tp, q) {
			ms = append(ms, tp)
		}
	}
	// dojot orders a filtered query by id first, so sortBy only counts
	// without filters.
	if q.SortByLabel && !filtered {
		slices.SortStableFunc(ms, func(a, b *dojot.Template) int { return strings.Compare(a.Label, b.Label) })
	}
	b := append(make([]byte, 0, 4096), `{"pagination":`...)
	b = dmjson.AppendPagination(b, q.Page, len(ms))
	b = append(b, `,"templates":[`...)
	for i, tp := range dmjson.PageOf(ms, q.Page) {
		if i > 0 {
			b = append(b, ',')
		}
		b = dmjson.AppendTemplate(b, *tp, q.Format)
	}
	return append(b, "]}"...), nil
}

// DeviceJSON renders a device as GET /device/:id shows it.
func (v *View) DeviceJSON(ctx context.Context, tenant, id string) ([]byte, bool, error) {
	return v.deviceJSON(ctx, tenant, id, false)
}

// InternalDeviceJSON renders a device as GET /internal/device/:id shows
// it: with its pre-shared keys.
func (v *View) InternalDeviceJSON(ctx context.Context, tenant, id string) ([]byte, bool, error) {
	return v.deviceJSON(ctx, tenant, id, true)
}

func (v *View) deviceJSON(ctx context.Context, tenant, id string, internal bool) ([]byte, bool, error) {
	db, err := v.reading(ctx)
	if err != nil {
		return nil, false, err
	}
	var d deviceDoc
	err = db.Collection(collDevices).FindOne(ctx, byID(deviceKey(tenant, id))).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, wrap("find device", err)
	}
	tpls, _, err := templates(ctx, db, tenant, uniqueInts(d.Templates))
	if err != nil {
		return nil, false, err
	}
	return dmjson.AppendDevice(make([]byte, 0, 512), d.device(), lookup(tpls), internal), true, nil
}

// ListDevices renders GET /device's answer (a bare id array with IDsOnly).
func (v *View) ListDevices(ctx context.Context, tenant string, q dojot.DeviceQuery) ([]byte, error) {
	return v.listDevices(ctx, tenant, q, false)
}

// ListInternalDevices renders GET /internal/device's answer: GET
// /device's, with the pre-shared keys shown.
func (v *View) ListInternalDevices(ctx context.Context, tenant string, q dojot.DeviceQuery) ([]byte, error) {
	return v.listDevices(ctx, tenant, q, true)
}

// listDevices asks the database for what it can answer with an index:
// the tenant, template membership and the label filter (as a regular
// expression), in id or (label, id) order, counted, and paged with
// skip/limit. The attr and attr_type filters depend on the templates'
// current attributes and the device's overrides together, which no
// document holds: with them the candidates are read in order and
// filtered here.
func (v *View) listDevices(ctx context.Context, tenant string, q dojot.DeviceQuery, internal bool) ([]byte, error) {
	q.Page = dmjson.NormPage(q.Page)
	db, err := v.reading(ctx)
	if err != nil {
		return nil, err
	}
	coll := db.Collection(collDevices)
	filter := bson.D{{Key: "tenant", Value: tenant}}
	if q.Template != 0 {
		filter = append(filter, bson.E{Key: "templates", Value: q.Template})
	}
	if q.Label != "" {
		filter = append(filter, bson.E{Key: "label", Value: bson.Regex{Pattern: likeRegexp(q.Label), Options: "s"}})
	}
	sort := bson.D{{Key: "_id", Value: 1}}
	if q.SortByLabel {
		sort = bson.D{{Key: "label", Value: 1}, {Key: "_id", Value: 1}}
	}
	offset := dmjson.Offset(q.Page)
	var page []deviceDoc
	total := 0
	if len(q.Attr) == 0 && len(q.AttrType) == 0 {
		n, err := coll.CountDocuments(ctx, filter)
		if err != nil {
			return nil, wrap("count devices", err)
		}
		total = int(n)
		if offset < total {
			opts := options.Find().SetSort(sort).SetSkip(int64(offset)).SetLimit(int64(q.Page.Size))
			if q.IDsOnly {
				opts.SetProjection(bson.D{{Key: "id", Value: 1}})
			}
			if page, err = findDevices(ctx, coll, filter, opts); err != nil {
				return nil, err
			}
		}
	} else {
		all, err := findDevices(ctx, coll, filter, options.Find().SetSort(sort))
		if err != nil {
			return nil, err
		}
		var ids []int
		for i := range all {
			ids = append(ids, all[i].Templates...)
		}
		tpls, _, err := templates(ctx, db, tenant, uniqueInts(ids))
		if err != nil {
			return nil, err
		}
		for i := range all {
			if dmjson.DeviceMatches(all[i].device(), lookup(tpls), q) {
				if total >= offset && len(page) < q.Page.Size {
					page = append(page, all[i])
				}
				total++
			}
		}
	}
	if q.IDsOnly {
		ids := make([]string, len(page))
		for i := range page {
			ids[i] = page[i].ID
		}
		return dmjson.AppendIDs(make([]byte, 0, 16*len(ids)+2), ids), nil
	}
	var ids []int
	for i := range page {
		ids = append(ids, page[i].Templates...)
	}
	tpls, _, err := templates(ctx, db, tenant, uniqueInts(ids))
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 1024*(len(page)+1))
	b = append(b, `{"devices":[`...)
	for i := range page {
		if i > 0 {
			b = append(b, ',')
		}
		b = dmjson.AppendDevice(b, page[i].device(), lookup(tpls), internal)
	}
	b = append(b, `],"pagination":`...)
	b = dmjson.AppendPagination(b, q.Page, total)
	return append(b, '}'), nil
}

func findDevices(ctx context.Context, coll *mongo.Collection, filter bson.D, opts *options.FindOptionsBuilder) ([]deviceDoc, error) {
	cur, err := coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, wrap("find devices", err)
	}
	var docs []deviceDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, wrap("read devices", err)
	}
	return docs, nil
}

// uniqueInts is s sorted without repeats, never nil.
func uniqueInts(s []int) []int {
	s = slices.Clone(s)
	slices.Sort(s)
	return append([]int{}, slices.Compact(s)...)
}

// likeRegexp is dojot's label LIKE '%pat%' (dmjson.Like) as a regular
// expression on the whole label, for the "s" option (a dot matches a
// newline too): '%' any run, '_' one character, '\' escaping the
// character after it. Both MongoDB's PCRE and Go's regexp (FerretDB)
// read it alike: \A, \z, .*, . and escaped literals only.
func likeRegexp(pat string) string {
	p := "%" + pat + "%"
	var b strings.Builder
	b.WriteString(`\A`)
	for i := 0; i < len(p); {
		r, w := utf8.DecodeRuneInString(p[i:])
		switch {
		case r == '%':
			b.WriteString(".*")
		case r == '_':
			b.WriteString(".")
		case r == '\\' && i+w < len(p):
			i += w
			r, w = utf8.DecodeRuneInString(p[i:])
			b.WriteString(regexp.QuoteMeta(string(r)))
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
		i += w
	}
	b.WriteString(`\z`)
	return b.String()
}
