// Package socketio is DataBroker's real-time socket.io service, the
// channel dojot's GUI v1 and many users' scripts listen to: GET
// /stream/socketio hands a caller behind the PEP a single-use token, and
// /socket.io/ (Engine.IO v3, socket.io protocol revision 4, as
// socket.io-client 2.x speaks it, over long-polling, websocket and the
// upgrade between them) emits to the token's tenant each device reading
// as events <deviceid> and "all", each actuation (configure) the same way,
// and, to sockets opened with subject=dojot.notifications, each
// notification as event "notification", filtered by the client's
// "filter" message. The contract, with dojot's defects this package does
// not copy, is ../shared/SOCKETIO.md.
//
// The protocol is github.com/zishang520/socket.io's (a port of Node's
// socket.io with EIO3 compatibility); the feeds are Kafka WS's
// (kafkaws.Server.Watch), so they come from the event store whether Kafka
// is on or not, and a tenant's messages are read once for both services.
package socketio
