package kafkaws

import (
	"context"
	"log/slog"
	"sync"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/projections/kafkamsg"
	"github.com/dojot-es/dojot/projections/memory"
)

// Events is where the device manager's topics come from
// (eventstore.Store): the log, rendered as dojot's messages.
type Events interface {
	Subscribe(ctx context.Context, from uint64, fn func(dojot.Event) error) error
	LastSeq(ctx context.Context) (uint64, error)
}

// renderer follows EVENTS into a view of its own and renders each event
// as dojot's device-manager messages (kafkamsg), for the live
// connections of <tenant>.dojot.device-manager.device. A device message
// holds the whole device as it is after the event, so the renderer
// replays the log from the start (started by the first such connection);
// a connection gets what is rendered for events stored after it joined.
type renderer struct {
	ctx    context.Context
	events Events
	log    *slog.Logger

	once sync.Once
	mu   sync.RWMutex
	subs map[string][]*eventSub // by topic
}

type eventSub struct {
	sub   *subscriber
	after uint64 // events up to this sequence are not for it
}

func newRenderer(ctx context.Context, events Events, log *slog.Logger) *renderer {
	return &renderer{ctx: ctx, events: events, log: log, subs: map[string][]*eventSub{}}
}

// join adds a live connection to topic, from the events stored from now on.
func (r *renderer) join(topic string, sub *subscriber) error {
	last, err := r.events.LastSeq(r.ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.subs[topic] = append(r.subs[topic], &eventSub{sub: sub, after: last})
	r.mu.Unlock()
	r.once.Do(func() { go r.follow() })
	return nil
}

func (r *renderer) leave(topic string, sub *subscriber) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.subs[topic]
	for i, s := range g {
		if s.sub == sub {
			g = append(g[:i], g[i+1:]...)
			break
		}
	}
	if len(g) == 0 {
		delete(r.subs, topic)
	} else {
		r.subs[topic] = g
	}
}

// follow renders the log until the server closes, starting again after the
// last event it applied when the subscription fails.
func (r *renderer) follow() {
	view := memory.New()
	var next uint64 = 1
	retry(r.ctx, r.log, "kafka-ws: event feed failed; retrying", func() error {
		return r.events.Subscribe(r.ctx, next, func(ev dojot.Event) error {
			next = ev.Seq + 1
			msgs := render(r.log, view, ev)
			r.mu.RLock()
			defer r.mu.RUnlock()
			for _, m := range msgs {
				for _, s := range r.subs[m.Topic] {
					if ev.Seq > s.after && s.sub.fn != nil {
						s.sub.fn(ev.Seq, m.Value)
					} else if ev.Seq > s.after {
						if out, ok := s.sub.render(ev.Seq, m.Value); ok {
							s.sub.c.offer(out)
						}
					}
				}
			}
			return nil
		})
	})
}

// render applies ev to view and renders it.
func render(log *slog.Logger, view *memory.View, ev dojot.Event) []kafkamsg.Message {
	if err := view.Apply(context.Background(), ev); err != nil {
		log.Error("kafka-ws: view refused event", "seq", ev.Seq, "type", ev.Type, "err", err)
	}
	msgs, err := kafkamsg.Render(view, ev)
	if err != nil {
		log.Error("kafka-ws: event not rendered in full", "seq", ev.Seq, "type", ev.Type, "err", err)
	}
	return msgs
}

// replayEvents feeds one connection (since=) from a renderer of its own:
// the log is replayed from the start into a new view, and what is rendered
// for events from start on is sent, at the client's pace.
func (s *Server) replayEvents(ctx context.Context, c *conn, sub *subscriber, start eventstore.Start) {
	view := memory.New()
	err := s.opts.Events.Subscribe(ctx, 1, func(ev dojot.Event) error {
		msgs := render(s.log, view, ev)
		if ev.Seq < start.Seq || start.Seq == 0 && ev.Time.Before(start.At) {
			return nil
		}
		for _, m := range msgs {
			if m.Topic != c.topic {
				continue
			}
			if out, ok := sub.render(ev.Seq, m.Value); ok && !c.wait(out) {
				return errStopped
			}
		}
		return nil
	})
	replayEnded(ctx, s.log, c, err)
}
