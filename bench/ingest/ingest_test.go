package main

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// TestMain: the bare mochi-mqtt baseline runs as a child process of this
// binary (see mochiEnv).
func TestMain(m *testing.M) {
	if addr := os.Getenv(mochiEnv); addr != "" {
		if err := serveMochi(addr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSmoke runs the tool for 2 s (10 devices, 200 msg/s, history when
// served) against a binary it builds and starts: every reading sent is
// acknowledged and none is lost. With the raw client, the whole pipeline
// is on: the Kafka bridge both ways (a legacy agent produces 100
// readings/s of 10 more devices to Kafka), 2 Kafka WS sockets that must
// get every reading, and the baselines (a bare mochi-mqtt, raw kafka-go;
// nats bench when the nats CLI is there), and 2 flows on the devices'
// template, whose notifications must all reach Kafka once, the flow
// engine's backlog back to 0 at the end. Tokens live 1 s, so the history
// check after the window logs in again.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: builds and starts the binary")
	}
	for _, client := range []string{"raw", "paho"} {
		t.Run(client, func(t *testing.T) {
			cfg := &Config{Devices: 10, Rate: 200, Duration: 2 * time.Second, Drain: 20 * time.Second,
				Client: client, ServerArgs: []string{"-token-ttl=1s"}}
			if client == "raw" {
				cfg.Kafka, cfg.KafkaRate, cfg.KafkaDevices, cfg.KafkaWS = true, 100, 10, 2
				cfg.Flows = 2
				cfg.Baseline, cfg.BaselineFor, cfg.Mosquitto, cfg.BaselineMsgs = true, time.Second, "off", 10000
			}
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
			if rep.HistoryNote == "" && (rep.History.devices != cfg.Devices+cfg.KafkaDevices*min(1, int(cfg.KafkaRate)) || rep.History.late != 0) {
				t.Errorf("history checked %d devices, %d not caught up; want every device, 0", rep.History.devices, rep.History.late)
			}
			if cfg.Flows > 0 {
				if rep.NotifyExpected == 0 || rep.NotifyDelivered != rep.NotifyExpected || rep.NotifyDups+rep.NotifyBad != 0 || rep.NotifyLat.q(1) == 0 {
					t.Errorf("flows' notifications on Kafka: %d of %d, %d duplicates, %d not of this run; want all, once", rep.NotifyDelivered, rep.NotifyExpected, rep.NotifyDups, rep.NotifyBad)
				}
				if !rep.LagFlowsOn || rep.LagEnd.Flows != 0 {
					t.Errorf("flow engine backlog: polled %v, %d at the end; want polled, 0", rep.LagFlowsOn, rep.LagEnd.Flows)
				}
			}
			if cfg.KafkaRate > 0 {
				if k := rep.KafkaIn; k.sent == 0 || k.acked != k.sent || k.err != nil {
					t.Errorf("Kafka producer: sent %d, acked %d, err %v; want all acked", k.sent, k.acked, k.err)
				}
				if w := rep.WS; w.frames != cfg.KafkaWS*(rep.Acked+rep.KafkaIn.acked) || w.dups+w.gaps+w.missing+w.dropped != 0 || w.mqttLat.q(1) == 0 || w.kafkaLat.q(1) == 0 {
					t.Errorf("Kafka WS: %d frames, %d gaps, %d duplicates, %d missing; want %d, 0, 0, 0, and latencies of both sources",
						w.frames, w.gaps, w.dups, w.missing, cfg.KafkaWS*(rep.Acked+rep.KafkaIn.acked))
				}
				if len(rep.MQTTBases) != 1 || rep.MQTTBases[0].acked == 0 || rep.KafkaBase.lat.q(1) == 0 || rep.KafkaBase.burst == 0 {
					t.Errorf("baselines: MQTT %+v, Kafka %+v; want the bare mochi-mqtt's and raw kafka-go's figures", rep.MQTTBases, rep.KafkaBase)
				}
			}
		})
	}
}
