// Package tickets issues and redeems the single-use tickets of the Kafka WS
// service (dojot's subscription-engine/kafka-ws, CONTRACT.md 7 "Ticket").
//
// A user with a login JWT asks GET /kafka-ws/v1/ticket for a ticket and opens
// the websocket with ?ticket=...; the ticket is good once, for a TTL (60 s
// by default). An [Issuer] signs the claims (tenant, user, login expiry) as
// an HS256 JWT, keeps that JWT in a [Store] under the HMAC-SHA256 of it, and
// hands out the HMAC as the ticket: the ticket itself carries nothing a
// client could read or forge.
//
// Two stores ship here. [Redis] is the one for deployments: every instance
// of the service shares the Redis and the secret, so a ticket issued by one
// instance is redeemed by whichever instance the websocket reaches. [Memory]
// is the embedded default and only works with a single instance: its
// tickets live in that process, so the websocket must reach the instance
// that issued the ticket (with several instances behind a load balancer,
// use Redis).
//
// The Redis layout is dojot's (key ticket:<ticket>, database 1 by default,
// value the inner JWT) with an optional key prefix, and the inner JWT keeps
// dojot's claims ("tenant", "remainingTime", "exp"), so with the same
// secret and no prefix dojot's kafka-ws and this package redeem each
// other's tickets.
package tickets
