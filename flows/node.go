package flows

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/dojot-es/dojot/internal/jsnum"
)

// Node is one configured node of a flow, built from its JSON when the flow
// is parsed. Process gets a message it owns (the engine copies a message
// before it reaches a second target) and returns one entry per output
// port: a nil entry stops that port, a nil or empty slice ends the branch.
// An error ends the branch and is counted against the node. A Node is
// shared by every run of its flow, so it never changes its own fields;
// state across messages goes through Effects.Context.
type Node interface {
	Process(ctx context.Context, c *Call, msg Msg) ([]Msg, error)
}

// blocking is implemented by nodes that wait on the network (http, ftp,
// cron, context): the engine gives only those a deadline, so the hot path
// of pure nodes does not pay for a timer.
type blocking interface{ blocking() }

// Meta is what dojot passes every node besides the message: the flow, the
// tenant, the device whose event started the run and the event's
// timestamp (nil when the event had none, as dojot's device-manager
// events).
type Meta struct {
	FlowID             string `json:"flowId"`
	Tenant             string `json:"tenant"`
	OriginatorDeviceID string `json:"originatorDeviceId"`
	Timestamp          any    `json:"timestamp,omitempty"`
}

// Call is one execution of a node: who runs, the effects it may perform,
// and the source of its deterministic output ids.
type Call struct {
	Meta
	NodeID   string
	NodeType string
	Effects  *Effects
	Now      time.Time
	// Depth is how many flow outputs led to the input; an output of this
	// call is one more (Options.MaxDepth cuts device out loops).
	Depth int

	seq   uint64
	count *uint32 // outputs made so far by this node for this input
}

// NextID is the id of the next output of this node for this input:
// "<input seq>:<flow id>:<node id>:<index>". A redelivered input runs the
// same nodes in the same order, so it gets the same ids, and the sink
// (JetStream's Nats-Msg-Id, Kafka's key) drops the second copy.
func (c *Call) NextID() string {
	n := *c.count
	*c.count = n + 1
	return strconv.FormatUint(c.seq, 10) + ":" + c.FlowID + ":" + c.NodeID + ":" + strconv.FormatUint(uint64(n), 10)
}

// nowMillis is Date.now() as dojot stamps its outputs.
func (c *Call) nowMillis() int64 { return c.Now.UnixMilli() }

// builders maps dojot's node type to the constructor of its Node. A
// constructor reads the node's JSON through spec and reports every
// problem there, so a bad node is refused when the flow is saved.
var builders = map[string]func(s *spec) Node{}

func register(typ string, build func(s *spec) Node) { builders[typ] = build }

// Types lists the node types this package runs (heads included), for the
// editor's palette (GET /flows/nodes).
func Types() []string {
	out := make([]string, 0, len(builders)+len(headTypes))
	for t := range headTypes {
		out = append(out, t)
	}
	for t := range builders {
		out = append(out, t)
	}
	return out
}

// spec is one node's JSON object during parsing, with typed accessors
// that record a Problem instead of failing on the first one.
type spec struct {
	ID, Type string
	raw      map[string]json.RawMessage
	problems []Problem
}

func (s *spec) fail(format string, a ...any) {
	s.problems = append(s.problems, Problem{Node: s.ID, Type: s.Type, Reason: fmt.Sprintf(format, a...)})
}

// has reports whether key is present and not null.
func (s *spec) has(key string) bool {
	r, ok := s.raw[key]
	return ok && string(r) != "null"
}

// into decodes key into v when present; false (and a problem) when it
// has the wrong JSON type.
func (s *spec) into(key string, v any, what string) bool {
	if !s.has(key) {
		return false
	}
	if err := json.Unmarshal(s.raw[key], v); err != nil {
		s.fail("%s must be %s", key, what)
		return false
	}
	return true
}

// str is an optional string field: def when absent or null.
func (s *spec) str(key, def string) string {
	v := def
	s.into(key, &v, "a string")
	return v
}

// required is a string field that must be present and not empty.
func (s *spec) required(key string) string {
	if !s.has(key) {
		s.fail("missing %s", key)
		return ""
	}
	v := s.str(key, "")
	if v == "" && s.has(key) {
		if _, ok := s.rawString(key); ok {
			s.fail("%s must not be empty", key)
		}
	}
	return v
}

func (s *spec) rawString(key string) (string, bool) {
	var v string
	err := json.Unmarshal(s.raw[key], &v)
	return v, err == nil
}

// oneOf is an optional string field restricted to a set of values.
func (s *spec) oneOf(key, def string, allowed ...string) string {
	v := s.str(key, def)
	if v == "" {
		v = def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	s.fail("%s %q is not one of %v", key, v, allowed)
	return def
}

// boolean is an optional boolean field. dojot also writes some flags as
// the strings "true"/"false" (switch's checkall), accepted here.
func (s *spec) boolean(key string, def bool) bool {
	if !s.has(key) {
		return def
	}
	var b bool
	if json.Unmarshal(s.raw[key], &b) == nil {
		return b
	}
	var str string
	if json.Unmarshal(s.raw[key], &str) == nil && (str == "true" || str == "false") {
		return str == "true"
	}
	s.fail("%s must be a boolean", key)
	return def
}

// number is an optional numeric field; numeric strings are accepted, as
// the editor stores numbers typed into text boxes as strings.
func (s *spec) number(key string, def float64) float64 {
	if !s.has(key) {
		return def
	}
	var f float64
	if json.Unmarshal(s.raw[key], &f) == nil {
		return f
	}
	var str string
	if json.Unmarshal(s.raw[key], &str) == nil {
		if f := jsnum.Number(str); f == f && str != "" {
			return f
		}
	}
	s.fail("%s must be a number", key)
	return def
}
