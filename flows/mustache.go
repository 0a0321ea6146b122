package flows

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// The template node renders Handlebars 4 and Mustache 2 templates as dojot
// does (FLOWS.md 4.4). No maintained Go library matches JavaScript's
// output (numbers as Number#toString, objects as "[object Object]",
// arrays joined by ",", Handlebars' and Mustache's own escape sets) and
// dojot's two helpers, so this is the subset flows use, written here:
// variables {{a.b}} (escaped), {{{a.b}}} and {{&a.b}} (raw), comments,
// sections {{#a}}…{{/a}} and inverted sections {{^a}}…{{/a}} with
// Mustache's list/object/truthy rules, and for Handlebars the block
// helpers if, unless, each (@index, @key, this) and with, {{else}},
// ../ paths, and dojot's helpers stringify and parseAndSelect.
// Not supported (refused when the flow is saved): partials, set
// delimiters, other helpers. Whitespace control (~) is accepted and
// ignored, and standalone lines are not stripped. As in Handlebars, a
// number segment ("list.0") is a parse error there ("list.[0]" works);
// Mustache takes "list.0". Objects decoded from JSON lose their key
// order, so {{#each obj}} visits keys sorted and stringify prints them
// sorted (payloadMetadata keeps dojot's order). testdata/golden.json
// holds what handlebars 4.7.6 and mustache 2.3.2 answer for a set of
// templates; TestGolden checks this engine against it.

type tmplKind int

const (
	tText tmplKind = iota
	tVar
	tRaw
	tSection
	tInverted
	tHelper // {{helper args}} / {{{helper args}}}
)

type tmplNode struct {
	kind   tmplKind
	text   string // text, or the name / helper / block helper name
	args   []tmplArg
	raw    bool // helper output not escaped
	body   []tmplNode
	inv    []tmplNode // {{else}} part
	helper string     // block helper (if, unless, each, with) or ""
}

type tmplArg struct {
	path    string
	literal *string
}

type template struct {
	handlebars bool
	nodes      []tmplNode
}

func parseTemplate(src string, handlebars bool) (*template, error) {
	p := &tmplParser{src: src, hb: handlebars}
	nodes, end, err := p.parse("")
	if err != nil {
		return nil, err
	}
	if end != "" {
		return nil, fmt.Errorf("unexpected {{/%s}}", end)
	}
	return &template{handlebars: handlebars, nodes: nodes}, nil
}

type tmplParser struct {
	src string
	pos int
	hb  bool
}

// parse reads nodes until {{/name}} (returned) or the end.
func (p *tmplParser) parse(open string) (nodes []tmplNode, closed string, err error) {
	for p.pos < len(p.src) {
		i := strings.Index(p.src[p.pos:], "{{")
		if i < 0 {
			nodes = append(nodes, tmplNode{kind: tText, text: p.src[p.pos:]})
			p.pos = len(p.src)
			break
		}
		if i > 0 {
			nodes = append(nodes, tmplNode{kind: tText, text: p.src[p.pos : p.pos+i]})
		}
		p.pos += i
		triple := strings.HasPrefix(p.src[p.pos:], "{{{")
		closeTag, start := "}}", p.pos+2
		if triple {
			closeTag, start = "}}}", p.pos+3
		}
		j := strings.Index(p.src[start:], closeTag)
		if j < 0 {
			return nil, "", fmt.Errorf("unclosed tag at offset %d", p.pos)
		}
		tag := strings.TrimSpace(strings.Trim(strings.TrimSpace(p.src[start:start+j]), "~"))
		p.pos = start + j + len(closeTag)
		if triple {
			if tag == "" {
				return nil, "", fmt.Errorf("empty tag at offset %d", p.pos)
			}
			n, err := p.expr(tag, true)
			if err != nil {
				return nil, "", err
			}
			nodes = append(nodes, n)
			continue
		}
		if tag == "" {
			return nil, "", fmt.Errorf("empty tag at offset %d", p.pos)
		}
		sigil, rest := tag[0], strings.TrimSpace(tag[1:])
		if rest == "" && strings.IndexByte("#^/&>=", sigil) >= 0 {
			return nil, "", fmt.Errorf("empty tag at offset %d", p.pos)
		}
		switch sigil {
		case '!':
			continue
		case '&':
			n, err := p.expr(rest, true)
			if err != nil {
				return nil, "", err
			}
			nodes = append(nodes, n)
		case '#', '^':
			n := tmplNode{kind: tSection, text: rest}
			if sigil == '^' {
				n.kind = tInverted
			}
			name := rest
			if p.hb && !strings.ContainsAny(rest, " \t") {
				var err error
				if n.text, err = p.path(rest); err != nil {
					return nil, "", err
				}
			}
			if p.hb && sigil == '#' {
				fields := strings.Fields(rest)
				switch fields[0] {
				case "if", "unless", "each", "with":
					if len(fields) != 2 {
						return nil, "", fmt.Errorf("{{#%s}} takes one argument", fields[0])
					}
					arg, err := p.path(fields[1])
					if err != nil {
						return nil, "", err
					}
					n.helper, n.text, name = fields[0], arg, fields[0]
				default:
					if len(fields) > 1 {
						return nil, "", fmt.Errorf("unknown block helper %q", fields[0])
					}
				}
			}
			body, end, err := p.parse(name)
			if err != nil {
				return nil, "", err
			}
			if end != name {
				return nil, "", fmt.Errorf("{{#%s}} is not closed", name)
			}
			n.body = body
			if p.hb {
				for k, b := range body {
					if b.kind == tVar && b.text == "else" {
						n.body, n.inv = body[:k], body[k+1:]
						break
					}
				}
			}
			nodes = append(nodes, n)
		case '/':
			if rest != open {
				return nil, "", fmt.Errorf("{{/%s}} closes {{#%s}}", rest, open)
			}
			return nodes, rest, nil
		case '>':
			return nil, "", fmt.Errorf("partials are not supported")
		case '=':
			return nil, "", fmt.Errorf("set delimiters are not supported")
		default:
			if tag == "else" && p.hb {
				nodes = append(nodes, tmplNode{kind: tVar, text: "else"})
				continue
			}
			n, err := p.expr(tag, false)
			if err != nil {
				return nil, "", err
			}
			nodes = append(nodes, n)
		}
	}
	if open != "" {
		return nil, "", fmt.Errorf("{{#%s}} is not closed", open)
	}
	return nodes, "", nil
}

// expr is a variable or, in Handlebars, a helper call.
func (p *tmplParser) expr(tag string, raw bool) (tmplNode, error) {
	kind := tVar
	if raw {
		kind = tRaw
	}
	if !p.hb || !strings.ContainsAny(tag, " \t\"'") {
		name, err := p.path(tag)
		return tmplNode{kind: kind, text: name}, err
	}
	fields, err := splitArgs(tag)
	if err != nil {
		return tmplNode{}, err
	}
	switch fields[0].path {
	case "stringify":
		if len(fields) != 2 {
			return tmplNode{}, fmt.Errorf("stringify takes one argument")
		}
	case "parseAndSelect":
		if len(fields) != 3 {
			return tmplNode{}, fmt.Errorf("parseAndSelect takes two arguments")
		}
	default:
		return tmplNode{}, fmt.Errorf("unknown helper %q", fields[0].path)
	}
	for i := range fields[1:] {
		if a := &fields[1+i]; a.literal == nil {
			if a.path, err = p.path(a.path); err != nil {
				return tmplNode{}, err
			}
		}
	}
	return tmplNode{kind: tHelper, text: fields[0].path, args: fields[1:], raw: raw}, nil
}

// numberSegment is what Handlebars' lexer reads as a NUMBER.
var numberSegment = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// path checks a Handlebars path as its parser does: a number after a dot
// ("list.0") is a parse error, a segment literal ("list.[0]") is the way
// to name an index. Mustache paths pass as they are.
func (p *tmplParser) path(name string) (string, error) {
	if !p.hb || name == "." || name == "this" || strings.HasPrefix(name, "@") {
		return name, nil
	}
	rest := name
	for strings.HasPrefix(rest, "../") {
		rest = rest[3:]
	}
	segs := strings.Split(rest, ".")
	for i, seg := range segs {
		switch {
		case len(seg) > 1 && seg[0] == '[' && seg[len(seg)-1] == ']':
			segs[i] = seg[1 : len(seg)-1]
		case i > 0 && numberSegment.MatchString(seg):
			return "", fmt.Errorf("parse error in %q: expecting 'ID', got 'NUMBER' (write %s.[%s])", name, strings.Join(segs[:i], "."), seg)
		}
	}
	return name[:len(name)-len(rest)] + strings.Join(segs, "."), nil
}

func splitArgs(s string) ([]tmplArg, error) {
	var out []tmplArg
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if q := s[0]; q == '"' || q == '\'' {
			end := strings.IndexByte(s[1:], q)
			if end < 0 {
				return nil, fmt.Errorf("unterminated string in %q", s)
			}
			lit := s[1 : end+1]
			out = append(out, tmplArg{literal: &lit})
			s = s[end+2:]
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		out = append(out, tmplArg{path: s[:end]})
		s = s[end:]
	}
	return out, nil
}

// tmplFrame is one context of the stack, with Handlebars' @ data. The
// root frame may carry extra top-level names (the template node's
// payloadMetadata), which hide the value's own names as dojot's
// assignment to its copy did, so rendering needs no copy of the message.
type tmplFrame struct {
	v     any
	data  map[string]any
	extra map[string]any
}

func (t *template) render(v any) (string, error) { return t.renderWith(v, nil) }

// renderWith renders with extra top-level names beside v's.
func (t *template) renderWith(v any, extra map[string]any) (string, error) {
	var sb strings.Builder
	err := t.renderNodes(&sb, t.nodes, []tmplFrame{{v: v, extra: extra}})
	return sb.String(), err
}

func (t *template) renderNodes(sb *strings.Builder, nodes []tmplNode, stack []tmplFrame) error {
	for _, n := range nodes {
		switch n.kind {
		case tText:
			sb.WriteString(n.text)
		case tVar, tRaw:
			v := t.resolve(n.text, stack)
			s := t.display(v)
			if n.kind == tVar {
				s = t.escape(s)
			}
			sb.WriteString(s)
		case tHelper:
			s, err := t.helper(n, stack)
			if err != nil {
				return err
			}
			if !n.raw {
				s = t.escape(s)
			}
			sb.WriteString(s)
		case tInverted:
			if v := t.resolve(n.text, stack); !t.blockTruthy(v) {
				if err := t.renderNodes(sb, n.body, stack); err != nil {
					return err
				}
			}
		case tSection:
			if err := t.section(sb, n, stack); err != nil {
				return err
			}
		}
	}
	return nil
}

func sectionTruthy(v any) bool {
	if a, ok := v.([]any); ok {
		return len(a) > 0
	}
	return jsTruthy(v)
}

func (t *template) section(sb *strings.Builder, n tmplNode, stack []tmplFrame) error {
	v := t.resolve(n.text, stack)
	switch n.helper {
	case "if", "unless":
		// Handlebars' if is false for an empty array, as sections are.
		if sectionTruthy(v) == (n.helper == "if") {
			return t.renderNodes(sb, n.body, stack)
		}
		return t.renderNodes(sb, n.inv, stack)
	case "with":
		if !sectionTruthy(v) {
			return t.renderNodes(sb, n.inv, stack)
		}
		return t.renderNodes(sb, n.body, append(stack, tmplFrame{v: v}))
	case "each":
		return t.each(sb, n, v, stack)
	}
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			return t.renderNodes(sb, n.inv, stack)
		}
		return t.each(sb, n, v, stack)
	case map[string]any:
		return t.renderNodes(sb, n.body, append(stack, tmplFrame{v: x}))
	case bool:
		if x {
			return t.renderNodes(sb, n.body, stack) // true keeps the context
		}
	}
	if !t.blockTruthy(v) {
		return t.renderNodes(sb, n.inv, stack)
	}
	return t.renderNodes(sb, n.body, append(stack, tmplFrame{v: v}))
}

// blockTruthy is whether a section renders its body: Mustache skips every
// falsy value and empty lists; Handlebars' blockHelperMissing skips only
// false, null, undefined and empty arrays (0 and "" render, with the value
// as context).
func (t *template) blockTruthy(v any) bool {
	if !t.handlebars {
		return sectionTruthy(v)
	}
	switch x := v.(type) {
	case nil, undefined:
		return false
	case bool:
		return x
	case []any:
		return len(x) > 0
	}
	return true
}

func (t *template) each(sb *strings.Builder, n tmplNode, v any, stack []tmplFrame) error {
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			return t.renderNodes(sb, n.inv, stack)
		}
		for i, e := range x {
			f := tmplFrame{v: e, data: map[string]any{"index": float64(i), "first": i == 0, "last": i == len(x)-1}}
			if err := t.renderNodes(sb, n.body, append(stack, f)); err != nil {
				return err
			}
		}
	case orderedObject:
		for i, k := range x.keys {
			f := tmplFrame{v: x.m[k], data: map[string]any{"key": k, "index": float64(i), "first": i == 0, "last": i == len(x.keys)-1}}
			if err := t.renderNodes(sb, n.body, append(stack, f)); err != nil {
				return err
			}
		}
	case map[string]any:
		if len(x) == 0 {
			return t.renderNodes(sb, n.inv, stack)
		}
		for i, k := range sortedMapKeys(x) { // JavaScript keeps insertion order, lost by decoding; sorted is stable
			f := tmplFrame{v: x[k], data: map[string]any{"key": k, "index": float64(i), "first": i == 0, "last": i == len(x)-1}}
			if err := t.renderNodes(sb, n.body, append(stack, f)); err != nil {
				return err
			}
		}
	default:
		return t.renderNodes(sb, n.inv, stack)
	}
	return nil
}

func sortedMapKeys(m map[string]any) []string {
	keys := make(map[string]bool, len(m))
	for k := range m {
		keys[k] = true
	}
	return sortedKeys(keys)
}

func (t *template) helper(n tmplNode, stack []tmplFrame) (string, error) {
	args := make([]any, len(n.args))
	for i, a := range n.args {
		if a.literal != nil {
			args[i] = *a.literal
		} else {
			args[i] = t.resolve(a.path, stack)
		}
	}
	switch n.text {
	case "stringify":
		return jsonStringify(args[0]), nil
	default: // parseAndSelect: JSON.stringify(JSON.parse(str)[key]) + "}", dojot's stray brace included
		var parsed any
		if err := json.Unmarshal([]byte(jsString(args[0])), &parsed); err != nil {
			return "", fmt.Errorf("parseAndSelect: %w", err)
		}
		sel := undef
		if c, ok := child(parsed, jsString(args[1])); ok {
			sel = c
		}
		if sel == undef {
			return "undefined}", nil // JSON.stringify(undefined) + "}"
		}
		return jsonStringify(sel) + "}", nil
	}
}

// resolve looks a name up: Mustache walks the context stack for the first
// context where the whole dotted name resolves; Handlebars looks only in
// the current context (../ goes up), as Handlebars 4 does without compat.
func (t *template) resolve(name string, stack []tmplFrame) any {
	top := len(stack) - 1
	if name == "." || name == "this" {
		return stack[top].whole()
	}
	if t.handlebars {
		for strings.HasPrefix(name, "../") {
			name = name[3:]
			if top > 0 {
				top--
			}
		}
		name = strings.TrimPrefix(name, "this.")
		if strings.HasPrefix(name, "@") {
			for i := top; i >= 0; i-- {
				if stack[i].data != nil {
					if v, ok := stack[i].data[name[1:]]; ok {
						return v
					}
				}
			}
			return undef
		}
		return stack[top].walk(name)
	}
	for i := top; i >= 0; i-- {
		if v := stack[i].walk(name); v != undef {
			return v
		}
	}
	return undef
}

// walk resolves a dotted name in the frame.
func (f tmplFrame) walk(name string) any {
	v := f.v
	if f.extra != nil {
		first, _, _ := strings.Cut(name, ".")
		if _, ok := f.extra[first]; ok {
			v = f.extra
		}
	}
	return walk(v, name)
}

// whole is the frame's value as "this": with the extra names merged in.
func (f tmplFrame) whole() any {
	m, ok := f.v.(map[string]any)
	if f.extra == nil || !ok {
		return f.v
	}
	out := make(map[string]any, len(m)+len(f.extra))
	for k, v := range m {
		out[k] = v
	}
	for k, v := range f.extra {
		out[k] = v
	}
	return out
}

func walk(v any, name string) any {
	for {
		seg, rest, more := strings.Cut(name, ".")
		c, ok := child(v, seg)
		if !ok {
			return undef
		}
		v = c
		if !more {
			return v
		}
		name = rest
	}
}

// display is how both engines print a value: null and undefined as
// nothing, everything else as String(v).
func (t *template) display(v any) string {
	if v == nil || v == undef {
		return ""
	}
	return jsString(v)
}

var (
	hbEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;", "`", "&#x60;", "=", "&#x3D;")
	muEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;", "/", "&#x2F;", "`", "&#x60;", "=", "&#x3D;")
)

func (t *template) escape(s string) string {
	if t.handlebars {
		return hbEscaper.Replace(s)
	}
	return muEscaper.Replace(s)
}
