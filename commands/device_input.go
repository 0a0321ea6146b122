package commands

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/dojot-es/dojot"
)

// Request bodies of the DeviceManager, read as dojot's marshmallow schemas
// (marshmallow 3.0.0b8, which ignores unknown keys) read them, with the same
// error bodies. Values are decoded with UseNumber so that a static value
// keeps the text Python would have stored.

// Field error texts of marshmallow.
const (
	msgRequired   = "Missing data for required field."
	msgNull       = "Field may not be null."
	msgNotString  = "Not a valid string."
	msgNotInteger = "Not a valid integer."
	msgNotBool    = "Not a valid boolean."
	msgBadType    = "Invalid type."
	msgNotList    = "Not a valid list."
	msgBadLabel   = "Labels must contain letters, numbers or dashes(-_)"
)

var attrLabelRe = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

func dmInvalid(msg any) error { return &dojot.Error{Kind: dojot.ErrInvalid, Message: msg} }

func dmNotFound(format string, a ...any) error {
	return &dojot.Error{Kind: dojot.ErrNotFound, Message: fmt.Sprintf(format, a...)}
}

// errPayload is parse_payload's answer to a body that is not JSON.
var errPayload = dmInvalid("Payload must be valid JSON, and Content-Type set accordingly")

// parseFailed is dojot's {"message":"failed to parse input"|"failed to parse
// attr","errors":{..}} body.
func parseFailed(what string, errs map[string]any) error {
	return &dojot.Error{Kind: dojot.ErrInvalid, Message: what, Body: map[string]any{"message": what, "errors": errs}}
}

// decodeObject reads body as one JSON object.
func decodeObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errPayload
	}
	if dec.More() {
		return nil, errPayload
	}
	m, ok := v.(map[string]any)
	if !ok {
		// json.loads accepts any value, then the schema refuses it.
		return nil, parseFailed("failed to parse input", map[string]any{"_schema": []string{"Invalid input type."}})
	}
	return m, nil
}

// fieldErrs collects marshmallow's per-field messages.
type fieldErrs map[string]any

func (e fieldErrs) add(field, msg string) { e[field] = []string{msg} }

// str reads a required (or optional) string field.
func (e fieldErrs) str(m map[string]any, field string, required bool) (string, bool) {
	v, ok := m[field]
	if !ok {
		if required {
			e.add(field, msgRequired)
		}
		return "", false
	}
	if v == nil {
		e.add(field, msgNull)
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		e.add(field, msgNotString)
		return "", false
	}
	return s, true
}

// intField reads an integer field as marshmallow's Int does (int(value):
// numbers are truncated, numeric strings accepted).
func (e fieldErrs) intField(m map[string]any, field string, required bool) (int, bool) {
	v, ok := m[field]
	if !ok {
		if required {
			e.add(field, msgRequired)
		}
		return 0, false
	}
	n, ok := pyInt(v)
	if !ok {
		if v == nil {
			e.add(field, msgNull)
		} else {
			e.add(field, msgNotInteger)
		}
		return 0, false
	}
	return n, true
}

// pyInt is Python's int(v) for a decoded JSON value.
func pyInt(v any) (int, bool) {
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.Atoi(x.String()); err == nil {
			return n, true
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || math.Abs(f) > 1<<53 {
			return 0, false
		}
		return int(f), true
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		return n, err == nil
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// pyStr is the text PostgreSQL stored for a value written to a varchar
// column by psycopg2: strings as they are, Python's str() of numbers,
// true/false for booleans. Objects and arrays cannot be stored.
func pyStr(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		s := x.String()
		if !strings.ContainsAny(s, ".eE") {
			return strings.TrimPrefix(s, "+"), true
		}
		f, err := x.Float64()
		if err != nil {
			return "", false
		}
		return pyFloat(f), true
	}
	return "", false
}

// pyFloat is Python's repr(float): shortest digits, exponent form below
// 1e-4 and from 1e16.
func pyFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, expText, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expText)
	if exp < -4 || exp >= 16 {
		sign := "+"
		if exp < 0 {
			sign, exp = "-", -exp
		}
		return fmt.Sprintf("%se%s%02d", mant, sign, exp)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// checkLen is PostgreSQL's varchar(n) limit, which dojot let through as a
// database error.
func checkLen(s string, n int) error {
	if len([]rune(s)) > n {
		return dmInvalid(fmt.Sprintf("value too long for type character varying(%d)", n))
	}
	return nil
}

// attrInput is one attribute (or metadata child) of a template body.
type attrInput struct {
	ID          int // import only
	HasID       bool
	Label       string
	Type        string
	ValueType   string
	StaticValue *string
	Metadata    []attrInput
	HasMetadata bool
}

// parseAttr reads one attribute as AttrSchema (meta false) or MetaSchema
// (meta true) loads it; errs gets marshmallow's messages.
func parseAttr(v any, meta bool) (attrInput, fieldErrs) {
	errs := fieldErrs{}
	m, ok := v.(map[string]any)
	if !ok {
		errs.add("_schema", "Invalid input type.")
		return attrInput{}, errs
	}
	var a attrInput
	if id, ok := errs.intField(m, "id", false); ok {
		a.ID, a.HasID = id, true
	}
	if _, ok := m["import_id"]; ok { // import bodies: "id" renamed, as dojot does
		if id, ok := errs.intField(m, "import_id", false); ok {
			a.ID, a.HasID = id, true
		}
	}
	if s, ok := errs.str(m, "label", true); ok {
		if !meta && !attrLabelRe.MatchString(s) {
			errs.add("label", msgBadLabel)
		}
		a.Label = s
	}
	a.Type, _ = errs.str(m, "type", true)
	a.ValueType, _ = errs.str(m, "value_type", true)
	if sv, ok := m["static_value"]; ok && sv != nil {
		s, ok := pyStr(sv)
		if !ok {
			errs.add("static_value", msgNotString)
		}
		a.StaticValue = &s
	}
	if iso, ok := m["is_static_overridden"]; ok && iso != nil {
		if _, ok := iso.(bool); !ok {
			errs.add("is_static_overridden", msgNotBool)
		}
	}
	if md, ok := m["metadata"]; ok && !meta && md != nil {
		list, ok := md.([]any)
		if !ok {
			errs.add("metadata", msgBadType)
		} else {
			a.HasMetadata = true
			nested := map[string]any{}
			seen := map[string]bool{}
			for i, item := range list {
				c, cerrs := parseAttr(item, true)
				if len(cerrs) > 0 {
					nested[strconv.Itoa(i)] = map[string]any(cerrs)
					continue
				}
				if seen[c.Label] {
					errs.add("metadata", "a template can not have repeated attributes")
				}
				seen[c.Label] = true
				a.Metadata = append(a.Metadata, c)
			}
			if len(nested) > 0 {
				errs["metadata"] = nested
			}
		}
	}
	return a, errs
}

// checkAttrLens applies the attrs table's column sizes.
func checkAttrLens(a attrInput) error {
	for _, c := range []struct {
		s string
		n int
	}{{a.Label, 128}, {a.Type, 32}, {a.ValueType, 32}} {
		if err := checkLen(c.s, c.n); err != nil {
			return err
		}
	}
	if a.StaticValue != nil {
		if err := checkLen(*a.StaticValue, 128); err != nil {
			return err
		}
	}
	for _, m := range a.Metadata {
		if err := checkAttrLens(m); err != nil {
			return err
		}
	}
	return nil
}

// templateInput is a POST/PUT /template body.
type templateInput struct {
	Label string
	Attrs []attrInput
}

// parseTemplate reads a template body: the label through TemplateSchema
// ("failed to parse input"), then each attribute through AttrSchema ("failed
// to parse attr", first failing attribute only, as load_attrs raises).
func parseTemplate(body []byte) (templateInput, error) {
	m, err := decodeObject(body)
	if err != nil {
		return templateInput{}, err
	}
	return templateFromMap(m)
}

func templateFromMap(m map[string]any) (templateInput, error) {
	errs := fieldErrs{}
	var in templateInput
	in.Label, _ = errs.str(m, "label", true)
	if len(errs) > 0 {
		return in, parseFailed("failed to parse input", errs)
	}
	if err := checkLen(in.Label, 128); err != nil {
		return in, err
	}
	// dojot reads "attrs" straight from the JSON; a template without it is
	// taken as having no attributes.
	raw, ok := m["attrs"]
	if !ok || raw == nil {
		return in, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return in, parseFailed("failed to parse input", fieldErrs{"attrs": []string{msgBadType}})
	}
	for _, item := range list {
		a, aerrs := parseAttr(item, false)
		if len(aerrs) > 0 {
			return in, parseFailed("failed to parse attr", aerrs)
		}
		if err := checkAttrLens(a); err != nil {
			return in, err
		}
		in.Attrs = append(in.Attrs, a)
	}
	return in, nil
}

// overrideInput is one entry of a device body's "attrs": a device's own
// static values for a template attribute and its metadata. Ids are kept
// as sent, since dojot's messages quote them.
type overrideInput struct {
	ID          any
	TemplateID  any
	StaticValue *string
	Metadata    []overrideMeta
}

type overrideMeta struct {
	ID          any
	StaticValue *string
}

// deviceInput is a POST/PUT /device body.
type deviceInput struct {
	ID        any // client id, nil: generate
	Label     string
	Templates []any
	Overrides []overrideInput
}

var deviceIDRe = regexp.MustCompile(`^[0-9a-fA-F]{2,6}$`)

// parseDevice reads a device body as DeviceSchema and
// validate_repeated_attrs do.
func parseDevice(body []byte) (deviceInput, error) {
	m, err := decodeObject(body)
	if err != nil {
		return deviceInput{}, err
	}
	return deviceFromMap(m)
}

func deviceFromMap(m map[string]any) (deviceInput, error) {
	errs := fieldErrs{}
	var in deviceInput
	in.Label, _ = errs.str(m, "label", true)
	if raw, ok := m["templates"]; ok && raw != nil {
		list, ok := raw.([]any)
		if !ok {
			errs.add("templates", msgBadType)
		}
		in.Templates = list
	}
	if len(errs) > 0 {
		return in, parseFailed("failed to parse input", errs)
	}
	in.ID = m["id"]
	if raw, ok := m["attrs"]; ok && raw != nil {
		list, ok := raw.([]any)
		if obj, isObj := raw.(map[string]any); isObj && len(obj) == 0 {
			// dojot's own tester sends "attrs":{} with every device: its
			// handlers loop over the empty object and override nothing.
			list, ok = nil, true
		}
		if !ok {
			// dojot crashes with a 500 on anything else that is not a list.
			return in, parseFailed("failed to parse input", fieldErrs{"attrs": []string{msgNotList}})
		}
		labels := map[string]bool{}
		for _, item := range list {
			o, ok := item.(map[string]any)
			if !ok {
				return in, dmInvalid([]string{"missing label attribute"})
			}
			l, ok := o["label"]
			if !ok {
				return in, dmInvalid([]string{"missing label attribute"})
			}
			labels[fmt.Sprint(l)] = true
			in.Overrides = append(in.Overrides, overrideFrom(o))
		}
		if len(labels) < len(list) {
			return in, dmInvalid([]string{"a device can not have repeated attributes"})
		}
	}
	if err := checkLen(in.Label, 128); err != nil {
		return in, err
	}
	return in, nil
}

func overrideFrom(o map[string]any) overrideInput {
	ov := overrideInput{ID: o["id"], TemplateID: o["template_id"]}
	if sv, ok := o["static_value"]; ok && sv != nil {
		if s, ok := pyStr(sv); ok {
			ov.StaticValue = &s
		}
	}
	if md, ok := o["metadata"].([]any); ok {
		for _, item := range md {
			mo, ok := item.(map[string]any)
			if !ok {
				continue
			}
			m := overrideMeta{ID: mo["id"]}
			if sv, ok := mo["static_value"]; ok && sv != nil {
				if s, ok := pyStr(sv); ok {
					m.StaticValue = &s
				}
			}
			ov.Metadata = append(ov.Metadata, m)
		}
	}
	return ov
}

// pyText is how Python's format() writes a decoded JSON value in a message.
func pyText(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case json.Number:
		if s, ok := pyStr(x); ok {
			return s
		}
	}
	return fmt.Sprint(v)
}
