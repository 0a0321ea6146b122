package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// maxDepth bounds how deep a value or the metadata may nest: MongoDB
// refuses documents nested over 100 levels, and the history document
// itself is one of them.
const maxDepth = 90

// errUnstorable: a JSON value the persister cannot store as BSON.
var errUnstorable = errors.New("not storable in MongoDB")

// bsonOf converts a JSON value to what dojot's persister stores of it
// (pymongo writing what Python's json read): a number written as an
// integer is an int64, any other number a double; objects are bson.D in
// their key order, a key given twice keeping its first place and its last
// value, as a Python dict does. It refuses what MongoDB cannot store: keys
// that start with "$", hold "." or NUL (pymongo refused them too),
// numbers beyond a double, nesting deeper than maxDepth.
func bsonOf(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := bsonValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("%w: trailing data", errUnstorable)
	}
	return v, nil
}

func bsonValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: nested over %d levels", errUnstorable, maxDepth)
	}
	t, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUnstorable, err)
	}
	switch t := t.(type) {
	case json.Delim:
		if t == '[' {
			a := bson.A{}
			for dec.More() {
				v, err := bsonValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := dec.Token()
			return a, err
		}
		d := bson.D{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, fmt.Errorf("%w: %v", errUnstorable, err)
			}
			key := kt.(string)
			if strings.HasPrefix(key, "$") || strings.ContainsAny(key, ".\x00") {
				return nil, fmt.Errorf("%w: key %q (a $ prefix, a dot or NUL)", errUnstorable, key)
			}
			v, err := bsonValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			if i := slicesIndexKey(d, key); i >= 0 {
				d[i].Value = v
				continue
			}
			d = append(d, bson.E{Key: key, Value: v})
		}
		_, err := dec.Token()
		return d, err
	case json.Number:
		s := string(t)
		if !strings.ContainsAny(s, ".eE") {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n, nil
			}
			// Beyond int64 (pymongo cannot store it either): a double.
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: number %s", errUnstorable, s)
		}
		return f, nil
	default: // string, bool, nil
		return t, nil
	}
}

func slicesIndexKey(d bson.D, key string) int {
	for i := range d {
		if d[i].Key == key {
			return i
		}
	}
	return -1
}

// appendJSON renders a stored BSON value as JSON, as dojot's History
// prints it (Python's json of what pymongo read): integers as integers,
// doubles as Python's repr (1.0, 1e+16), documents in their key order.
// A date is its ISO text (FormatTS) and other BSON types their extended
// JSON text, as strings; NaN and infinities, which JSON lacks, are null.
func appendJSON(b []byte, v bson.RawValue) ([]byte, error) {
	switch v.Type {
	case bson.TypeDouble:
		return appendPyFloat(b, v.Double()), nil
	case bson.TypeInt32:
		return strconv.AppendInt(b, int64(v.Int32()), 10), nil
	case bson.TypeInt64:
		return strconv.AppendInt(b, v.Int64(), 10), nil
	case bson.TypeString:
		return appendString(b, v.StringValue()), nil
	case bson.TypeBoolean:
		return strconv.AppendBool(b, v.Boolean()), nil
	case bson.TypeNull, bson.TypeUndefined, 0:
		return append(b, "null"...), nil
	case bson.TypeDateTime:
		return appendString(b, FormatTS(v.Time())), nil
	case bson.TypeEmbeddedDocument:
		elems, err := v.Document().Elements()
		if err != nil {
			return nil, err
		}
		b = append(b, '{')
		for i, e := range elems {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, e.Key())
			b = append(b, ':')
			if b, err = appendJSON(b, e.Value()); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case bson.TypeArray:
		vals, err := v.Array().Values()
		if err != nil {
			return nil, err
		}
		b = append(b, '[')
		for i, e := range vals {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	default:
		return appendString(b, v.String()), nil
	}
}

// appendPyFloat appends f as Python's repr(float) writes it: the
// shortest digits that read back as f, fixed-point with at least one
// decimal ("1.0", "0.0001") when the decimal exponent is in [-4, 16),
// else scientific with a signed exponent of two digits or more ("1e+16",
// "1.5e-05").
func appendPyFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	if f == 0 {
		if math.Signbit(f) {
			return append(b, "-0.0"...)
		}
		return append(b, "0.0"...)
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // -d.ddde±XX
	mant, exps, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(exps)
	if exp >= -4 && exp < 16 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		b = append(b, s...)
		if !strings.Contains(s, ".") {
			b = append(b, ".0"...)
		}
		return b
	}
	b = append(b, mant...)
	b = append(b, 'e')
	if exp < 0 {
		b = append(b, '-')
		exp = -exp
	} else {
		b = append(b, '+')
	}
	if exp < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(exp), 10)
}

// appendString appends s as a JSON string the way encoding/json writes it,
// without its HTML escaping (dojot's History does not escape <, > and &).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c >= 0x20:
				b = append(b, c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
