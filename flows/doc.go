// Package flows is dojot's Flowbroker engine (FLOWS.md, issue 17): it
// parses node-RED flow bodies, decides which flows an input starts, runs
// them node by node, and performs their side effects through interfaces
// the caller provides. It never sees JetStream, Kafka or HTTP routes: the
// wiring owns inputs, acks and outputs.
//
// # Flows
//
// Parse turns a flow body (the "flow" array the API receives) into an
// immutable *Graph, or an *InvalidError listing every problem with its
// node id and reason; it wraps dojot.ErrInvalid, so the API answers 400
// with dojot's "Given flow is invalid" and the problems as the detail.
// Graph.HeadIDs, Devices and Templates are what dojot stores beside a
// flow to find the flows of an event: index flows by them. Parse is also
// the place to re-parse stored flows at start (flow.created/updated
// events carry the nodes as sent). Types lists the node types for the
// palette.
//
// # Inputs
//
// The engine runs on two inputs, normalised as FLOWS.md 3.1 says (a
// DATA reading with the device's static attrs merged in, a device event
// create/update/remove/configure, templates as strings); flows/broker
// builds them from the streams and its views.
//
// Seq must be the input's stream sequence: output ids derive from it, so
// it must be the same when the input is redelivered. Depth is the number
// carried by a reading or actuation a flow made (DeviceData.Depth,
// Actuation.Depth; store it with the output, e.g. as a header, and give
// it back): past Options.MaxDepth the flows of that input do not run,
// which cuts a device out feeding its own flow.
//
// For each input, find the candidate flows of the tenant (by device id
// and by each template id), then call Engine.Run for each. Run checks the
// head rules itself (Flow.Matches: event device in / event template in
// and their event_* flags; the deprecated device in / device template in
// on publish, checking the device or template they name; a disabled flow
// never runs), so a superset of candidates is fine. MaxHops, MaxSteps and
// MaxDepth cut loops (counted in Stats).
//
// # Order, concurrency and acks
//
// Run is synchronous and safe for concurrent use. Keep per-device order
// by running one input of a device at a time (partition the DATA and
// EVENTS consumers by device, DESIGN.md), and run different devices in
// parallel: Lanes does both (one lane per device id, a bounded number of
// workers, Do blocking when too much is pending), so a slow http node
// only delays its own device (a fixed set of lanes chosen by a hash of
// the device, as flows/broker has now, makes the devices that share a
// lane wait behind a slow one). With JetStream, ack each message
// individually when its lane has run it. Every node
// that waits on the network gets Options.NodeTimeout (dojot's 30 s task
// timeout). Acknowledge an input after Run returned for every candidate
// flow: by then every effect call has returned, i.e. (with effects that
// return after the store acknowledged) every output is stored. A node
// that fails ends its branch, is logged and counted, and does not fail
// Run; Run fails when ctx ends or an effect returns an error wrapping
// dojot.ErrUnavailable (an output not stored), and then the input must
// not be acked. A redelivered input runs again and its outputs get the same
// ids; effects must pass the id to the store's de-duplication
// (Nats-Msg-Id) so the second copy is dropped.
//
// # Effects
//
// Effects holds one small interface per side effect: DataPublisher
// (device out, multi device out: append to DATA), Actuator (actuate,
// multi actuate: the device command, which checks actuator attrs and
// stores device.actuated), Notifier (the notifications stream),
// FTPPublisher (<tenant>.dojot.ftp), FTPUploader, HTTPDoer (an
// *http.Client), CronJobs (the cron job commands) and ContextStore (a
// JetStream KV bucket: Get with revision, CompareAndSet with the
// revision, dojot.ErrConflict on a lost race; flows/broker.KVContexts
// over eventstore.KV). MemoryContext is the reference implementation
// and flowstest.RunContextStore the suite a KV store must pass. Outputs
// carry deterministic ids for the sinks' de-duplication, the cron request
// too, and cumulative sum counts a retried input once; an http call or an
// ftp upload cannot be taken back, so a retried input repeats it.
//
// # Sandbox and status
//
// A Recorder is an Effects that records instead of performing (http
// calls answer 200 empty, cron jobs get sandbox ids, contexts live in a
// private MemoryContext): an Engine built on it is the sandbox replay
// runs in, and Options.Observer sees what every node emitted.
// Engine.Stats gives per flow and per node: in, out, errors, last error
// with its time, and the loops cut (MaxHops inside a flow, MaxDepth
// across flows), for GET /flows/v1/flow/:id/status.
//
// # JavaScript semantics
//
// Messages are encoding/json values (map[string]any, []any, float64,
// string, bool, nil). Where dojot's behaviour depends on JavaScript, the
// nodes use the helpers of js.go: Number(), String(), strict equality,
// the relational operators (two strings compare lexically, anything else
// numerically, NaN is never ordered), JSON.stringify. Paths (path.go) are
// dojot's: "payload.data.attrs.temperature", no "msg." prefix, no
// brackets; Get fails with "Unknown property <path> requested"; Set
// creates missing objects. A node gets a message it owns: the engine
// deep-copies a message before it reaches a second target.
package flows
