// Package chaos tests the whole dojot binary while parts of it fail: an
// instance killed mid-burst or in a crash loop, a NATS cluster node lost,
// the view's database cut off. These tests are long and mostly wait, so
// they are a package of their own, with their own share of go test's
// per-package timeout, run beside package e2e's (see dojottest for the
// harness both share).
package chaos

import (
	"flag"
	"os"
	"testing"
)

// TestMain lets the slow tests that spend most of their time waiting
// (for a killed instance's inputs to come back after the flows' 60 s
// AckWait, for a NATS election, for a view to rebuild from 100,000 events)
// wait together: they call t.Parallel(), and run after every other test
// of the package, four at once unless -parallel says otherwise. They
// would otherwise wait one after the other, and the package shares go
// test's default 10-minute timeout.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "4") // the flag exists: testing registered it
	}
	os.Exit(m.Run())
}
