package socketio

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// Filter is a notification socket's filter, its "filter" message:
// {"fields":{"<key>":{"operation":"=","value":...}, ...}}, every field
// ANDed (dojot's FilterManager.checkFilter). Key "subject" is compared
// with the notification's subject, any other with its
// metaAttrsFilter[key]; = and != compare strictly (no coercion, as JS's
// ===), < and > numerically; a field the notification lacks passes. The
// zero Filter passes everything.
type Filter struct {
	fields []field
}

type field struct {
	key, op string
	value   any
}

// ParseFilter reads a filter message: a JSON string holding the filter
// (what GUI v1 emits) or, for other clients, the object itself. An
// operation other than = != < >, or < > with a value that is not a
// number, is refused: dojot threw on them, and a client is better told
// than left with a filter that silently passes or blocks everything.
func ParseFilter(arg any) (Filter, error) {
	var raw []byte
	switch v := arg.(type) {
	case string:
		raw = []byte(v)
	case map[string]any:
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return Filter{}, err
		}
	default:
		return Filter{}, errors.New("filter: want a JSON string or an object")
	}
	var msg struct {
		Fields map[string]struct {
			Operation string `json:"operation"`
			Value     any    `json:"value"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(raw, &msg); err != nil {
		return Filter{}, fmt.Errorf("filter: not JSON: %w", err)
	}
	var f Filter
	for k, v := range msg.Fields {
		switch v.Operation {
		case "=", "!=":
		case "<", ">":
			if _, ok := v.Value.(float64); !ok {
				return Filter{}, fmt.Errorf("filter: field %q: %s needs a number", k, v.Operation)
			}
		default:
			return Filter{}, fmt.Errorf("filter: field %q: unknown operation %q (= != < >)", k, v.Operation)
		}
		f.fields = append(f.fields, field{key: k, op: v.Operation, value: v.Value})
	}
	sort.Slice(f.fields, func(i, j int) bool { return f.fields[i].key < f.fields[j].key })
	return f, nil
}

// notification is what a filter reads of a notification.
type notification struct {
	Subject         any            `json:"subject"`
	MetaAttrsFilter map[string]any `json:"metaAttrsFilter"`
}

// Match says whether the notification n passes the filter. A
// notification without metaAttrsFilter lacks every field but subject
// (dojot threw there).
func (f Filter) Match(n *notification) bool {
	for _, fl := range f.fields {
		var v any
		var ok bool
		if fl.key == "subject" {
			v, ok = n.Subject, n.Subject != nil
		} else {
			v, ok = n.MetaAttrsFilter[fl.key]
		}
		if !ok {
			continue
		}
		if !fl.match(v) {
			return false
		}
	}
	return true
}

func (fl field) match(v any) bool {
	switch fl.op {
	case "=":
		return strictEqual(v, fl.value)
	case "!=":
		return !strictEqual(v, fl.value)
	}
	// JS's < and > on a number and whatever the notification holds: a
	// string of digits is compared as its number, anything else is NaN
	// and false.
	var x float64
	switch n := v.(type) {
	case float64:
		x = n
	case string:
		if err := json.Unmarshal([]byte(n), &x); err != nil {
			return false
		}
	case bool:
		if n {
			x = 1
		}
	default:
		return false
	}
	y := fl.value.(float64)
	if fl.op == "<" {
		return x < y
	}
	return x > y
}

// strictEqual is JS's === on decoded JSON: same type and value for
// strings, numbers, booleans and null; objects and arrays are never
// equal (they would be different objects).
func strictEqual(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	return false
}
