package filter

// This file is json-mask 1.0.4 (lib/compiler.js, lib/filter.js), the
// library dojot's ProcessingRule applies `fields` with.

type maskProp struct {
	key    string
	array  bool // NAME "(" ... ")": typeFunc is _array
	sub    *maskObj
	hasSub bool
}

// maskObj is a compiled mask: an object whose key order is JavaScript's
// (array-index names first), as `for (key in mask)` visits it.
type maskObj struct {
	props []maskProp
}

func (m *maskObj) set(p maskProp) {
	for i := range m.props {
		if m.props[i].key == p.key {
			m.props[i] = p
			return
		}
	}
	idx, isIdx := arrayIndex(p.key)
	if !isIdx {
		m.props = append(m.props, p)
		return
	}
	pos := 0
	for pos < len(m.props) {
		j, ok := arrayIndex(m.props[pos].key)
		if !ok || j > idx {
			break
		}
		pos++
	}
	m.props = append(m.props, maskProp{})
	copy(m.props[pos+1:], m.props[pos:])
	m.props[pos] = p
}

type maskTok struct {
	tag  byte // 'n' name, or one of , / ( )
	name string
}

// compileMask is json-mask's compile; "" never reaches it (no fields).
func compileMask(text string) *maskObj {
	var toks []maskTok
	name := ""
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case ',', '/', '(', ')':
			if name != "" {
				toks = append(toks, maskTok{'n', name})
				name = ""
			}
			toks = append(toks, maskTok{tag: c})
		default:
			name += string(c)
		}
	}
	if name != "" {
		toks = append(toks, maskTok{'n', name})
	}
	return buildTree(&toks, &treeParent{})
}

type treeParent struct {
	hasChild bool
	array    bool
}

// buildTree is _buildTree, ported statement by statement.
func buildTree(toks *[]maskTok, parent *treeParent) *maskObj {
	props := &maskObj{}
	for len(*toks) > 0 {
		t := (*toks)[0]
		*toks = (*toks)[1:]
		switch t.tag {
		case 'n':
			tp := &treeParent{}
			sub := buildTree(toks, tp)
			p := maskProp{key: t.name, array: tp.array, sub: sub, hasSub: len(sub.props) > 0}
			if parent.hasChild {
				addToken(props, p)
				return props
			}
			addToken(props, p)
		case ',':
			return props
		case '(':
			parent.array = true
		case ')':
			return props
		case '/':
			parent.hasChild = true
		}
	}
	return props
}

func addToken(props *maskObj, p maskProp) {
	if p.key == "__proto__" {
		return // props["__proto__"] = ... sets the prototype, adds no key
	}
	if !p.hasSub {
		p.sub = nil
	}
	props.set(p)
}

// maskResult is a filter result: undefined (k == kUndef) is "no key".
// threw reports a TypeError (assigning to a property of undefined), which
// makes dojot drop the message.

// applyMask is mask(obj, fields): filter(obj, compiled) || null.
func applyMask(v value, m *maskObj) (value, bool) {
	var r value
	var ok bool
	if v.k == kArr {
		wrap := value{k: kObj, obj: &object{m: []member{{key: "_", val: v}}}}
		r, ok = properties(wrap, &maskObj{props: []maskProp{{key: "_", array: true, sub: m, hasSub: m != nil}}})
		if ok && r.k == kObj {
			r, _ = r.obj.get("_")
		}
	} else {
		r, ok = properties(v, m)
	}
	if !ok {
		return undef, false
	}
	if !truthy(r) {
		return value{k: kNull}, true
	}
	return r, true
}

// properties is _properties.
func properties(obj value, m *maskObj) (value, bool) {
	if !truthy(obj) || m == nil {
		return obj, true
	}
	var masked value // undefined for primitives: any assignment throws
	switch obj.k {
	case kArr:
		masked = value{k: kArr, arr: []value{}}
	case kObj, kFunc:
		masked = value{k: kObj, obj: &object{}}
	}
	assign := func(key string, v value) bool {
		switch masked.k {
		case kUndef:
			return false
		case kObj:
			if key != "__proto__" {
				masked.obj.set(key, v)
			}
		case kArr:
			if i, ok := arrayIndex(key); ok {
				if i >= maxArrayIndex {
					return false
				}
				for int(i) >= len(masked.arr) {
					masked.arr = append(masked.arr, undef)
				}
				masked.arr[i] = v
			} else if key == "length" && v.k == kNum {
				n := int(v.n)
				if n > maxArrayIndex {
					return false
				}
				for len(masked.arr) < n {
					masked.arr = append(masked.arr, undef)
				}
				masked.arr = masked.arr[:n]
			}
		}
		return true
	}
	for _, p := range m.props {
		if p.key == "*" {
			ret := &object{}
			bad := false
			each(obj, func(key string, child value) {
				if bad {
					return
				}
				r, ok := typeFunc(p)(child, p.sub)
				if ok && r.k != kUndef && masked.k == kUndef {
					ok = false // the assignment below would throw anyway
				}
				if !ok {
					bad = true
					return
				}
				if r.k != kUndef {
					ret.set(key, r)
				}
			})
			if bad {
				return undef, false
			}
			for _, rm := range ret.m {
				if !assign(rm.key, rm.val) {
					return undef, false
				}
			}
			continue
		}
		r, ok := typeFunc(p)(get(obj, p.key), p.sub)
		if !ok {
			return undef, false
		}
		if r.k != kUndef && !assign(p.key, r) {
			return undef, false
		}
	}
	return masked, true
}

// typeFunc picks _object or _array; both get v = obj[key] already read.
func typeFunc(p maskProp) func(value, *maskObj) (value, bool) {
	if p.array {
		return maskArray
	}
	return maskObject
}

// get is obj[key] as JavaScript reads it, for the values a message holds.
func get(obj value, key string) value {
	switch obj.k {
	case kObj:
		if v, ok := obj.obj.get(key); ok {
			return v
		}
	case kArr:
		if i, ok := arrayIndex(key); ok {
			if int(i) < len(obj.arr) {
				return obj.arr[i]
			}
			return undef
		}
		if key == "length" {
			return value{k: kNum, n: float64(len(obj.arr))}
		}
	case kStr:
		if key == "length" || key != "" && key[0] >= '0' && key[0] <= '9' {
			units := utf16Units(obj.s)
			if key == "length" {
				return value{k: kNum, n: float64(len(units))}
			}
			if i, ok := arrayIndex(key); ok && int(i) < len(units) {
				return value{k: kStr, s: units[i]}
			}
		}
	case kUndef, kNull:
		return undef
	}
	if objectProtoNames[key] && key != "__proto__" {
		return value{k: kFunc, s: key}
	}
	return undef
}

// maskObject is _object.
func maskObject(v value, m *maskObj) (value, bool) {
	if v.k == kArr {
		return maskArray(v, m)
	}
	if m != nil {
		return properties(v, m)
	}
	return v, true
}

// maskArray is _array.
func maskArray(arr value, m *maskObj) (value, bool) {
	if arr.k != kArr {
		return properties(arr, m)
	}
	if len(arr.arr) == 0 {
		return arr, true
	}
	ret := make([]value, 0, len(arr.arr))
	for _, e := range arr.arr {
		r, ok := properties(e, m)
		if !ok {
			return undef, false
		}
		if r.k != kUndef {
			ret = append(ret, r)
		}
	}
	if len(ret) == 0 {
		return undef, true
	}
	return value{k: kArr, arr: ret}, true
}
