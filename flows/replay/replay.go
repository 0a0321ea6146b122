// Package replay runs a flow over the past in a sandbox (issue 17, beyond
// dojot): the stored readings (DATA) and device events (EVENTS) of one
// tenant over a time range, read by eventstore.ReadRange and normalised
// by the live broker's code (broker.Normalizer), go through the flow one
// after the other in the order they were stored, on an engine whose
// effects are a flows.Recorder: actuations, device outs, notifications,
// publish-ftp files, ftp uploads, http calls and cron jobs are recorded,
// never performed. The answer says, per input the flow ran on, what each
// node emitted, which effects it would have had and which node failed,
// and per node its in/out/error counters over the replay.
//
// A flow replays whether enabled or not: users test a flow before they
// enable it.
//
// Context. The context nodes (get context, cumulative sum, merge data)
// use the sandbox's own store, empty when the replay starts, and never
// the live key-value bucket: the replay runs as if the flow had been
// created at From. The live contexts are not a sensible start over the
// past: a cumulative sum's live window holds entries newer than every
// replayed reading and would leave them out as older than its window.
//
// Normalisation uses the devices and templates as they are now (their
// static attrs and template ids), as the live broker does for the input
// it handles; a device removed since has no template ids, so template
// heads do not fire for its past inputs.
package replay

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/flows"
	"github.com/dojot-es/dojot/flows/broker"
)

// Defaults and bounds of a request.
const (
	DefaultSpan  = time.Hour // From when only To (or nothing) is given
	DefaultLimit = 100       // inputs run when Limit is 0
	MaxLimit     = 10000     // the most inputs one replay runs
	// MaxRead bounds the messages one replay reads looking for the inputs
	// its flow fires on (a flow on one device of a busy tenant).
	MaxRead = 1_000_000
)

// Store reads the stored inputs of a time range (eventstore.Store).
type Store interface {
	ReadRange(ctx context.Context, r eventstore.Range, fn func(eventstore.RangeItem) error) error
}

// Replayer runs replays. It is safe for concurrent use: each replay has
// its own engine, recorder and context store. Set its fields before the
// first Replay.
type Replayer struct {
	Store  Store
	View   broker.DeviceView
	Logger *slog.Logger
	// Now is the clock for the default range (default time.Now).
	Now func() time.Time
	// MaxRead bounds the messages one replay reads (default MaxRead).
	MaxRead int
	// Parallel bounds the replays that run at once (default 2): a replay
	// takes a core while it runs, and the instance has devices to serve.
	// Others wait their turn (as long as their ctx allows).
	Parallel int

	once  sync.Once
	slots chan struct{}
}

// Request is one replay: the flow's nodes (saved or not), its id ("" for
// an unsaved flow) and the range. Zero From, To and Limit take the
// defaults: To now, From DefaultSpan before To, Limit DefaultLimit.
type Request struct {
	Tenant string
	FlowID string
	Nodes  json.RawMessage
	From   time.Time
	To     time.Time
	Limit  int
}

// Result is a replay's answer.
type Result struct {
	Flow  string    `json:"flow"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Limit int       `json:"limit"`
	// Read is how many readings and device events the range held (of the
	// devices the flow's heads name), Inputs how many the flow ran on.
	Read   int `json:"read"`
	Inputs int `json:"inputs"`
	// Truncated: the replay stopped at Limit inputs (or MaxRead messages read)
	// before the end of the range; replay again from the last input's time.
	Truncated bool `json:"truncated"`
	// Nodes are the counters over the replay of each node that can run
	// (heads, tabs and comments never do); empty when no input ran.
	Nodes map[string]NodeStats `json:"nodes"`
	// Effects counts the recorded effects by kind.
	Effects map[string]int `json:"effects"`
	Runs    []Run          `json:"runs"`
}

// NodeStats are one node's counters over a replay.
type NodeStats struct {
	In        uint64 `json:"in"`
	Out       uint64 `json:"out"`
	Errors    uint64 `json:"errors"`
	LoopsCut  uint64 `json:"loops_cut,omitempty"`
	LastError string `json:"last_error,omitempty"`
}

// Run is one input the flow ran on and what came of it, in the order it
// happened.
type Run struct {
	Input   Input    `json:"input"`
	Records []Record `json:"records"`
}

// Input is a stored reading or device event as the flow saw it.
type Input struct {
	Stream   string    `json:"stream"` // data or events
	Seq      uint64    `json:"seq"`    // its sequence in that stream
	Time     time.Time `json:"time"`   // when it was stored
	Event    string    `json:"event"`  // publish, create, update, remove, configure
	DeviceID string    `json:"device_id"`
	Payload  flows.Msg `json:"payload"`
}

// Record is one thing a node did: Kind "emit" (Msg sent on Port), "error"
// (Error ended the branch), or a recorded effect: "actuation",
// "device_out", "notification", "publish_ftp", "ftp", "http",
// "cron_create", "cron_remove" (Value). A run cut as a loop ends with a
// "loop_cut" record (no node; Value the messages dropped).
type Record struct {
	Kind  string    `json:"kind"`
	Node  string    `json:"node"`
	Port  *int      `json:"port,omitempty"`
	Msg   flows.Msg `json:"msg,omitempty"`
	Error string    `json:"error,omitempty"`
	Value any       `json:"value,omitempty"`
}

// notNodes is the error of a flow that is not an array of nodes, with a
// Detail as flows.InvalidError has.
type notNodes struct{}

func (notNodes) Error() string  { return "invalid flow: " + notNodes{}.Detail() }
func (notNodes) Detail() string { return "flow must be an array of nodes" }
func (notNodes) Unwrap() error  { return dojot.ErrInvalid }

// errStop ends the read once Limit inputs ran.
var errStop = errors.New("replay: limit reached")

func invalid(format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	return &dojot.Error{Kind: dojot.ErrInvalid, Message: msg, Body: map[string]string{"message": msg}}
}

// Replay runs req. A flow that does not parse is an error wrapping
// dojot.ErrInvalid with a Detail() string method (*flows.InvalidError,
// or the nodes are not an array), the API's "Given flow is invalid"
// detail; a bad range or limit is a *dojot.Error of kind
// dojot.ErrInvalid; a store that cannot answer is dojot.ErrUnavailable.
func (p *Replayer) Replay(ctx context.Context, req Request) (*Result, error) {
	var nodes []json.RawMessage
	if err := json.Unmarshal(req.Nodes, &nodes); err != nil || nodes == nil {
		return nil, notNodes{}
	}
	g, err := flows.Parse(nodes)
	if err != nil {
		return nil, err
	}
	if err := p.defaults(&req); err != nil {
		return nil, err
	}
	p.once.Do(func() { p.slots = make(chan struct{}, cmp.Or(max(p.Parallel, 0), 2)) })
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
	case <-ctx.Done():
		return nil, fmt.Errorf("replay: waiting for another replay to end: %w", ctx.Err())
	}
	started := time.Now()
	flowID := req.FlowID
	if flowID == "" {
		flowID = "replay"
	}
	res := &Result{Flow: req.FlowID, From: req.From, To: req.To, Limit: req.Limit, Nodes: map[string]NodeStats{}, Effects: map[string]int{}, Runs: []Run{}}
	rec := flows.NewRecorder()
	var now time.Time // the input's time: outputs are stamped as they would have been then
	// The engine's own log stays quiet: each failure is in the answer,
	// and a replay of a failing flow would log one line per input.
	eng := flows.New(flows.Options{Effects: rec.AsEffects(), Observer: rec, Now: func() time.Time { return now }})
	flow := flows.Flow{ID: flowID, Enabled: true, Graph: g} // disabled flows replay too
	rng := eventstore.Range{Tenant: req.Tenant, From: req.From, To: req.To}
	if len(g.Templates) == 0 {
		// A device id that is no subject token has nothing stored.
		for _, d := range g.Devices {
			if dojot.ValidToken(d) {
				rng.Devices = append(rng.Devices, d)
			}
		}
		if len(rng.Devices) == 0 {
			return p.finish(res, eng, flowID), nil // no head can fire: nothing to read
		}
	}
	maxRead := p.MaxRead
	if maxRead <= 0 {
		maxRead = MaxRead
	}
	norm := broker.Normalizer{View: p.View}
	err = p.Store.ReadRange(ctx, rng, func(item eventstore.RangeItem) error {
		if res.Read >= maxRead {
			res.Truncated = true
			return errStop
		}
		res.Read++
		in, ok, err := norm.Input(item.Subject, item.Seq, item.Data)
		if err != nil {
			p.log().Warn("replay: input not usable, skipped", "tenant", req.Tenant, "subject", item.Subject, "seq", item.Seq, "err", err)
			return nil
		}
		if !ok || in.Tenant != req.Tenant || !flow.Matches(in) {
			return nil
		}
		if res.Inputs >= req.Limit {
			res.Truncated = true
			return errStop
		}
		in.Depth = item.Depth
		now = item.Time
		run := Run{Input: Input{Stream: "data", Seq: item.Seq, Time: item.Time, Event: in.Event, DeviceID: in.DeviceID, Payload: in.Payload}}
		if item.Events {
			run.Input.Stream = "events"
		}
		ran, err := eng.Run(ctx, flow, in)
		if err != nil {
			return err
		}
		res.Inputs++
		run.Records = records(rec.Take(), res.Effects)
		if ran.Cut > 0 {
			// A loop cut (MaxHops, MaxSteps, or the input made by too
			// many flow outputs): Value is how many messages went.
			run.Records = append(run.Records, Record{Kind: "loop_cut", Value: ran.Cut})
		}
		res.Runs = append(res.Runs, run)
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, fmt.Errorf("replay flow %s of %s: %w", flowID, req.Tenant, err)
	}
	p.log().InfoContext(ctx, "flow replayed", "tenant", req.Tenant, "flow", flowID, "from", req.From, "to", req.To,
		"read", res.Read, "inputs", res.Inputs, "truncated", res.Truncated, "took", time.Since(started).String())
	return p.finish(res, eng, flowID), nil
}

func (p *Replayer) finish(res *Result, eng *flows.Engine, flowID string) *Result {
	for id, st := range eng.Stats(flowID).Nodes {
		res.Nodes[id] = NodeStats{In: st.In, Out: st.Out, Errors: st.Errors, LoopsCut: st.LoopsCut, LastError: st.LastError}
	}
	return res
}

func (p *Replayer) log() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}

// defaults fills the range and limit, and checks them.
func (p *Replayer) defaults(req *Request) error {
	if req.To.IsZero() {
		now := time.Now
		if p.Now != nil {
			now = p.Now
		}
		req.To = now()
	}
	if req.From.IsZero() {
		req.From = req.To.Add(-DefaultSpan)
	}
	if req.To.Before(req.From) {
		return invalid("to (%s) is before from (%s)", req.To.Format(time.RFC3339Nano), req.From.Format(time.RFC3339Nano))
	}
	if req.Limit == 0 {
		req.Limit = DefaultLimit
	}
	if req.Limit < 0 || req.Limit > MaxLimit {
		return invalid("limit must be between 1 and %d", MaxLimit)
	}
	req.From, req.To = req.From.UTC(), req.To.UTC()
	return nil
}

// records makes the answer's records of one run's recorded effects, and
// counts the effects by kind.
func records(effects []flows.Effect, counts map[string]int) []Record {
	out := make([]Record, 0, len(effects))
	for _, e := range effects {
		r := Record{Kind: e.Kind, Node: e.Node}
		switch v := e.Value.(type) {
		case flows.Emit:
			port := v.Port
			r.Port, r.Msg = &port, v.Msg
		case string:
			if e.Kind == "error" {
				r.Error = v
			} else {
				r.Value = v // cron-remove: the job id
			}
		case flows.Actuation:
			r.Kind, r.Value = "actuation", map[string]any{"id": v.ID, "device_id": v.DeviceID, "attrs": v.Attrs}
		case flows.DeviceData:
			r.Kind, r.Value = "device_out", map[string]any{"id": v.ID, "device_id": v.DeviceID, "timestamp": v.Timestamp, "attrs": v.Attrs}
		case flows.FTPFile:
			r.Kind, r.Value = "publish_ftp", v
		case flows.FTPUpload:
			// The password stays out of the answer.
			r.Kind, r.Value = "ftp", map[string]any{"url": v.URL, "username": v.Username, "filename": v.Filename, "size": len(v.Content)}
		default:
			r.Value = v // notification, http, cron-create's job
		}
		switch r.Kind {
		case "cron-create":
			r.Kind = "cron_create"
		case "cron-remove":
			r.Kind = "cron_remove"
		}
		if r.Kind != "emit" && r.Kind != "error" {
			counts[r.Kind]++
		}
		out = append(out, r)
	}
	return out
}
