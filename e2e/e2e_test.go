// Package e2e tests the whole dojot binary from the outside, only over HTTP,
// as dojot clients would (see dojottest).
package e2e

import (
	"testing"

	"github.com/dojot-es/dojot/e2e/dojottest"
	"github.com/nats-io/nats.go/jetstream"
)

const adminPassword = dojottest.AdminPassword

type (
	instance = dojottest.Instance
	client   = dojottest.Client
)

func start(t testing.TB, dataDir string, extra ...string) *instance {
	t.Helper()
	return dojottest.Start(t, dataDir, extra...)
}

var (
	mustJSON = dojottest.MustJSON
	trunc    = dojottest.Trunc
)

// jetStream is a JetStream client of the NATS at addr (an instance's
// -nats-listen), closed when the test ends.
func jetStream(t testing.TB, addr string) jetstream.JetStream {
	t.Helper()
	return dojottest.JetStreamURL(t, "nats://"+addr)
}
