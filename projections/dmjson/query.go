package dmjson

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dojot-es/dojot"
)

// AttrMatches is one attribute against dojot's attr (label=value, on the
// effective static value) and attr_type conditions, all ANDed.
func AttrMatches(a dojot.Attr, value *string, attr []dojot.AttrFilter, types []string) bool {
	for _, f := range attr {
		if a.Label != f.Label || value == nil || *value != f.Value {
			return false
		}
	}
	for _, vt := range types {
		if a.ValueType != vt {
			return false
		}
	}
	return true
}

// PageOf is page p of s.
func PageOf[T any](s []T, p dojot.Page) []T {
	from := Offset(p)
	if from >= len(s) {
		return nil
	}
	return s[from:min(len(s), from+min(p.Size, len(s)))]
}

// Offset is where a page starts, saturating instead of overflowing for
// absurd page numbers and sizes.
func Offset(p dojot.Page) int {
	if p.Num-1 > math.MaxInt/p.Size {
		return math.MaxInt
	}
	return (p.Num - 1) * p.Size
}

// NormPage applies dojot's defaults: page 1, 20 per page.
func NormPage(p dojot.Page) dojot.Page {
	if p.Num < 1 {
		p.Num = 1
	}
	if p.Size < 1 {
		p.Size = 20
	}
	return p
}

// AppendPagination writes Flask-SQLAlchemy's pagination of total items.
func AppendPagination(b []byte, p dojot.Page, total int) []byte {
	pages := 0
	if total > 0 {
		pages = (total-1)/p.Size + 1
	}
	hasNext := p.Num < pages
	b = append(b, `{"has_next":`...)
	b = strconv.AppendBool(b, hasNext)
	b = append(b, `,"next_page":`...)
	if hasNext {
		b = strconv.AppendInt(b, int64(p.Num+1), 10)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"page":`...)
	b = strconv.AppendInt(b, int64(p.Num), 10)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(pages), 10)
	return append(b, '}')
}

// Like is SQL's s LIKE '%pat%' as dojot's label filters build it: '%'
// matches any run, '_' one character, '\' escapes.
func Like(s, pat string) bool {
	if !strings.ContainsAny(pat, `%_\`) {
		return strings.Contains(s, pat)
	}
	return likeMatch(s, "%"+pat+"%")
}

// likeMatch matches all of s against pattern p, backtracking only to the
// last '%' (linear in practice).
func likeMatch(s, p string) bool {
	si, pi := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			pc, pw := utf8.DecodeRuneInString(p[pi:])
			switch {
			case pc == '%':
				starP, starS = pi+pw, si
				pi += pw
				continue
			case pc == '_':
				_, sw := utf8.DecodeRuneInString(s[si:])
				si += sw
				pi += pw
				continue
			default:
				if pc == '\\' && pi+pw < len(p) {
					pi += pw
					pc, pw = utf8.DecodeRuneInString(p[pi:])
				}
				sc, sw := utf8.DecodeRuneInString(s[si:])
				if sc == pc {
					si += sw
					pi += pw
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		_, sw := utf8.DecodeRuneInString(s[starS:])
		starS += sw
		si, pi = starS, starP
	}
	for pi < len(p) && p[pi] == '%' {
		pi++
	}
	return pi == len(p)
}

// TemplateMatches is dojot's template filter: label LIKE, and one
// attribute that satisfies every attr and attr_type condition (they are
// ANDed on one joined attrs row).
func TemplateMatches(tp *dojot.Template, q dojot.TemplateQuery) bool {
	if q.Label != "" && !Like(tp.Label, q.Label) {
		return false
	}
	if len(q.Attr) == 0 && len(q.AttrType) == 0 {
		return true
	}
	for _, a := range tp.Attrs {
		if AttrMatches(a, a.StaticValue, q.Attr, q.AttrType) {
			return true
		}
	}
	return false
}

// DeviceMatches is dojot's device filter: label LIKE, template membership,
// and one attribute of the device's templates whose effective static value
// (the device's override, else the template's) satisfies every attr and
// attr_type condition.
func DeviceMatches(d dojot.Device, tpl func(id int) (*dojot.Template, bool), q dojot.DeviceQuery) bool {
	if q.Label != "" && !Like(d.Label, q.Label) {
		return false
	}
	if q.Template != 0 && !slices.Contains(d.Templates, q.Template) {
		return false
	}
	if len(q.Attr) == 0 && len(q.AttrType) == 0 {
		return true
	}
	for _, tid := range d.Templates {
		tp, ok := tpl(tid)
		if !ok {
			continue
		}
		for _, a := range tp.Attrs {
			value := a.StaticValue
			if ov, ok := OverrideOf(d.Overrides, a.ID); ok {
				value = &ov
			}
			if AttrMatches(a, value, q.Attr, q.AttrType) {
				return true
			}
		}
	}
	return false
}

// Filtered reports whether q narrows the device list (else a page is an
// offset into the ordered list).
func Filtered(q dojot.DeviceQuery) bool {
	return q.Label != "" || len(q.Attr) > 0 || len(q.AttrType) > 0 || q.Template != 0
}

// AppendIDs writes IDsOnly's answer: a bare JSON array of ids.
func AppendIDs(b []byte, ids []string) []byte {
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, id)
	}
	return append(b, ']')
}
