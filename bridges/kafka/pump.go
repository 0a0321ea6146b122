package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/dojot-es/dojot/eventstore"
)

// pump moves one JetStream stream to Kafka: a durable pull consumer
// (AckPolicy all, one pinned client), read strictly in sequence order, in
// batches of what has arrived (never waiting for more); a batch's records are written with acks=all and the batch is
// acknowledged to JetStream only after Kafka acknowledged all of them.
// While Kafka fails it holds the batch and retries with backoff. The EVENTS
// and DATA directions are two pumps that differ only in their hooks.
type pump struct {
	opts     *Options
	store    *eventstore.Store
	stream   string
	durable  string
	desc     string
	deliver0 jetstream.DeliverPolicy
	// gaps: messages may be gone from the stream (DATA expires by age and
	// size), so the first message after a (re)start or reset is taken as
	// the next one, whatever its sequence.
	gaps bool
	// catchUp, if set, is called with the ack floor before delivering
	// (the EVENTS view replays up to it).
	catchUp func(ctx context.Context, floor uint64) error
	// records maps one message (sequence seq) to its Kafka records.
	records func(ctx context.Context, m jetstream.Msg, seq uint64) []kafkago.Message
	// starting, if set, runs before the topics wanted at start are
	// created; delivered after they were and after each batch reached Kafka.
	starting, delivered func()

	w      *kafkago.Writer
	client *kafkago.Client
	log    *slog.Logger
	topics map[string]bool // created (or found) already; pump goroutine only

	mu       sync.Mutex
	status   Status
	lastLog  time.Time
	attempts int
	expected uint64 // next sequence to bridge
	anyNext  bool   // gaps: the next message is taken whatever its sequence
	consumer jetstream.Consumer
	// pinned: this run got messages, so the server pinned its consumer
	// object (set by the consumption's goroutine).
	pinned    atomic.Bool
	stuckPin  pinState           // checkPin's last look
	ahead     chan jetstream.Msg // what follow's consumption pulled ahead
	canReset  bool
	resetWarn bool
}

func newPump(opts *Options, store *eventstore.Store, stream, durable, desc string) *pump {
	addr := kafkago.TCP(opts.Brokers...)
	p := &pump{
		opts:    opts,
		store:   store,
		stream:  stream,
		durable: durable,
		desc:    desc,
		log:     opts.Logger.With("component", "kafka-bridge", "stream", stream),
		w: &kafkago.Writer{
			Addr:         addr,
			RequiredAcks: kafkago.RequireAll,
			Balancer:     &kafkago.Hash{},
			BatchSize:    opts.Batch,
			BatchBytes:   maxBatchBytes,
			// kafka-go sends a partition's last, partial batch of a
			// WriteMessages when this timer fires: the only linger a record
			// sees (the pump itself never waits for a batch to fill).
			BatchTimeout: time.Millisecond,
			MaxAttempts:  1, // the pump retries the whole batch itself
			WriteTimeout: 10 * time.Second,
			ReadTimeout:  10 * time.Second,
		},
		client:   &kafkago.Client{Addr: addr, Timeout: 10 * time.Second},
		topics:   make(map[string]bool),
		canReset: true,
	}
	p.status.KafkaOK = true
	return p
}

func (p *pump) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

func (p *pump) Close() error { return p.w.Close() }

// Run pumps until ctx is done. NATS or Kafka failures are retried.
func (p *pump) Run(ctx context.Context) {
	for ctx.Err() == nil {
		err := p.run(ctx)
		if ctx.Err() != nil {
			break
		}
		p.log.Warn("kafka bridge: restarting", "err", err)
		sleep(ctx, time.Second)
	}
}

func (p *pump) run(ctx context.Context) error {
	js := p.store.JetStream()
	cons, err := js.CreateOrUpdateConsumer(ctx, p.stream, jetstream.ConsumerConfig{
		Durable:        p.durable,
		Description:    p.desc,
		DeliverPolicy:  p.deliver0,
		AckPolicy:      jetstream.AckAllPolicy,
		AckWait:        p.opts.AckWait,
		MaxAckPending:  4 * p.opts.Batch,
		MaxDeliver:     -1,
		PriorityPolicy: jetstream.PriorityPolicyPinned,
		PriorityGroups: []string{priorityGroup},
		PinnedTTL:      p.opts.PinnedTTL,
	})
	if err != nil {
		return fmt.Errorf("consumer %s: %w", p.durable, err)
	}
	p.consumer, p.stuckPin = cons, pinState{}
	p.pinned.Store(false)
	defer p.unpin()
	if err := p.resync(ctx, false); err != nil {
		return err
	}
	p.takePin(ctx)
	if p.starting != nil {
		p.starting()
	}
	if err := p.deliver(ctx, nil, nil); err != nil { // topics up front
		return err
	}
	if p.delivered != nil {
		p.delivered()
	}
	p.log.Info("kafka bridge started", "brokers", p.opts.Brokers, "consumer", p.durable, "from_seq", p.expected)
	for ctx.Err() == nil {
		err := p.follow(ctx)
		if errors.Is(err, errGap) {
			// The consumption is stopped, so nothing the reset delivers
			// again goes to its pulls.
			sleep(ctx, 100*time.Millisecond)
			err = p.resync(ctx, true)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// pinCheckEvery: a pump that has been handed nothing checks this often
// whether the pin is held by a client that does not pull (checkPin).
const pinCheckEvery = time.Second

// checkPin unpins the consumer when, on two checks in a row, it is pinned
// to the same client while messages wait, none is out for acknowledgement
// and the ack floor has not moved. nats-server pins the first waiting pull
// request when a message comes, before it checks that the request's
// subscriber still exists, so a pull of a stopped consumption (this
// process's previous run, or an instance that went away) can hold the pin
// for PinnedTTL with nobody behind it. A live pinned instance has messages
// out (it acknowledges only after Kafka), even while Kafka fails, or moves
// the ack floor between two checks, so it keeps its pin.
func (p *pump) checkPin(ctx context.Context) {
	info, err := p.consumer.Info(ctx)
	if err != nil {
		return
	}
	var pin string
	for _, g := range info.PriorityGroups {
		if g.Group == priorityGroup {
			pin = g.PinnedClientID
		}
	}
	stuck := pinState{pin: pin, floor: info.AckFloor.Stream}
	if pin == "" || info.NumPending == 0 || info.NumAckPending > 0 {
		stuck = pinState{}
	}
	if stuck.pin != "" && stuck == p.stuckPin {
		p.log.Warn("kafka bridge: unpinning a client that does not pull", "consumer", p.durable, "pending", info.NumPending, "ack_floor", stuck.floor)
		p.release()
		stuck = pinState{}
	}
	p.stuckPin = stuck
}

// takePin, at the start of a run, unpins the consumer if it is pinned with
// nothing out for acknowledgement: most likely to a pull of this
// process's previous run, or of an instance gone; a live instance that is
// idle just pulls again. One that is busy has messages out and keeps its
// pin.
func (p *pump) takePin(ctx context.Context) {
	info, err := p.consumer.Info(ctx)
	if err != nil || info.NumAckPending > 0 {
		return
	}
	for _, g := range info.PriorityGroups {
		if g.Group == priorityGroup && g.PinnedClientID != "" {
			p.release()
		}
	}
}

// pinState is what checkPin saw of a pin that might not pull.
type pinState struct {
	pin   string
	floor uint64
}

// unpin releases the pin this run held, so that the next run (a new
// consumer object, which the server does not know as pinned) or another
// instance takes over at once instead of after PinnedTTL. A run that was
// never pinned leaves another instance's pin alone. After a crash nothing
// unpins: the pin then lapses after PinnedTTL.
func (p *pump) unpin() {
	if p.pinned.Load() {
		p.release()
	}
}

// release unpins the consumer's priority group, whoever holds the pin.
func (p *pump) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := p.store.JetStream().Stream(ctx, p.stream)
	if err == nil {
		err = st.UnpinConsumer(ctx, p.durable, priorityGroup)
	}
	if err != nil {
		p.log.Warn("kafka bridge: unpin failed; the next pull waits for the pin to lapse", "consumer", p.durable, "err", err)
	}
}

// resync brings the hooks up to the consumer's ack floor (what was
// delivered before, by this process, a crashed one or another instance)
// and, if anything after it is outstanding (or force), resets the consumer
// to deliver again from ack floor + 1, so that no message overtakes another.
func (p *pump) resync(ctx context.Context, force bool) error {
	info, err := p.consumer.Info(ctx)
	if err != nil {
		return fmt.Errorf("consumer info: %w", err)
	}
	floor := info.AckFloor.Stream
	if p.catchUp != nil {
		if err := p.catchUp(ctx, floor); err != nil {
			return err
		}
	}
	p.expected = floor + 1
	p.anyNext = p.gaps && !force && info.NumAckPending == 0
	p.setAcked(floor, info.NumPending+uint64(info.NumAckPending))
	if (force || info.NumAckPending > 0) && p.canReset {
		_, err := p.store.JetStream().ResetConsumer(ctx, p.stream, p.durable)
		if err != nil {
			// Without reset (nats-server < 2.14) the pump waits for the
			// server to redeliver after AckWait: slower, still in order.
			if !p.resetWarn {
				p.log.Warn("kafka bridge: consumer reset failed; waiting for redelivery instead", "err", err)
				p.resetWarn = true
			}
		} else {
			p.anyNext = p.gaps
		}
	}
	return nil
}

// follow consumes the stream until ctx is done, the consumption ends (an
// error: Run starts again) or a gap (errGap: run resyncs). Messages are pulled
// ahead continuously (PullMaxMessages), so the next batch is read while one
// is written to Kafka; a batch is what has arrived by the time the pump is
// free: one message on an idle stream goes out at once, never waiting for
// a batch to fill or a timer to fire.
func (p *pump) follow(ctx context.Context) error {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs := make(chan jetstream.Msg, p.opts.Batch)
	p.ahead = msgs
	cc, err := p.consumer.Consume(func(m jetstream.Msg) {
		p.pinned.Store(true) // only the pinned client gets messages
		select {
		case msgs <- m:
		case <-fctx.Done(): // stopping: it is delivered again
		}
	},
		jetstream.PullMaxMessages(p.opts.Batch),
		jetstream.PullPriorityGroup(priorityGroup),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			// Missed heartbeats, another instance pinned, a NATS
			// reconnect: the consumption recovers by itself.
			p.log.Debug("kafka bridge: consume", "err", err)
		}))
	if err != nil {
		return fmt.Errorf("consume %s: %w", p.durable, err)
	}
	defer func() {
		cancel() // unblocks the handler
		cc.Stop()
		<-cc.Closed()
	}()
	batch := make([]jetstream.Msg, 0, p.opts.Batch)
	idle := time.NewTicker(pinCheckEvery)
	defer idle.Stop()
	for {
		select {
		case m := <-msgs:
			batch = append(batch, m)
		case <-cc.Closed():
			return errors.New("consumption of " + p.durable + " ended")
		case <-ctx.Done():
			return nil
		case <-idle.C:
			// The backlog, counted by the server: what step sees of it
			// (NumPending) leaves out what was pulled ahead.
			p.refreshLag(ctx)
			if !p.pinned.Load() {
				p.checkPin(ctx)
			}
			continue
		}
	fill: // and whatever else has arrived meanwhile: the backlog
		for len(batch) < p.opts.Batch {
			select {
			case m := <-msgs:
				batch = append(batch, m)
			default:
				break fill
			}
		}
		gap := p.step(ctx, batch)
		clear(batch) // let the payloads go
		batch = batch[:0]
		if gap {
			return errGap
		}
	}
}

// maxBatchBytes bounds the records of one produce request (kafka-go
// splits a partition's records into batches of at most this), below
// Kafka's default message.max.bytes (1,048,588): a batch of 4,096 device
// records is ~1.4 MB, which a broker refuses whole. A record alone larger
// than this is skipped.
const maxBatchBytes = 1_000_000

// recordBytes is about what a record takes in a batch.
func recordBytes(r kafkago.Message) int {
	n := len(r.Key) + len(r.Value) + 64
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value) + 8
	}
	return n
}

// errGap: follow met a message past one still outstanding.
var errGap = errors.New("gap")

// step writes the records of one batch of messages and acknowledges it.
// It returns true when a message came before an earlier one still
// outstanding: the pump must resync to keep the order.
func (p *pump) step(ctx context.Context, batch []jetstream.Msg) (gap bool) {
	var (
		recs    []kafkago.Message
		last    jetstream.Msg // the last message to acknowledge (AckAll)
		pending uint64
	)
	for _, m := range batch {
		md, err := m.Metadata()
		if err != nil {
			p.log.Error("kafka bridge: message without metadata", "err", err)
			continue
		}
		seq := md.Sequence.Stream
		if p.anyNext && seq > p.expected {
			p.expected, p.anyNext = seq, false
		}
		switch {
		case seq < p.expected: // redelivered, already in Kafka
			last = m
			continue
		case seq > p.expected: // an earlier message is still outstanding
			gap = true
		}
		if gap {
			break // the rest is delivered again after the reset
		}
		p.expected++
		p.anyNext = false
		last, pending = m, md.NumPending
		for _, r := range p.records(ctx, m, seq) {
			if n := recordBytes(r); n > maxBatchBytes {
				// Kafka would refuse it, and the pump would hold
				// everything after it while it retried.
				p.log.Error("kafka bridge: skipping a record larger than Kafka takes", "seq", seq, "topic", r.Topic, "bytes", n, "max", maxBatchBytes)
				continue
			}
			recs = append(recs, r)
		}
	}
	if len(recs) > 0 {
		if err := p.deliver(ctx, recs, last); err != nil {
			return false // ctx done
		}
		if p.delivered != nil {
			p.delivered()
		}
	}
	if last != nil {
		// Not waited for (no DoubleAck): a round trip per batch is time
		// the next batch waits, and an ack that is lost only makes the
		// server deliver again what the pump then skips as already sent.
		md, _ := last.Metadata()
		if err := last.Ack(); err != nil {
			if ctx.Err() == nil {
				p.log.Warn("kafka bridge: ack failed; the batch will be delivered again", "seq", md.Sequence.Stream, "err", err)
			}
		} else if md.Sequence.Stream >= p.Status().Acked {
			p.setAcked(md.Sequence.Stream, pending+uint64(len(p.ahead)))
		}
	}
	return gap
}

// refreshLag reads the backlog from the consumer (not yet delivered, or
// not yet acknowledged): every second while following, and while Kafka is
// down, as otherwise Status would show the lag of the last batch read,
// however many messages have come since.
func (p *pump) refreshLag(ctx context.Context) {
	info, err := p.consumer.Info(ctx)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.status.Lag = info.NumPending + uint64(info.NumAckPending)
	p.mu.Unlock()
}

func (p *pump) setAcked(seq, lag uint64) {
	p.mu.Lock()
	p.status.Acked, p.status.Lag = seq, lag
	p.mu.Unlock()
}

// deliver creates the topics still wanted and writes recs, retrying with
// backoff until Kafka took them all or ctx is done. last, if any, is kept
// in progress meanwhile, so the server does not redeliver it.
func (p *pump) deliver(ctx context.Context, recs []kafkago.Message, last jetstream.Msg) error {
	for _, r := range recs {
		p.wantTopic(r.Topic)
	}
	backoff := p.opts.RetryMin
	for {
		err := p.createTopics(ctx)
		if err == nil && len(recs) > 0 {
			err = p.write(ctx, recs)
		}
		if err == nil {
			p.kafkaOK()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.kafkaFailed(err)
		if last != nil {
			_ = last.InProgress()
		}
		p.refreshLag(ctx)
		sleep(ctx, backoff)
		backoff = min(2*backoff, p.opts.RetryMax)
	}
}

// stopGrace is how long a write on its way may finish after the pump was
// told to stop.
const stopGrace = 5 * time.Second

// write writes recs. A stop (ctx done) while they are on their way lets
// the write finish, for up to stopGrace: Kafka may already have taken
// them, and a pump that stopped then without acknowledging them would
// send them again after the restart (a graceful stop sends nothing twice;
// only a crash does).
func (p *pump) write(ctx context.Context, recs []kafkago.Message) error {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	defer context.AfterFunc(ctx, func() { time.AfterFunc(stopGrace, cancel) })()
	return p.w.WriteMessages(wctx, recs...)
}

func (p *pump) wantTopic(t string) {
	if _, ok := p.topics[t]; !ok {
		p.topics[t] = false
	}
}

// createTopics creates every wanted topic not created yet; one that exists
// already is fine.
func (p *pump) createTopics(ctx context.Context) error {
	var req kafkago.CreateTopicsRequest
	for t, done := range p.topics {
		if !done {
			req.Topics = append(req.Topics, kafkago.TopicConfig{Topic: t, NumPartitions: p.opts.Partitions, ReplicationFactor: p.opts.Replication})
		}
	}
	if len(req.Topics) == 0 {
		return nil
	}
	resp, err := p.client.CreateTopics(ctx, &req)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	var errs []error
	for _, tc := range req.Topics {
		if err := resp.Errors[tc.Topic]; err != nil && !errors.Is(err, kafkago.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %s: %w", tc.Topic, err))
			continue
		}
		p.topics[tc.Topic] = true
	}
	return errors.Join(errs...)
}

// shortError is err in a few hundred bytes: kafka-go's WriteErrors repeat
// one message per record (600 records: tens of KB of "broken pipe"), which
// would flood the log and /healthz.
func shortError(err error) error {
	var we kafkago.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if e != nil {
				return fmt.Errorf("%d of %d records failed, first: %w", we.Count(), len(we), e)
			}
		}
	}
	if s := err.Error(); len(s) > 512 {
		return errors.New(s[:512] + "...")
	}
	return err
}

func (p *pump) kafkaFailed(err error) {
	err = shortError(err)
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	p.attempts++
	if p.status.KafkaOK {
		p.status.KafkaOK, p.status.Since = false, now
		p.lastLog = now
		p.status.LastError = err.Error()
		p.log.Error("kafka bridge: kafka unavailable; holding events until it is back", "brokers", p.opts.Brokers, "from_seq", p.status.Acked+1, "err", err)
		return
	}
	p.status.LastError = err.Error()
	if now.Sub(p.lastLog) >= outageLogEvery {
		p.lastLog = now
		p.log.Error("kafka bridge: kafka still unavailable", "for", now.Sub(p.status.Since).Round(time.Second).String(), "attempts", p.attempts, "lag", p.status.Lag, "err", err)
	}
}

func (p *pump) kafkaOK() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.status.KafkaOK {
		p.log.Info("kafka bridge: kafka is back; catching up", "after", time.Since(p.status.Since).Round(time.Millisecond).String(), "attempts", p.attempts)
		p.status.KafkaOK, p.status.Since, p.status.LastError = true, time.Time{}, ""
	}
	p.attempts = 0
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
