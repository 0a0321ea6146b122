package flows

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/dojot-es/dojot"
)

// Problem is one reason a flow is invalid.
type Problem struct {
	Node   string `json:"node"` // node id ("" when the node has none, Index says which)
	Type   string `json:"type,omitempty"`
	Index  int    `json:"index"` // position in the flow array
	Reason string `json:"reason"`
}

// InvalidError lists every problem Parse found. It wraps dojot.ErrInvalid,
// so the gateway answers 400; the API puts dojot's "Given flow is invalid"
// in message and Problems in the detail.
type InvalidError struct {
	Problems []Problem
}

// maxProblems bounds the error of a huge broken flow.
const maxProblems = 50

func (e *InvalidError) Error() string { return "invalid flow: " + e.Detail() }

// Detail is the problems as one line ("node a: unknown node type \"x\";
// node b: ..."), for the detail of dojot's "Given flow is invalid".
func (e *InvalidError) Detail() string {
	var sb strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			sb.WriteString("; ")
		}
		if p.Node != "" {
			fmt.Fprintf(&sb, "node %s: %s", p.Node, p.Reason)
		} else {
			fmt.Fprintf(&sb, "node #%d: %s", p.Index, p.Reason)
		}
	}
	return sb.String()
}

func (e *InvalidError) Unwrap() error { return dojot.ErrInvalid }

// Graph is a parsed flow, ready to run. It is immutable and safe for
// concurrent runs.
type Graph struct {
	nodes []gnode
	index map[string]int
	heads []head

	// HeadIDs, Devices and Templates are what dojot stores beside the flow
	// (FLOWS.md 1.3) to find the flows an event may start: the ids of the
	// head nodes and the device and template ids they name, sorted and
	// de-duplicated.
	HeadIDs   []string
	Devices   []string
	Templates []string
}

type gnode struct {
	id, typ string
	node    Node // nil for tab, comment and head nodes: never executed
	ports   [][]int
	block   bool
}

// Events a head may listen to, as bits.
const (
	evPublish = 1 << iota
	evConfigure
	evCreate
	evUpdate
	evRemove
)

var eventBits = map[string]uint8{"publish": evPublish, "configure": evConfigure, "create": evCreate, "update": evUpdate, "remove": evRemove}

type head struct {
	id, typ  string
	device   string // event device in, device in
	template string // event template in, device template in
	events   uint8
	attrs    bool  // deprecated heads: payload = data.attrs
	targets  []int // every node of every port
}

// headTypes are dojot's input nodes; their handlers never run (FLOWS.md
// 3.2), the engine starts the run at their targets.
var headTypes = map[string]bool{"event device in": true, "event template in": true, "device in": true, "device template in": true}

// editorTypes are kept in the flow and never run.
var editorTypes = map[string]bool{"tab": true, "comment": true}

// Parse builds a Graph from a flow body (the node-RED array of FLOWS.md 2)
// and checks what dojot did not: every node has a unique id and a known
// type, its configuration has the required fields with the right types,
// regexes and templates compile, wires name existing runnable nodes, and
// event template in's template_id is a string. tab and comment nodes are
// kept but never run; a node without "wires" has no output ports and is
// never a head. On failure the error is an *InvalidError.
func Parse(nodes []json.RawMessage) (*Graph, error) {
	g := &Graph{nodes: make([]gnode, len(nodes)), index: make(map[string]int, len(nodes))}
	var problems []Problem
	add := func(p ...Problem) {
		problems = append(problems, p...)
	}
	wires := make([][][]string, len(nodes))
	hasWires := make([]bool, len(nodes))
	specs := make([]*spec, len(nodes))
	for i, raw := range nodes {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			add(Problem{Index: i, Reason: "not a JSON object"})
			continue
		}
		s := &spec{raw: obj}
		specs[i] = s
		if !s.into("id", &s.ID, "a string") || s.ID == "" {
			add(Problem{Index: i, Reason: "missing id"})
			continue
		}
		if _, dup := g.index[s.ID]; dup {
			add(Problem{Node: s.ID, Index: i, Reason: "duplicate id"})
			continue
		}
		g.index[s.ID] = i
		if !s.into("type", &s.Type, "a string") || s.Type == "" {
			add(Problem{Node: s.ID, Index: i, Reason: "missing type"})
			continue
		}
		g.nodes[i] = gnode{id: s.ID, typ: s.Type}
		if s.has("wires") {
			hasWires[i] = true
			if !s.into("wires", &wires[i], "an array of arrays of node ids") {
				hasWires[i] = false
			}
		}
	}
	for i, s := range specs {
		if s == nil || s.Type == "" || g.nodes[i].id == "" {
			continue
		}
		n := &g.nodes[i]
		switch {
		case editorTypes[s.Type]:
			continue
		case headTypes[s.Type]:
			if hasWires[i] {
				h := parseHead(s)
				g.heads = append(g.heads, h)
			} else {
				parseHead(s) // still validated
			}
		default:
			build, ok := builders[s.Type]
			if !ok {
				s.fail("unknown node type %q", s.Type)
				break
			}
			n.node = build(s)
			_, n.block = n.node.(blocking)
		}
		n.ports = make([][]int, len(wires[i]))
		for p, targets := range wires[i] {
			for _, t := range targets {
				j, ok := g.index[t]
				switch {
				case !ok:
					s.fail("wire to missing node %q", t)
				case editorTypes[g.nodes[j].typ] || headTypes[g.nodes[j].typ]:
					s.fail("wire to node %q of type %q, which takes no input", t, g.nodes[j].typ)
				default:
					n.ports[p] = append(n.ports[p], j)
				}
			}
		}
		for k := range s.problems {
			s.problems[k].Index = i
		}
		add(s.problems...)
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Index < problems[j].Index })
		if len(problems) > maxProblems {
			problems = append(problems[:maxProblems:maxProblems], Problem{Index: -1, Reason: fmt.Sprintf("and %d more problems", len(problems)-maxProblems)})
		}
		return nil, &InvalidError{Problems: problems}
	}
	devices, templates := map[string]bool{}, map[string]bool{}
	for k := range g.heads {
		h := &g.heads[k]
		i := g.index[h.id]
		for _, port := range g.nodes[i].ports {
			h.targets = append(h.targets, port...)
		}
		g.HeadIDs = append(g.HeadIDs, h.id)
		if h.device != "" {
			devices[h.device] = true
		}
		if h.template != "" {
			templates[h.template] = true
		}
	}
	g.Devices, g.Templates = sortedKeys(devices), sortedKeys(templates)
	return g, nil
}

// Check is Parse as the flows API's check (commands.FlowCheck): raw is
// the flow array as sent; a flow the engine could not run is an error
// whose text is InvalidError.Detail, the 400's detail.
func Check(raw json.RawMessage) error {
	var nodes []json.RawMessage
	if err := json.Unmarshal(raw, &nodes); err != nil {
		return err
	}
	_, err := Parse(nodes)
	var inv *InvalidError
	if errors.As(err, &inv) {
		return errors.New(inv.Detail())
	}
	return err
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func parseHead(s *spec) head {
	h := head{id: s.ID, typ: s.Type}
	flags := func(names ...string) {
		for _, ev := range names {
			if s.boolean("event_"+ev, false) {
				h.events |= eventBits[ev]
			}
		}
	}
	switch s.Type {
	case "event device in":
		h.device = s.required("device_id")
		flags("publish", "configure", "create", "update", "remove")
	case "event template in":
		if _, ok := s.rawString("template_id"); s.has("template_id") && !ok {
			s.fail("template_id must be a string (dojot compares template ids as strings, a number never matches)")
		} else {
			h.template = s.required("template_id")
		}
		flags("publish", "configure", "create", "update", "remove")
	case "device in":
		// dojot fired it for any device of a matched flow; here it checks
		// the device it names, as the issue asks.
		h.device = s.required("_device_id")
		h.events, h.attrs = evPublish, true
	case "device template in":
		// dojot stores String(device_template_id): a number is accepted.
		var v any
		if !s.into("device_template_id", &v, "a string or a number") {
			if !s.has("device_template_id") {
				s.fail("missing device_template_id")
			}
		}
		switch x := v.(type) {
		case string:
			h.template = x
			if x == "" {
				s.fail("device_template_id must not be empty")
			}
		case float64:
			h.template = jsNumberString(x)
		case nil:
		default:
			s.fail("device_template_id must be a string or a number")
		}
		h.events, h.attrs = evPublish, true
	}
	return h
}

// Len is the number of nodes in the flow, tabs included.
func (g *Graph) Len() int { return len(g.nodes) }
