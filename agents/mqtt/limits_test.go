package mqtt_test

import (
	"strings"
	"testing"

	agentmqtt "github.com/dojot-es/dojot/agents/mqtt"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

// TestOversizePacket: a packet past the broker's maximum packet size
// (MaxPayload plus 64 KiB of room for topic and properties) is not read
// into memory: the client is disconnected, nothing is stored, and other
// clients go on. (A payload between MaxPayload and that is refused with a
// reason: TestPublishRefused.)
func TestOversizePacket(t *testing.T) {
	store := eventstoretest.Open(t)
	addr, _ := serve(t, agentmqtt.Options{Store: store, Insecure: true, MaxPayload: 1000})
	big := mustConnect(t, addr, "admin:a1")
	good := mustConnect(t, addr, "admin:a2")
	payload := `{"x":"` + strings.Repeat("a", 1000+64<<10) + `"}`
	if publish(big, "admin:a1/attrs", 1, payload) {
		t.Error("oversize publish acknowledged")
	}
	waitFor(t, func() bool { return !big.IsConnectionOpen() })
	if !publish(good, "admin:a2/attrs", 1, `{"n":1}`) {
		t.Fatal("another client's publish not acknowledged after the oversize one")
	}
	if got := readings(t, store); len(got) != 1 {
		t.Errorf("DATA holds %d readings, want only the good client's", len(got))
	}
}
