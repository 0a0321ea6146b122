package flows

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// switchNode routes a message by rules, one port per rule (FLOWS.md 4.2).
// Besides dojot's operators it runs node-RED's istype, empty, nempty and
// hask, which need no JSONata (dojot's editor never offered them; a flow
// written for node-RED may use them). node-RED's jsonata_exp and its
// message-sequence operators (head, tail, index) are refused when the flow
// is saved.
type switchNode struct {
	property path
	number   bool // propertyType "num": Number() the property
	checkAll bool
	rules    []switchRule
}

type switchRule struct {
	op       string
	v, v2    ruleValue
	re       *regexp.Regexp // static regex, compiled once
	caseless bool
}

// ruleValue is a rule operand: a constant, or a msg path read per message.
type ruleValue struct {
	set   bool
	value any
	path  *path // vt "msg"
}

func init() { register("switch", newSwitch) }

var switchOps = map[string]bool{"eq": true, "neq": true, "lt": true, "lte": true, "gt": true, "gte": true, "btwn": true,
	"cont": true, "regex": true, "true": true, "false": true, "null": true, "nnull": true, "else": true,
	"istype": true, "empty": true, "nempty": true, "hask": true}

// switchTypes are istype's types (node-RED's editor list).
var switchTypes = map[string]bool{"string": true, "number": true, "boolean": true, "array": true, "buffer": true,
	"object": true, "json": true, "null": true, "undefined": true}

func newSwitch(s *spec) Node {
	prop := s.str("property", "payload")
	if prop == "" {
		prop = "payload"
	}
	n := &switchNode{property: compilePath(prop)}
	switch pt := s.str("propertyType", "msg"); pt {
	case "msg", "":
	case "num":
		n.number = true
	default:
		s.fail("propertyType %q is not supported (msg or num)", pt)
	}
	n.checkAll = s.boolean("checkall", true)
	var rules []struct {
		T    string `json:"t"`
		V    any    `json:"v"`
		VT   string `json:"vt"`
		V2   any    `json:"v2"`
		V2T  string `json:"v2t"`
		Case bool   `json:"case"`
	}
	s.into("rules", &rules, "an array of rules")
	for i, r := range rules {
		if !switchOps[r.T] {
			switch r.T {
			case "jsonata_exp":
				s.fail("rules[%d]: operator %q needs JSONata, which is not supported", i, r.T)
			case "head", "tail", "index":
				s.fail("rules[%d]: operator %q works on message sequences, which are not supported", i, r.T)
			default:
				s.fail("rules[%d]: unknown operator %q", i, r.T)
			}
			continue
		}
		rule := switchRule{op: r.T, caseless: r.Case}
		if r.T == "istype" {
			// node-RED saves the type as both v and vt ({"v":"number","vt":"number"}).
			typ, _ := r.V.(string)
			if typ == "" {
				typ = r.VT
			}
			if !switchTypes[typ] {
				s.fail("rules[%d]: istype needs a type (string, number, boolean, array, buffer, object, json, null or undefined), not %q", i, typ)
			}
			rule.v = ruleValue{set: true, value: typ}
			n.rules = append(n.rules, rule)
			continue
		}
		rule.v = switchValue(s, i, "v", r.V, r.VT)
		if r.T == "btwn" {
			if r.V2 == nil {
				s.fail("rules[%d]: btwn needs v2", i)
			}
			rule.v2 = switchValue(s, i, "v2", r.V2, r.V2T)
		}
		if r.T == "regex" && rule.v.path == nil {
			re, err := compileJSRegex(jsString(rule.v.value), r.Case)
			if err != nil {
				s.fail("rules[%d]: bad regex: %v", i, err)
			}
			rule.re = re
		}
		n.rules = append(n.rules, rule)
	}
	return n
}

func switchValue(s *spec, i int, key string, v any, vt string) ruleValue {
	switch vt {
	case "num", "msg", "str", "":
	default:
		// prev and jsonata exist in dojot's code but never work there (FLOWS.md 4.2).
		s.fail("rules[%d]: value type %q is not supported (str, num or msg)", i, vt)
		return ruleValue{}
	}
	if v == nil {
		return ruleValue{value: undef}
	}
	switch vt {
	case "num":
		return ruleValue{set: true, value: jsNumber(v)}
	case "msg":
		p, ok := v.(string)
		if !ok || len(splitPath(p)) == 0 {
			s.fail("rules[%d]: %s must be a msg path", i, key)
		}
		cp := compilePath(p)
		return ruleValue{set: true, path: &cp}
	}
	return ruleValue{set: true, value: v} // str, or no vt: as written
}

// compileJSRegex compiles a JavaScript pattern with Go's RE2: the common
// syntax is the same; lookarounds and backreferences are refused when the
// flow is saved instead of failing per message.
func compileJSRegex(pattern string, caseless bool) (*regexp.Regexp, error) {
	if caseless {
		pattern = "(?i)" + pattern
	}
	return regexp.Compile(pattern)
}

func (v ruleValue) get(msg Msg) any {
	if v.path == nil {
		if !v.set {
			return undef
		}
		return v.value
	}
	// dojot: a msg operand becomes a number when Number() of it is not NaN.
	x := v.path.lookup(msg)
	if f := jsNumber(x); f == f {
		return f
	}
	return x
}

func (n *switchNode) Process(_ context.Context, _ *Call, msg Msg) ([]Msg, error) {
	prop := n.property.lookup(msg)
	if n.number {
		prop = jsNumber(prop)
	}
	out := make([]Msg, 0, len(n.rules))
	elseFlag := true
	for _, r := range n.rules {
		ok, err := r.match(prop, msg, &elseFlag)
		if err != nil {
			return nil, err
		}
		if !ok {
			out = append(out, nil)
			continue
		}
		out = append(out, msg)
		elseFlag = false
		if !n.checkAll {
			break
		}
	}
	return out, nil
}

func (r *switchRule) match(a any, msg Msg, elseFlag *bool) (bool, error) {
	v := r.v.get(msg)
	switch r.op {
	case "eq":
		return jsStrictEqual(a, v), nil
	case "neq":
		return !jsStrictEqual(a, v), nil
	case "lt":
		return jsLess(a, v), nil
	case "lte":
		return jsLessEq(a, v), nil
	case "gt":
		return jsGreater(a, v), nil
	case "gte":
		return jsGreaterEq(a, v), nil
	case "btwn":
		return jsGreaterEq(a, v) && jsLessEq(a, r.v2.get(msg)), nil
	case "cont":
		return strings.Contains(jsString(a), jsString(v)), nil
	case "regex":
		re := r.re
		if re == nil {
			var err error
			if re, err = compileJSRegex(jsString(v), r.caseless); err != nil {
				return false, fmt.Errorf("Invalid regular expression: /%s/: %w", jsString(v), err) //nolint:staticcheck // JavaScript's text
			}
		}
		return re.MatchString(jsString(a)), nil
	case "true":
		return a == true, nil
	case "false":
		return a == false, nil
	case "null":
		return a == nil || a == undef, nil
	case "nnull":
		return a != nil && a != undef, nil
	case "istype":
		return isType(a, v.(string)), nil
	case "empty", "nempty":
		n, ok := jsLength(a)
		return ok && (n == 0) == (r.op == "empty"), nil
	case "hask":
		// node-RED: a.hasOwnProperty(String(v)), for a key that is not an object.
		if a == nil || a == undef {
			return false, nil
		}
		switch v.(type) {
		case map[string]any, []any:
			return false, nil
		}
		_, ok := child(a, jsString(v))
		return ok, nil
	}
	// else: true when no rule matched since the start or the last else.
	matched := *elseFlag
	*elseFlag = true
	return matched, nil
}

// isType is node-RED's istype. A Buffer reaches a flow as its JSON form
// ({"type":"Buffer","data":[...]}), which is what buffer recognises.
func isType(a any, typ string) bool {
	switch typ {
	case "array":
		_, ok := a.([]any)
		return ok
	case "buffer":
		return isBufferJSON(a)
	case "json": // JSON.parse(a) succeeds
		return a != undef && json.Valid([]byte(jsString(a)))
	case "null":
		return a == nil
	case "undefined":
		return a == undef
	case "object":
		_, ok := a.(map[string]any)
		return ok && !isBufferJSON(a)
	}
	return jsTypeof(a) == typ && a != nil
}

func isBufferJSON(a any) bool {
	m, ok := a.(map[string]any)
	if !ok || len(m) != 2 || m["type"] != "Buffer" {
		return false
	}
	_, ok = m["data"].([]any)
	return ok
}

// jsLength is node-RED's notion of emptiness: a string's or an array's
// length, an object's number of keys; ok is false for anything else
// (empty and nempty are then both false).
func jsLength(a any) (int, bool) {
	switch x := a.(type) {
	case string:
		return len(x), true
	case []any:
		return len(x), true
	case map[string]any:
		if isBufferJSON(x) {
			return len(x["data"].([]any)), true
		}
		return len(x), true
	}
	return 0, false
}
