package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
	"github.com/dojot-es/dojot/kafkaws/tickets/ticketstest"
)

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

			line := dojottest.KafkaWSLines(t, in, c.Token, "admin.device-data", "&fields=attrs/temperature&where=attrs.temperature=gte:20;", 2)
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
						_, _ = dojottest.MosquittoPub(in, user, user+"/attrs", payload, "-q", "1")
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
