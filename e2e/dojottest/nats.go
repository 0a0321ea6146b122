package dojottest

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// GoModNATSServer is the repository's root and go.mod's nats-server
// version ("v2.15.2").
func GoModNATSServer(t *testing.T) (root, version string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root = filepath.Join(filepath.Dir(file), "..", "..")
	out, err := exec.Command("go", "list", "-C", root, "-m", "-f", "{{.Version}}", "github.com/nats-io/nats-server/v2").Output()
	if err != nil {
		t.Fatalf("go list nats-server: %v", err)
	}
	return root, strings.TrimSpace(string(out))
}

// ClusterFlags are the settings docker-compose.yml's dojot-cluster has
// too (TestComposeFile checks): R3 streams, and a write waits 15 s for its
// view, through an election (4 to 9 s without a stream leader, then the
// view's consumer made again), instead of 5.
var ClusterFlags = []string{"-nats-replicas=3", "-wait-timeout=15s"}
