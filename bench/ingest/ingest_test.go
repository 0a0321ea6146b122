package main

import (
	"testing"
	"time"
)

// TestSmoke runs the tool for 2 s (10 devices, 200 msg/s, Kafka bridge on,
// history when served) against a binary it builds and starts: every
// reading sent is acknowledged and none is lost. Tokens live 1 s, so the
// history check after the window logs in again.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: builds and starts the binary")
	}
	for _, client := range []string{"raw", "paho"} {
		t.Run(client, func(t *testing.T) {
			cfg := &Config{Devices: 10, Rate: 200, Duration: 2 * time.Second, Kafka: client == "raw", Drain: 20 * time.Second,
				Client: client, ServerArgs: []string{"-token-ttl=1s"}}
			rep, err := run(t.Context(), cfg, t.Output())
			if err != nil {
				t.Fatal(err)
			}
			rep.print(t.Output())
			if rep.Sent == 0 || rep.Acked != rep.Sent || rep.Lost() != 0 {
				t.Errorf("sent %d, acked %d, lost %d; want acked == sent > 0 and none lost", rep.Sent, rep.Acked, rep.Lost())
			}
			if cfg.Kafka && rep.KafkaDelivered != rep.Acked {
				t.Errorf("Kafka delivered %d; want %d (acked)", rep.KafkaDelivered, rep.Acked)
			}
			if rep.HistoryNote == "" && (rep.History.devices != cfg.Devices || rep.History.late != 0) {
				t.Errorf("history checked %d devices, %d not caught up; want %d, 0", rep.History.devices, rep.History.late, cfg.Devices)
			}
		})
	}
}
