// Package kafkaws is dojot's Kafka WS: live feeds of a tenant's topics
// over websockets, opened with a single-use ticket (CONTRACT.md 7; dojot's
// subscription-engine/kafka-ws).
//
// A user with a login token gets GET /kafka-ws/v1/ticket ->
// {"ticket":"<64 hex>"} (kafkaws/tickets: kept in Redis or in memory for
// 60 s, redeemed once), then opens GET
// /kafka-ws/v1/topics/<tenant>.<subject>?ticket=...[&fields=..][&where=..]
// as a websocket. Each message of the topic becomes a text frame: the value
// after the where conditions and the fields selection (kafkaws/filter);
// frames start with the messages stored after the connection opened, as
// dojot's consumer starts at the latest offset. Refusals are dojot's: 401
// {"message":"Missing ticket"} / {"message":"Invalid ticket"} before the
// upgrade, 426 without one; after it, close 4403 for another tenant's
// topic, 4000-4004 and 4400 for a bad filter, 4408 when the connection's
// lifetime (2 h by default) is over, 4503 when the feed fails.
//
// The feeds are served from JetStream, so they work with Kafka off:
// <tenant>.device-data from the DATA stream,
// <tenant>.dojot.notifications (the flows' notifications, dojot's message
// as is) from NOTIFICATIONS, and <tenant>.dojot.device-manager.device from
// EVENTS, rendered as dojot's messages (projections/kafkamsg, as the Kafka
// bridge writes them) by a renderer that keeps a view of its own. Live
// connections of one tenant's data (or notifications) share one ordered
// consumer (a hub per stream), and connections with the same
// filter share its result, so a message is read and filtered once however
// many sockets watch it. Frames are written by a few writer goroutines,
// not one per connection. With Kafka on (Options.KafkaBrokers) the
// tenant's other topics are read from Kafka, live only; with Kafka off
// they close with 4503.
//
// Beyond dojot: since=<stream sequence> or since=<RFC 3339 time> replays
// the topic from that point and then goes on live, on one ordered consumer
// of its own, so there is no gap and no duplicate between the two; seq=true
// wraps each frame as {"seq":<stream sequence>,"value":<frame>} so a client
// can resume after a reconnect with since=<seq+1>. Legacy clients, which
// ask for neither, see dojot's frames unchanged.
//
// Limits: a connection has a bounded send buffer; a client too slow to
// take its frames is closed with 4429 ("Client too slow") rather than let
// memory grow. The server pings every 30 s and closes a connection that
// has not answered within 60 s. A tenant may hold at most MaxPerTenant
// connections (429 before the upgrade).
package kafkaws
