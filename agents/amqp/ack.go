package amqp

import (
	"fmt"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// inFlight is a delivery being handled: refused, or being stored for each
// of its devices.
type inFlight struct {
	tag     uint64
	key     string
	refused bool
	waits   []func(expired <-chan time.Time) (uint64, error)
}

// acker acknowledges deliveries in the order they came, each once every
// append it started was stored; the stored ones are acknowledged together
// (multiple=true) once nothing more is ready, so a backlog costs one ack
// frame per batch and an idle queue one per message, at once. A failed
// append ends it: nothing from that delivery on is acknowledged, and the
// session closes the channel, which gives them back to RabbitMQ.
type acker struct {
	a      *Agent
	ch     *amqp091.Channel
	q      chan inFlight
	failed chan error // the append that failed, once
	done   chan struct{}
}

func newAcker(a *Agent, ch *amqp091.Channel) *acker {
	k := &acker{a: a, ch: ch, q: make(chan inFlight, a.opts.Prefetch), failed: make(chan error, 1), done: make(chan struct{})}
	go k.run()
	return k
}

// queue hands f to the acker; false once the acker failed.
func (k *acker) queue(f inFlight) bool {
	select {
	case k.q <- f:
		return true
	case <-k.done:
		return false
	}
}

// stop acknowledges what is stored of the queued deliveries and ends.
func (k *acker) stop() {
	close(k.q)
	<-k.done
}

func (k *acker) run() {
	defer close(k.done)
	var last uint64 // the latest stored delivery not yet acknowledged
	flush := func() {
		if last != 0 {
			_ = k.ch.Ack(last, true) // a closed channel gives them back anyway
			last = 0
		}
	}
	for {
		var f inFlight
		var ok bool
		select {
		case f, ok = <-k.q:
		default:
			flush()
			f, ok = <-k.q
		}
		if !ok {
			flush()
			return
		}
		if f.refused {
			_ = k.ch.Reject(f.tag, false)
			continue
		}
		if err := k.wait(f); err != nil {
			flush()
			k.a.refuse(refusedStoreFailed, "amqp: reading not stored; closing the channel, RabbitMQ delivers it again", "routing_key", f.key, "err", err)
			k.failed <- err
			return
		}
		last = f.tag
	}
}

// wait returns once every append of f was stored (Options.Timeout at
// most).
func (k *acker) wait(f inFlight) error {
	timer := time.NewTimer(k.a.opts.Timeout)
	defer timer.Stop()
	for _, w := range f.waits {
		if _, err := w(timer.C); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		k.a.stored.Add(1)
	}
	return nil
}
