package flows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dojot-es/dojot"
)

// Input is one normalised device event (FLOWS.md 3.1): what the wiring
// builds from a DATA record or a device event before it asks which flows
// to run.
type Input struct {
	// Seq is the input's sequence in its stream: with the flow and node
	// ids it makes the output ids, so it must be the same on redelivery.
	Seq       uint64
	Tenant    string
	Event     string   // publish, configure, create, update, remove
	DeviceID  string   // data.id
	Templates []string // the device's template ids, as strings
	// Payload is {"event","metadata","data":{"id","attrs"}} with the
	// device's static attrs merged into data.attrs. Run does not change
	// it: each flow gets its own copy.
	Payload Msg
	// Depth is how many flow outputs led to this input: 0 for a device's
	// own reading, DeviceData.Depth / Actuation.Depth for one a flow made.
	Depth int
	// RequestID is the request that caused the input event
	// (dojot.Event.CorrelationID), "" for a reading: the run's logs and
	// writes carry it.
	RequestID string
}

// Flow is what the engine runs: a parsed flow and whether it is enabled.
type Flow struct {
	ID      string
	Enabled bool
	Graph   *Graph
}

// Options configure an Engine. Zero fields take the defaults.
type Options struct {
	Effects Effects
	Logger  *slog.Logger
	// MaxHops bounds the nodes one message crosses in a run, which cuts a
	// wire cycle inside a flow (default 256). A flow with more nodes than
	// that gets its node count as the bound: a path without a cycle never
	// crosses more nodes than the flow has, so a long chain is never cut.
	MaxHops int
	// MaxSteps bounds the node executions of one run, which cuts a wire
	// cycle that fans out (each pass doubling the messages) long before
	// MaxHops would (default 10,000).
	MaxSteps int
	// MaxDepth bounds how many flow outputs may lead to an input before
	// its flows stop running: a device out feeding a flow that leads back
	// to it is cut there (default 8).
	MaxDepth int
	// NodeTimeout bounds one execution of a node that waits on the network
	// (http, ftp, cron, context); dojot's task timeout (default 30s).
	NodeTimeout time.Duration
	// Now is the clock for output timestamps (default time.Now).
	Now func() time.Time
	// Observer, when set, sees every message a node emits (replay uses it
	// to show what each node did).
	Observer Observer
}

// Observer is told of each message a node sends on a port.
type Observer interface {
	Emitted(flowID, nodeID string, port int, msg Msg)
}

// RunObserver is an Observer also told when a node starts and when it
// fails: a replay learns so which node made each effect and why a branch
// ended.
type RunObserver interface {
	Observer
	Running(flowID, nodeID string)
	Failed(flowID, nodeID string, err error)
}

// Engine runs flows. It is safe for concurrent use; the wiring decides
// the concurrency (one run at a time per device keeps per-device order).
type Engine struct {
	opts   Options
	log    *slog.Logger
	stats  sync.Map    // flow id -> *flowStats
	runObs RunObserver // Options.Observer when it is one
	// failed counts node failures of every flow, deleted ones included
	// (a counter for the metrics, which must never go down).
	failed atomic.Uint64
}

// New returns an Engine.
func New(opts Options) *Engine {
	if opts.MaxHops <= 0 {
		opts.MaxHops = 256
	}
	if opts.MaxSteps <= 0 {
		opts.MaxSteps = 10000
	}
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = 8
	}
	if opts.NodeTimeout <= 0 {
		opts.NodeTimeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{opts: opts, log: log}
	e.runObs, _ = opts.Observer.(RunObserver)
	return e
}

// Matches reports whether the flow has a head that fires for the input
// (FLOWS.md 3.2, with the deprecated heads checking the device or
// template they name). Disabled flows never match.
func (f Flow) Matches(in Input) bool {
	if !f.Enabled || f.Graph == nil {
		return false
	}
	for i := range f.Graph.heads {
		if f.Graph.heads[i].fires(in) {
			return true
		}
	}
	return false
}

func (h *head) fires(in Input) bool {
	if h.events&eventBits[in.Event] == 0 {
		return false
	}
	if h.device != "" {
		return h.device == in.DeviceID
	}
	for _, t := range in.Templates {
		if t == h.template {
			return true
		}
	}
	return false
}

// Result sums up one run of one flow.
type Result struct {
	Executed int // node executions
	Failed   int // executions that failed and ended their branch
	Cut      int // messages dropped by MaxHops, or 1 when MaxDepth skipped the run
}

// Run runs one flow on one input: every head that fires sends its message
// to its targets, each node's outputs go on to the nodes of its ports (a
// deep copy per extra target), until every branch has ended. A failing
// node ends its branch, is logged and counted, and the others go on. Run
// itself fails when ctx is done or when an effect fails with an error
// wrapping dojot.ErrUnavailable (an output that could not be stored):
// then the input must not be acked but retried, and the outputs already
// made carry the same ids on the retry.
func (e *Engine) Run(ctx context.Context, f Flow, in Input) (Result, error) {
	var res Result
	if !f.Matches(in) {
		return res, nil
	}
	st := e.flowStats(f.ID)
	if in.Depth >= e.opts.MaxDepth {
		st.depthCut.Add(1)
		e.log.WarnContext(ctx, "flow loop cut: input made by too many flow outputs", "tenant", in.Tenant, "flow", f.ID, "device_id", in.DeviceID, "depth", in.Depth)
		res.Cut = 1
		return res, nil
	}
	st.runs.Add(1)
	g := f.Graph
	counters := st.forGraph(g)
	maxHops := max(e.opts.MaxHops, len(g.nodes))
	var ts any
	if in.Event == "publish" {
		if md, ok := in.Payload["metadata"].(map[string]any); ok {
			ts = md["timestamp"]
		}
	}
	call := Call{
		Meta:    Meta{FlowID: f.ID, Tenant: in.Tenant, OriginatorDeviceID: in.DeviceID, Timestamp: ts},
		Effects: &e.opts.Effects,
		Now:     e.opts.Now(),
		Depth:   in.Depth,
		seq:     in.Seq,
	}
	outCounts := make([]uint32, len(g.nodes))

	type hop struct {
		node int
		msg  Msg
		hops int
	}
	var queue []hop
	// enqueue hands msg to every target; all but the last get a copy,
	// taken now, before any of them runs.
	enqueue := func(targets []int, msg Msg, hops int) {
		for k, t := range targets {
			m := msg
			if k < len(targets)-1 {
				m = deepCopy(msg).(Msg)
			}
			queue = append(queue, hop{t, m, hops})
		}
	}
	for i := range g.heads {
		h := &g.heads[i]
		if !h.fires(in) {
			continue
		}
		var payload any = in.Payload
		if h.attrs {
			payload = undef
			if data, ok := in.Payload["data"].(map[string]any); ok {
				payload = data["attrs"]
			}
		}
		enqueue(h.targets, Msg{"payload": deepCopy(payload)}, 0)
	}
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		cur := queue[0]
		queue = queue[1:]
		n := &g.nodes[cur.node]
		nc := counters[cur.node]
		if cur.hops >= maxHops {
			nc.loops.Add(1)
			res.Cut++
			e.log.WarnContext(ctx, "flow loop cut: too many hops", "tenant", in.Tenant, "flow", f.ID, "node", n.id, "hops", cur.hops)
			continue
		}
		if res.Executed >= e.opts.MaxSteps {
			nc.loops.Add(1)
			res.Cut += 1 + len(queue)
			e.log.WarnContext(ctx, "flow loop cut: too many steps", "tenant", in.Tenant, "flow", f.ID, "node", n.id, "steps", res.Executed, "dropped", 1+len(queue))
			break
		}
		nc.in.Add(1)
		res.Executed++
		call.NodeID, call.NodeType, call.count = n.id, n.typ, &outCounts[cur.node]
		nctx := ctx
		var cancel context.CancelFunc
		if n.block {
			nctx, cancel = context.WithTimeout(ctx, e.opts.NodeTimeout)
		}
		if e.runObs != nil {
			e.runObs.Running(f.ID, n.id)
		}
		out, err := n.node.Process(nctx, &call, cur.msg)
		if cancel != nil {
			cancel()
		}
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.Failed++
			e.failed.Add(1)
			nc.fail(err, e.opts.Now())
			if e.runObs != nil {
				e.runObs.Failed(f.ID, n.id, err)
			}
			if errors.Is(err, dojot.ErrUnavailable) {
				// An output could not be stored: the input must come again
				// (its outputs keep their ids, so none is doubled).
				return res, fmt.Errorf("flow %s node %s: %w", f.ID, n.id, err)
			}
			e.log.WarnContext(ctx, "flow node failed, branch aborted", "tenant", in.Tenant, "flow", f.ID, "node", n.id, "type", n.typ, "device_id", in.DeviceID, "err", err)
			continue
		}
		// Outputs count (and are observed) even on a port without wires:
		// replay shows what a node made, wired or not.
		for p, m := range out {
			if m == nil {
				continue
			}
			nc.out.Add(1)
			if e.opts.Observer != nil {
				e.opts.Observer.Emitted(f.ID, n.id, p, deepCopy(m).(Msg))
			}
		}
		e.route(n, out, cur.hops+1, enqueue)
	}
	return res, nil
}

// route sends each port's message to its targets. A node may return the
// same message on several ports (switch does), so every delivery but the
// very last gets its own copy.
func (e *Engine) route(n *gnode, out []Msg, hops int, enqueue func([]int, Msg, int)) {
	last := -1
	for p, m := range out {
		if m != nil && p < len(n.ports) && len(n.ports[p]) > 0 {
			last = p
		}
	}
	for p := 0; p <= last; p++ {
		m := out[p]
		if m == nil || len(n.ports[p]) == 0 {
			continue
		}
		if p < last {
			m = deepCopy(m).(Msg)
		}
		enqueue(n.ports[p], m, hops)
	}
}

// NodeStats are one node's counters since the engine started.
type NodeStats struct {
	In          uint64    `json:"in"`
	Out         uint64    `json:"out"`
	Errors      uint64    `json:"errors"`
	LoopsCut    uint64    `json:"loops_cut"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// FlowStats are a flow's counters: runs, runs skipped because the input
// was too deep in a device out loop, and each node's.
type FlowStats struct {
	Runs     uint64               `json:"runs"`
	LoopsCut uint64               `json:"loops_cut"`
	Nodes    map[string]NodeStats `json:"nodes"`
}

// Stats returns the counters of a flow (zero for one that never ran).
func (e *Engine) Stats(flowID string) FlowStats {
	out := FlowStats{Nodes: map[string]NodeStats{}}
	v, ok := e.stats.Load(flowID)
	if !ok {
		return out
	}
	st := v.(*flowStats)
	out.Runs, out.LoopsCut = st.runs.Load(), st.depthCut.Load()
	st.mu.Lock()
	defer st.mu.Unlock()
	for id, c := range st.nodes {
		c.mu.Lock()
		out.Nodes[id] = NodeStats{In: c.in.Load(), Out: c.out.Load(), Errors: c.errors.Load(), LoopsCut: c.loops.Load(), LastError: c.lastErr, LastErrorAt: c.lastErrAt}
		c.mu.Unlock()
	}
	return out
}

// Failed is how many times a node of any flow failed since the engine
// started.
func (e *Engine) Failed() uint64 { return e.failed.Load() }

// Forget drops a flow's counters (call it when the flow is deleted).
func (e *Engine) Forget(flowID string) { e.stats.Delete(flowID) }

type flowStats struct {
	runs, depthCut atomic.Uint64
	mu             sync.Mutex
	nodes          map[string]*nodeCounters
	graph          *Graph // the graph counters was resolved for
	counters       []*nodeCounters
}

type nodeCounters struct {
	in, out, errors, loops atomic.Uint64
	mu                     sync.Mutex
	lastErr                string
	lastErrAt              time.Time
}

func (c *nodeCounters) fail(err error, at time.Time) {
	c.errors.Add(1)
	c.mu.Lock()
	c.lastErr, c.lastErrAt = err.Error(), at
	c.mu.Unlock()
}

func (e *Engine) flowStats(id string) *flowStats {
	if v, ok := e.stats.Load(id); ok {
		return v.(*flowStats)
	}
	v, _ := e.stats.LoadOrStore(id, &flowStats{nodes: map[string]*nodeCounters{}})
	return v.(*flowStats)
}

// forGraph resolves the counters of g's nodes once per flow version;
// counters are kept by node id, so they survive an edit of the flow.
func (st *flowStats) forGraph(g *Graph) []*nodeCounters {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.graph == g {
		return st.counters
	}
	cs := make([]*nodeCounters, len(g.nodes))
	for i, n := range g.nodes {
		if n.node == nil {
			continue // tab, comment, head: never executed, no counters
		}
		c, ok := st.nodes[n.id]
		if !ok {
			c = &nodeCounters{}
			st.nodes[n.id] = c
		}
		cs[i] = c
	}
	st.graph, st.counters = g, cs
	return cs
}
