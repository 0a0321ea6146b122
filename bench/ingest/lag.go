package main

import (
	"context"
	"sync"
	"time"
)

// lagWatch polls GET /healthz and keeps the largest backlog each sink
// reported: the Kafka bridge's DATA -> Kafka and NOTIFICATIONS -> Kafka
// pumps, the history's readings and, with flows, the flow engine's DATA
// consumer (read from NATS), and when they all last came back to 0.
type lagWatch struct {
	flows *flowsLag // nil: no flows

	mu                   sync.Mutex
	maxKafka, maxHistory uint64
	maxFlows, maxNotify  uint64
	last, atWindowEnd    backlogs      // the latest poll's; the one when the window ended
	zeroSince            time.Duration // since base: when all were last seen going to 0 (-1: not 0 now)
	polls                int
	err                  error // the last failed poll's
}

// backlogs are one poll's backlogs.
type backlogs struct {
	Kafka, History, Flows, Notify uint64
}

func (b backlogs) sum() uint64 { return b.Kafka + b.History + b.Flows + b.Notify }

// windowEnded keeps the latest poll as the backlogs at the window's end.
func (l *lagWatch) windowEnded() {
	l.mu.Lock()
	l.atWindowEnd = l.last
	l.mu.Unlock()
}

func (l *lagWatch) run(ctx context.Context, a *api, base time.Time, every time.Duration) {
	l.zeroSince = -1
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		var h struct {
			Bridge *struct {
				Data *struct {
					Lag uint64 `json:"lag"`
				} `json:"data"`
				Notifications *struct {
					Lag uint64 `json:"lag"`
				} `json:"notifications"`
			} `json:"kafka_bridge"`
			History *struct {
				Lag uint64 `json:"readings_lag"`
			} `json:"history"`
		}
		_, err := a.do(ctx, "GET", "/healthz", nil, &h)
		var b backlogs
		if err == nil && l.flows != nil {
			b.Flows, err = l.flows.backlog(ctx)
		}
		if err != nil && ctx.Err() == nil {
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
		}
		if err == nil {
			if h.Bridge != nil && h.Bridge.Data != nil {
				b.Kafka = h.Bridge.Data.Lag
			}
			if h.Bridge != nil && h.Bridge.Notifications != nil {
				b.Notify = h.Bridge.Notifications.Lag
			}
			if h.History != nil {
				b.History = h.History.Lag
			}
			l.mu.Lock()
			l.polls++
			l.last = b
			l.maxKafka, l.maxHistory = max(l.maxKafka, b.Kafka), max(l.maxHistory, b.History)
			l.maxFlows, l.maxNotify = max(l.maxFlows, b.Flows), max(l.maxNotify, b.Notify)
			switch {
			case b.sum() > 0:
				l.zeroSince = -1
			case l.zeroSince < 0:
				l.zeroSince = time.Since(base)
			}
			l.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
