// Package bench holds the cross-package benchmarks: the real binary under
// HTTP load, each figure measured beside a baseline from the same run (raw
// JetStream publish against the same server, a bare HTTP round trip) and
// reported as a ratio. Run: go test -run=^$ -bench=. -benchtime=1x ./bench/
// Results and commands are in BENCHMARKS.md.
package bench
