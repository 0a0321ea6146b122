package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections/dmjson"
)

// Reads of templates and devices: the rows are selected, filtered, counted
// and paged in SQL, and rendered by dmjson exactly as the memory view
// renders them.

// templateCols and the scan in templates read a template row joined with
// its attrs (NULLs for a template without any), attrs in their order.
const templateCols = `t.id, t.label, t.created, t.updated,
	a.id, a.parent_id, a.label, a.type, a.value_type, a.static_value, a.created, a.updated`

// templates reads the rows of a templateCols query into templates by id,
// and their ids in row order.
func templates(rows pgx.Rows) (map[int]*dojot.Template, []int, error) {
	defer rows.Close()
	byID := map[int]*dojot.Template{}
	var order []int
	var cur *dojot.Template
	var index map[int32]int // attr id -> index in cur.Attrs
	for rows.Next() {
		var (
			tid                    int32
			tlabel                 string
			tcreated               time.Time
			tupdated               *time.Time
			aid, parent            *int32
			label, typ, vt, static *string
			created, updated       *time.Time
		)
		if err := rows.Scan(&tid, &tlabel, &tcreated, &tupdated, &aid, &parent, &label, &typ, &vt, &static, &created, &updated); err != nil {
			return nil, nil, err
		}
		if cur == nil || cur.ID != int(tid) {
			cur = &dojot.Template{ID: int(tid), Label: tlabel, Created: tcreated.UTC(), Updated: utcPtr(tupdated)}
			byID[cur.ID] = cur
			order = append(order, cur.ID)
			index = map[int32]int{}
		}
		if aid == nil {
			continue
		}
		at := dojot.Attr{ID: int(*aid), Label: *label, Type: *typ, ValueType: *vt, StaticValue: static, Created: created.UTC(), Updated: utcPtr(updated)}
		if parent == nil {
			index[*aid] = len(cur.Attrs)
			cur.Attrs = append(cur.Attrs, at)
		} else if i, ok := index[*parent]; ok {
			cur.Attrs[i].Metadata = append(cur.Attrs[i].Metadata, at)
		}
	}
	return byID, order, rows.Err()
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// TemplateJSON renders a template as GET /template/:id shows it.
func (v *View) TemplateJSON(ctx context.Context, tenant string, id int) ([]byte, bool, error) {
	if !isInt32(id) {
		return nil, false, nil // no such template: ids are integers in dojot's tables too
	}
	var b []byte
	var found bool
	err := v.read(ctx, "template", func(s *schema) error {
		rows, _ := v.pool.Query(ctx, s.q(`SELECT `+templateCols+` FROM {s}.templates t
			LEFT JOIN {s}.attrs a ON a.tenant = t.tenant AND a.template_id = t.id
			WHERE t.tenant = $1 AND t.id = $2 ORDER BY a.pos`), tenant, int64(id))
		byID, _, err := templates(rows)
		if err != nil {
			return err
		}
		tp, ok := byID[id]
		if ok {
			b, found = dmjson.AppendTemplate(make([]byte, 0, 1024), *tp, dojot.AttrFormatBoth), true
		}
		return nil
	})
	return b, found, err
}

// ListTemplates renders GET /template's answer. dojot orders a filtered
// query by id whatever sortBy says, so the label order applies only
// without filters.
func (v *View) ListTemplates(ctx context.Context, tenant string, q dojot.TemplateQuery) ([]byte, error) {
	q.Page = dmjson.NormPage(q.Page)
	var w where
	w.add("t.tenant = ?", tenant)
	if q.Label != "" {
		w.add("t.label LIKE '%' || ? || '%'", q.Label)
	}
	filtered := q.Label != ""
	if len(q.Attr) > 0 || len(q.AttrType) > 0 {
		filtered = true
		var aw where
		aw.add("a.tenant = t.tenant AND a.template_id = t.id AND a.parent_id IS NULL")
		attrConds(&aw, q.Attr, q.AttrType, "a.static_value", w.n())
		w.add("EXISTS (SELECT FROM {s}.attrs a WHERE "+aw.sql()+")", aw.args...)
	}
	order := "t.id"
	if q.SortByLabel && !filtered {
		order = "t.label, t.id"
	}
	var b []byte
	err := v.read(ctx, "list templates", func(s *schema) error {
		batch := &pgx.Batch{}
		batch.Queue(s.q("SELECT count(*) FROM {s}.templates t WHERE "+w.sql()), w.args...)
		args := append(w.args[:len(w.args):len(w.args)], q.Page.Size, dmjson.Offset(q.Page))
		n := len(w.args)
		batch.Queue(s.q(fmt.Sprintf(`WITH page AS (SELECT t.tenant, t.id, row_number() OVER (ORDER BY %[2]s) AS n
				FROM {s}.templates t WHERE %[1]s ORDER BY %[2]s LIMIT $%[3]d OFFSET $%[4]d)
			SELECT %[5]s FROM page JOIN {s}.templates t ON t.tenant = page.tenant AND t.id = page.id
			LEFT JOIN {s}.attrs a ON a.tenant = t.tenant AND a.template_id = t.id
			ORDER BY page.n, a.pos`, w.sql(), order, n+1, n+2, templateCols)), args...)
		br := v.pool.SendBatch(ctx, batch)
		defer br.Close()
		var total int
		if err := br.QueryRow().Scan(&total); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		byID, ids, err := templates(rows)
		if err != nil {
			return err
		}
		b = make([]byte, 0, 1024*(len(ids)+1))
		b = append(b, `{"pagination":`...)
		b = dmjson.AppendPagination(b, q.Page, total)
		b = append(b, `,"templates":[`...)
		for i, id := range ids {
			if i > 0 {
				b = append(b, ',')
			}
			b = dmjson.AppendTemplate(b, *byID[id], q.Format)
		}
		b = append(b, "]}"...)
		return br.Close()
	})
	return b, err
}

// attrConds adds dojot's attr and attr_type conditions, ANDed on one attr
// row a, whose effective static value is value.
func attrConds(w *where, attr []dojot.AttrFilter, types []string, value string, argBase int) {
	w.base = argBase
	for _, f := range attr {
		w.add("a.label = ? AND "+value+" = ?", f.Label, f.Value)
	}
	for _, vt := range types {
		w.add("a.value_type = ?", vt)
	}
}

// where builds a conjunction with numbered parameters: '?' in a condition
// becomes the next $n.
type where struct {
	conds []string
	args  []any
	base  int // parameters numbered before this where's
}

func (w *where) n() int { return w.base + len(w.args) }

func (w *where) add(cond string, args ...any) {
	var sb strings.Builder
	next := 0
	for i := 0; i < len(cond); i++ {
		if cond[i] == '?' && next < len(args) {
			sb.WriteString("$" + strconv.Itoa(w.n()+next+1))
			next++
			continue
		}
		sb.WriteByte(cond[i])
	}
	w.conds = append(w.conds, sb.String())
	w.args = append(w.args, args...)
}

func (w *where) sql() string { return strings.Join(w.conds, " AND ") }

// deviceCols and scanDevice read a device row with its templates (in
// order), overrides and, for internal reads, pre-shared keys.
const deviceCols = `d.id, d.label, d.created, d.updated,
	ARRAY(SELECT dt.template_id FROM {s}.device_template dt WHERE dt.tenant = d.tenant AND dt.device_id = d.id ORDER BY dt.pos),
	o.aids, o.vals, k.aids, k.vals`

// deviceJoins completes deviceCols; $1 is the tenant, and the keys are
// read only when $internal is true.
func deviceJoins(internal string) string {
	return `LEFT JOIN LATERAL (SELECT array_agg(o.aid ORDER BY o.aid) AS aids, array_agg(o.static_value ORDER BY o.aid) AS vals
		FROM {s}.overrides o WHERE o.tenant = d.tenant AND o.did = d.id) o ON true
	LEFT JOIN LATERAL (SELECT array_agg(k.attr_id ORDER BY k.attr_id) AS aids, array_agg(k.psk ORDER BY k.attr_id) AS vals
		FROM {s}.pre_shared_keys k WHERE ` + internal + ` AND k.tenant = d.tenant AND k.device_id = d.id) k ON true`
}

func scanDevice(row pgx.Row) (dojot.Device, error) {
	var (
		d                dojot.Device
		updated          *time.Time
		tids, oIDs, kIDs []int32
		oVals, kVals     []string
	)
	if err := row.Scan(&d.ID, &d.Label, &d.Created, &updated, &tids, &oIDs, &oVals, &kIDs, &kVals); err != nil {
		return d, err
	}
	d.Created = d.Created.UTC()
	d.Updated = utcPtr(updated)
	d.Templates = make([]int, len(tids))
	for i, t := range tids {
		d.Templates[i] = int(t)
	}
	d.Overrides = joinOverrides(oIDs, oVals)
	d.PSKs = joinOverrides(kIDs, kVals)
	return d, nil
}

func joinOverrides(ids []int32, vals []string) []dojot.Override {
	if len(ids) == 0 {
		return nil
	}
	out := make([]dojot.Override, len(ids))
	for i := range ids {
		out[i] = dojot.Override{AttrID: int(ids[i]), StaticValue: vals[i]}
	}
	return out
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

// deviceJSON is one round trip: the device row and its templates' rows,
// in one batch.
func (v *View) deviceJSON(ctx context.Context, tenant, id string, internal bool) ([]byte, bool, error) {
	var b []byte
	var found bool
	err := v.read(ctx, "device", func(s *schema) error {
		batch := &pgx.Batch{}
		batch.Queue(s.q(`SELECT `+deviceCols+` FROM {s}.devices d `+deviceJoins("$3")+`
			WHERE d.tenant = $1 AND d.id = $2`), tenant, id, internal)
		batch.Queue(s.q(`SELECT `+templateCols+` FROM {s}.templates t
			LEFT JOIN {s}.attrs a ON a.tenant = t.tenant AND a.template_id = t.id
			WHERE t.tenant = $1 AND t.id IN (SELECT template_id FROM {s}.device_template WHERE tenant = $1 AND device_id = $2)
			ORDER BY t.id, a.pos`), tenant, id)
		br := v.pool.SendBatch(ctx, batch)
		defer br.Close()
		d, err := scanDevice(br.QueryRow())
		if errors.Is(err, pgx.ErrNoRows) {
			return br.Close()
		}
		if err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		byID, _, err := templates(rows)
		if err != nil {
			return err
		}
		b = dmjson.AppendDevice(make([]byte, 0, 1024), d, lookup(byID), internal)
		found = true
		return br.Close()
	})
	return b, found, err
}

func lookup(byID map[int]*dojot.Template) func(int) (*dojot.Template, bool) {
	return func(id int) (*dojot.Template, bool) {
		tp, ok := byID[id]
		return tp, ok
	}
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

// listDevices is two round trips: the count and the page (devices with
// their children's rows), then the templates the page uses.
func (v *View) listDevices(ctx context.Context, tenant string, q dojot.DeviceQuery, internal bool) ([]byte, error) {
	q.Page = dmjson.NormPage(q.Page)
	var w where
	w.add("d.tenant = ?", tenant)
	if q.Label != "" {
		w.add("d.label LIKE '%' || ? || '%'", q.Label)
	}
	switch {
	case q.Template != 0 && !isInt32(q.Template):
		w.add("false") // no template has such an id
	case q.Template != 0:
		w.add("EXISTS (SELECT FROM {s}.device_template dt WHERE dt.tenant = d.tenant AND dt.device_id = d.id AND dt.template_id = ?)", int64(q.Template))
	}
	if len(q.Attr) > 0 || len(q.AttrType) > 0 {
		// One attr of the device's (existing) templates satisfies every
		// condition, on its effective static value.
		var aw where
		aw.add(`dt.tenant = d.tenant AND dt.device_id = d.id`)
		attrConds(&aw, q.Attr, q.AttrType, "COALESCE(o.static_value, a.static_value)", w.n())
		w.add(`EXISTS (SELECT FROM {s}.device_template dt
			JOIN {s}.attrs a ON a.tenant = dt.tenant AND a.template_id = dt.template_id AND a.parent_id IS NULL
			LEFT JOIN {s}.overrides o ON o.tenant = dt.tenant AND o.did = dt.device_id AND o.aid = a.id
			WHERE `+aw.sql()+`)`, aw.args...)
	}
	order := "d.id"
	if q.SortByLabel {
		order = "d.label, d.id"
	}
	filtered := len(w.conds) > 1 // more than the tenant
	n := len(w.args)
	pageArgs := append(w.args[:n:n], q.Page.Size, dmjson.Offset(q.Page))
	if q.IDsOnly {
		var b []byte
		err := v.read(ctx, "list devices", func(s *schema) error {
			rows, _ := v.pool.Query(ctx, s.q(fmt.Sprintf(`SELECT d.id FROM {s}.devices d WHERE %s ORDER BY %s LIMIT $%d OFFSET $%d`,
				w.sql(), order, n+1, n+2)), pageArgs...)
			ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			b = dmjson.AppendIDs(make([]byte, 0, 16*len(ids)+2), ids)
			return nil
		})
		return b, err
	}
	var b []byte
	err := v.read(ctx, "list devices", func(s *schema) error {
		batch := &pgx.Batch{}
		if filtered {
			batch.Queue(s.q("SELECT count(*) FROM {s}.devices d WHERE "+w.sql()), w.args...)
		} else {
			batch.Queue(s.q("SELECT COALESCE((SELECT devices FROM {s}.device_counts WHERE tenant = $1), 0)"), tenant)
		}
		// The page's ids come from the index alone (the rows skipped by
		// OFFSET are never read from the table), then the 20 rows.
		batch.Queue(s.q(fmt.Sprintf(`SELECT %s FROM (SELECT d.tenant, d.id FROM {s}.devices d
			WHERE %s ORDER BY %s LIMIT $%d OFFSET $%d) p JOIN {s}.devices d ON d.tenant = p.tenant AND d.id = p.id
			%s ORDER BY %s`,
			deviceCols, w.sql(), order, n+1, n+2, deviceJoins(fmt.Sprintf("$%d", n+3)), order)), append(pageArgs, internal)...)
		br := v.pool.SendBatch(ctx, batch)
		var total int
		if err := br.QueryRow().Scan(&total); err != nil {
			br.Close()
			return err
		}
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return err
		}
		var devs []dojot.Device
		for rows.Next() {
			d, err := scanDevice(rows)
			if err != nil {
				rows.Close()
				br.Close()
				return err
			}
			devs = append(devs, d)
		}
		rows.Close()
		if err := br.Close(); err != nil {
			return err
		}
		var tids []int32
		seen := map[int]bool{}
		for _, d := range devs {
			for _, t := range d.Templates {
				if !seen[t] {
					seen[t] = true
					tids = append(tids, int32(t))
				}
			}
		}
		byID := map[int]*dojot.Template{}
		if len(tids) > 0 {
			rows, _ := v.pool.Query(ctx, s.q(`SELECT `+templateCols+` FROM {s}.templates t
				LEFT JOIN {s}.attrs a ON a.tenant = t.tenant AND a.template_id = t.id
				WHERE t.tenant = $1 AND t.id = ANY($2) ORDER BY t.id, a.pos`), tenant, tids)
			if byID, _, err = templates(rows); err != nil {
				return err
			}
		}
		b = make([]byte, 0, 1024*(len(devs)+1))
		b = append(b, `{"devices":[`...)
		for i, d := range devs {
			if i > 0 {
				b = append(b, ',')
			}
			b = dmjson.AppendDevice(b, d, lookup(byID), internal)
		}
		b = append(b, `],"pagination":`...)
		b = dmjson.AppendPagination(b, q.Page, total)
		b = append(b, '}')
		return nil
	})
	return b, err
}

func isInt32(n int) bool { return n >= math.MinInt32 && n <= math.MaxInt32 }
