// Package http is dojot's HTTP IoT agent (connector/http-agent), imported
// as agenthttp: devices POST readings to
// /http-agent/v1/incoming-messages ({"ts","data"}) or
// /http-agent/v1/incoming-messages/create-many (an array of 1 to 64), and
// each reading is stored in the DATA stream in dojot's IoT-agent shape
// with metadata.timestamp from ts (ms since the epoch, or an RFC 3339
// date-time; none or 0: now). The bodies are checked against dojot's JSON
// schemas with ajv's errors (schema.go). The answer is 204.
//
// Identity, as dojot's device-identification interceptor: on the agent's
// TLS listener the client certificate (required, verified in the
// handshake against the platform CA and the trusted CAs), looked up by
// fingerprint (dojot's default mode) or, in cn mode, by its CN
// <tenant>:<deviceid> when it has no record (Options.Certs,
// pki.Identifier); on the gateway's port the basic credentials
// "Basic base64(<tenant>@<deviceid>:<password>)" that POST
// /basic-auth/v1/devices/:id/basic-credentials issued (on both the
// /unsecure/ paths Kong exposed and the others), or with Options.Insecure
// (dojot's params mode, tests only) ?tenant=&deviceId= on /unsecure/
// paths. dojot's answers: 400 {"error":"Unable to authenticate"} with no
// identity, 401 "Invalid Basic token." / "Invalid credentials." /
// "Unidentified parameters", 403 "Client certificate is invalid"; a
// device that does not exist is a 404 here (dojot published for it).
//
// Better than dojot, on purpose: the 204 comes only after JetStream stored
// every reading of the request (dojot's batch route answered before its
// publishes finished, so their failures were never reported); when one is
// not stored the answer is 503 with dojot's error shape ({"error":"..."},
// or for a batch {"error":{"<index>":"..."}}) so the device sends it again.
//
// The legacy POST /iotagent/readings of dojot/iotagent-http is served too
// (legacy.go).
package http
