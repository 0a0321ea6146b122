// Package commandstest provides an in-memory event store for testing
// commands, and code built on them, without NATS.
package commandstest
