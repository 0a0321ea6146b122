package dojottest

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
)

// StartMQTTKafka starts an instance whose MQTT devices log in by username
// alone and whose Kafka is embedded at the returned address, for tests
// driving it with mosquitto_pub/_sub and kcat (needed, or skipped).
func StartMQTTKafka(t *testing.T) (*Instance, string) {
	t.Helper()
	NeedCommand(t, "sh", "-c", "command -v mosquitto_sub && command -v mosquitto_pub") // their --help exits 1
	NeedCommand(t, "kcat", "-V")
	broker := FreeAddr(t)
	return Start(t, "", "-mqtt-insecure", "-kafka-embedded-addr="+broker), broker
}

// MosquittoPub publishes one message with Debian's mosquitto_pub and
// returns its combined output and error.
func MosquittoPub(in *Instance, username, topic, payload string, args ...string) ([]byte, error) {
	host, port, _ := net.SplitHostPort(in.MQTTAddr)
	args = append([]string{"-h", host, "-p", port, "-u", username, "-i", "e2e-" + username, "-t", topic, "-m", payload}, args...)
	return exec.Command("mosquitto_pub", args...).CombinedOutput()
}

// ConfigSub runs mosquitto_sub as device id of admin on its config topic
// until it got n messages (30 s at most), and returns what waits for it
// and gives its output. It returns once the broker acknowledged the
// subscription.
func ConfigSub(t *testing.T, in *Instance, id string, n int) func() string {
	t.Helper()
	user := "admin:" + id
	host, port, _ := net.SplitHostPort(in.MQTTAddr)
	sub := MosquittoSub(t, "-h", host, "-p", port, "-u", user, "-i", "e2e-sub-"+id, "-q", "1",
		"-t", user+"/config", "-C", fmt.Sprint(n), "-W", "30")
	return func() string {
		t.Helper()
		return strings.Join(sub(), "\n") + "\n"
	}
}
