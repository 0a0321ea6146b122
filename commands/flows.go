package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dojot-es/dojot"
)

// FlowState is what the flow commands decide against; the memory view
// implements it.
type FlowState interface {
	Flow(tenant, id string) (dojot.Flow, bool)
	FlowIDs(tenant string) []string
	// FlowsSeq is the stream sequence of the tenant's last flow event;
	// FlowVersion the number of events of one flow (deleted ones too).
	FlowsSeq(tenant string) uint64
	FlowVersion(tenant, id string) uint64
	Checkpoint(ctx context.Context) (uint64, error)
}

// FlowCheck checks a flow's node list beyond dojot's own rules (the flow
// engine's parser: node types, wires, required fields...); an error names
// the node and the reason, and is answered as dojot's "Given flow is
// invalid" with that detail.
type FlowCheck func(nodes json.RawMessage) error

// Flows handles the flowbroker's commands: create, update and delete
// flows, as events.
type Flows struct {
	opts  Options
	st    FlowState
	check FlowCheck
}

// NewFlows returns the handler; opts.Store and opts.Sync are required;
// check may be nil (dojot's own rules only).
func NewFlows(opts Options, st FlowState, check FlowCheck) *Flows {
	opts.setDefaults()
	return &Flows{opts: opts, st: st, check: check}
}

// flowError is the flowbroker's error body, {"message":...} (no status).
func flowError(kind error, msg string) error {
	return &dojot.Error{Kind: kind, Message: msg, Body: map[string]string{"message": msg}}
}

// FlowInvalid is dojot's 400 for a flow it cannot take, with the reason
// dojot never gave.
func FlowInvalid(detail string) error {
	return &dojot.Error{Kind: dojot.ErrInvalid, Message: "Given flow is invalid: " + detail,
		Body: struct {
			Message string `json:"message"`
			Detail  string `json:"detail"`
		}{"Given flow is invalid", detail}}
}

// FlowNotFound is dojot's 404 for a flow the tenant does not have.
func FlowNotFound(id string) error {
	return &dojot.Error{Kind: dojot.ErrNotFound, Message: "Unknown flow: " + id,
		Body: struct {
			Message string `json:"message"`
			Flow    string `json:"flow"`
		}{"Unknown flow: " + id, id}}
}

// flowBody is a POST or PUT body, each key as sent (absent: nil).
type flowBody struct {
	Name    json.RawMessage `json:"name"`
	Enabled json.RawMessage `json:"enabled"`
	Flow    json.RawMessage `json:"flow"`
}

func parseFlowBody(body []byte) (flowBody, error) {
	var b flowBody
	d := json.NewDecoder(bytes.NewReader(body))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return b, flowError(dojot.ErrInvalid, "Payload must be a JSON object")
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return b, flowError(dojot.ErrInvalid, "Payload must be a JSON object")
	}
	return b, nil
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// name reads a present name: a non-empty string (dojot takes any truthy
// value and stores it as given).
func (b flowBody) name() (string, error) {
	var s string
	if json.Unmarshal(b.Name, &s) != nil {
		return "", FlowInvalid("name must be a string")
	}
	if s == "" {
		return "", FlowInvalid("name must not be empty")
	}
	return s, nil
}

// enabled reads a present enabled: a boolean.
func (b flowBody) enabled() (bool, error) {
	var v bool
	if json.Unmarshal(b.Enabled, &v) != nil {
		return false, FlowInvalid("enabled must be a boolean")
	}
	return v, nil
}

// nodes checks a present flow: dojot's rules (an array of objects that
// each have a string type), then the engine's (FlowCheck). The array is
// kept as sent.
func (f *Flows) nodes(raw json.RawMessage) (json.RawMessage, error) {
	var nodes []json.RawMessage
	if json.Unmarshal(raw, &nodes) != nil || nodes == nil {
		return nil, FlowInvalid("flow must be an array of nodes")
	}
	for i, n := range nodes {
		var node struct {
			Type json.RawMessage `json:"type"`
		}
		var typ string
		if bytes.HasPrefix(bytes.TrimSpace(n), []byte("{")) && json.Unmarshal(n, &node) == nil && json.Unmarshal(node.Type, &typ) == nil && typ != "" {
			continue
		}
		return nil, FlowInvalid(fmt.Sprintf("node %d: not an object with a type", i))
	}
	if f.check != nil {
		if err := f.check(raw); err != nil {
			return nil, FlowInvalid(err.Error())
		}
	}
	return compact(raw), nil
}

func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

func (f *Flows) now() time.Time { return f.opts.Now().UTC().Truncate(time.Millisecond) }

// event is a flow event expecting the tenant's last flow event.
func (f *Flows) event(ctx context.Context, typ, tenant, id string, data any) (dojot.Event, error) {
	ev, err := dojot.NewEvent(typ, tenant, dojot.KindFlow, id, f.now(), data)
	if err != nil {
		return ev, err
	}
	ev.ExpectSubject, ev.Expect = dojot.Subject(tenant, dojot.KindFlow, "*"), f.st.FlowsSeq(tenant)
	ev.Version = f.st.FlowVersion(tenant, id) + 1
	if id, ok := dojot.IdentityFrom(ctx); ok {
		ev.Actor = id.Username
	}
	return ev, nil
}

// append decides and appends one event, deciding again on a conflict. A
// flow larger than the event store takes is the client's 413, in the
// flowbroker's body shape (it was a bare 500).
func (f *Flows) append(ctx context.Context, decide func() (dojot.Event, error)) error {
	err := appendDecided(ctx, &f.opts, f.st.Checkpoint, decide)
	if errors.Is(err, dojot.ErrTooLarge) {
		return flowError(dojot.ErrTooLarge, "Given flow is too large to be stored")
	}
	return err
}

// appendDecided appends the event decide returns from the view whose
// checkpoint is given, deciding again after a conflict (see retry and
// fresh).
func appendDecided(ctx context.Context, o *Options, checkpoint func(context.Context) (uint64, error), decide func() (dojot.Event, error)) error {
	return retry(ctx, o, func() (uint64, error) {
		before, err := checkpoint(ctx)
		if err != nil {
			return 0, fmt.Errorf("view checkpoint: %w", err)
		}
		ev, err := decide()
		if err != nil {
			return 0, err
		}
		if !fresh(before, ev) {
			return 0, errMovedDuringDecision
		}
		return o.Store.Append(ctx, ev)
	})
}

// Create is POST /flows/v1/flow.
func (f *Flows) Create(ctx context.Context, tenant string, body []byte) (dojot.Flow, error) {
	b, err := parseFlowBody(body)
	if err != nil {
		return dojot.Flow{}, err
	}
	if b.Name == nil {
		return dojot.Flow{}, flowError(dojot.ErrInvalid, "Missing mandatory field: name")
	}
	if b.Flow == nil {
		return dojot.Flow{}, flowError(dojot.ErrInvalid, "Missing mandatory field: flow")
	}
	fl := dojot.Flow{Enabled: true}
	if fl.Name, err = b.name(); err != nil {
		return fl, err
	}
	if !isNull(b.Enabled) {
		if fl.Enabled, err = b.enabled(); err != nil {
			return fl, err
		}
	}
	if fl.Nodes, err = f.nodes(b.Flow); err != nil {
		return fl, err
	}
	if fl.ID, err = dojot.NewUUID(f.opts.Rand); err != nil {
		return fl, fmt.Errorf("flow id: %w", err)
	}
	err = f.append(ctx, func() (dojot.Event, error) {
		fl.Created = f.now()
		fl.Updated = fl.Created
		return f.event(ctx, dojot.EventFlowCreated, tenant, fl.ID, dojot.FlowCreated{Flow: fl})
	})
	return fl, err
}

// Update is PUT /flows/v1/flow/:id: a present name (non-empty), enabled
// (a boolean: false disables the flow, which dojot's PUT could not do) or
// flow replaces the stored one; other keys are ignored.
func (f *Flows) Update(ctx context.Context, tenant, id string, body []byte) (dojot.Flow, error) {
	if _, ok := f.st.Flow(tenant, id); !ok {
		return dojot.Flow{}, FlowNotFound(id)
	}
	b, err := parseFlowBody(body)
	if err != nil {
		return dojot.Flow{}, err
	}
	var name *string
	if !isNull(b.Name) {
		s, err := b.name()
		if err != nil {
			return dojot.Flow{}, err
		}
		name = &s
	}
	var enabled *bool
	if !isNull(b.Enabled) {
		v, err := b.enabled()
		if err != nil {
			return dojot.Flow{}, err
		}
		enabled = &v
	}
	var nodes json.RawMessage
	if !isNull(b.Flow) {
		if nodes, err = f.nodes(b.Flow); err != nil {
			return dojot.Flow{}, err
		}
	}
	var fl dojot.Flow
	err = f.append(ctx, func() (dojot.Event, error) {
		old, ok := f.st.Flow(tenant, id)
		if !ok {
			return dojot.Event{}, FlowNotFound(id)
		}
		fl = old
		if name != nil {
			fl.Name = *name
		}
		if enabled != nil {
			fl.Enabled = *enabled
		}
		if nodes != nil {
			fl.Nodes = nodes
		}
		fl.Updated = f.now()
		return f.event(ctx, dojot.EventFlowUpdated, tenant, id, dojot.FlowUpdated{Flow: fl})
	})
	return fl, err
}

// Delete is DELETE /flows/v1/flow/:id; it returns the flow as it was.
func (f *Flows) Delete(ctx context.Context, tenant, id string) (dojot.Flow, error) {
	var fl dojot.Flow
	err := f.append(ctx, func() (dojot.Event, error) {
		old, ok := f.st.Flow(tenant, id)
		if !ok {
			return dojot.Event{}, FlowNotFound(id)
		}
		fl = old
		return f.event(ctx, dojot.EventFlowDeleted, tenant, id, dojot.FlowDeleted{ID: id})
	})
	return fl, err
}

// DeleteAll is DELETE /flows/v1/flow: every flow of the tenant, in one
// event (none: nothing appended).
func (f *Flows) DeleteAll(ctx context.Context, tenant string) error {
	err := f.append(ctx, func() (dojot.Event, error) {
		ids := slices.Clone(f.st.FlowIDs(tenant))
		if len(ids) == 0 {
			return dojot.Event{}, errNoFlows
		}
		return f.event(ctx, dojot.EventFlowsAllDeleted, tenant, dojot.FlowsAll, dojot.FlowsAllDeleted{IDs: ids})
	})
	if errors.Is(err, errNoFlows) {
		return nil
	}
	return err
}

// errNoFlows: DELETE /flows/v1/flow of a tenant without flows appends
// nothing.
var errNoFlows = errors.New("no flows")
