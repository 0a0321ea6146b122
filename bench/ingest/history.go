package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// historyPath is the History API query of a device's attr n, last lastN
// values.
func historyPath(id string, lastN int) string {
	return "/history/device/" + url.PathEscape(id) + "/history?attr=n&lastN=" + strconv.Itoa(lastN)
}

// historyNs returns the values of attr n the History API shows for device
// id (newest first, as dojot's history answers), at most lastN.
func historyNs(ctx context.Context, a *api, id string, lastN int) ([]int, int, error) {
	var rows []struct {
		Value json.RawMessage `json:"value"`
	}
	code, err := a.do(ctx, "GET", historyPath(id, lastN), nil, &rows)
	if err != nil {
		return nil, code, err
	}
	ns := make([]int, 0, len(rows))
	for _, r := range rows {
		var v any
		if err := json.Unmarshal(r.Value, &v); err != nil {
			return nil, code, fmt.Errorf("history of %s: value %s: %w", id, r.Value, err)
		}
		switch v := v.(type) {
		case float64:
			ns = append(ns, int(math.Round(v)))
		case string: // a history that keeps values as strings
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, code, fmt.Errorf("history of %s: value %q", id, v)
			}
			ns = append(ns, int(math.Round(f)))
		default:
			return nil, code, fmt.Errorf("history of %s: value %s", id, r.Value)
		}
	}
	return ns, code, nil
}

// probeHistory waits up to 5 s for device id's warm-up reading in the
// History API; "" when it shows, else why not.
func probeHistory(ctx context.Context, a *api, id string) string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ns, code, err := historyNs(ctx, a, id, 1)
		switch {
		case err == nil && len(ns) > 0:
			return ""
		case time.Now().After(deadline) || ctx.Err() != nil:
			if err == nil {
				err = fmt.Errorf("GET %s = 200 with no value", historyPath(id, 1))
			}
			if code == http.StatusNotFound || code == http.StatusMethodNotAllowed {
				return fmt.Sprintf("history API not served (%v)", err)
			}
			return fmt.Sprintf("history API does not show the warm-up reading after 5s (%v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// historyPoller measures, on one device, the time from a reading's
// publish to the first poll that shows it.
type historyPoller struct {
	d    *device
	mu   sync.Mutex
	seen int // highest n shown
	lat  []time.Duration
	errs int
	err  error
}

func (p *historyPoller) shown() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen
}

// run polls every interval until ctx is done.
func (p *historyPoller) run(ctx context.Context, a *api, every time.Duration, base time.Time) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ns, _, err := historyNs(ctx, a, p.d.id, 1)
		now := time.Since(base)
		p.mu.Lock()
		if err != nil {
			if ctx.Err() == nil {
				p.errs++
				if p.err == nil {
					p.err = err
				}
			}
		} else if len(ns) > 0 && ns[0] > p.seen {
			for k := p.seen + 1; k <= ns[0]; k++ {
				if at, ok := p.d.sentTime(k); ok {
					p.lat = append(p.lat, now-at)
				}
			}
			p.seen = ns[0]
		}
		p.mu.Unlock()
	}
}

// historyCheck is the end-of-run completeness check.
type historyCheck struct {
	devices  int // devices checked in full
	readings int // acknowledged readings expected there (warm-up included)
	lost     int // acknowledged, not there
	dups     int // there more than once (at-least-once)
	late     int // devices whose last reading did not show within the drain time
	err      error
}

// waitHistory waits until every device's newest history value is its last
// acknowledged reading, or until deadline; it returns the devices still
// behind.
func waitHistory(ctx context.Context, a *api, devs []*device, deadline time.Time) []*device {
	pending := devs
	for len(pending) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		var next []*device
		for _, d := range pending {
			_, maxAck := d.acks()
			ns, _, err := historyNs(ctx, a, d.id, 1)
			if err != nil || len(ns) == 0 || ns[0] < maxAck {
				next = append(next, d)
			}
		}
		if pending = next; len(pending) > 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	return pending
}

// checkHistory reads each device's whole history of n and compares it
// with what was acknowledged.
func checkHistory(ctx context.Context, logw io.Writer, a *api, devs []*device) historyCheck {
	var c historyCheck
	t0 := time.Now()
	for i, d := range devs {
		if i > 0 && i%100 == 0 {
			progress(logw, "history check: %d of %d devices, %d readings, %v", i, len(devs), c.readings, time.Since(t0).Round(time.Second))
		}
		d.mu.Lock()
		sent := len(d.sentAt)
		d.mu.Unlock()
		ns, _, err := historyNs(ctx, a, d.id, sent+1000)
		if err != nil {
			c.err = err
			return c
		}
		count := make([]int, sent)
		for _, n := range ns {
			if n >= 0 && n < sent {
				count[n]++
			}
		}
		c.devices++
		for n := range sent {
			if d.isFailed(n) {
				continue
			}
			c.readings++
			switch {
			case count[n] == 0:
				c.lost++
			case count[n] > 1:
				c.dups += count[n] - 1
			}
		}
	}
	return c
}
