package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections/history"
)

// historyView is the history view the History API reads: memory or Mongo
// (projections/history).
type historyView interface {
	// Known: the device has a history in the tenant (dojot: a collection).
	Known(ctx context.Context, tenant, id string) (bool, error)
	Find(ctx context.Context, tenant, id string, q history.Query) ([]history.Doc, error)
	// Attrs are the attributes the device has history of, sorted.
	Attrs(ctx context.Context, tenant, id string) ([]string, error)
}

// mountHistory serves dojot's History (Kong strips /history in dojot).
func (s *Server) mountHistory(r chi.Router) {
	r = r.With(jsonType(jsonFalcon))
	r.Method(http.MethodGet, "/history/device/{id}/history", tenantHandler(s.deviceHistory))
	r.Method(http.MethodGet, "/history/STH/v1/contextEntities/type/{type}/id/{id}/attributes/{attr}", tenantHandler(s.sthHistory))
	if s.opts.Notifications != nil {
		s.mountNotifications(r)
	}
}

// falconBody is Falcon's error shape, which dojot's History answers with.
type falconBody struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

// falconError is an error of History's.
func falconError(kind error, title, description string) error {
	return &dojot.Error{Kind: kind, Message: title + ": " + description, Body: falconBody{title, description}}
}

var (
	errNoHistory = falconError(dojot.ErrNotFound, "Device not found", "No data for the given device could be found")
	errNoAttr    = falconError(dojot.ErrNotFound, "Attr not found", "No data for the given attribute could be found")
	// Falcon 1.0's HTTPNotAcceptable, as dojot's History raises it.
	errNotAcceptable = falconError(dojot.ErrNotAcceptable, "Media type not acceptable", "Not Acceptable")
)

func invalidParam(name, why string) error {
	return falconError(dojot.ErrInvalid, "Invalid parameter", fmt.Sprintf("The %q parameter is invalid. %s", name, why))
}

// historyQuery reads lastN/hLimit/firstN and dateFrom/dateTo as dojot's
// History does: firstN (oldest first) wins over lastN, lastN over hLimit;
// 0 is no limit; a negative limit is its absolute value (pymongo's).
func historyQuery(r *http.Request) (history.Query, error) {
	var q history.Query
	params := r.URL.Query()
	for _, name := range []string{"firstN", "lastN", "hLimit"} {
		v := first(params[name])
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n == math.MinInt { // its absolute value is no int either
			return q, invalidParam(name, "Must be integer.")
		}
		q.Limit, q.Oldest = max(n, -n), name == "firstN"
		break
	}
	for name, t := range map[string]*time.Time{"dateFrom": &q.From, "dateTo": &q.To} {
		v := first(params[name])
		if v == "" {
			continue
		}
		ts, ok := history.ParseISO(v)
		if !ok {
			return q, invalidParam(name, "Must be an ISO-8601 date.")
		}
		*t = ts
	}
	return q, nil
}

// historyRequest is what every History route checks first, in dojot's
// order: the device has a history in the tenant (else 404), then the
// query parameters (else 400).
func (s *Server) historyRequest(r *http.Request, tenant, id string) (history.Query, error) {
	if known, err := s.opts.History.Known(r.Context(), tenant, id); err != nil {
		return history.Query{}, err
	} else if !known {
		return history.Query{}, errNoHistory
	}
	return historyQuery(r)
}

// first is a parameter's first non-blank value (Falcon 1.0 drops blank
// values).
func first(vs []string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// attrParam is the attr parameter as Falcon 1.0 parses it: absent, one
// value, or a list (repeated, or comma-separated).
func attrParam(r *http.Request) (attrs []string, list bool) {
	for _, v := range r.URL.Query()["attr"] {
		for a := range strings.SplitSeq(v, ",") {
			if a != "" {
				attrs = append(attrs, a)
			}
		}
		list = list || strings.Contains(v, ",")
	}
	return attrs, list || len(attrs) > 1
}

// deviceHistory: GET /history/device/:id/history. One attr: an array (404
// when empty); several: an object keyed by attr; none: an object with
// every attr of the device as DeviceManager shows it.
func (s *Server) deviceHistory(w http.ResponseWriter, r *http.Request, tenant string) error {
	asCSV, err := historyFormat(r)
	if err != nil {
		return err
	}
	ctx, id := r.Context(), pathParam(r, "id")
	q, err := s.historyRequest(r, tenant, id)
	if err != nil {
		return err
	}
	attrs, list := attrParam(r)
	if len(attrs) == 1 && !list {
		q.Attr = attrs[0]
		docs, err := s.opts.History.Find(ctx, tenant, id, q)
		if err != nil {
			return err
		}
		if len(docs) == 0 {
			return errNoAttr
		}
		return writeHistory(w, asCSV, []string{q.Attr}, [][]history.Doc{docs}, false)
	}
	if len(attrs) == 0 {
		if attrs, err = s.deviceAttrs(ctx, tenant, id); err != nil {
			return err
		}
	}
	found := make([][]history.Doc, len(attrs))
	for i, a := range attrs {
		q.Attr = a
		if found[i], err = s.opts.History.Find(ctx, tenant, id, q); err != nil {
			return err
		}
	}
	return writeHistory(w, asCSV, attrs, found, true)
}

// deviceAttrs are the labels of the device's attributes as dojot's History
// takes them from DeviceManager's GET /device/:id (every template, in
// order, each label once). A device DeviceManager no longer has (dojot
// answers 500) gets the attributes its history holds.
func (s *Server) deviceAttrs(ctx context.Context, tenant, id string) ([]string, error) {
	b, ok, err := s.opts.DeviceView.DeviceJSON(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return s.opts.History.Attrs(ctx, tenant, id)
	}
	var dev struct {
		Attrs json.RawMessage `json:"attrs"`
	}
	if err := json.Unmarshal(b, &dev); err != nil {
		return nil, fmt.Errorf("history: device %s: %w", id, err)
	}
	var labels []string
	dec := json.NewDecoder(bytes.NewReader(dev.Attrs))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil // no attrs
	}
	for dec.More() {
		if _, err := dec.Token(); err != nil { // the template id
			return nil, fmt.Errorf("history: device %s: %w", id, err)
		}
		var tattrs []struct {
			Label *string `json:"label"`
		}
		if err := dec.Decode(&tattrs); err != nil {
			return nil, fmt.Errorf("history: device %s: %w", id, err)
		}
		for _, a := range tattrs {
			if a.Label != nil && !slices.Contains(labels, *a.Label) {
				labels = append(labels, *a.Label)
			}
		}
	}
	return labels, nil
}

// historyFormat: JSON when the client accepts it (or says nothing), else
// CSV when it accepts text/csv, else 406, as Falcon's client_accepts
// decides.
func historyFormat(r *http.Request) (csv bool, err error) {
	accept := r.Header.Get("Accept")
	if accept == "" || accepts(accept, "application", "json") {
		return false, nil
	}
	if accepts(accept, "text", "csv") {
		return true, nil
	}
	return false, errNotAcceptable
}

// accepts reports whether an Accept header takes typ/sub (wildcards
// included, q=0 excluded).
func accepts(header, typ, sub string) bool {
	for part := range strings.SplitSeq(header, ",") {
		mt, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.Contains(strings.ReplaceAll(params, " ", ""), "q=0") && !strings.Contains(params, "q=0.") {
			continue
		}
		t, s, _ := strings.Cut(strings.ToLower(strings.TrimSpace(mt)), "/")
		if (t == "*" || t == typ) && (s == "*" || s == sub) {
			return true
		}
	}
	return false
}

// writeHistory writes the docs found for attrs: one array, or an object
// keyed by attr (keyed true), or CSV rows of all of them.
func writeHistory(w http.ResponseWriter, asCSV bool, attrs []string, found [][]history.Doc, keyed bool) error {
	if asCSV {
		var all []history.Doc
		for _, docs := range found {
			all = append(all, docs...)
		}
		b, err := historyCSV(all)
		return writeCSV(w, b, err)
	}
	var buf bytes.Buffer
	writeDocs := func(docs []history.Doc) {
		buf.WriteByte('[')
		for i, d := range docs {
			if i > 0 {
				buf.WriteByte(',')
			}
			b, _ := d.MarshalJSON()
			buf.Write(b)
		}
		buf.WriteByte(']')
	}
	if !keyed {
		writeDocs(found[0])
	} else {
		buf.WriteByte('{')
		for i, a := range attrs {
			if i > 0 {
				buf.WriteByte(',')
			}
			k, _ := json.Marshal(a)
			buf.Write(k)
			buf.WriteByte(':')
			writeDocs(found[i])
		}
		buf.WriteByte('}')
	}
	writeRawJSON(w, http.StatusOK, buf.Bytes())
	return nil
}

// historyCSV flattens docs as dojot's History does (pandas json_normalize,
// then to_csv with every non-number quoted): columns attr, value,
// device_id, ts, then metadata.<key>; an object value becomes value.<key>
// columns. Columns appear in the order first seen. No docs: `""`.
func historyCSV(docs []history.Doc) ([]byte, error) {
	var c csvColumns
	add := c.add
	rows := make([]map[string]string, len(docs))
	for i, d := range docs {
		row := map[string]string{}
		add(row, "attr", quoteCSV(d.Attr))
		if err := flatten(row, add, "value", d.Value); err != nil {
			return nil, err
		}
		add(row, "device_id", quoteCSV(d.DeviceID))
		add(row, "ts", quoteCSV(history.FormatTS(d.TS)))
		if err := flatten(row, add, "metadata", d.Metadata); err != nil {
			return nil, err
		}
		rows[i] = row
	}
	return csvTable(c.cols, rows), nil
}

// writeCSV writes a History CSV answer (Falcon's text/csv), or returns
// the error that kept it from being made.
func writeCSV(w http.ResponseWriter, b []byte, err error) error {
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

// csvColumns are a CSV's columns in the order first seen.
type csvColumns struct {
	cols []string
	seen map[string]bool
}

// add sets a row's cell of col, adding the column when new.
func (c *csvColumns) add(row map[string]string, col, v string) {
	if !c.seen[col] {
		if c.seen == nil {
			c.seen = map[string]bool{}
		}
		c.seen[col] = true
		c.cols = append(c.cols, col)
	}
	row[col] = v
}

// csvTable writes the header of cols and then rows, a missing cell empty;
// no columns at all is pandas' `""`.
func csvTable(cols []string, rows []map[string]string) []byte {
	if len(cols) == 0 {
		return []byte("\"\"\n")
	}
	var buf bytes.Buffer
	for i, c := range cols {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(quoteCSV(c))
	}
	buf.WriteByte('\n')
	for _, row := range rows {
		for i, c := range cols {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(row[c])
		}
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// flatten adds the cells of a JSON value under name: an object's members
// as name.key (recursively, an empty one adds nothing), anything else as
// one cell.
func flatten(row map[string]string, add func(map[string]string, string, string), name string, raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("history csv: %w", err)
	}
	if tok != json.Delim('{') {
		add(row, name, csvCell(raw))
		return nil
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return fmt.Errorf("history csv: %w", err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("history csv: %w", err)
		}
		if err := flatten(row, add, name+"."+k.(string), v); err != nil {
			return err
		}
	}
	return nil
}

// csvCell is one JSON scalar or array as pandas writes it: numbers as
// they are, booleans True/False, null empty, strings and arrays quoted.
func csvCell(raw json.RawMessage) string {
	switch raw[0] {
	case 'n':
		return ""
	case 't':
		return "True"
	case 'f':
		return "False"
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		return quoteCSV(s)
	case '[':
		return quoteCSV(string(raw))
	}
	return string(raw)
}

// quoteCSV quotes a field as Python's csv module does with
// QUOTE_NONNUMERIC.
func quoteCSV(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// sthHistory: the deprecated NGSI (STH) view of one attribute, as dojot's
// History still serves it.
func (s *Server) sthHistory(w http.ResponseWriter, r *http.Request, tenant string) error {
	ctx, id, attr, typ := r.Context(), pathParam(r, "id"), pathParam(r, "attr"), pathParam(r, "type")
	q, err := s.historyRequest(r, tenant, id)
	if err != nil {
		return err
	}
	q.Attr = attr
	docs, err := s.opts.History.Find(ctx, tenant, id, q)
	if err != nil {
		return err
	}
	type value struct {
		AttrType  string          `json:"attrType"`
		AttrValue json.RawMessage `json:"attrValue"`
		RecvTime  string          `json:"recvTime"`
	}
	values := make([]value, len(docs))
	for i, d := range docs { // the query's order reversed, as dojot builds it
		values[len(docs)-1-i] = value{typ, d.Value, history.FormatTS(d.TS)}
	}
	type attribute struct {
		Name   string  `json:"name"`
		Values []value `json:"values"`
	}
	type element struct {
		Attributes []attribute `json:"attributes"`
		ID         string      `json:"id"`
		IsPattern  bool        `json:"isPattern"`
		Type       string      `json:"type"`
	}
	type response struct {
		ContextElement element           `json:"contextElement"`
		StatusCode     map[string]string `json:"statusCode"`
	}
	writeJSON(w, http.StatusOK, map[string][]response{"contextResponses": {{
		ContextElement: element{Attributes: []attribute{{attr, values}}, ID: id, Type: typ},
		StatusCode:     map[string]string{"code": "200", "reasonPhrase": "OK"},
	}}})
	return nil
}
