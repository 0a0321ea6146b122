package e2e

import (
	"bufio"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
	"github.com/dojot-es/dojot/kafkaws/tickets/ticketstest"
)

// kafkaWSClient is a Kafka WS client in Python (Debian's python3-websocket),
// as a GUI outside Go would be: it gets a ticket with the login token,
// opens the topic with fields and where, prints "open", then each frame,
// then tries the same ticket again and prints the HTTP status.
const kafkaWSClient = `
import json, sys, urllib.request, websocket
base, token, topic, query, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
req = urllib.request.Request(base + "/kafka-ws/v1/ticket", headers={"Authorization": "Bearer " + token})
ticket = json.load(urllib.request.urlopen(req))["ticket"]
url = base.replace("http", "ws", 1) + "/kafka-ws/v1/topics/" + topic + "?ticket=" + ticket + query
ws = websocket.create_connection(url, timeout=20)
print("open", flush=True)
for _ in range(n):
    print(ws.recv(), flush=True)
ws.close()
try:
    websocket.create_connection(url, timeout=20)
    print("reuse: connected", flush=True)
except websocket.WebSocketBadStatusException as e:
    print("reuse:", e.status_code, flush=True)
`

// kafkaWSLines starts kafkaWSClient on topic (query added to its URL,
// n frames) and returns a function giving its next output line; it fails
// the test when the client ended or said nothing for 30 s.
func kafkaWSLines(t *testing.T, in *instance, token, topic, query string, n int) func() string {
	t.Helper()
	py := exec.Command("/usr/bin/python3", "-c", kafkaWSClient, in.URL, token, topic, query, strconv.Itoa(n))
	out, err := py.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	py.Stderr = &stderr
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { py.Process.Kill(); py.Wait() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return func() string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("client ended: %s", stderr.String())
			}
			return l
		case <-time.After(30 * time.Second):
			t.Fatalf("no line from the client: %s", stderr.String())
		}
		return ""
	}
}

// TestKafkaWS: readings sent with mosquitto_pub reach a Python websocket
// client through Kafka WS, filtered with fields and where; the ticket is
// single use. Tickets in memory (the embedded default) and in Redis.
func TestKafkaWS(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dojottest.NeedCommand(t, "/usr/bin/python3", "-c", "import websocket")
	dojottest.NeedCommand(t, "sh", "-c", "command -v mosquitto_pub")
	for name, flags := range map[string]func(t *testing.T) []string{
		"memory": func(*testing.T) []string { return nil },
		"redis":  func(t *testing.T) []string { return []string{"-redis-url=" + ticketstest.RedisURL(t)} },
	} {
		t.Run(name, func(t *testing.T) {
			in := start(t, "", append([]string{"-mqtt-insecure"}, flags(t)...)...)
			c := in.Login("admin", adminPassword)
			id := dojottest.CreateDevice(c, "thermo", dojottest.CreateTemplate(c, "Thermos"))
			user := "admin:" + id

			line := kafkaWSLines(t, in, c.Token, "admin.device-data", "&fields=attrs/temperature&where=attrs.temperature=gte:20;", 2)
			if l := line(); l != "open" {
				t.Fatalf("client: %q", l)
			}
			// Sent until two pass the filter: the first may race the
			// consumer's start.
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				for i := 0; i < 50; i++ {
					for _, temp := range []string{"10.5", "21.5"} {
						select {
						case <-stop:
							return
						default:
						}
						payload := fmt.Sprintf(`{"temperature":%s,"hum":%d}`, temp, i)
						_, _ = mosquittoPub(in, user, user+"/attrs", payload, "-q", "1")
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
			for range 2 {
				if l := line(); l != `{"attrs":{"temperature":21.5}}` {
					t.Errorf("frame %s; want {\"attrs\":{\"temperature\":21.5}}", l)
				}
			}
			if l := line(); l != "reuse: 401" {
				t.Errorf("second use of the ticket: %q; want reuse: 401", l)
			}
		})
	}
}
