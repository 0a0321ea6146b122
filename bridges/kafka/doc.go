// Package kafka bridges the event log and device data to dojot's Kafka
// topics, and legacy IoT agents' device data back, so legacy
// dojot services and users' applications keep reading what dojot's
// device-manager and auth wrote there (CONTRACT.md sections 2, 4.4, 10):
//
//	device.created  (plain or import)   -> <tenant>.dojot.device-manager.device "create"
//	device.updated  (plain or psk)      -> "update" (psk: rendered as GET /internal/device/:id)
//	device.deleted  (all but delete_all)-> "remove", data = the event's rendered device
//	device.actuated                     -> "configure" {id, attrs}, meta.timestamp in ms
//	template.updated                    -> "update" for each device using it, then "template.update"
//	tenant.created / tenant.deleted     -> dojot-management.dojot.tenancy {"type":"CREATE"|"DELETE"}
//
// Device data goes both ways (CONTRACT.md 5):
//
//	DATA data.<tenant>.<deviceid>  -> <tenant>.device-data, the reading as it is, key = device id
//	<tenant>.device-data           -> DATA, what legacy IoT agents produce
//
// Causes template_added, template_removed and delete_all send nothing, as
// dojot's DeviceHandler does for POST/DELETE /device/:id/template/:tid and
// DELETE /device.
//
// # Rendering at the event's position
//
// A device message carries the whole device as GET /device/:id showed it
// right after the event, with its templates as they were then: not as they
// are when the bridge happens to catch up. So the bridge keeps its own
// memory view (projections/memory), fed by exactly the ordered event stream
// it bridges. At start it replays EVENTS from 1 up to its consumer's ack
// floor into that view, sending nothing; then, for every new event, it
// applies the event and renders after applying. "affected" of
// template.update is the view's DevicesWithTemplate at that point.
//
// # Delivery
//
// Events are read in order from a durable JetStream pull consumer on
// EVENTS (AckPolicy all), pulled ahead continuously. A batch is whatever has
// arrived when the pump is free, never more than it waits for: an event on
// an idle stream is written at once, and batches form only from a backlog
// (built up while the previous batch was in Kafka). The records of a batch
// are written with one kafka-go WriteMessages (RequiredAcks all, Hash
// balancer, key = device id, tenant name for tenancy; kafka-go lingers 1 ms
// on a partition's last partial batch, the only wait a record sees), and
// the batch is acknowledged to JetStream only after Kafka acknowledged every
// record. While Kafka fails,
// the bridge holds the batch and retries it with backoff, never acking and
// never skipping; it logs when the state changes and every 30 s while it
// lasts, and Status reports it. The rest of the platform keeps serving.
//
// The guarantee is at least once: after a crash between Kafka's ack and
// JetStream's, the batch is written again. Every record carries the
// headers dojot-event-id (the event id), dojot-seq (its EVENTS sequence)
// and dojot-part (its index among the records of that event: a
// template.updated gives several), so a consumer drops a duplicate by
// (dojot-event-id, dojot-part). Per-device order holds: the bridge
// processes the stream strictly in sequence order (a redelivery that would
// overtake an unacknowledged event makes it reset the consumer to its ack
// floor), and Kafka keeps the order of one key within its partition.
//
// # Device data
//
// DATA -> Kafka is a second pump of the same kind, with its own durable
// consumer (Consumer + "-data"), created at the stream's end (enabling the
// bridge does not replay the retained readings). Each record carries
// dojot-seq (its DATA sequence) and dojot-msg-id (the publisher's
// Nats-Msg-Id, else "data:<seq>"): a consumer drops a duplicate by
// dojot-msg-id. Readings expire from DATA, so a gap in its sequences is
// taken as expired readings, not as outstanding ones.
//
// Kafka -> DATA is one kafka-go consumer-group reader (GroupID) of every
// tenant's <tenant>.device-data: the tenants of the bridge's view at start,
// and the reader restarts with the new list as soon as a tenant event has
// been bridged (its topics are created first). The tenant is the topic's,
// as for dojot's persister. A record must be a JSON object with a string
// metadata.deviceid (a safe subject token) and an object attrs;
// metadata.tenant may be missing, and one that names another tenant is
// refused as a cross-tenant write (counted apart). A bad one is skipped,
// counted and logged (the first and every 100th), never blocking its
// partition. A valid one is appended as it is (more metadata included) to
// data.<tenant>.<deviceid> with the header Dojot-Origin: kafka, which the
// DATA -> Kafka pump skips, so it is not echoed; records carrying dojot-seq
// were written by the bridge itself and are not read back. Appends are
// pipelined, as the MQTT agent's: each record's append starts as soon as it
// is read (the reader's fetches answer as soon as a byte is there), up to
// 1,024 in flight, and their answers are awaited in order. An offset is
// committed (sent every second) only after JetStream stored that reading
// and every one read before it, so a crash reads records again; their
// Nats-Msg-Id kafka:<topic>:<partition>:<offset> makes JetStream drop the
// re-append within its duplicate window (2 minutes by default). An append
// that fails is published again until it is stored, holding the offsets
// after it.
//
// # One bridge at a time
//
// Any number of instances may run a Bridge against one NATS: each durable
// consumer has a pinned-client priority group, so the server hands its
// messages to one of them at a time; another takes over when the pinned
// one stops pulling for PinnedTTL, at once when it stopped cleanly (it
// unpins), or within about 2 s when the pin is held by a pull nobody
// reads any more (messages waiting, none out, the ack floor still: the
// pull of a stopped run, which nats-server pins before it checks that
// anyone still listens).
package kafka
