// Package e2e tests the whole dojot binary from the outside, only over HTTP,
// as dojot clients would (see dojottest).
package e2e

import (
	"testing"

	"github.com/dojot-es/dojot/e2e/dojottest"
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
