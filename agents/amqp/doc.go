// Package amqp is dojot's RabbitMQ IoT agent (dojot/iotagent-rabbitmq),
// imported as agentamqp. Devices (or a gateway speaking for them) publish a
// JSON object of attrs to the topic exchange inbound.dojot.exchange with a
// routing key that is the device's static attribute
// device_amqp_routing_key; the agent consumes them from the durable queue
// inbound.dojot.queue (declared, and bound with "#", with dojot's
// arguments, so a queue dojot left behind is taken over as it is) and
// stores each in the DATA stream in dojot's IoT-agent shape, for every
// device whose routing key it is (memory.View.DevicesByStatic: several
// devices of one tenant may share one; a key of several tenants' devices
// is refused, and their actuations not sent: agents.ForTenant). metadata.timestamp is the
// payload's own "timestamp" (dojot.ReadingTime), else the time of arrival.
//
// Delivery. Unlike dojot's agent, which consumed with noAck (a message was
// gone from RabbitMQ before it was stored), a delivery is acknowledged only
// after JetStream stored it: the consumer starts an asynchronous append per
// message and an acker waits for JetStream's answers in the order the
// messages came, acknowledging the stored ones together (multiple=true)
// once nothing more is ready. At most Options.Prefetch messages are in
// flight (basic.qos). If JetStream fails or does not answer in time the
// channel is closed without acknowledging that message or any after it:
// RabbitMQ hands them out again, after a pause. A message stored but not
// yet acknowledged when the channel closed (a failure, RabbitMQ restarted)
// is delivered again: when its publisher set the AMQP message-id it is
// the append's Nats-Msg-Id, so JetStream stores it once (within the DATA
// stream's Duplicates window); without one it is stored again (at least
// once).
//
// Refusals. A message with no device for its routing key, not a JSON
// object, or larger than Options.MaxPayload is rejected without requeue
// (dropped, as a queue with no dead-letter exchange does), counted by
// reason in Status and logged (the first of each kind, then one in a
// thousand). Nothing of it is stored.
//
// Connection. A lost connection (RabbitMQ restarted, the network gone) is
// retried with backoff (0.5 s doubling to 30 s); its loss and return are
// logged once each and shown in Status, which /healthz shows under "amqp".
//
// Actuation. dojot's configure becomes {"id":"<deviceid>","attrs":{...}} on
// the direct exchange outbound.dojot.exchange, routing key the device's
// device_amqp_routing_key, persistent, confirmed by RabbitMQ. Every
// instance talks to the same RabbitMQ, so each actuation is published by
// one instance of the group (the durable JetStream consumer
// amqp_actuate_<group>, eventstore.Store.FollowShared), and retried until
// RabbitMQ confirmed it. A device without the attribute is not an AMQP
// device: nothing is sent.
//
// Several instances consume the one queue as competing consumers, which
// splits the messages between them: the order of a device's readings holds
// per instance, not across instances (dojot's single agent had no such
// question; a queue with single-active-consumer would keep it, at the cost
// of dojot's queue arguments).
package amqp
