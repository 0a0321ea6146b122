// Package bench holds the cross-package benchmarks: the real binary under
// load, each figure measured beside a baseline from the same run (raw
// JetStream publish against the same server, a bare HTTP round trip, a
// bare gorilla/websocket fan-out) and reported as a ratio: HTTP commands
// and reads, history latency, start-up replay, and Kafka WS fan-out to
// 10,000 sockets. The MQTT ingest load is the command bench/ingest. Run: go
// test -run=^$ -bench=. -benchtime=1x ./bench/ (one at a time with
// -bench=<name>). Results and commands are in BENCHMARKS.md.
package bench
