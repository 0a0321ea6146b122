// Package amqptest gives tests a RabbitMQ of their own: a fresh virtual
// host on DOJOT_TEST_AMQP_URL's server (default the local one,
// amqp://guest:guest@127.0.0.1:5672/), made and dropped with rabbitmqctl,
// so tests that use dojot's fixed exchange and queue names run in
// parallel without seeing each other's messages.
package amqptest

import (
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nats-io/nuid"
)

// DefaultURL is the local RabbitMQ of the development machines.
const DefaultURL = "amqp://guest:guest@127.0.0.1:5672/"

// URL returns an amqp:// URL on a new virtual host, deleted when the test
// ends. Without rabbitmqctl or a server the test is skipped, or fails
// under CI=true.
func URL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("DOJOT_TEST_AMQP_URL")
	if base == "" {
		base = DefaultURL
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("amqptest: DOJOT_TEST_AMQP_URL: %v", err)
	}
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		unavailable(tb, "rabbitmqctl not found: "+err.Error())
	}
	vhost := "dojot-test-" + strings.ToLower(nuid.Next())
	user := u.User.Username()
	if out, err := exec.Command("rabbitmqctl", "add_vhost", vhost).CombinedOutput(); err != nil {
		unavailable(tb, "rabbitmqctl add_vhost: "+err.Error()+": "+string(out))
	}
	tb.Cleanup(func() { _ = exec.Command("rabbitmqctl", "delete_vhost", vhost).Run() })
	if out, err := exec.Command("rabbitmqctl", "set_permissions", "-p", vhost, user, ".*", ".*", ".*").CombinedOutput(); err != nil {
		tb.Fatalf("amqptest: rabbitmqctl set_permissions: %v: %s", err, out)
	}
	u.Path = "/" + vhost
	u.RawPath = "/" + url.PathEscape(vhost)
	return u.String()
}

// VHost is the virtual host of a URL that URL returned.
func VHost(amqpURL string) string {
	u, err := url.Parse(amqpURL)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(u.Path, "/")
}

// CloseConnections closes every client connection to vhost from the
// server's side, as a RabbitMQ restart would.
func CloseConnections(tb testing.TB, vhost string) {
	tb.Helper()
	if out, err := exec.Command("rabbitmqctl", "close_all_connections", "-p", vhost, "test: connection closed by the server").CombinedOutput(); err != nil {
		tb.Fatalf("amqptest: rabbitmqctl close_all_connections: %v: %s", err, out)
	}
}

func unavailable(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("amqptest: RabbitMQ unavailable: %s", why)
	}
	tb.Skipf("amqptest: RabbitMQ unavailable: %s", why)
}
