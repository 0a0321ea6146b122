// Package broker feeds the flow engine (package flows) from the streams
// and performs its side effects: dojot's Flowbroker, on the event log.
//
// Inputs. Device readings come from the DATA stream and device events
// (create, update, remove, configure) from EVENTS, each through a durable
// JetStream consumer the deployment's instances share
// (eventstore.Store.Follow), so each input runs in one instance. An input
// is normalised as dojot's flowbroker did (FLOWS.md 3.1: the reading's
// attrs with the device's static attrs merged in, the device's template
// ids as strings) and run through every enabled flow of its tenant whose
// head fires. It is acknowledged once those runs ended, so outputs are
// stored before the input is gone; a crash hands it out again, and its
// outputs carry the same ids (flows.Call.NextID from the input's stream
// sequence), which the sinks deduplicate: a reading a flow publishes is
// appended with that id as Nats-Msg-Id, an actuation as the event's id.
//
// Order. Inputs of one device run one after the other, in every
// instance and across instances: DATA is partitioned by device and each
// partition is consumed by one instance at a time (eventstore.Work), the
// device events of EVENTS by one instance; within an instance a device's
// inputs queue on its lane (flows.Lanes) while those of different devices
// run concurrently on Options.Lanes workers, so a slow http node holds one
// worker and its own device's queue, not the other devices. The inputs
// queued behind it are reported in progress every AckWait/3, so the
// consumer does not hand them out again while they wait (their flows ran
// twice). When an
// instance joins or leaves, partitions move once the inputs in flight
// ended. An instance that died loses its partitions after MemberTTL and
// its unacknowledged inputs are handed out again after the consumers'
// AckWait, with their output ids; the instance taking such a partition
// over waits for them (up to AckWait) before anything newer, so the order
// holds across a crash too, at the cost of that wait.
//
// Flows are read from the view and parsed again only when the tenant's
// flow events moved (View.FlowsSeq), so an edit applies to the next input
// and a new tenant's flows run at once. They are indexed by the device and
// template ids their heads name: an input runs only the flows that name
// its device or one of its templates.
package broker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/flows"
)

// Store is the event store as the broker uses it.
type Store interface {
	Follow(ctx context.Context, w eventstore.Work, fn func(eventstore.WorkItem)) error
	AppendFlowData(ctx context.Context, tenant, deviceID string, payload []byte, msgID string, depth int) (uint64, error)
	AppendNotification(ctx context.Context, tenant string, payload []byte, msgID string) (uint64, error)
	AppendFTP(ctx context.Context, tenant string, payload []byte, msgID string) (uint64, error)
}

// View is the memory view: flows, devices and templates.
type View interface {
	Flows(tenant string) []dojot.Flow
	FlowsSeq(tenant string) uint64
	Device(tenant, id string) (dojot.Device, bool)
	Template(tenant string, id int) (dojot.Template, bool)
}

// Actuator sends a configuration through the commands, checked against
// the device's actuators (commands.Devices.ActuateAs); flowDepth is kept
// in the device.actuated event, whose configure input then carries it.
type Actuator interface {
	ActuateAs(ctx context.Context, tenant, deviceID string, body []byte, eventID string, flowDepth int) error
}

// Options configure a Broker. A zero field means its default.
type Options struct {
	Store    Store    // required
	View     View     // required
	Actuator Actuator // required
	// Contexts keeps the nodes' contexts (eventstore.KV through
	// KVContexts); nil: the context nodes fail.
	Contexts flows.ContextStore
	// HTTP performs the http node's requests (default a client with a
	// 30 s timeout).
	HTTP flows.HTTPDoer
	// Uploader stores the ftp node's files (default flows/ftp.Uploader).
	Uploader flows.FTPUploader
	// Cron creates and removes the cron nodes' jobs (commands.Cron, in
	// process); nil: the cron nodes fail.
	Cron flows.CronJobs
	// Group names the shared consumers (default "dojot").
	Group string
	// Lanes is how many devices' inputs run at once (default 64); one
	// device's run one after the other.
	Lanes int
	// AckWait is how long the shared consumers wait for an input's ack
	// before they hand it out again (default 60 s; set when a consumer is
	// created). An input held longer, waiting on its device's lane behind
	// slow ones, is reported in progress every AckWait/3.
	AckWait time.Duration
	Logger  *slog.Logger
}

// Broker runs the tenants' flows on their devices' inputs.
type Broker struct {
	opts   Options
	log    *slog.Logger
	engine *flows.Engine
	lanes  *flows.Lanes

	mu      sync.Mutex
	tenants map[string]*tenantFlows
}

// tenantFlows are a tenant's parsed flows as of its flow events' sequence,
// indexed by the device and template ids their heads name (dojot's
// getByDevice/getByTemplate), so an input looks at the flows that may
// fire for it, not at every flow of the tenant: with a flow per device,
// checking each flow's heads cost more than running the device's own.
type tenantFlows struct {
	seq        uint64
	flows      []flows.Flow
	byDevice   map[string][]int // indexes into flows, ascending
	byTemplate map[string][]int
}

// index fills byDevice and byTemplate from the flows' graphs.
func (tf *tenantFlows) index() {
	tf.byDevice, tf.byTemplate = map[string][]int{}, map[string][]int{}
	for i, f := range tf.flows {
		for _, d := range f.Graph.Devices {
			tf.byDevice[d] = append(tf.byDevice[d], i)
		}
		for _, t := range f.Graph.Templates {
			tf.byTemplate[t] = append(tf.byTemplate[t], i)
		}
	}
}

// candidates are the indexes (ascending, once each) of the flows whose
// heads name the input's device or one of its templates: the only ones
// that may fire for it (flows.Flow.Matches decides).
func (tf *tenantFlows) candidates(in flows.Input) []int {
	out := tf.byDevice[in.DeviceID]
	merged := false
	for _, t := range in.Templates {
		more := tf.byTemplate[t]
		switch {
		case len(more) == 0:
		case len(out) == 0:
			out = more
		default:
			if !merged { // never append to the index's own slices
				out, merged = append([]int(nil), out...), true
			}
			out = append(out, more...)
		}
	}
	if merged { // a flow named by the device and a template runs once, in order
		slices.Sort(out)
		out = slices.Compact(out)
	}
	return out
}

// New checks opts.
func New(opts Options) (*Broker, error) {
	if opts.Store == nil || opts.View == nil || opts.Actuator == nil {
		return nil, errors.New("flows broker: Store, View and Actuator are required")
	}
	if opts.Group == "" {
		opts.Group = "dojot"
	}
	if opts.Lanes <= 0 {
		opts.Lanes = 64
	}
	if opts.AckWait <= 0 {
		opts.AckWait = 60 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	b := &Broker{opts: opts, log: opts.Logger, tenants: map[string]*tenantFlows{}}
	b.engine = flows.New(flows.Options{Logger: opts.Logger, Effects: b.effects()})
	return b, nil
}

// Stats are a flow's counters in this instance (per node: in, out,
// errors, the last error).
func (b *Broker) Stats(flowID string) flows.FlowStats { return b.engine.Stats(flowID) }

// Failed is how many times a flow node failed in this instance.
func (b *Broker) Failed() uint64 { return b.engine.Failed() }

// Run consumes the inputs until ctx is done.
func (b *Broker) Run(ctx context.Context) error {
	b.lanes = flows.NewLanes(b.opts.Lanes, 16*b.opts.Lanes)
	// Inputs held here (on their lane or running) are kept from being
	// handed out again while a device's backlog waits behind a slow node.
	var held holding
	go held.keepAlive(ctx, b.opts.AckWait/3)
	errs := make(chan error, 2)
	for _, w := range []eventstore.Work{
		{Durable: "flows_data_" + b.opts.Group, Description: "dojot flows of group " + b.opts.Group + ": device readings", AckWait: b.opts.AckWait},
		{Durable: "flows_events_" + b.opts.Group, Description: "dojot flows of group " + b.opts.Group + ": device events", Events: true, AckWait: b.opts.AckWait},
	} {
		go func() {
			errs <- b.opts.Store.Follow(ctx, w, func(item eventstore.WorkItem) {
				// One device's inputs in order on its lane; a full
				// backlog holds the consumer (backpressure).
				h := held.add(item)
				if b.lanes.Do(ctx, deviceOf(item.Subject), func() { b.handle(ctx, item); held.remove(h) }) != nil {
					held.remove(h)
					item.Nak(time.Second)
				}
			})
		}()
	}
	b.log.Info("flows: running", "group", b.opts.Group, "lanes", b.opts.Lanes)
	var err error
	for range 2 {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	b.lanes.Wait()
	return err
}

// deviceOf is the "<tenant>.<device>" of data.<tenant>.<device> or
// evt.<tenant>.device.<device>.
func deviceOf(subject string) string {
	parts := strings.Split(subject, ".")
	if len(parts) == 3 {
		return parts[1] + "." + parts[2]
	}
	if len(parts) == 4 {
		return parts[1] + "." + parts[3]
	}
	return subject
}

// handle runs an input through its tenant's flows and acknowledges it,
// or hands it out again when the run was interrupted.
func (b *Broker) handle(ctx context.Context, item eventstore.WorkItem) {
	in, ok, err := b.input(item)
	if err != nil {
		b.log.Warn("flows: input not usable, skipped", "subject", item.Subject, "seq", item.Seq, "err", err)
		item.Ack()
		return
	}
	if !ok {
		item.Ack()
		return
	}
	in.Depth = max(in.Depth, item.Depth) // a reading's from its header, a configure's from its event
	if in.RequestID != "" {
		ctx = dojot.WithRequestID(ctx, in.RequestID)
	}
	tf := b.flowsOf(in.Tenant)
	for _, i := range tf.candidates(in) {
		if _, err := b.engine.Run(ctx, tf.flows[i], in); err != nil {
			item.Nak(time.Second) // interrupted (ctx done): outputs keep their ids on the retry
			return
		}
	}
	item.Ack()
}

// flowsOf is a tenant's enabled flows, parsed again only after its flow
// events moved.
func (b *Broker) flowsOf(tenant string) *tenantFlows {
	seq := b.opts.View.FlowsSeq(tenant)
	b.mu.Lock()
	tf := b.tenants[tenant]
	b.mu.Unlock()
	if tf != nil && tf.seq == seq {
		return tf
	}
	tf = &tenantFlows{seq: seq}
	for _, f := range b.opts.View.Flows(tenant) {
		if !f.Enabled {
			continue
		}
		var nodes []json.RawMessage
		if err := json.Unmarshal(f.Nodes, &nodes); err != nil {
			b.log.Warn("flows: flow not parsed", "tenant", tenant, "flow", f.ID, "err", err)
			continue
		}
		g, err := flows.Parse(nodes)
		if err != nil { // saved before the parser refused it: it cannot run
			b.log.Warn("flows: flow cannot run", "tenant", tenant, "flow", f.ID, "err", err)
			continue
		}
		tf.flows = append(tf.flows, flows.Flow{ID: f.ID, Enabled: true, Graph: g})
	}
	tf.index()
	b.mu.Lock()
	b.tenants[tenant] = tf
	b.mu.Unlock()
	return tf
}

// input normalises a DATA reading or a device event (FLOWS.md 3.1); ok
// is false for events flows do not see.
func (b *Broker) input(item eventstore.WorkItem) (flows.Input, bool, error) {
	return Normalizer{b.opts.View}.Input(item.Subject, item.Seq, item.Data)
}
