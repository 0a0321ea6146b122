package filter

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
)

// Error is a bad fields or where option: dojot closes the websocket with
// Code and Reason.
type Error struct {
	Code   int
	Reason string
}

func (e *Error) Error() string {
	return "kafkaws filter: " + strconv.Itoa(e.Code) + " " + e.Reason
}

// Rule is a parsed pair of fields and where options. Parse returns the
// same *Rule for the same options (as dojot's ProcessingRuleManager shares
// one rule per fingerprint), and a Rule remembers its last answer: in a
// fan-out every connection with these options asks about the same message,
// and only the first pays for it.
type Rule struct {
	conds []condition
	mask  *maskObj // nil without fields
	// passthrough: neither option, Apply returns the value as it is.
	passthrough bool
	last        atomic.Pointer[memo]
}

type memo struct {
	in, out []byte
	ok      bool
}

// rules interns parsed rules. It is emptied when full: options come from
// clients, and a cache they could grow without bound would be a leak.
var rules struct {
	sync.Mutex
	m map[[2]string]*Rule
}

const maxRules = 4096

// Parse parses the fields and where query options of a connection ("" = absent).
// A bad option returns an *Error whose Code is the websocket close code dojot sends
// (4000 INVALID_SYNTAX, 4001 INVALID_OPERATOR, 4002 INVALID_ESCAPE_VALUE,
// 4003 INVALID_OPERATOR_ARITY, 4004 INVALID_VALUE, 4400 INVALID_PATHNAME) and Reason
// the close reason text dojot sends (keep it <= 123 bytes, the RFC 6455 limit).
//
// fields never fails: json-mask accepts any text, and dojot never sends
// 4400. The options are taken as the server decoded them from the query
// (so "+" is already a space).
func Parse(fields, where string) (*Rule, error) {
	key := [2]string{fields, where}
	rules.Lock()
	r := rules.m[key]
	rules.Unlock()
	if r != nil {
		return r, nil
	}
	r, err := parse(fields, where)
	if err != nil {
		return nil, err
	}
	rules.Lock()
	defer rules.Unlock()
	if len(rules.m) >= maxRules || rules.m == nil {
		rules.m = make(map[[2]string]*Rule)
	}
	if prev := rules.m[key]; prev != nil {
		return prev, nil
	}
	rules.m[key] = r
	return r, nil
}

func parse(fields, where string) (*Rule, error) {
	r := &Rule{passthrough: fields == "" && where == ""}
	if where != "" {
		conds, err := parseWhere(where)
		if err != nil {
			return nil, err
		}
		r.conds = conds
	}
	if fields != "" {
		r.mask = compileMask(fields)
	}
	return r, nil
}

// Apply filters one message value (the Kafka/JetStream message bytes, normally a JSON
// object): ok=false means no frame is sent (the where conditions do not hold, or dojot
// would skip it, e.g. an empty result). With neither fields nor where, Apply returns value
// unchanged, byte for byte, whatever it is. Otherwise out is the JSON text dojot would send.
// Apply is safe for concurrent use and must not panic on any input.
//
// out may be shared with other callers of the same Rule: do not modify it.
func (r *Rule) Apply(value []byte) (out []byte, ok bool) {
	if r.passthrough {
		return value, true
	}
	if m := r.last.Load(); m != nil && bytes.Equal(m.in, value) {
		return m.out, m.ok
	}
	out, ok = r.apply(value)
	if len(value) <= maxMemo {
		r.last.Store(&memo{in: bytes.Clone(value), out: out, ok: ok})
	}
	return out, ok
}

// maxMemo bounds the copy a Rule keeps of the last message.
const maxMemo = 64 << 10

func (r *Rule) apply(value []byte) (out []byte, ok bool) {
	// WebsocketTarball parses the value with JSON.parse and drops it when
	// that throws; ProcessingRule then runs each condition and the mask,
	// skipping every step once the data is lodash-isEmpty.
	v, regular, ok := decode(value)
	if !ok {
		return nil, false
	}
	for i := range r.conds {
		if lodashEmpty(v) {
			break
		}
		c := &r.conds[i]
		if regular {
			if !c.holds(lookupLeaf(v, c)) {
				return nil, false
			}
			continue
		}
		f := flatten(v)
		leaf, found := f.get(c.param)
		if !found {
			leaf = protoLookup(c)
		}
		if !c.holds(leaf) {
			return nil, false
		}
		if v, ok = unflatten(f); !ok {
			return nil, false
		}
	}
	if r.mask != nil && !lodashEmpty(v) {
		if v, ok = applyMask(v, r.mask); !ok {
			return nil, false
		}
	}
	// isObjectEmpty: only null and objects or arrays with own keys are sent.
	switch {
	case v.k == kNull:
	case (v.k == kObj || v.k == kArr) && jsKeyCount(v) > 0:
	default:
		return nil, false
	}
	return appendJSON(make([]byte, 0, len(value)), v), true
}

// lodashEmpty is lodash's isEmpty for JSON values: numbers and booleans are
// empty, strings and arrays by length, objects by own keys.
func lodashEmpty(v value) bool {
	switch v.k {
	case kStr:
		return v.s == ""
	case kArr:
		return len(v.arr) == 0
	case kObj:
		return len(v.obj.m) == 0
	}
	return true
}

// holds applies app/Conditions/Conditions.js to flat(data)[param]; a
// condition that throws (bool on a non-boolean, an in/nin value that is
// not a valid regexp) drops the message just as a false one does.
func (c *condition) holds(v value) bool {
	switch c.op {
	case opIn, opNin:
		hit := false
		if truthy(v) {
			s := toJSString(v)
			for i := range c.set {
				m, ok := c.set[i].match(s)
				if !ok {
					return false
				}
				if m {
					hit = true
					break
				}
			}
		}
		return hit == (c.op == opIn)
	case opBool:
		b, ok := parseBoolean(v)
		return ok && b == c.b
	}
	if v.k == kNull {
		return false
	}
	n := toNumber(v)
	if n != n || n > maxFloat || n < -maxFloat {
		return false
	}
	switch c.op {
	case opEq:
		return n == c.num
	case opNeq:
		return n != c.num
	case opGt:
		return n > c.num
	case opGte:
		return n >= c.num
	case opLt:
		return n < c.num
	}
	return n <= c.num
}

const maxFloat = 1.7976931348623157e308
