// Package kafka bridges the event log to dojot's Kafka topics, so legacy
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
// Events are read in order, in batches, from a durable JetStream pull
// consumer on EVENTS (AckPolicy all). The records of a batch are written
// with one kafka-go WriteMessages (RequiredAcks all, Hash balancer, key =
// device id, tenant name for tenancy), and the batch is acknowledged to
// JetStream only after Kafka acknowledged every record. While Kafka fails,
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
// # One bridge at a time
//
// Any number of instances may run a Bridge against one NATS: the durable
// consumer has a pinned-client priority group, so the server hands its
// messages to one of them at a time; another takes over when the pinned
// one stops pulling for PinnedTTL.
package kafka
