package main

import (
	"context"
	"sync"
	"time"
)

// lagWatch polls GET /healthz and keeps the largest backlog each sink
// reported: the Kafka bridge's DATA -> Kafka pump and the history's
// readings, and when both last came back to 0.
type lagWatch struct {
	mu         sync.Mutex
	maxKafka   uint64
	maxHistory uint64
	zeroSince  time.Duration // since base: when both were last seen going to 0 (-1: not 0 now)
	polls      int
	err        error // the last failed poll's
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
			} `json:"kafka_bridge"`
			History *struct {
				Lag uint64 `json:"readings_lag"`
			} `json:"history"`
		}
		_, err := a.do(ctx, "GET", "/healthz", nil, &h)
		if err != nil && ctx.Err() == nil {
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
		}
		if err == nil {
			var k, hi uint64
			if h.Bridge != nil && h.Bridge.Data != nil {
				k = h.Bridge.Data.Lag
			}
			if h.History != nil {
				hi = h.History.Lag
			}
			l.mu.Lock()
			l.polls++
			l.maxKafka, l.maxHistory = max(l.maxKafka, k), max(l.maxHistory, hi)
			switch {
			case k+hi > 0:
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
