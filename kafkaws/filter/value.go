package filter

import (
	"math"
	"sort"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// kind is the JavaScript type of a decoded value. kUndef doubles as an
// array hole, and kFunc stands for a method inherited from Object.prototype
// that a JavaScript property read would return (obj["toString"]).
type kind uint8

const (
	kUndef kind = iota
	kNull
	kBool
	kNum
	kStr
	kArr
	kObj
	kFunc
)

// value is JSON.parse's result modelled closely enough to replay what
// flat, json-mask and JSON.stringify do with it.
type value struct {
	k   kind
	b   bool
	n   float64
	s   string // string contents (WTF-8: lone surrogates kept), or the function name
	arr []value
	obj *object
}

type member struct {
	key string
	val value
}

// object keeps JavaScript's property order: array-index keys first in
// ascending order, then the other keys in insertion order.
type object struct {
	m    []member
	nIdx int            // the first nIdx members have array-index keys
	idx  map[string]int // built lazily for large objects, so set stays O(1)
}

var undef = value{}

func (o *object) find(key string) int {
	if len(o.m) > 32 {
		if o.idx == nil {
			o.idx = make(map[string]int, len(o.m))
			for i := range o.m {
				o.idx[o.m[i].key] = i
			}
		}
		if i, ok := o.idx[key]; ok {
			return i
		}
		return -1
	}
	for i := range o.m {
		if o.m[i].key == key {
			return i
		}
	}
	return -1
}

func (o *object) get(key string) (value, bool) {
	if i := o.find(key); i >= 0 {
		return o.m[i].val, true
	}
	return undef, false
}

// set assigns like obj[key] = v: an existing key keeps its place.
func (o *object) set(key string, v value) {
	if i := o.find(key); i >= 0 {
		o.m[i].val = v
		return
	}
	idx, isIdx := arrayIndex(key)
	if !isIdx {
		if o.idx != nil {
			o.idx[key] = len(o.m)
		}
		o.m = append(o.m, member{key, v})
		return
	}
	pos := o.nIdx
	if last, _ := arrayIndex(o.keyAt(o.nIdx - 1)); o.nIdx > 0 && last > idx {
		pos = sort.Search(o.nIdx, func(i int) bool {
			j, _ := arrayIndex(o.m[i].key)
			return j > idx
		})
	}
	o.nIdx++
	if pos == len(o.m) { // the usual case: keys come in JavaScript order
		if o.idx != nil {
			o.idx[key] = pos
		}
		o.m = append(o.m, member{key, v})
		return
	}
	o.idx = nil // positions shift
	o.m = append(o.m, member{})
	copy(o.m[pos+1:], o.m[pos:])
	o.m[pos] = member{key, v}
}

func (o *object) keyAt(i int) string {
	if i < 0 {
		return ""
	}
	return o.m[i].key
}

// sortIndexKeys moves array-index keys to the front in ascending order, the
// order JSON.parse gives them; the decoder appends keys as they come.
func (o *object) sortIndexKeys() {
	sort.SliceStable(o.m, func(i, j int) bool {
		a, ai := arrayIndex(o.m[i].key)
		b, bi := arrayIndex(o.m[j].key)
		if ai && bi {
			return a < b
		}
		return ai && !bi
	})
	o.nIdx = 0
	for o.nIdx < len(o.m) {
		if _, ok := arrayIndex(o.m[o.nIdx].key); !ok {
			break
		}
		o.nIdx++
	}
	o.idx = nil
}

// arrayIndex reports whether key is a canonical array index ("0", "17",
// below 2^32-1), the keys JavaScript orders first.
func arrayIndex(key string) (uint32, bool) {
	if key == "" || len(key) > 10 || (key[0] == '0' && len(key) > 1) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n >= math.MaxUint32 {
		return 0, false
	}
	return uint32(n), true
}

// objectProtoNames are the properties every JavaScript object inherits;
// obj[name] yields a function for them, which json-mask and flat observe.
var objectProtoNames = map[string]bool{
	"constructor": true, "hasOwnProperty": true, "isPrototypeOf": true,
	"propertyIsEnumerable": true, "toLocaleString": true, "toString": true,
	"valueOf": true, "__defineGetter__": true, "__defineSetter__": true,
	"__lookupGetter__": true, "__lookupSetter__": true, "__proto__": true,
}

// maxDepth bounds nesting: dojot recurses (flat, json-mask, JSON.stringify)
// and drops a message that overflows its stack; we drop it earlier.
const maxDepth = 2000

// decoder is a JSON.parse for the message bytes. Node decodes the Kafka
// value as UTF-8 with replacement characters first, so invalid bytes inside
// strings become U+FFFD; anything JSON.parse rejects makes dojot drop the
// message.
type decoder struct {
	buf []byte
	pos int
	// irregular is set when flat/unflatten would not give the value back
	// unchanged (see regular in flat.go).
	irregular bool
	depth     int
}

func decode(b []byte) (value, bool, bool) {
	d := decoder{buf: b}
	d.ws()
	v, ok := d.value(true)
	if !ok {
		return undef, false, false
	}
	d.ws()
	if d.pos != len(d.buf) {
		return undef, false, false
	}
	if v.k != kObj {
		d.irregular = true
	}
	return v, !d.irregular, true
}

func (d *decoder) ws() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) lit(s string) bool {
	if len(d.buf)-d.pos >= len(s) && string(d.buf[d.pos:d.pos+len(s)]) == s {
		d.pos += len(s)
		return true
	}
	return false
}

func (d *decoder) value(top bool) (value, bool) {
	if d.pos >= len(d.buf) {
		return undef, false
	}
	switch c := d.buf[d.pos]; {
	case c == '{':
		return d.object(top)
	case c == '[':
		return d.array()
	case c == '"':
		s, ok := d.str()
		return value{k: kStr, s: s}, ok
	case c == 't':
		return value{k: kBool, b: true}, d.lit("true")
	case c == 'f':
		return value{k: kBool}, d.lit("false")
	case c == 'n':
		return value{k: kNull}, d.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return d.num()
	}
	return undef, false
}

func (d *decoder) num() (value, bool) {
	start := d.pos
	if d.buf[d.pos] == '-' {
		d.pos++
	}
	digits := func() int {
		n := 0
		for d.pos < len(d.buf) && d.buf[d.pos] >= '0' && d.buf[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	if d.pos < len(d.buf) && d.buf[d.pos] == '0' {
		d.pos++
	} else if digits() == 0 {
		return undef, false
	}
	if d.pos < len(d.buf) && d.buf[d.pos] == '.' {
		d.pos++
		if digits() == 0 {
			return undef, false
		}
	}
	if d.pos < len(d.buf) && (d.buf[d.pos] == 'e' || d.buf[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.buf) && (d.buf[d.pos] == '+' || d.buf[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return undef, false
		}
	}
	// ParseFloat rounds like JSON.parse and gives ±Inf on overflow, as
	// JavaScript does (JSON.stringify later prints those as null).
	f, err := strconv.ParseFloat(string(d.buf[start:d.pos]), 64)
	if err != nil && !math.IsInf(f, 0) {
		return undef, false
	}
	return value{k: kNum, n: f}, true
}

func hexv(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return rune(c-'A') + 10
	}
	return -1
}

func (d *decoder) hex4() (rune, bool) {
	if len(d.buf)-d.pos < 4 {
		return 0, false
	}
	var r rune
	for i := 0; i < 4; i++ {
		h := hexv(d.buf[d.pos+i])
		if h < 0 {
			return 0, false
		}
		r = r<<4 | h
	}
	d.pos += 4
	return r, true
}

// appendWTF8 encodes r, keeping a lone surrogate as its 3-byte form so that
// the encoder can print it back as \udxxx like JSON.stringify.
func appendWTF8(b []byte, r rune) []byte {
	if r >= 0xD800 && r <= 0xDFFF {
		return append(b, 0xED, byte(0x80|(r>>6)&0x3F), byte(0x80|r&0x3F))
	}
	return utf8.AppendRune(b, r)
}

func (d *decoder) str() (string, bool) {
	d.pos++ // opening quote
	start := d.pos
	// Fast path: no escapes and valid ASCII/UTF-8.
	for d.pos < len(d.buf) {
		c := d.buf[d.pos]
		if c == '"' {
			s := d.buf[start:d.pos]
			d.pos++
			if utf8.Valid(s) {
				if len(s) == 0 {
					return "", true
				}
				// No copy: the tree lives only while Apply runs and the
				// caller's bytes do not change meanwhile; what Apply keeps
				// (its output) is encoded into a new buffer.
				return unsafe.String(&s[0], len(s)), true
			}
			return d.slowStr(s)
		}
		if c == '\\' || c < 0x20 {
			break
		}
		d.pos++
	}
	var out []byte
	out = append(out, d.buf[start:d.pos]...)
	for d.pos < len(d.buf) {
		c := d.buf[d.pos]
		switch {
		case c == '"':
			d.pos++
			if !utf8.Valid(out) {
				return d.slowStr(out)
			}
			return string(out), true
		case c < 0x20:
			return "", false
		case c != '\\':
			out = append(out, c)
			d.pos++
			continue
		}
		d.pos++
		if d.pos >= len(d.buf) {
			return "", false
		}
		e := d.buf[d.pos]
		d.pos++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", false
			}
			if r >= 0xD800 && r < 0xDC00 && len(d.buf)-d.pos >= 6 && d.buf[d.pos] == '\\' && d.buf[d.pos+1] == 'u' {
				save := d.pos
				d.pos += 2
				if r2, ok := d.hex4(); ok && r2 >= 0xDC00 && r2 <= 0xDFFF {
					out = utf8.AppendRune(out, 0x10000+(r-0xD800)<<10+(r2-0xDC00))
					continue
				}
				d.pos = save
			}
			out = appendWTF8(out, r)
		default:
			return "", false
		}
	}
	return "", false
}

// slowStr replaces invalid UTF-8 bytes with U+FFFD, keeping the encoded lone
// surrogates that escapes produced.
func (d *decoder) slowStr(s []byte) (string, bool) {
	out := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		if s[i] == 0xED && i+2 < len(s) && s[i+1] >= 0xA0 && s[i+1] <= 0xBF && s[i+2]&0xC0 == 0x80 {
			out = append(out, s[i:i+3]...)
			i += 3
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n <= 1 {
			out = append(out, "\uFFFD"...)
			i++
			continue
		}
		out = append(out, s[i:i+n]...)
		i += n
	}
	return string(out), true
}

func (d *decoder) array() (value, bool) {
	d.pos++
	d.depth++
	if d.depth > maxDepth {
		return undef, false
	}
	defer func() { d.depth-- }()
	var arr []value
	d.ws()
	if d.pos < len(d.buf) && d.buf[d.pos] == ']' {
		d.pos++
		return value{k: kArr, arr: []value{}}, true
	}
	for {
		d.ws()
		v, ok := d.value(false)
		if !ok {
			return undef, false
		}
		arr = append(arr, v)
		d.ws()
		if d.pos >= len(d.buf) {
			return undef, false
		}
		switch d.buf[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return value{k: kArr, arr: arr}, true
		default:
			return undef, false
		}
	}
}

func (d *decoder) object(top bool) (value, bool) {
	d.pos++
	d.depth++
	if d.depth > maxDepth {
		return undef, false
	}
	defer func() { d.depth-- }()
	o := &object{m: make([]member, 0, 8)}
	hasIdx := false
	defer func() {
		if hasIdx {
			o.sortIndexKeys()
		}
	}()
	d.ws()
	if d.pos < len(d.buf) && d.buf[d.pos] == '}' {
		d.pos++
		return value{k: kObj, obj: o}, true
	}
	for {
		d.ws()
		if d.pos >= len(d.buf) || d.buf[d.pos] != '"' {
			return undef, false
		}
		key, ok := d.str()
		if !ok {
			return undef, false
		}
		if !d.irregular && !regularKey(key, top) {
			d.irregular = true
		}
		d.ws()
		if d.pos >= len(d.buf) || d.buf[d.pos] != ':' {
			return undef, false
		}
		d.pos++
		d.ws()
		v, ok := d.value(false)
		if !ok {
			return undef, false
		}
		// A duplicate keeps its first place and takes the last value, as in
		// JSON.parse.
		if i := o.find(key); i >= 0 {
			o.m[i].val = v
		} else {
			if _, isIdx := arrayIndex(key); isIdx {
				hasIdx = true
			}
			if o.idx != nil {
				o.idx[key] = len(o.m)
			}
			o.m = append(o.m, member{key, v})
		}
		d.ws()
		if d.pos >= len(d.buf) {
			return undef, false
		}
		switch d.buf[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return value{k: kObj, obj: o}, true
		default:
			return undef, false
		}
	}
}
