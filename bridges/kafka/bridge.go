package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/projections/memory"
)

// Options configure a Bridge. A zero field means its default.
type Options struct {
	// Brokers are the Kafka bootstrap addresses (host:port). Required.
	Brokers []string
	// Consumer names the durable JetStream consumer on EVENTS (default
	// "kafka-bridge"). Instances sharing one NATS share it.
	Consumer string
	// Partitions and Replication of the topics the bridge creates (default
	// 1 and 1: dojot's data-broker created its topics with one partition,
	// which keeps a tenant's device events in one total order; raise
	// Partitions for throughput, order then holds per device).
	Partitions  int
	Replication int
	// Batch is how many events are read and written to Kafka at once
	// (default 1000).
	Batch int
	// AckWait is the consumer's ack wait (default 30 s).
	AckWait time.Duration
	// PinnedTTL: another instance takes over the consumer when the pinned
	// one has not pulled for this long (default 2 min).
	PinnedTTL time.Duration
	// RetryMin and RetryMax bound the backoff between attempts while Kafka
	// fails (default 200 ms and 10 s).
	RetryMin, RetryMax time.Duration
	Logger             *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Consumer == "" {
		o.Consumer = "kafka-bridge"
	}
	if o.Partitions == 0 {
		o.Partitions = 1
	}
	if o.Replication == 0 {
		o.Replication = 1
	}
	if o.Batch == 0 {
		o.Batch = 1000
	}
	if o.AckWait == 0 {
		o.AckWait = 30 * time.Second
	}
	if o.PinnedTTL == 0 {
		o.PinnedTTL = 2 * time.Minute
	}
	if o.RetryMin == 0 {
		o.RetryMin = 200 * time.Millisecond
	}
	if o.RetryMax == 0 {
		o.RetryMax = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// priorityGroup is the consumer's one pinned-client group.
const priorityGroup = "bridge"

// outageLogEvery is how often a lasting Kafka outage is logged again.
const outageLogEvery = 30 * time.Second

// Status is the bridge's state, for health.
type Status struct {
	// Acked is the EVENTS sequence up to which everything is in Kafka.
	Acked uint64 `json:"acked_seq"`
	// Lag is how many events of EVENTS are not yet delivered (as of the
	// last batch read).
	Lag uint64 `json:"lag"`
	// KafkaOK is false while writes to Kafka fail; LastError and Since then
	// say why and since when.
	KafkaOK   bool      `json:"kafka_ok"`
	LastError string    `json:"last_error,omitempty"`
	Since     time.Time `json:"since,omitzero"`
}

// Bridge mirrors EVENTS to dojot's Kafka topics. Run it once per process.
type Bridge struct {
	opts   Options
	store  *eventstore.Store
	view   *memory.View
	w      *kafkago.Writer
	client *kafkago.Client
	log    *slog.Logger
	topics map[string]bool // created (or found) already

	mu        sync.Mutex
	status    Status
	lastLog   time.Time
	attempts  int
	expected  uint64 // next EVENTS sequence to bridge
	consumer  jetstream.Consumer
	canReset  bool
	resetWarn bool
}

// New returns a bridge from store to opts.Brokers; Run starts it.
func New(store *eventstore.Store, opts Options) (*Bridge, error) {
	opts.setDefaults()
	if len(opts.Brokers) == 0 {
		return nil, errors.New("kafka bridge: no brokers")
	}
	addr := kafkago.TCP(opts.Brokers...)
	b := &Bridge{
		opts:  opts,
		store: store,
		view:  memory.New(),
		log:   opts.Logger.With("component", "kafka-bridge"),
		w: &kafkago.Writer{
			Addr:         addr,
			RequiredAcks: kafkago.RequireAll,
			Balancer:     &kafkago.Hash{},
			BatchSize:    opts.Batch,
			BatchBytes:   16 << 20,
			BatchTimeout: 2 * time.Millisecond,
			MaxAttempts:  1, // the bridge retries the whole batch itself
			WriteTimeout: 10 * time.Second,
			ReadTimeout:  10 * time.Second,
		},
		client:   &kafkago.Client{Addr: addr, Timeout: 10 * time.Second},
		topics:   make(map[string]bool),
		canReset: true,
	}
	b.status.KafkaOK = true
	return b, nil
}

// Status reports the bridge's state; safe for concurrent use.
func (b *Bridge) Status() Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.status
}

// Close releases the Kafka writer. Call it after Run returned.
func (b *Bridge) Close() error { return b.w.Close() }

// Run bridges until ctx is done (then it returns nil). NATS or Kafka
// failures are retried, never returned.
func (b *Bridge) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		err := b.run(ctx)
		if ctx.Err() != nil {
			break
		}
		b.log.Warn("kafka bridge: restarting", "err", err)
		sleep(ctx, time.Second)
	}
	return nil
}

func (b *Bridge) run(ctx context.Context) error {
	js := b.store.JetStream()
	cons, err := js.CreateOrUpdateConsumer(ctx, b.store.EventsStream(), jetstream.ConsumerConfig{
		Durable:        b.opts.Consumer,
		Description:    "dojot Kafka bridge",
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckAllPolicy,
		AckWait:        b.opts.AckWait,
		MaxAckPending:  4 * b.opts.Batch,
		MaxDeliver:     -1,
		PriorityPolicy: jetstream.PriorityPolicyPinned,
		PriorityGroups: []string{priorityGroup},
		PinnedTTL:      b.opts.PinnedTTL,
	})
	if err != nil {
		return fmt.Errorf("consumer %s: %w", b.opts.Consumer, err)
	}
	b.consumer = cons
	if err := b.resync(ctx, false); err != nil {
		return err
	}
	for _, t := range b.view.Tenants() {
		b.wantTopic(deviceTopic(t))
	}
	b.wantTopic(tenancyTopic)
	if err := b.deliver(ctx, nil, nil); err != nil { // topics up front
		return err
	}
	b.log.Info("kafka bridge started", "brokers", b.opts.Brokers, "consumer", b.opts.Consumer, "from_seq", b.expected)
	for ctx.Err() == nil {
		if err := b.step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// resync brings the private view up to the consumer's ack floor (what was
// delivered before, by this process, a crashed one or another instance)
// and, if anything after it is outstanding (or force), resets the consumer
// to deliver again from ack floor + 1, so that no event overtakes another.
func (b *Bridge) resync(ctx context.Context, force bool) error {
	info, err := b.consumer.Info(ctx)
	if err != nil {
		return fmt.Errorf("consumer info: %w", err)
	}
	floor := info.AckFloor.Stream
	if err := b.catchUp(ctx, floor); err != nil {
		return err
	}
	b.expected = floor + 1
	b.setAcked(floor, info.NumPending+uint64(info.NumAckPending))
	if (force || info.NumAckPending > 0) && b.canReset {
		_, err := b.store.JetStream().ResetConsumer(ctx, b.store.EventsStream(), b.opts.Consumer)
		if err != nil {
			// Without reset (nats-server < 2.14) the bridge waits for the
			// server to redeliver after AckWait: slower, still in order.
			if !b.resetWarn {
				b.log.Warn("kafka bridge: consumer reset failed; waiting for redelivery instead", "err", err)
				b.resetWarn = true
			}
		}
	}
	return nil
}

// errCaughtUp stops the catch-up subscription.
var errCaughtUp = errors.New("caught up")

// catchUp applies EVENTS up to seq to the private view, sending nothing.
func (b *Bridge) catchUp(ctx context.Context, seq uint64) error {
	from, _ := b.view.Checkpoint(ctx)
	if from >= seq {
		return nil
	}
	err := b.store.Subscribe(ctx, from+1, func(ev dojot.Event) error {
		if ev.Seq > seq {
			return errCaughtUp
		}
		if err := b.view.Apply(ctx, ev); err != nil {
			b.log.Error("kafka bridge: view refused event", "seq", ev.Seq, "type", ev.Type, "err", err)
		}
		if ev.Seq >= seq {
			return errCaughtUp
		}
		return nil
	})
	if errors.Is(err, errCaughtUp) {
		return nil
	}
	return fmt.Errorf("replay up to %d: %w", seq, err)
}

// step reads one batch, writes its records and acknowledges it.
func (b *Bridge) step(ctx context.Context) error {
	batch, err := b.consumer.Fetch(b.opts.Batch,
		jetstream.FetchMaxWait(time.Second),
		jetstream.FetchPriorityGroup(priorityGroup))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("fetch: %w", err)
	}
	var (
		recs    []kafkago.Message
		last    jetstream.Msg // the last message to acknowledge (AckAll)
		pending uint64
		gap     bool
	)
	for m := range batch.Messages() {
		if gap {
			continue // drain: all of it is delivered again after the reset
		}
		md, err := m.Metadata()
		if err != nil {
			b.log.Error("kafka bridge: message without metadata", "err", err)
			continue
		}
		seq := md.Sequence.Stream
		switch {
		case seq < b.expected: // redelivered, already in Kafka
			last = m
			continue
		case seq > b.expected: // an earlier event is still outstanding
			gap = true
			continue
		}
		b.expected++
		last, pending = m, md.NumPending
		var ev dojot.Event
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			b.log.Error("kafka bridge: skipping undecodable event", "seq", seq, "subject", m.Subject(), "err", err)
			continue
		}
		ev.Seq = seq
		if err := b.view.Apply(ctx, ev); err != nil {
			b.log.Error("kafka bridge: view refused event", "seq", seq, "type", ev.Type, "err", err)
		}
		recs = append(recs, b.records(ev)...)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		b.log.Debug("kafka bridge: fetch", "err", err)
	}
	if len(recs) > 0 {
		if err := b.deliver(ctx, recs, last); err != nil {
			return nil // ctx done
		}
	}
	if last != nil {
		md, _ := last.Metadata()
		if err := last.DoubleAck(ctx); err != nil {
			if ctx.Err() == nil {
				b.log.Warn("kafka bridge: ack failed; the batch will be delivered again", "seq", md.Sequence.Stream, "err", err)
			}
		} else if md.Sequence.Stream >= b.Status().Acked {
			b.setAcked(md.Sequence.Stream, pending)
		}
	}
	if gap {
		sleep(ctx, 100*time.Millisecond)
		return b.resync(ctx, true)
	}
	if last == nil && batch.Error() != nil && !errors.Is(batch.Error(), jetstream.ErrNoMessages) {
		sleep(ctx, 200*time.Millisecond) // e.g. another instance is pinned
	}
	return nil
}

func (b *Bridge) setAcked(seq, lag uint64) {
	b.mu.Lock()
	b.status.Acked, b.status.Lag = seq, lag
	b.mu.Unlock()
}

// deliver creates the topics still wanted and writes recs, retrying with
// backoff until Kafka took them all or ctx is done. last, if any, is kept
// in progress meanwhile, so the server does not redeliver it.
func (b *Bridge) deliver(ctx context.Context, recs []kafkago.Message, last jetstream.Msg) error {
	for _, r := range recs {
		b.wantTopic(r.Topic)
	}
	backoff := b.opts.RetryMin
	for {
		err := b.createTopics(ctx)
		if err == nil && len(recs) > 0 {
			err = b.w.WriteMessages(ctx, recs...)
		}
		if err == nil {
			b.kafkaOK()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.kafkaFailed(err)
		if last != nil {
			_ = last.InProgress()
		}
		sleep(ctx, backoff)
		backoff = min(2*backoff, b.opts.RetryMax)
	}
}

func (b *Bridge) wantTopic(t string) {
	if _, ok := b.topics[t]; !ok {
		b.topics[t] = false
	}
}

// createTopics creates every wanted topic not created yet; one that exists
// already is fine.
func (b *Bridge) createTopics(ctx context.Context) error {
	var req kafkago.CreateTopicsRequest
	for t, done := range b.topics {
		if !done {
			req.Topics = append(req.Topics, kafkago.TopicConfig{Topic: t, NumPartitions: b.opts.Partitions, ReplicationFactor: b.opts.Replication})
		}
	}
	if len(req.Topics) == 0 {
		return nil
	}
	resp, err := b.client.CreateTopics(ctx, &req)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	var errs []error
	for _, tc := range req.Topics {
		if err := resp.Errors[tc.Topic]; err != nil && !errors.Is(err, kafkago.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %s: %w", tc.Topic, err))
			continue
		}
		b.topics[tc.Topic] = true
	}
	return errors.Join(errs...)
}

func (b *Bridge) kafkaFailed(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.attempts++
	if b.status.KafkaOK {
		b.status.KafkaOK, b.status.Since = false, now
		b.lastLog = now
		b.status.LastError = err.Error()
		b.log.Error("kafka bridge: kafka unavailable; holding events until it is back", "brokers", b.opts.Brokers, "from_seq", b.status.Acked+1, "err", err)
		return
	}
	b.status.LastError = err.Error()
	if now.Sub(b.lastLog) >= outageLogEvery {
		b.lastLog = now
		b.log.Error("kafka bridge: kafka still unavailable", "for", now.Sub(b.status.Since).Round(time.Second).String(), "attempts", b.attempts, "lag", b.status.Lag, "err", err)
	}
}

func (b *Bridge) kafkaOK() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.status.KafkaOK {
		b.log.Info("kafka bridge: kafka is back; catching up", "after", time.Since(b.status.Since).Round(time.Millisecond).String(), "attempts", b.attempts)
		b.status.KafkaOK, b.status.Since, b.status.LastError = true, time.Time{}, ""
	}
	b.attempts = 0
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
