package kafkaws

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/dojot-es/dojot/eventstore"
)

// hub serves the live connections of each tenant's topic of one stream
// (device-data from DATA, dojot.notifications from NOTIFICATIONS) from one
// ordered consumer (started with the first connection, stopped with the
// last), rendering each message once per distinct filter.
type hub struct {
	ctx context.Context
	src source
	log *slog.Logger

	mu       sync.Mutex
	byTenant map[string]*feed // by tenant
}

// feed is one tenant's live consumer and who watches it.
type feed struct {
	mu     sync.RWMutex
	groups map[string][]*subscriber // by subscriber.key
	n      int
	cancel context.CancelFunc
}

// source is one stream as a hub reads it: a tenant's messages from start
// on, and the stream's last sequence.
type source struct {
	name   string // the stream, for logs
	follow func(ctx context.Context, tenant string, start eventstore.Start, fn func(seq uint64, data []byte) error) error
	rng    func(ctx context.Context) (first, last uint64, err error)
}

func newHub(ctx context.Context, src source, log *slog.Logger) *hub {
	return &hub{ctx: ctx, src: src, log: log, byTenant: map[string]*feed{}}
}

func (h *hub) join(tenant string, sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.byTenant[tenant]
	if f == nil {
		ctx, cancel := context.WithCancel(h.ctx)
		f = &feed{groups: map[string][]*subscriber{}, cancel: cancel}
		h.byTenant[tenant] = f
		// The consumer starts after what the stream holds now, not when
		// it is in place: a message stored in between would be missed.
		var next uint64 // 0: unknown, from whenever the consumer starts
		if _, last, err := h.src.rng(ctx); err == nil {
			next = last + 1
		} else {
			h.log.Warn("kafka-ws: the stream's last sequence unknown; the feed starts when its consumer does", "stream", h.src.name, "err", err)
		}
		go h.follow(ctx, tenant, f, next)
	}
	f.mu.Lock()
	f.groups[sub.key] = append(f.groups[sub.key], sub)
	f.n++
	f.mu.Unlock()
}

func (h *hub) leave(tenant string, sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.byTenant[tenant]
	if f == nil {
		return
	}
	f.mu.Lock()
	g := f.groups[sub.key]
	for i, s := range g {
		if s == sub {
			g[i] = g[len(g)-1]
			g[len(g)-1] = nil
			g = g[:len(g)-1]
			f.n--
			break
		}
	}
	if len(g) == 0 {
		delete(f.groups, sub.key)
	} else {
		f.groups[sub.key] = g
	}
	empty := f.n == 0
	f.mu.Unlock()
	if empty {
		f.cancel()
		delete(h.byTenant, tenant)
	}
}

// follow feeds f from now on. When the consumer fails (NATS away) it
// starts again after the last sequence it delivered, so the connections
// see no gap.
func (h *hub) follow(ctx context.Context, tenant string, f *feed, next uint64) {
	retry(ctx, h.log, "kafka-ws: live feed failed; retrying", func() error {
		return h.src.follow(ctx, tenant, eventstore.Start{Seq: next}, func(seq uint64, data []byte) error {
			next = seq + 1
			f.deliver(seq, data)
			return nil
		})
	}, "tenant", tenant, "stream", h.src.name)
}

// retry runs follow until ctx is done, and again after each failure,
// logged with msg and args, with a pause growing from 100 ms to 5 s.
func retry(ctx context.Context, log *slog.Logger, msg string, follow func() error, args ...any) {
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		err := follow()
		if ctx.Err() != nil || errors.Is(err, context.Canceled) {
			return
		}
		log.Warn(msg, append(args, "err", err, "after", backoff)...)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

func (f *feed) deliver(seq uint64, data []byte) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, g := range f.groups {
		if g[0].fn != nil { // watchers (Server.Watch), each a group of its own
			for _, s := range g {
				s.fn(seq, data)
			}
			continue
		}
		out, ok := g[0].render(seq, data)
		if !ok {
			continue
		}
		for _, s := range g {
			s.c.offer(out)
		}
	}
}
