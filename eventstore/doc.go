// Package eventstore is the only package that talks to JetStream. It runs an
// embedded nats-server (JetStream file store in the data dir, in-process
// connection) or connects to an external NATS by URL; after connecting the
// code is the same. It creates the EVENTS and DATA streams idempotently,
// appends events with optimistic concurrency (expected last sequence per
// subject) and Nats-Msg-Id dedupe, reads one aggregate, and replays or
// follows the log from a sequence.
package eventstore
