// Command ingest is the MQTT ingest load generator (issue 7): N devices
// publish QoS 1 readings over MQTT to a dojot binary at an aggregate target
// rate for a bounded time, and it reports delivered/sent and the p50/p99
// latency from publish to (a) PUBACK, (b) the reading visible in the
// History API, (c) the reading's arrival on Kafka (admin.device-data) when
// the bridge runs, plus the server process's CPU-µs per message and RSS.
//
// By default it builds ./cmd/dojot, starts `dojot serve` on free loopback
// ports with a temporary data dir and -mqtt-insecure, and stops it (and
// removes the data dir) at the end; the -target-* flags point it at an
// instance that already runs instead. It talks only to loopback and stops
// by itself.
//
// Setup is over HTTP: login (POST /auth), one template, N devices in one
// POST /device?count=N. Each device is one paho client (MQTT 3.1.1, user
// <tenant>:<deviceid>) that first sends one warm-up reading (n=0) and
// waits for its PUBACK; then, in the measured window, every device
// publishes {"temperature":23.5,"n":k} (k = 1, 2, ...) to
// <tenant>:<deviceid>/attrs at rate/N per second, open loop: a reading is
// due at a fixed time whatever happened to the earlier ones. A device has
// at most -inflight readings awaiting their PUBACK; a reading due while
// that many wait is not sent and counted as behind schedule (the generator
// never queues). Latencies run from the actual publish call. A client
// keeps its session (clean session off) and reconnects when the agent drops
// it (a reading JetStream did not store in time), resending what was not
// acknowledged, as an at-least-once device does; such a reading's latency
// includes the reconnection.
//
// History: a sample of devices (-history-devices) is polled every
// -history-poll (default 5 devices every 10 ms: 500 requests/s, whose cost
// is in the server's CPU figure; -history=off leaves it out) with GET /history/device/{id}/history?attr=n&lastN=1; a
// reading's latency is its publish time to the first poll that shows a
// value >= its n. At the end every device's history (-history-check all,
// or only the polled devices' with sample) is read back and checked against
// what was acknowledged; a reading acknowledged but not there is lost.
// Without the route (404) the measurement is skipped with a note.
//
// The whole pipeline (issue 14): -kafka-produce R adds a legacy IoT agent
// that produces R readings/s of -kafka-devices more devices to
// <tenant>.device-data with kafka-go (acks=all), which the bridge brings
// into DATA; -kafka-ws N opens N Kafka WS sockets on <tenant>.device-data
// (a ticket each, no filter), each of which must show every reading of
// the window, MQTT and Kafka-produced, once and in order per device (the
// first 4 time every frame). During the run /healthz is polled every 250
// ms for the backlogs of the bridge's DATA -> Kafka pump and of history;
// after the window each sink's time to show everything is reported.
//
// Flows (issue 17): -flows N creates N flows over the flows API on the
// devices' template (event template in -> switch -> change -> template ->
// notification, BENCHMARKS.md's speed flow); each notifies the readings
// whose n is a multiple of -flows-every (a power of 10; 1: every reading)
// and the warm-up, so every reading of the window makes N/every
// notifications. With -kafka, <tenant>.dojot.notifications is read: each
// notification is matched to its reading and flow (missing ones count as
// lost, like readings), and its publish -> Kafka time is reported beside
// the plain reading's publish -> <tenant>.device-data of the same run.
// The flow engine's backlog (its DATA consumer's readings not delivered
// or not acknowledged, read from the server's NATS) and the bridge's
// NOTIFICATIONS -> Kafka backlog join the polled backlogs; each sink's
// backlog at the window's end and at the last poll is reported.
//
// Baselines, same run: `nats bench js pub async` (the nats CLI) against
// the binary's embedded NATS (-nats-listen), messages of the size the
// agent stores, file storage (ingest/raw); the same generator, devices,
// rate and window (-baseline-duration, default at most 10 s) against a
// bare mochi-mqtt server with no store (this program run again as a child
// process, see mochiEnv) and against the machine's Mosquitto (-mosquitto,
// QoS 1, no subscriber), each with its CPU-µs per message; and, with
// -kafka, raw kafka-go produce -> consume (MinBytes 1) on the same Kafka at
// the producer's rate, and one producer's burst rate.
//
// Usage:
//
//	go run ./bench/ingest                          # 1000 devices, 20,000 msg/s, 30 s
//	go run ./bench/ingest -duration 5m -kafka      # the issue-7 target run, with the Kafka bridge
//	go run ./bench/ingest -kafka -kafka-produce 1000 -kafka-ws 100   # the whole pipeline (issue 14)
//	go run ./bench/ingest -kafka -rate 10000 -kafka-ws 2 -flows 10 -flows-every 10   # issue 17: 10 flows on
//	go run ./bench/ingest -devices 10 -rate 200 -duration 2s -baseline=false   # smoke
//
// It exits 1 when a reading was lost (sent but not acknowledged, or
// acknowledged but missing from history or Kafka) or the run failed.
package main
