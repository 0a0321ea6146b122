// Package mqtt is dojot's MQTT agent: an MQTT 3.1.1/5 broker (mochi-mqtt)
// embedded in the binary, or a client of an external broker (see External
// broker below). Devices publish JSON attrs on their own topic,
// <tenant>:<deviceid>/attrs, or the legacy /<tenant>/<deviceid>/attrs; each
// reading is stored in the DATA stream in dojot's IoT-agent shape
// {"metadata":{"deviceid","tenant","timestamp"},"attrs":{...}}, on
// data.<tenant>.<deviceid>. metadata.timestamp is the payload's own
// "timestamp" (a number of ms, or an RFC 3339 string), which stays inside
// attrs as dojot's v2k bridge leaves it, else the time of arrival.
//
// Identity. The username is <tenant>:<deviceid> or <tenant>@<deviceid>
// (the username of dojot's basic credentials) and the password the
// device's basic-auth password, issued by POST
// /basic-auth/v1/devices/{id}/basic-credentials and checked through
// Options.Credentials (bcrypt, on the memory view). In insecure mode
// (Options.Insecure, dojot's plain-1883 test mode) the username alone
// identifies the device, with no password. On the mutual-TLS listener
// (ServeTLS, tls.go; 8883) the client certificate is the identity: the
// handshake verifies it against the CA and the trusted CAs and refuses an
// unknown, unlinked, revoked or expired one (pki.Identifier.ServerTLS), and
// at CONNECT Options.CertIdentity names its device, which becomes the
// username (VerneMQ's use_identity_as_username); the client's own username
// and password are ignored. A refused client gets CONNACK "bad username or
// password", logged and counted. Either way the device must exist in its
// tenant, at connect and at each publish.
//
// ACL. A client publishes only to its own attrs topic and subscribes only
// to its own config topic (<tenant>:<deviceid>/config or
// /<tenant>/<deviceid>/config); a will may name only its own attrs topic.
//
// Refusals. A refused subscription gets the SUBACK failure code (0x87 in
// MQTT 5, 0x80 in 3.1.1). A refused publish (another topic, not a JSON
// object, larger than Options.MaxPayload, unknown device) is dropped at
// QoS 0; at QoS 1 and 2 an MQTT 5 client gets a PUBACK/PUBREC with the
// reason code (0x87 not authorized, 0x99 payload format invalid, 0x83 too
// large) and an MQTT 3.1.1 client, which has no negative acknowledgement,
// is disconnected. Nothing is stored; every refusal is counted in Status
// and logged (the first of each kind, then one in a thousand); the broker
// goes on serving every other client.
//
// Delivery. A QoS 1 (or 2) publish is acknowledged only after JetStream
// stored it. OnPublish checks the reading and starts an asynchronous append
// (eventstore.Store.AppendDataAsync), so a client may have many readings in
// flight; an acker (ack.go) waits for JetStream's answers in the order the
// readings came and writes a client's PUBACKs, in its order, in one write
// once nothing more is ready. mochi-mqtt v2.7.9 writes no PUBACK of its
// own when the hook answers ErrRejectPacket (server.go, processPublish).
// QoS 2 is stored before the hook returns, and mochi writes the PUBREC. If
// JetStream fails or does not answer within Options.Timeout, the publish
// is not acknowledged (nor anything the client sent after it) and the
// client is disconnected, so it sends them again. Readings carry no
// Nats-Msg-Id: MQTT packet ids are reused as soon as they are acknowledged
// (a client sending one message at a time uses id 1 again and again), so
// an id built from client id and packet id would drop distinct readings
// inside JetStream's duplicate window. The cost is at-least-once: a reading stored just
// before a crash that ate its PUBACK is stored again when the client
// resends it. QoS 0 is best effort.
//
// External broker. With Options.BrokerURL the agent embeds no broker and is
// a client of another one (external.go): MQTT 3.1.1 with paho, a persistent
// session (CleanSession false, Options.ClientID stable across restarts), in
// the shared subscriptions $share/<group>/+/attrs and
// $share/<group>//+/+/attrs at QoS 1, so the instances of a group split the
// readings. That broker authenticates the devices and keeps them to their
// own topics; the agent checks each reading as OnPublish does (Agent.reading:
// JSON object, MaxPayload, the device exists) and acknowledges it by hand
// (paho's AutoAckDisabled, Message.Ack) only after JetStream stored it. A
// refused reading is acknowledged, counted and logged; one that was not
// stored is not, nor is anything after it on that connection: the agent
// reconnects (with backoff while the store keeps failing) and the broker
// sends them again. A lost broker is retried with backoff, its loss and
// return logged once each and shown in Status.Broker. Actuation is
// published to that broker by one instance of the group: the instances
// share the durable JetStream consumer mqtt_actuate_<group> on EVENTS
// (followShared says why not a NATS queue subscription).
package mqtt
