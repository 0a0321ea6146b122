// Package eventstore is the only package that talks to JetStream. It runs an
// embedded nats-server (JetStream file store in the data dir, in-process
// connection) or connects to an external NATS by URL; after connecting the
// code is the same. It creates the EVENTS and DATA streams idempotently,
// appends events with optimistic concurrency (expected last sequence per
// subject) and Nats-Msg-Id dedupe, reads one aggregate, and replays or
// follows the log from a sequence.
//
// Durability: an append returns once JetStream has stored the event. The
// embedded server fsyncs on its own schedule (every 2 minutes unless
// Options.SyncInterval or SyncAlways says otherwise), so a power loss can
// lose acknowledged events of that window; a process crash cannot.
//
// Any number of Stores, in one process or many, may share one NATS: the
// expectations are checked by JetStream, so concurrent writers to one
// aggregate conflict instead of overwriting each other. Appends that check
// another subject (dojot.Event.ExpectSubject) need nats-server 2.11 or later
// and fail on older servers rather than check the wrong subject.
package eventstore
