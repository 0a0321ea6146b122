package dojottest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
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

// KafkaWSLines starts kafkaWSClient on topic (query added to its URL,
// n frames) and returns a function giving its next output line; it fails
// the test when the client ended or said nothing for 30 s.
func KafkaWSLines(t *testing.T, in *Instance, token, topic, query string, n int) func() string {
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

// KcatUntil consumes topic from the beginning with kcat (librdkafka, as
// dojot's C and Python consumers) until it holds n records or 20 s pass.
func KcatUntil(t *testing.T, broker, topic string, n int) []KcatMessage {
	t.Helper()
	var got []KcatMessage
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := exec.Command("kcat", "-C", "-b", broker, "-t", topic, "-o", "beginning", "-e", "-J", "-q").Output()
		got = got[:0]
		if err == nil {
			for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
				if len(line) == 0 {
					continue
				}
				var m KcatMessage
				if err := json.Unmarshal(line, &m); err != nil {
					t.Fatalf("kcat line %s: %v", line, err)
				}
				got = append(got, m)
			}
		}
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
}
