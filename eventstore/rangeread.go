package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dojot-es/dojot"
)

// Range is a bounded read of one tenant's device inputs over a time span:
// its readings (DATA) and its device events (EVENTS, evt.<tenant>.device.*).
type Range struct {
	Tenant string
	// From and To bound the messages by the time JetStream stored them,
	// both included.
	From, To time.Time
	// Devices, when not empty, restricts the read to these devices'
	// subjects; up to MaxRangeDevices of them are filtered by the server
	// (from nats-server 2.10 on), more read the whole tenant and are
	// filtered here.
	Devices []string
}

// MaxRangeDevices bounds the subject filters of one range read: past it
// the read takes the tenant's wildcard subjects and drops other devices
// itself, as a consumer with thousands of filters costs the server more
// than the messages it skips.
const MaxRangeDevices = 64

// RangeItem is one message of a range read.
type RangeItem struct {
	Events  bool      // from EVENTS (a device event), else DATA (a reading)
	Seq     uint64    // stream sequence in its stream
	Subject string    // as WorkItem's: data.<tenant>.<device> (no partition), evt.<tenant>.device.<id>
	Data    []byte    // the reading as stored, or the event envelope
	Time    time.Time // when JetStream stored it
	Depth   int       // a reading's FlowDepthHeader (0: none)
}

// ReadRange calls fn with each reading and device event of r, merged in
// time order (an event before a reading stored in the same instant), until
// both streams are read up to r.To, or up to their last message as of the
// call, whichever comes first: a read never waits for messages stored after
// it started, and never hangs on an idle stream. It returns fn's first
// error (fn stops the read so), or why the streams could not be read
// (dojot.ErrUnavailable when NATS does not answer). Each stream is one
// ordered consumer from r.From, dropped afterwards.
func (s *Store) ReadRange(ctx context.Context, r Range, fn func(RangeItem) error) error {
	if !dojot.ValidTenant(r.Tenant) {
		return fmt.Errorf("read range of %q: not a tenant: %w", r.Tenant, dojot.ErrInvalid)
	}
	for _, d := range r.Devices {
		if !dojot.ValidToken(d) {
			return fmt.Errorf("read range of %s: %q is not a device id: %w", r.Tenant, d, dojot.ErrInvalid)
		}
	}
	if r.To.Before(r.From) {
		return fmt.Errorf("read range of %s: ends (%s) before it starts (%s): %w", r.Tenant, r.To, r.From, dojot.ErrInvalid)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var keep map[string]bool // devices filtered here: past MaxRangeDevices, or on an older server
	// A consumer takes several filter subjects from nats-server 2.10 on
	// (a device's readings are on two: before and after DATA was
	// partitioned).
	if len(r.Devices) > MaxRangeDevices || len(r.Devices) > 0 && !versionAtLeast(s.nc.ConnectedServerVersion(), 2, 10) {
		keep = make(map[string]bool, len(r.Devices))
		for _, d := range r.Devices {
			keep[d] = true
		}
	}
	curs := make([]*rangeCursor, 0, 2)
	for _, events := range []bool{true, false} {
		// Readings are on data.<tenant>.<device>, or with a partition
		// before them (Options.DataPartitions).
		stream, st, filters := s.data, s.dataSt, s.DataFilters(r.Tenant, "*")
		if events {
			stream, st, filters = s.events, s.eventsSt, []string{s.opts.SubjectPrefix + dojot.Subject(r.Tenant, dojot.KindDevice, "*")}
		}
		if len(r.Devices) > 0 && keep == nil {
			filters = filters[:0]
			for _, d := range r.Devices {
				if events {
					filters = append(filters, s.opts.SubjectPrefix+dojot.Subject(r.Tenant, dojot.KindDevice, d))
				} else {
					filters = append(filters, s.DataFilters(r.Tenant, d)...)
				}
			}
		}
		c, err := s.openRange(ctx, stream, st, filters, r, events)
		if err != nil {
			return err
		}
		defer c.close()
		curs = append(curs, c)
	}
	for {
		var next *rangeCursor
		for _, c := range curs {
			if err := c.peek(ctx); err != nil {
				return err
			}
			// Events first on a tie: a device's creation comes before its
			// first reading.
			if c.head != nil && (next == nil || c.head.Time.Before(next.head.Time)) {
				next = c
			}
		}
		if next == nil {
			return nil
		}
		item := *next.head
		next.head = nil
		if keep != nil && !keep[deviceOfSubject(item.Subject)] {
			continue
		}
		if err := fn(item); err != nil {
			return err
		}
	}
}

// rangeCursor reads one stream of a range read, one message ahead.
type rangeCursor struct {
	s       *Store
	stream  string
	events  bool
	to      time.Time
	last    uint64 // the stream's last sequence when the read started
	cons    jetstream.Consumer
	it      jetstream.MessagesContext
	head    *RangeItem // the next message, not yet handed out
	done    bool
	pending uint64 // matching messages left, as the server last said
}

// rangeIdleWaits is how many times a read waits Options.RangeIdle for a
// message the server said was pending (it may have expired meanwhile)
// before it gives up.
const rangeIdleWaits = 6

func (s *Store) openRange(ctx context.Context, stream string, st jetstream.Stream, filters []string, r Range, events bool) (*rangeCursor, error) {
	c := &rangeCursor{s: s, stream: stream, events: events, to: r.To}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read range: stream %s: %w", stream, unavailable(err))
	}
	c.last = info.State.LastSeq
	if info.State.Msgs == 0 || info.State.LastTime.Before(r.From) {
		c.done = true // nothing stored since From: no consumer at all
		return c, nil
	}
	from := r.From
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: filters, DeliverPolicy: jetstream.DeliverByStartTimePolicy,
		OptStartTime: &from, InactiveThreshold: 30 * time.Second}
	if r.From.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverAllPolicy, nil
	}
	if c.cons, err = s.js.OrderedConsumer(ctx, stream, cfg); err != nil {
		return nil, fmt.Errorf("read range: stream %s: %w", stream, unavailable(err))
	}
	if c.it, err = c.cons.Messages(jetstream.PullMaxBytes(pullBytes)); err != nil {
		return nil, fmt.Errorf("read range: stream %s: %w", stream, unavailable(err))
	}
	// The consumer's creation counted the messages it will deliver: none
	// means done now, not a wait for the first one.
	if ci := c.cons.CachedInfo(); ci == nil || ci.NumPending == 0 {
		c.done = true
	} else {
		c.pending = ci.NumPending
	}
	return c, nil
}

// peek reads the next message into head unless one is there or the
// stream is done.
func (c *rangeCursor) peek(ctx context.Context) error {
	if c.head != nil || c.done {
		return nil
	}
	var m jetstream.Msg
	for idle := 1; ; idle++ {
		nctx, cancel := context.WithTimeout(ctx, c.s.opts.RangeIdle)
		var err error
		m, err = c.it.Next(jetstream.NextContext(nctx))
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("read range: stream %s: %w", c.stream, unavailable(err))
		}
		// Nothing came though messages were pending: they expired
		// meanwhile (the read is done), or the server is slow (wait
		// more, up to rangeIdleWaits times, then say so rather than
		// answer a part as the whole).
		ci, err := c.cons.Info(ctx)
		if err == nil && ci.NumPending == 0 {
			c.done = true
			return nil
		}
		if idle >= rangeIdleWaits {
			return fmt.Errorf("read range: stream %s: %d messages pending, none delivered in %s: %w", c.stream, c.pending, rangeIdleWaits*c.s.opts.RangeIdle, dojot.ErrUnavailable)
		}
	}
	md, err := m.Metadata()
	if err != nil {
		return fmt.Errorf("read range: stream %s: %w", c.stream, err)
	}
	seq := md.Sequence.Stream
	c.pending = md.NumPending
	if seq > c.last || md.Timestamp.After(c.to) {
		c.done = true // stored after the read started, or after To
		return nil
	}
	item := &RangeItem{Events: c.events, Seq: seq, Subject: c.s.workSubject(m.Subject()), Data: m.Data(), Time: md.Timestamp}
	if c.events && c.s.opts.Sealer != nil {
		if item.Data, err = c.s.opened(m.Data()); err != nil {
			return fmt.Errorf("read range: stream %s: seq %d: %w", c.stream, seq, err)
		}
	}
	if h := m.Headers(); h != nil && !c.events {
		item.Depth, _ = strconv.Atoi(h.Get(FlowDepthHeader))
	}
	c.head = item
	if seq == c.last || md.NumPending == 0 {
		c.done = true // the last one as of now: nothing to wait for
	}
	return nil
}

func (c *rangeCursor) close() {
	if c.it != nil {
		c.it.Stop()
	}
	if c.cons != nil {
		c.s.dropConsumer(c.stream, c.cons)
	}
}

// deviceOfSubject is the device id of data.<tenant>.<id> or
// evt.<tenant>.device.<id>.
func deviceOfSubject(subject string) string {
	for i := len(subject) - 1; i >= 0; i-- {
		if subject[i] == '.' {
			return subject[i+1:]
		}
	}
	return subject
}
