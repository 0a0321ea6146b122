package mqtt

import (
	"bytes"
	"encoding/json"
)

// objectMember reports whether payload is one JSON object and returns the
// raw value of its top-level member key (the last one, as decoding into a
// map keeps), nil when there is none. It replaces json.Unmarshal into a
// map, which allocated every member of every reading only to read one:
// json.Valid checks the syntax without allocating, and on valid JSON the
// scan below only has to find where values end.
func objectMember(payload []byte, key string) (json.RawMessage, bool) {
	if !json.Valid(payload) {
		return nil, false
	}
	p := payload
	i := skipSpace(p, 0)
	if p[i] != '{' {
		return nil, false
	}
	var member json.RawMessage
	for i = skipSpace(p, i+1); p[i] != '}'; {
		end := skipString(p, i)
		name := p[i:end]
		i = skipSpace(p, skipSpace(p, end)+1) // past ':'
		vend := skipValue(p, i)
		if memberName(name, key) {
			member = p[i:vend]
		}
		if i = skipSpace(p, vend); p[i] == ',' {
			i = skipSpace(p, i+1)
		}
	}
	return member, true
}

// memberName reports whether the quoted JSON string q is key.
func memberName(q []byte, key string) bool {
	if bytes.IndexByte(q, '\\') < 0 {
		return string(q[1:len(q)-1]) == key
	}
	var s string
	return json.Unmarshal(q, &s) == nil && s == key
}

func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string that starts at i.
func skipString(p []byte, i int) int {
	for i++; p[i] != '"'; i++ {
		if p[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// skipValue returns the index just past the value that starts at i.
func skipValue(p []byte, i int) int {
	switch p[i] {
	case '"':
		return skipString(p, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch p[i] {
			case '"':
				i = skipString(p, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(p) && p[i] != ',' && p[i] != '}' && p[i] != ']' && p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r' {
		i++
	}
	return i
}
