package e2e

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
