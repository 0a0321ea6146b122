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
	KafkaDrained   time.Duration // after the window, until every reading was there

	KafkaIn        produceReport // the legacy agent's readings, Kafka -> DATA
	KafkaInWindow  time.Duration
	WS             wsReport
	HistoryDrained time.Duration

	LagMaxKafka, LagMaxHistory uint64        // the largest backlog /healthz reported
	LagPolls                   int           // its polls
	LagErr                     error         // its last failed poll's
	LagZeroAfter               time.Duration // after the window, until all were 0 (-1: not seen)
	LagMaxFlows, LagMaxNotify  uint64        // the flow engine's DATA consumer; the bridge's NOTIFICATIONS -> Kafka
	LagFlowsOn                 bool
	LagAtWindowEnd, LagEnd     backlogs // at the window's end; at the last poll

	Flows, FlowsEvery int // flows created, each notifying every FlowsEvery-th reading
	NotifyOn          bool
	NotifyLat         latencies // publish -> the notification on <tenant>.dojot.notifications
	NotifyExpected    int
	NotifyDelivered   int
	NotifyMissing     int
	NotifyDups        int
	NotifyBad         int // records not matched to a reading of this run
	NotifyErr         error
	NotifyDrained     time.Duration

	MQTTBases     []mqttBase
	KafkaBase     kafkaBase
	KafkaBaseRate float64

	Pid          int
	CPU          time.Duration // the server's, over the window
	RSS, PeakRSS int64
	LoadgenCPU   time.Duration
	ReadingBytes int    // one reading as DATA stores it
	Load         string // /proc/loadavg at the start and the end of the window
	Baseline     baseline
}

// produceReport is the legacy Kafka producer's side.
type produceReport struct {
	on                  bool
	sent, acked, failed int
	ack                 latencies // produce -> Kafka's acknowledgement
	err                 error
}

// wsReport is the Kafka WS sockets' side.
type wsReport struct {
	on                          bool
	sockets                     int
	mqttLat, kafkaLat           latencies
	frames, gaps, dups, missing int
	dropped                     int // sockets the server closed before the end
	drained                     time.Duration
	err                         error
}

// Lost counts readings sent but never acknowledged, and acknowledged but
// missing from history, Kafka or a Kafka WS socket, and the flows'
// notifications of acknowledged readings missing from Kafka.
func (r *Report) Lost() int {
	return r.Failed + r.KafkaIn.failed + r.History.lost + r.KafkaMissing + r.WS.missing + r.NotifyMissing
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
	if r.KafkaOn {
		p("  Kafka: every reading there %v after the window", r.KafkaDrained.Round(time.Millisecond))
	}
	if r.Flows > 0 {
		p("flows: %d (event template in -> switch -> change -> template -> notification), each notifying every reading whose n is a multiple of %d", r.Flows, r.FlowsEvery)
	}
	if r.NotifyOn {
		p("publish -> notification on Kafka: %s; %d of %d expected, missing %d, duplicates %d, not of this run %d; all there %v after the window",
			&r.NotifyLat, r.NotifyDelivered, r.NotifyExpected, r.NotifyMissing, r.NotifyDups, r.NotifyBad, r.NotifyDrained.Round(time.Millisecond))
		if r.NotifyErr != nil {
			p("  notification reader error: %v", r.NotifyErr)
		}
		if q, b := r.NotifyLat.q(0.99), r.KafkaLat.q(0.99); q > 0 && b > 0 {
			p("  p99 notification / p99 plain reading on Kafka (same run): %.2fx", float64(q)/float64(b))
		}
	}
	if k := r.KafkaIn; k.on {
		p("Kafka producer -> DATA (legacy agent, %d readings/s over %v): sent %d, acked by Kafka %d (%.0f/s), failed %d; produce -> Kafka ack %s",
			int(float64(k.sent)/max(r.KafkaInWindow.Seconds(), 1e-9)), r.KafkaInWindow.Round(time.Millisecond), k.sent, k.acked, float64(k.acked)/max(r.KafkaInWindow.Seconds(), 1e-9), k.failed, &k.ack)
		if k.err != nil {
			p("  producer error: %v", k.err)
		}
	}
	if w := r.WS; w.on {
		p("Kafka WS, %d sockets, no filter: %d frames of the window, gaps %d, duplicates %d, missing %d (sockets open to the end); all there %v after the window",
			w.sockets, w.frames, w.gaps, w.dups, w.missing, w.drained.Round(time.Millisecond))
		if w.dropped > 0 {
			p("  %d sockets closed by the server before the end (a client too slow for its frames: the generator is short of CPU)", w.dropped)
		}
		p("  MQTT publish -> frame:   %s (first %d sockets)", &w.mqttLat, min(w.sockets, wsLatSockets))
		if r.KafkaIn.on {
			p("  Kafka produce -> frame:  %s", &w.kafkaLat)
		}
		if w.err != nil {
			p("  socket error: %v", w.err)
		}
	}
	if r.HistoryNote == "" {
		p("history: every device's last reading shown %v after the window", r.HistoryDrained.Round(time.Millisecond))
	}
	zero := "not seen"
	if r.LagZeroAfter >= 0 {
		zero = r.LagZeroAfter.Round(time.Millisecond).String() + " after the window"
	}
	p("backlog (/healthz every 250 ms, %d polls): Kafka bridge DATA -> Kafka max %d, history readings max %d, bridge NOTIFICATIONS -> Kafka max %d; all 0 %s",
		r.LagPolls, r.LagMaxKafka, r.LagMaxHistory, r.LagMaxNotify, zero)
	if r.LagFlowsOn {
		p("  flow engine's DATA consumer (not delivered + not acked, from NATS) max %d", r.LagMaxFlows)
	}
	p("  at the window's end: bridge data %d, history %d, bridge notifications %d, flows %d; at the last poll: %d, %d, %d, %d",
		r.LagAtWindowEnd.Kafka, r.LagAtWindowEnd.History, r.LagAtWindowEnd.Notify, r.LagAtWindowEnd.Flows, r.LagEnd.Kafka, r.LagEnd.History, r.LagEnd.Notify, r.LagEnd.Flows)
	if r.LagErr != nil {
		p("  a /healthz poll failed: %v", r.LagErr)
	}
	if r.Pid > 0 && r.Acked > 0 {
		all := r.Acked + r.KafkaIn.acked
		p("server pid %d: CPU %v over the window (%.2f cores) = %.1f CPU-µs/reading (%d readings, MQTT and Kafka); RSS %.0f MiB (peak %.0f MiB)", r.Pid, r.CPU.Round(time.Millisecond),
			r.CPU.Seconds()/r.Window.Seconds(), float64(r.CPU.Microseconds())/float64(all), all, float64(r.RSS)/(1<<20), float64(r.PeakRSS)/(1<<20))
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
	for _, m := range r.MQTTBases {
		if m.note != "" {
			p("baseline %s: skipped: %s", m.name, m.note)
			continue
		}
		cpu := "CPU not measured"
		if m.cpu > 0 && m.acked > 0 {
			cpu = fmt.Sprintf("%.1f CPU-µs/msg", float64(m.cpu.Microseconds())/float64(m.acked))
		}
		p("baseline %s, same generator for %v: %.0f msg/s acked (%d of %d); PUBACK %s; %s; ingest/it = %.3fx",
			m.name, m.window.Round(time.Millisecond), m.rate, m.acked, m.sent, &m.puback, cpu, r.ackRate()/max(m.rate, 1e-9))
	}
	if kb := r.KafkaBase; r.KafkaBaseRate > 0 {
		if kb.note != "" {
			p("baseline raw kafka-go: %s", kb.note)
		}
		p("baseline raw kafka-go on the same Kafka: produce -> consume at %.0f/s %s; one producer alone %.0f records/s (acks=all, batches of 1,000)", r.KafkaBaseRate, &kb.lat, kb.burst)
	}
	p("load average (1 5 15 min) at start / end of the window: %s; %d CPUs", r.Load, runtime.NumCPU())
	p("lost %d", r.Lost())
}
