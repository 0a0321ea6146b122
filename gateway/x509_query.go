package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dojot-es/dojot"
)

// Reading x509-identity-mgmt's lists: paging (the SDK's express-paginate),
// fields (a Mongo projection), and filters (X509.md 10).

var (
	certificateFields = []string{"fingerprint", "caFingerprint", "pem", "subjectDN", "validity", "validity.notBefore", "validity.notAfter",
		"belongsTo", "belongsTo.device", "belongsTo.application", "tenant", "issuedByDojotPki", "autoRegistered", "createdAt", "modifiedAt"}
	trustedCAFields = []string{"caFingerprint", "caPem", "subjectDN", "validity", "validity.notBefore", "validity.notAfter",
		"allowAutoRegistration", "tenant", "createdAt", "modifiedAt"}
	certificateFilterable = []string{"fingerprint", "caFingerprint", "pem", "subjectDN", "validity.notBefore", "validity.notAfter",
		"createdAt", "modifiedAt", "issuedByDojotPki", "autoRegistered", "belongsTo.device", "belongsTo.application"}
	trustedCAFilterable = []string{"caFingerprint", "caPem", "subjectDN", "validity.notBefore", "validity.notAfter", "createdAt",
		"modifiedAt", "allowAutoRegistration"}
)

// x509Fields reads ?fields=a,b: nil means every field; a name not in
// allowed is dojot's 400.
func x509Fields(q url.Values, allowed []string) ([]string, error) {
	raw := q.Get("fields")
	if raw == "" {
		return nil, nil
	}
	var fields, bad []string
	for _, f := range strings.Split(raw, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !contains(allowed, f) {
			bad = append(bad, f)
		}
		fields = append(fields, f)
	}
	if len(bad) > 0 {
		return nil, dojot.Errorf(dojot.ErrInvalid, "The fields provided are not valid: [%s]", strings.Join(bad, ","))
	}
	return fields, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// x509Page reads page (>= 1, default 1) and limit (default 25, at most
// 250, below 1 the default).
func x509Page(q url.Values) dojot.RecordQuery {
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit < 1 {
		limit = 25
	}
	return dojot.RecordQuery{Page: page, Limit: min(limit, 250)}
}

type pageRef struct {
	Number int    `json:"number"`
	URL    string `json:"url"`
}

type paging struct {
	Previous     *pageRef `json:"previous"`
	Current      pageRef  `json:"current"`
	Next         *pageRef `json:"next"`
	TotalItems   int      `json:"totalItems"`
	TotalPages   int      `json:"totalPages"`
	LimitPerPage int      `json:"limitPerPage"`
}

// writePaged answers {"paging":..,"<key>":[..]}. Page URLs keep the
// request's query with page replaced, on the client's path (/x509/v1/..).
func writePaged(w http.ResponseWriter, r *http.Request, q dojot.RecordQuery, total int, key string, items []json.RawMessage) {
	ref := func(n int) pageRef {
		v := r.URL.Query()
		v.Set("page", strconv.Itoa(n))
		return pageRef{Number: n, URL: r.URL.Path + "?" + v.Encode()}
	}
	pages := (total + q.Limit - 1) / q.Limit
	p := paging{Current: ref(q.Page), TotalItems: total, TotalPages: pages, LimitPerPage: q.Limit}
	if q.Page > 1 {
		prev := ref(q.Page - 1)
		p.Previous = &prev
	}
	if q.Page < pages {
		next := ref(q.Page + 1)
		p.Next = &next
	}
	var b bytes.Buffer
	pb, _ := json.Marshal(p)
	b.WriteString(`{"paging":`)
	b.Write(pb)
	b.WriteString(`,"` + key + `":[`)
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(it)
	}
	b.WriteString("]}\n")
	writeRawJSON(w, http.StatusOK, b.Bytes())
}

// keyValFilters reads the certificate list's only filter, keyVal=k=v[,..]:
// each item split on '=', ':' or '|' (two parts kept), "null" meaning
// absent, then mongo-querystring's '!' operator; keys outside dojot's list
// (and tenant, always the caller's) are dropped.
func keyValFilters(vals []string) []dojot.RecordFilter {
	var out []dojot.RecordFilter
	for _, kv := range vals {
		for _, item := range strings.Split(kv, ",") {
			parts := strings.FieldsFunc(item, func(r rune) bool { return r == '=' || r == ':' || r == '|' })
			if len(parts) == 0 || !contains(certificateFilterable, parts[0]) {
				continue
			}
			v := ""
			if len(parts) > 1 {
				v = parts[1]
			}
			if v == "null" {
				v = "!"
			}
			f := dojot.RecordFilter{Field: parts[0], Op: dojot.FilterEq, Value: v}
			switch {
			case v == "":
				f.Op = dojot.FilterExists
			case v == "!":
				f.Op = dojot.FilterAbsent
			case strings.HasPrefix(v, "!"):
				f.Op, f.Value = dojot.FilterNe, v[1:]
			}
			out = append(out, f)
		}
	}
	return out
}

// queryFilters reads the trusted-CA list's top-level filters with
// mongo-querystring's operators.
func queryFilters(q url.Values, allowed []string) []dojot.RecordFilter {
	var out []dojot.RecordFilter
	for key, vals := range q {
		if k, ok := strings.CutSuffix(key, "[]"); ok {
			if contains(allowed, k) {
				out = append(out, dojot.RecordFilter{Field: k, Op: dojot.FilterIn, Values: vals})
			}
			continue
		}
		if !contains(allowed, key) {
			continue
		}
		for _, v := range vals {
			out = append(out, mongoQS(key, v))
		}
	}
	return out
}

func mongoQS(key, v string) dojot.RecordFilter {
	f := dojot.RecordFilter{Field: key, Op: dojot.FilterEq, Value: v}
	for _, op := range []struct {
		prefix string
		op     dojot.FilterOp
	}{{">=", dojot.FilterGTE}, {"<=", dojot.FilterLTE}, {">", dojot.FilterGT}, {"<", dojot.FilterLT},
		{"^", dojot.FilterPrefix}, {"$", dojot.FilterSuffix}, {"~", dojot.FilterContains}} {
		if rest, ok := strings.CutPrefix(v, op.prefix); ok {
			f.Op, f.Value = op.op, rest
			return f
		}
	}
	switch {
	case v == "":
		f.Op = dojot.FilterExists
	case v == "!":
		f.Op = dojot.FilterAbsent
	case strings.HasPrefix(v, "!"):
		f.Op, f.Value = dojot.FilterNe, v[1:]
	}
	return f
}

// member is one field of a rendered record, in the record's order.
type member struct {
	key string
	val any
	sub []member // an object's members (validity, belongsTo)
}

func x509Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func certificateMembers(c dojot.Certificate) []member {
	var owner []member
	if c.BelongsTo.Device != "" {
		owner = append(owner, member{key: "device", val: c.BelongsTo.Device})
	}
	if c.BelongsTo.Application != "" {
		owner = append(owner, member{key: "application", val: c.BelongsTo.Application})
	}
	ms := []member{{key: "fingerprint", val: c.Fingerprint}}
	if c.CAFingerprint != "" && !c.IssuedByDojotPKI {
		ms = append(ms, member{key: "caFingerprint", val: c.CAFingerprint})
	}
	return append(ms,
		member{key: "pem", val: c.PEM},
		member{key: "subjectDN", val: c.SubjectDN},
		member{key: "validity", sub: []member{{key: "notBefore", val: x509Time(c.Validity.NotBefore)}, {key: "notAfter", val: x509Time(c.Validity.NotAfter)}}},
		member{key: "belongsTo", sub: owner},
		member{key: "tenant", val: c.Tenant},
		member{key: "issuedByDojotPki", val: c.IssuedByDojotPKI},
		member{key: "autoRegistered", val: c.AutoRegistered},
		member{key: "createdAt", val: x509Time(c.CreatedAt)},
		member{key: "modifiedAt", val: x509Time(c.ModifiedAt)},
	)
}

func trustedCAMembers(c dojot.TrustedCA) []member {
	return []member{
		{key: "caFingerprint", val: c.CAFingerprint},
		{key: "caPem", val: c.CAPEM},
		{key: "subjectDN", val: c.SubjectDN},
		{key: "validity", sub: []member{{key: "notBefore", val: x509Time(c.Validity.NotBefore)}, {key: "notAfter", val: x509Time(c.Validity.NotAfter)}}},
		{key: "allowAutoRegistration", val: c.AllowAutoRegistration},
		{key: "tenant", val: c.Tenant},
		{key: "createdAt", val: x509Time(c.CreatedAt)},
		{key: "modifiedAt", val: x509Time(c.ModifiedAt)},
	}
}

func certificateJSON(c dojot.Certificate, fields []string) json.RawMessage {
	return renderMembers(certificateMembers(c), fields)
}

func trustedCAJSON(c dojot.TrustedCA, fields []string) json.RawMessage {
	return renderMembers(trustedCAMembers(c), fields)
}

// renderMembers writes the record's members that fields selects (all when
// nil), in the record's order, as a Mongo projection does.
func renderMembers(ms []member, fields []string) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	for _, m := range ms {
		var subFields []string
		whole := fields == nil || contains(fields, m.key)
		if !whole {
			for _, f := range fields {
				if rest, ok := strings.CutPrefix(f, m.key+"."); ok {
					subFields = append(subFields, rest)
				}
			}
			if subFields == nil {
				continue
			}
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		if m.val == nil && (m.sub != nil || m.key == "belongsTo" || m.key == "validity") {
			if whole {
				subFields = nil
			}
			b.Write(renderMembers(m.sub, subFields))
			continue
		}
		v, _ := json.Marshal(m.val)
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes()
}
