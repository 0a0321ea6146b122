package dojottest

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// NeedCommand finds a legacy client: under CI=true a missing one fails the
// test (.ci/run installs them), otherwise it skips.
func NeedCommand(t *testing.T, name string, args ...string) {
	t.Helper()
	if err := exec.Command(name, args...).Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v (apt-get install kcat python3-kafka mosquitto-clients)", name, err)
		}
		t.Skipf("%s not usable here: %v", name, err)
	}
}

// KcatMessage is one record as `kcat -J` prints it.
type KcatMessage struct {
	Topic     string   `json:"topic"`
	Partition int      `json:"partition"`
	Offset    int64    `json:"offset"`
	Key       *string  `json:"key"`
	Payload   string   `json:"payload"`
	Headers   []string `json:"headers"` // name, value, name, value...
}

// Header is the value of the record's header name, "" without it.
func (m KcatMessage) Header(name string) string {
	for i := 0; i+1 < len(m.Headers); i += 2 {
		if m.Headers[i] == name {
			return m.Headers[i+1]
		}
	}
	return ""
}

// DeviceTopic is the Kafka topic of admin's device-manager events.
const DeviceTopic = "admin.dojot.device-manager.device"

// StartKafka runs a Kafka-protocol server in the test process on addr
// with its records in dir (kept across restarts).
func StartKafka(t *testing.T, addr, dir string) *kfake.Cluster {
	t.Helper()
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	k, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatalf("kfake on %s: %v", addr, err)
	}
	return k
}
