package filter

import (
	"math"
	"strings"

	"github.com/dojot-es/dojot/internal/jsnum"
)

// dojot evaluates each where condition on flat(data) (the flat package,
// keys joined with ".") and passes flat.unflatten of it on. For most
// messages that round trip gives the message back unchanged and the
// flattened key "a.b.0" is simply the leaf at that path; the decoder marks
// the messages where that does not hold as irregular and those take the
// literal flatten/unflatten below.

// regularKey reports whether an object key survives flat + unflatten
// unchanged: no "." (unflatten splits it), not numeric to JavaScript below
// the top level (unflatten then builds an array), the same after
// String(Number(key)) at the top level, and not a name unflatten would
// find on Object.prototype.
func regularKey(key string, top bool) bool {
	if strings.IndexByte(key, '.') >= 0 || objectProtoNames[key] {
		return false
	}
	if key != "" {
		c := key[0]
		if c >= 'a' && c <= 'z' && c != 'I' || c == '_' {
			return true // cannot be a JavaScript number
		}
	}
	n := jsnum.Number(key)
	if math.IsNaN(n) {
		return true
	}
	return top && string(jsnum.Append(nil, n)) == key
}

// lookupLeaf is flat(data)[param] for a regular object: the value at the
// path when it is a leaf (a primitive or an empty object or array).
func lookupLeaf(v value, c *condition) value {
	for _, seg := range c.path {
		switch v.k {
		case kObj:
			var ok bool
			if v, ok = v.obj.get(seg); !ok {
				return protoLookup(c)
			}
		case kArr:
			i, ok := arrayIndex(seg)
			if !ok || int(i) >= len(v.arr) {
				return protoLookup(c)
			}
			v = v.arr[i]
		default:
			return protoLookup(c)
		}
	}
	if (v.k == kObj && len(v.obj.m) > 0) || (v.k == kArr && len(v.arr) > 0) {
		return protoLookup(c)
	}
	return v
}

// protoLookup is what reading a missing key of the flattened object gives:
// undefined, or an inherited method for names like "toString".
func protoLookup(c *condition) value {
	if objectProtoNames[c.param] && c.param != "__proto__" {
		return value{k: kFunc, s: c.param}
	}
	return undef
}

// flatten is flat(target) of flat 5.0.2 into a JavaScript-ordered object.
func flatten(v value) *object {
	out := &object{}
	var step func(v value, prev string)
	step = func(v value, prev string) {
		each(v, func(key string, child value) {
			newKey := key
			if prev != "" {
				newKey = prev + "." + key
			}
			if (child.k == kObj || child.k == kArr) && jsKeyCount(child) > 0 {
				step(child, newKey)
				return
			}
			if newKey == "__proto__" {
				return // output["__proto__"] = v only touches the prototype
			}
			out.set(newKey, child)
		})
	}
	step(v, "")
	return out
}

// each calls fn for Object.keys(v) in order: object keys, array indices
// without holes, string code units.
func each(v value, fn func(string, value)) {
	switch v.k {
	case kObj:
		for _, m := range v.obj.m {
			fn(m.key, m.val)
		}
	case kArr:
		for i, e := range v.arr {
			if e.k != kUndef {
				fn(itoa(i), e)
			}
		}
	case kStr:
		for i, u := range utf16Units(v.s) {
			fn(itoa(i), value{k: kStr, s: u})
		}
	}
}

func jsKeyCount(v value) int {
	switch v.k {
	case kObj:
		return len(v.obj.m)
	case kArr:
		n := 0
		for _, e := range v.arr {
			if e.k != kUndef {
				n++
			}
		}
		return n
	}
	return 0
}

func itoa(i int) string {
	return string(jsnum.Append(nil, float64(i)))
}

// maxArrayIndex caps the arrays unflatten may build from keys like
// "a.65536" (or a json-mask "length"): dojot sends such an array of nulls
// up to the ~512 MB V8 string limit; we drop the message beyond 65,536
// elements rather than build it for every connection.
const maxArrayIndex = 1 << 16

// unflatten is flat.unflatten of flat 5.0.2 (overwrite false). ok=false
// when dojot would fail on the result.
func unflatten(f *object) (value, bool) {
	result := value{k: kObj, obj: &object{}}
	for _, m := range f.m {
		split := strings.Split(m.key, ".")
		key1 := getkey(split[0])
		split = split[1:]
		recipient := &result
		skip := false
		for len(split) > 0 {
			key2 := getkey(split[0])
			if key1.s == "__proto__" && !key1.num {
				skip = true
				break
			}
			cur, exists := jsGet(*recipient, key1)
			isObj := exists && (cur.k == kObj || cur.k == kArr)
			if !isObj && exists {
				skip = true // do not write over an existing non-object value
				break
			}
			if !exists || cur.k == kNull {
				if key2.num {
					cur = value{k: kArr, arr: []value{}}
				} else {
					cur = value{k: kObj, obj: &object{}}
				}
				if !jsSet(recipient, key1, cur) {
					return undef, false
				}
			}
			recipient = jsRef(recipient, key1)
			if recipient == nil {
				skip = true
				break
			}
			key1 = key2
			split = split[1:]
		}
		if skip {
			continue
		}
		if key1.s == "__proto__" && !key1.num {
			continue // an assignment to __proto__ adds no key
		}
		if !jsSet(recipient, key1, m.val) {
			return undef, false
		}
	}
	return result, true
}

// jsKey is a property key as flat's getkey returns it: a number when
// Number(key) is not NaN (and the key has no "."), else the string.
type jsKey struct {
	s   string // the property name (String(number) for numbers)
	num bool
	n   float64
}

func getkey(k string) jsKey {
	n := jsnum.Number(k)
	if math.IsNaN(n) {
		return jsKey{s: k}
	}
	return jsKey{s: string(jsnum.Append(nil, n)), num: true, n: n}
}

// jsGet is recipient[key] for an object or array recipient.
func jsGet(r value, k jsKey) (value, bool) {
	switch r.k {
	case kObj:
		if v, ok := r.obj.get(k.s); ok {
			return v, true
		}
		if objectProtoNames[k.s] {
			return value{k: kFunc, s: k.s}, true
		}
	case kArr:
		if i, ok := arrayIndex(k.s); ok {
			if int(i) < len(r.arr) && r.arr[i].k != kUndef {
				return r.arr[i], true
			}
			return undef, false
		}
		if k.s == "length" {
			return value{k: kNum, n: float64(len(r.arr))}, true
		}
		if objectProtoNames[k.s] {
			return value{k: kFunc, s: k.s}, true
		}
	}
	return undef, false
}

// jsSet is recipient[key] = v. Non-index properties of arrays are not
// kept: JSON.stringify does not print them (a documented approximation for
// the later conditions of the same where, which could still see them).
func jsSet(r *value, k jsKey, v value) bool {
	switch r.k {
	case kObj:
		r.obj.set(k.s, v)
	case kArr:
		i, ok := arrayIndex(k.s)
		if !ok {
			return true
		}
		if i >= maxArrayIndex {
			return false
		}
		for int(i) >= len(r.arr) {
			r.arr = append(r.arr, undef)
		}
		r.arr[i] = v
	}
	return true
}

// jsRef returns a pointer to recipient[key] for descending into it.
func jsRef(r *value, k jsKey) *value {
	switch r.k {
	case kObj:
		if i := r.obj.find(k.s); i >= 0 {
			return &r.obj.m[i].val
		}
	case kArr:
		if i, ok := arrayIndex(k.s); ok && int(i) < len(r.arr) {
			return &r.arr[i]
		}
	}
	return nil
}
