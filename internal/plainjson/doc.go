// Package plainjson reads the plain subset of JSON that our own encoders
// (and json.Marshal) write: no escapes in strings, integers without
// fraction or exponent. Replaying the log at start-up decodes every event
// envelope and every device payload, and encoding/json spent more time on
// that than NATS did delivering them, so eventstore and the memory view
// decode on this direct path and fall back to encoding/json for anything
// it does not accept.
//
// A Scanner reports false, never an error, when the input leaves the plain
// subset; the caller then decodes the whole input with encoding/json. It is
// internal because it serves only those two hot paths: nobody outside the
// module should depend on it.
package plainjson
