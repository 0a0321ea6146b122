package main

import (
	"fmt"
	"io"
	"runtime"
	"time"
)

// Report is what one run measured.
type Report struct {
	Devices  int
	Rate     float64
	Window   time.Duration // from the first due reading to the last PUBACK
	Duration time.Duration // the configured window

	Sent, Acked, Failed, Behind int
	FirstErr                    error
	Reconnects                  int64 // connections lost (each device reconnects and resends)
	Retried                     int   // publishes sent again after a write error
	PubAck, Lag                 latencies

	HistoryNote  string // why history was not measured
	HistoryLat   latencies
	HistoryPolls int // failed polls
	HistoryEvery string
	History      historyCheck
	HistorySeen  bool

	KafkaOn        bool
	KafkaNote      string
	KafkaLat       latencies
	KafkaDelivered int
	KafkaMissing   int
	KafkaDups      int

	Pid          int
	CPU          time.Duration // the server's, over the window
	RSS, PeakRSS int64
	LoadgenCPU   time.Duration
	ReadingBytes int    // one reading as DATA stores it
	Load         string // /proc/loadavg at the start and the end of the window
	Baseline     baseline
}

// Lost counts readings sent but never acknowledged, and acknowledged but
// missing from history or Kafka.
func (r *Report) Lost() int {
	return r.Failed + r.History.lost + r.KafkaMissing
}

func (r *Report) ackRate() float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(r.Acked) / r.Window.Seconds()
}

func (r *Report) print(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("")
	p("== ingest: %d devices, MQTT 3.1.1 QoS 1, target %.0f msg/s for %v", r.Devices, r.Rate, r.Duration)
	delivered := 0.0
	if r.Sent > 0 {
		delivered = float64(r.Acked) / float64(r.Sent)
	}
	p("sent %d, acked %d (delivered/sent %.6f), no PUBACK %d, behind schedule (not sent) %d", r.Sent, r.Acked, delivered, r.Failed, r.Behind)
	p("connections lost and reconnected: %d; publishes sent again after a write error: %d", r.Reconnects, r.Retried)
	if r.FirstErr != nil {
		p("first failure: %v", r.FirstErr)
	}
	p("achieved %.0f msg/s acked (over %v, first due reading to last PUBACK)", r.ackRate(), r.Window.Round(time.Millisecond))
	p("publish -> PUBACK:   %s", &r.PubAck)
	p("generator lag (publish call behind schedule): %s", &r.Lag)
	switch {
	case r.HistoryNote != "":
		p("publish -> history:  skipped: %s", r.HistoryNote)
	default:
		p("publish -> history:  %s (%s; failed polls %d)", &r.HistoryLat, r.HistoryEvery, r.HistoryPolls)
		h := r.History
		p("history check: %d devices, %d acked readings expected, lost %d, duplicates %d, devices not caught up %d", h.devices, h.readings, h.lost, h.dups, h.late)
		if h.err != nil {
			p("history check error: %v", h.err)
		}
	}
	if r.KafkaOn {
		if r.KafkaNote != "" {
			p("publish -> Kafka:    %s", r.KafkaNote)
		}
		p("publish -> Kafka:    %s; delivered %d, missing %d, duplicates %d", &r.KafkaLat, r.KafkaDelivered, r.KafkaMissing, r.KafkaDups)
	}
	if r.Pid > 0 && r.Acked > 0 {
		p("server pid %d: CPU %v over the window (%.2f cores) = %.1f CPU-µs/msg; RSS %.0f MiB (peak %.0f MiB)", r.Pid, r.CPU.Round(time.Millisecond),
			r.CPU.Seconds()/r.Window.Seconds(), float64(r.CPU.Microseconds())/float64(r.Acked), float64(r.RSS)/(1<<20), float64(r.PeakRSS)/(1<<20))
	} else {
		p("server CPU: not measured (no pid: pass -target-pid)")
	}
	if r.Acked > 0 {
		p("load generator CPU %v (%.2f cores) = %.1f CPU-µs/msg (same machine)", r.LoadgenCPU.Round(time.Millisecond),
			r.LoadgenCPU.Seconds()/r.Window.Seconds(), float64(r.LoadgenCPU.Microseconds())/float64(r.Acked))
	}
	b := r.Baseline
	switch {
	case b.rate > 0:
		p("baseline: raw JetStream async publish (%d B): %.0f msg/s; ingest/raw = %.3fx", r.ReadingBytes, b.rate, r.ackRate()/b.rate)
		p("  %s", b.cmd)
	case b.note != "":
		p("baseline: skipped: %s", b.note)
	}
	p("load average (1 5 15 min) at start / end of the window: %s; %d CPUs", r.Load, runtime.NumCPU())
	p("lost %d", r.Lost())
}
