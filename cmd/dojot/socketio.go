package main

import (
	"log/slog"

	"github.com/dojot-es/dojot/socketio"
)

// startSocketIO builds DataBroker's socket.io over Kafka WS: its tokens
// in Kafka WS's ticket store (memory, or the Redis of -redis-url that
// every instance shares), its feeds Kafka WS's.
func startSocketIO(cfg *Config, kws *kafkaWS, log *slog.Logger) (*socketio.Server, error) {
	// A key of its own, derived: a socket.io token's value must never
	// verify as a Kafka WS ticket's, or the reverse.
	tokens, err := socketio.NewTokens(kws.tickets, deriveKey(kws.secret, "dojot socket.io token key"), cfg.SocketIOTokenTTL)
	if err != nil {
		return nil, err
	}
	return socketio.New(socketio.Options{
		Tokens:       tokens,
		Feeds:        kws.srv,
		Logger:       log,
		MaxPerTenant: cfg.SocketIOMaxPerTenant,
	})
}
