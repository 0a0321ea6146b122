package eventstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Work names the durable consumers the instances of one deployment share
// to split a stream's messages between them (the flow engine's inputs)
// while keeping each device's messages in order across instances.
//
// DATA is partitioned by device: the stream stores each reading on
// data.<partition>.<tenant>.<device> (a subject transform hashing tenant
// and device, Options.DataPartitions), and Work has one durable consumer
// per partition. Each partition is consumed by one instance at a time: the
// instances announce themselves in a key-value bucket (WORKERS, entries
// expiring after MemberTTL), each takes the partitions rendezvous hashing
// gives it among the live ones, and the consumers are pinned (JetStream's
// pinned-client priority group), so even when two instances briefly
// disagree on the members only one receives a partition's messages. When
// an instance joins or leaves, the partitions move: the old owner stops
// pulling, lets its in-flight items end and unpins; an instance that died
// loses its pin after MemberTTL without pulls, and the one taking its
// partition waits for the items it held to come again (after AckWait)
// before pulling anything newer, so a device's order survives the crash. The device events of
// EVENTS, whose subjects cannot be transformed (appends check them), are
// one partition.
type Work struct {
	Durable     string
	Description string
	// Events picks the EVENTS stream (device subjects only), else DATA.
	Events bool
	// AckWait is how long an instance may hold a message (default 60 s).
	AckWait time.Duration
	// MaxAckPending bounds each partition's messages in flight (default
	// 1024).
	MaxAckPending int
	// MemberTTL is how long an instance that stopped announcing itself
	// keeps its partitions (default 15 s).
	MemberTTL time.Duration
}

// WorkItem is one message of a Work consumer. Exactly one of Ack and Nak
// must be called.
type WorkItem struct {
	Seq       uint64 // stream sequence: the same on every delivery
	Subject   string // without the store's prefix and the partition: data.<tenant>.<device>, evt.<tenant>.device.<id>
	Data      []byte
	Depth     int    // the Flow-Depth header of a reading a flow made (0: none)
	Delivered uint64 // 1 on the first delivery
	m         jetstream.Msg
	done      func()
}

// Ack acknowledges the item: it is done.
func (w WorkItem) Ack() {
	_ = w.m.Ack()
	if w.done != nil {
		w.done()
	}
}

// InProgress tells the server the item is still being worked on: its
// AckWait starts again, so an item that waits its turn behind slow ones
// is not handed out a second time meanwhile.
func (w WorkItem) InProgress() { _ = w.m.InProgress() }

// Nak hands the item out again after delay.
func (w WorkItem) Nak(delay time.Duration) {
	_ = w.m.NakWithDelay(delay)
	if w.done != nil {
		w.done()
	}
}

// FlowDepthHeader carries, on a reading a flow made, how many flow
// outputs led to it, so a loop of flows through device data is cut.
const FlowDepthHeader = "Dojot-Flow-Depth"

// workGroup is the consumers' priority group.
const workGroup = "work"

// membersBucket holds the instances following a Work.
const membersBucket = "WORKERS"

// workPart is one partition's durable consumer.
type workPart struct {
	name    string
	filters []string
	// legacy filters the readings stored before the stream was
	// partitioned, added when the consumer replaces an unpartitioned one
	// (only then may some be waiting; it costs every lookup a walk of the
	// tenants).
	legacy string

	cons    jetstream.Consumer
	cc      jetstream.ConsumeContext // nil: not consuming
	stopped chan struct{}            // closed once a stop finished unpinning
	// waitUntil: while taking the partition over, the latest time to wait
	// for the inputs another instance held (see ready).
	waitUntil time.Time
	mu        sync.Mutex
	flight    atomic.Int64 // items handed out, not yet acked or handed back
}

// Follow calls fn with each message of w's stream stored after its
// consumers were first created, of the partitions this instance holds,
// until ctx is done. fn is called from one goroutine per partition, in
// stream order; it must return quickly (hand the item to a worker) and
// the item be acknowledged later.
func (s *Store) Follow(ctx context.Context, w Work, fn func(WorkItem)) error {
	if w.AckWait <= 0 {
		w.AckWait = 60 * time.Second
	}
	if w.MaxAckPending <= 0 {
		w.MaxAckPending = 1024
	}
	if w.MemberTTL <= 0 {
		w.MemberTTL = 15 * time.Second
	}
	sp := s.opts.SubjectPrefix
	stream, st, parts := s.events, s.eventsSt, []*workPart{{name: w.Durable + "_all", filters: []string{sp + "evt.*.device.*"}}}
	if !w.Events {
		stream, st = s.data, s.dataSt
		n, err := s.DataPartitions(ctx)
		if err != nil {
			return fmt.Errorf("work consumer %s: %w", w.Durable, err)
		}
		parts = parts[:0]
		for p := range n {
			part := &workPart{name: fmt.Sprintf("%s_p%d", w.Durable, p), filters: []string{sp + "data.>"}}
			if n > 1 {
				part.filters = []string{fmt.Sprintf("%sdata.%d.*.*", sp, p)}
				if p == 0 {
					part.legacy = sp + "data.*.*"
				}
			}
			parts = append(parts, part)
		}
	}
	for _, p := range parts {
		c, err := s.workConsumer(ctx, stream, w, p)
		if err != nil {
			return err
		}
		p.cons = c
	}
	// The consumer of the versions before partitions: its position seeded
	// the new ones; it goes.
	if err := s.js.DeleteConsumer(ctx, stream, w.Durable); err == nil {
		s.log.Info("work consumer: replaced by partitioned consumers", "consumer", w.Durable, "partitions", len(parts))
	}
	members, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      s.KVBucket(membersBucket),
		Description: "dojot instances following each shared Work, expiring unless renewed",
		TTL:         w.MemberTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    s.opts.Replicas,
	})
	if err != nil {
		return fmt.Errorf("work consumer %s: members bucket: %w", w.Durable, unavailable(err))
	}
	me := nuid.Next()
	key := w.Durable + "." + me
	handle := func(p *workPart) jetstream.MessageHandler {
		return func(m jetstream.Msg) {
			md, err := m.Metadata()
			if err != nil {
				_ = m.Term()
				return
			}
			p.flight.Add(1)
			item := WorkItem{Seq: md.Sequence.Stream, Subject: s.workSubject(m.Subject()), Data: m.Data(),
				Delivered: md.NumDelivered, m: m, done: sync.OnceFunc(func() { p.flight.Add(-1) })}
			if h := m.Headers(); h != nil {
				item.Depth, _ = strconv.Atoi(h.Get(FlowDepthHeader))
			}
			fn(item)
		}
	}
	// ready says whether a partition may be pulled from. The inputs an
	// instance held when it stopped (delivered, never acknowledged) are
	// handed out again only after AckWait; pulling before that would run
	// newer inputs of their devices first. So a partition is taken once
	// none is held any more (a live previous owner ends its own within
	// moments), or once their AckWait has passed (an owner that died),
	// when the server hands the held ones out before anything newer
	// (heldUntil).
	ready := func(p *workPart) bool {
		now := time.Now()
		if !p.waitUntil.IsZero() && now.After(p.waitUntil) {
			return true
		}
		info, err := p.cons.Info(ctx)
		if err != nil {
			if p.waitUntil.IsZero() {
				p.waitUntil = now.Add(w.AckWait)
			}
			return false // asked again at the next tick
		}
		if info.NumAckPending == 0 {
			return true
		}
		if p.waitUntil.IsZero() {
			p.waitUntil = heldUntil(now, info, w)
			s.log.Info("work consumer: waiting for the inputs another instance held to come again, to keep their order",
				"consumer", p.name, "held", info.NumAckPending, "until", p.waitUntil)
			return now.After(p.waitUntil)
		}
		return false
	}
	start := func(p *workPart) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.cc != nil {
			return
		}
		if p.stopped != nil { // a stop of this partition is still unpinning
			<-p.stopped
		}
		if !ready(p) {
			return
		}
		p.waitUntil = time.Time{}
		cc, err := p.cons.Consume(handle(p), jetstream.PullPriorityGroup(workGroup), jetstream.PullExpiry(max(w.MemberTTL/3, time.Second)),
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				s.log.Debug("work consumer: error", "consumer", p.name, "err", err)
			}))
		if err != nil {
			s.log.Warn("work consumer: cannot consume, retrying", "consumer", p.name, "err", err)
			return
		}
		p.cc = cc
	}
	stop := func(p *workPart, unpin bool) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.cc == nil {
			return
		}
		p.cc.Stop()
		p.cc = nil
		done := make(chan struct{})
		p.stopped = done
		go func() {
			defer close(done)
			// Items in flight end (acked or handed back) before another
			// instance may receive the partition's next messages.
			for end := time.Now().Add(w.AckWait); p.flight.Load() > 0 && time.Now().Before(end); {
				time.Sleep(10 * time.Millisecond)
			}
			if unpin {
				uctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
				defer cancel()
				if err := st.UnpinConsumer(uctx, p.name, workGroup); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
					s.log.Debug("work consumer: unpin", "consumer", p.name, "err", err)
				}
			}
		}()
	}
	held := func() int {
		n := 0
		for _, p := range parts {
			p.mu.Lock()
			if p.cc != nil {
				n++
			}
			p.mu.Unlock()
		}
		return n
	}
	tick := time.NewTicker(w.MemberTTL / 5)
	defer tick.Stop()
	var last []string
	for {
		if ids, err := s.workMembers(ctx, members, key, w.Durable); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("work consumer: members not refreshed, keeping the partitions held", "consumer", w.Durable, "err", err)
			}
		} else {
			for _, p := range parts {
				if owner(ids, p.name) == me {
					start(p)
				} else {
					stop(p, true)
				}
			}
			if !slices.Equal(ids, last) {
				s.log.Info("work consumer: partitions assigned", "consumer", w.Durable, "instance", me,
					"instances", len(ids), "held", held(), "partitions", len(parts))
				last = ids
			}
		}
		select {
		case <-ctx.Done():
			for _, p := range parts {
				stop(p, true)
			}
			dctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
			_ = members.Delete(dctx, key)
			cancel()
			for _, p := range parts {
				if p.stopped != nil {
					<-p.stopped
				}
			}
			return nil
		case <-tick.C:
		}
	}
}

// heldUntil is when the inputs a partition's previous owner held come
// again: AckWait after the consumer's last delivery (the server's timer
// on each; one Follow tick later, for the server to queue them), so an
// instance started in a crash loop long after the kill that left them
// held waits no more, instead of AckWait from its own start, which a
// restart every few seconds never reached. An input the previous owner
// reported in progress after the last delivery (held over AckWait/3
// behind slow ones) may come later than that, and run after newer
// inputs of its device; AckWait from now bounds the wait in any case.
func heldUntil(now time.Time, info *jetstream.ConsumerInfo, w Work) time.Time {
	until := now.Add(w.AckWait)
	if last := info.Delivered.Last; last != nil {
		if t := last.Add(w.AckWait + w.MemberTTL/5); t.Before(until) {
			until = t
		}
	}
	return until
}

// workConsumer opens a partition's durable consumer, creating it when
// missing: from the position of the consumer of the versions before
// partitions when there is one (nothing stored in between is skipped;
// what it had handed out but not acked runs again, with the same output
// ids), else from new messages.
func (s *Store) workConsumer(ctx context.Context, stream string, w Work, p *workPart) (jetstream.Consumer, error) {
	c, err := s.js.Consumer(ctx, stream, p.name)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("work consumer %s: %w", p.name, unavailable(err))
	}
	cfg := jetstream.ConsumerConfig{
		Durable:           p.name,
		Description:       w.Description,
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           w.AckWait,
		MaxAckPending:     w.MaxAckPending,
		InactiveThreshold: 24 * time.Hour,
		PriorityPolicy:    jetstream.PriorityPolicyPinned,
		PriorityGroups:    []string{workGroup},
		PinnedTTL:         w.MemberTTL,
	}
	filters := p.filters
	if old, err := s.js.Consumer(ctx, stream, w.Durable); err == nil {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, old.CachedInfo().AckFloor.Stream+1
		if p.legacy != "" {
			filters = append(filters, p.legacy)
		}
	}
	if len(filters) == 1 {
		cfg.FilterSubject = filters[0]
	} else {
		cfg.FilterSubjects = filters
	}
	c, err = s.js.CreateConsumer(ctx, stream, cfg)
	if errors.Is(err, jetstream.ErrConsumerExists) { // another instance made it first
		c, err = s.js.Consumer(ctx, stream, p.name)
	}
	if err != nil {
		return nil, fmt.Errorf("work consumer %s: %w", p.name, unavailable(err))
	}
	return c, nil
}

// workMembers announces key and lists the live instances of durable,
// sorted.
func (s *Store) workMembers(ctx context.Context, kv jetstream.KeyValue, key, durable string) ([]string, error) {
	if _, err := kv.Put(ctx, key, []byte(time.Now().UTC().Format(time.RFC3339))); err != nil {
		return nil, unavailable(err)
	}
	lister, err := kv.ListKeysFiltered(ctx, durable+".*")
	if err != nil {
		return nil, unavailable(err)
	}
	var ids []string
	for k := range lister.Keys() {
		ids = append(ids, strings.TrimPrefix(k, durable+"."))
	}
	if len(ids) == 0 {
		return nil, errors.New("own announcement not listed")
	}
	slices.Sort(ids)
	return ids, nil
}

// owner is the instance that takes a partition: the highest hash of
// (instance, partition), so a joining or leaving instance moves only its
// own share.
func owner(ids []string, part string) string {
	// A cryptographic hash: ids and partition names differ only in their
	// last bytes, which FNV mixes too little (one instance took all).
	score := func(id string) uint64 {
		h := sha256.Sum256([]byte(id + "\x00" + part))
		return binary.BigEndian.Uint64(h[:8])
	}
	return slices.MaxFunc(ids, func(a, b string) int { return cmp.Compare(score(a), score(b)) })
}

// workSubject strips the store's prefix and a reading's partition.
func (s *Store) workSubject(subject string) string {
	if tenant, device, ok := s.DataDevice(subject); ok {
		return "data." + tenant + "." + device
	}
	return subject[len(s.opts.SubjectPrefix):]
}

// DataDevice is the tenant and device of a DATA subject, with the store's
// prefix, partitioned (data.<partition>.<tenant>.<device>) or not
// (data.<tenant>.<device>, stored before the stream was partitioned): the
// number of tokens tells which.
func (s *Store) DataDevice(subject string) (tenant, device string, ok bool) {
	rest, ok := strings.CutPrefix(subject, s.opts.SubjectPrefix+"data.")
	if !ok {
		return "", "", false
	}
	t := strings.Split(rest, ".")
	switch {
	case len(t) == 2:
		tenant, device = t[0], t[1]
	case len(t) == 3 && isDigits(t[0]):
		tenant, device = t[1], t[2]
	}
	return tenant, device, tenant != "" && device != ""
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// partitionsRE reads the partition count of the DATA stream's transform.
var partitionsRE = regexp.MustCompile(`\{\{\s*partition\(\s*(\d+)`)

// DataPartitions is the number of partitions the DATA stream stores its
// readings in, read from the stream (1: not partitioned), so every
// instance agrees whatever its own options say.
func (s *Store) DataPartitions(ctx context.Context) (int, error) {
	info, err := s.dataSt.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", s.data, unavailable(err))
	}
	if t := info.Config.SubjectTransform; t != nil {
		if m := partitionsRE.FindStringSubmatch(t.Destination); m != nil {
			n, _ := strconv.Atoi(m[1])
			return max(n, 1), nil
		}
	}
	return 1, nil
}

// AppendFlowData stores a reading a flow made: as AppendData with msgID
// (the output's deterministic id: a redelivered input stores it once) and
// its flow depth in FlowDepthHeader.
func (s *Store) AppendFlowData(ctx context.Context, tenant, deviceID string, payload []byte, msgID string, depth int) (uint64, error) {
	return s.appendData(ctx, tenant, deviceID, payload, nats.Header{
		jetstream.MsgIDHeader: []string{msgID}, FlowDepthHeader: []string{strconv.Itoa(depth)}})
}

// AppendNotification stores a flow's notification (dojot's
// <tenant>.dojot.notifications message, as is) in the NOTIFICATIONS
// stream on notify.<tenant>, with msgID (its msgID, the output's
// deterministic id) as its dedupe id.
func (s *Store) AppendNotification(ctx context.Context, tenant string, payload []byte, msgID string) (uint64, error) {
	return s.appendTenant(ctx, "notification", s.NotificationSubject(tenant), tenant, payload, msgID)
}
