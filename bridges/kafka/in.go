package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/dojot-es/dojot/eventstore"
)

// skipLogEvery: a bad record is logged the first time and then once every
// this many, with the running count.
const skipLogEvery = 100

// InStatus is the <tenant>.device-data -> DATA direction's state.
type InStatus struct {
	// Topics is what the consumer group reads now.
	Topics []string `json:"topics"`
	// Appended counts readings stored in DATA (a redelivery deduplicated by
	// JetStream counts again); Skipped bad records; CrossTenant records
	// refused because their metadata.tenant names another tenant than
	// their topic; Own records the bridge itself wrote (DATA -> Kafka),
	// which are not read back.
	Appended    uint64 `json:"appended"`
	Skipped     uint64 `json:"skipped"`
	CrossTenant uint64 `json:"cross_tenant"`
	Own         uint64 `json:"own"`
	LastError   string `json:"last_error,omitempty"`
}

// inbound reads every tenant's <tenant>.device-data with one kafka-go
// consumer group reader and appends each valid reading to DATA. The reader
// is restarted with the new topic list when a tenant comes or goes: one
// group member per process whatever the number of tenants (a reader per
// tenant would hold a connection, a heartbeat and a rebalance per tenant),
// at the cost of a rebalance when tenants change, which is rare.
type inbound struct {
	opts  *Options
	store *eventstore.Store
	log   *slog.Logger

	mu     sync.Mutex
	status InStatus
}

func newInbound(opts *Options, store *eventstore.Store, log *slog.Logger) *inbound {
	return &inbound{opts: opts, store: store, log: log.With("direction", "in")}
}

func (in *inbound) Status() InStatus {
	in.mu.Lock()
	defer in.mu.Unlock()
	st := in.status
	st.Topics = slices.Clone(st.Topics)
	return st
}

// Run follows tenants: on each signal of changed it reads tenants() and,
// if their topics differ from the reader's, restarts the reader.
func (in *inbound) Run(ctx context.Context, tenants func() []string, changed <-chan struct{}) {
	var (
		topics []string
		stop   = func() {}
		done   chan struct{} // closed when the reader ends; nil: none
	)
	for {
		select {
		case <-ctx.Done():
			stop()
			if done != nil {
				<-done
			}
			return
		case <-changed:
			next := make([]string, 0, len(topics))
			for _, t := range tenants() {
				next = append(next, dataTopic(t))
			}
			if slices.Equal(next, topics) && done != nil {
				continue
			}
			topics = next
		case <-done: // failed on its own
			sleep(ctx, time.Second)
		}
		stop()
		if done != nil {
			<-done
			done = nil
		}
		if len(topics) == 0 {
			continue
		}
		rctx, cancel := context.WithCancel(ctx)
		d := make(chan struct{})
		stop, done = cancel, d
		go func(topics []string) { defer close(d); in.read(rctx, topics) }(topics)
	}
}

// inQueue bounds the records read ahead of JetStream's acknowledgements;
// a full queue holds the reader, not memory.
const inQueue = 1024

// appendTimeout bounds the wait for JetStream's answer to one append.
const appendTimeout = 10 * time.Second

// inRecord is one record on its way into DATA: fut is nil for a record
// that is not appended (skipped, refused, the bridge's own), which is
// committed in its turn all the same.
type inRecord struct {
	m   kafkago.Message
	msg *nats.Msg
	fut jetstream.PubAckFuture
}

// read consumes topics until ctx is done or the reader fails. Appends are
// pipelined: each valid record's append is started at once and queued;
// a second goroutine waits for their answers in order and commits the
// offsets of what JetStream stored (and of what was skipped), together,
// whenever nothing more has been answered. An offset is thus committed only
// after JetStream stored the reading and every earlier one of the reader,
// so a crash reads records again at most; their Nats-Msg-Id kafka:<topic>:
// <partition>:<offset> makes JetStream drop such a re-append within its
// duplicate window.
func (in *inbound) read(ctx context.Context, topics []string) {
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers:           in.opts.Brokers,
		GroupID:           in.opts.GroupID,
		GroupTopics:       topics,
		MinBytes:          1, // a fetch answers as soon as anything is there
		MaxBytes:          10 << 20,
		MaxWait:           250 * time.Millisecond,
		QueueCapacity:     inQueue,
		StartOffset:       kafkago.FirstOffset,
		CommitInterval:    time.Second,
		HeartbeatInterval: time.Second,
		JoinGroupBackoff:  time.Second,
		ErrorLogger: kafkago.LoggerFunc(func(msg string, args ...any) {
			in.log.Debug("kafka reader: " + fmt.Sprintf(msg, args...))
		}),
	})
	defer r.Close()
	in.mu.Lock()
	in.status.Topics = topics
	in.mu.Unlock()
	in.log.Info("kafka bridge: reading device data", "topics", topics, "group", in.opts.GroupID)

	q := make(chan inRecord, inQueue)
	acked := make(chan struct{})
	go func() { defer close(acked); in.commitLoop(ctx, r, q) }()
	defer func() { close(q); <-acked }()
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				in.failed(fmt.Errorf("fetch: %w", err))
			}
			return
		}
		rec, ok := in.start(ctx, m)
		if !ok {
			return // ctx done
		}
		select {
		case q <- rec:
		case <-ctx.Done():
			return
		}
	}
}

// start classifies a record and starts its append to DATA; ok is false
// only when ctx ended first.
func (in *inbound) start(ctx context.Context, m kafkago.Message) (rec inRecord, ok bool) {
	rec.m = m
	for _, h := range m.Headers {
		if h.Key == HeaderSeq { // written by this bridge from DATA
			in.mu.Lock()
			in.status.Own++
			in.mu.Unlock()
			return rec, true
		}
	}
	tenant, device, err := parseReading(m.Topic, m.Value)
	if errors.Is(err, errCrossTenant) {
		in.mu.Lock()
		in.status.CrossTenant++
		n := in.status.CrossTenant
		in.mu.Unlock()
		if n == 1 || n%skipLogEvery == 0 {
			in.log.Warn("kafka bridge: refusing a cross-tenant device-data record", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "reason", err, "cross_tenant_total", n)
		}
		return rec, true
	}
	if err != nil {
		in.skipped(m, err)
		return rec, true
	}
	msg := nats.NewMsg(in.store.DataSubject(tenant, device))
	msg.Data = m.Value
	msg.Header.Set(OriginHeader, OriginKafka)
	msg.Header.Set(jetstream.MsgIDHeader, "kafka:"+m.Topic+":"+strconv.Itoa(m.Partition)+":"+strconv.FormatInt(m.Offset, 10))
	rec.msg = msg
	backoff := in.opts.RetryMin
	for {
		rec.fut, err = in.store.JetStream().PublishMsgAsync(msg, jetstream.WithStallWait(appendTimeout))
		if err == nil {
			return rec, true
		}
		if errors.Is(err, nats.ErrMaxPayload) { // never fits: a bad record
			rec.msg = nil
			in.skipped(m, err)
			return rec, true
		}
		in.failed(fmt.Errorf("append to DATA: %w", err))
		if sleep(ctx, backoff); ctx.Err() != nil {
			return rec, false
		}
		backoff = min(2*backoff, in.opts.RetryMax)
	}
}

func (in *inbound) skipped(m kafkago.Message, err error) {
	in.mu.Lock()
	in.status.Skipped++
	n := in.status.Skipped
	in.mu.Unlock()
	if n == 1 || n%skipLogEvery == 0 {
		in.log.Warn("kafka bridge: skipping a bad device-data record", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "reason", err, "skipped_total", n)
	}
}

// commitLoop waits for the appends of q in order and commits their
// offsets. An append that failed or got no answer in time is published
// again (same Nats-Msg-Id, so a first copy that was stored after all is
// not doubled) until JetStream stores it: later records wait, so no
// offset passes a reading that is not stored. (Their appends are under way
// already: after such a failure a device's reading may be stored after the
// one that followed it.) It returns when q is closed
// and drained, or ctx is done.
func (in *inbound) commitLoop(ctx context.Context, r *kafkago.Reader, q <-chan inRecord) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var done []kafkago.Message
	var appended uint64
	commit := func() {
		if len(done) == 0 {
			return
		}
		in.mu.Lock()
		in.status.Appended += appended
		if appended > 0 {
			in.status.LastError = ""
		}
		in.mu.Unlock()
		appended = 0
		// Not ctx: what was stored is committed on the way out too (the
		// reader commits what it holds when it closes).
		if err := r.CommitMessages(context.WithoutCancel(ctx), done...); err != nil && ctx.Err() == nil {
			in.failed(fmt.Errorf("commit: %w", err))
		}
		clear(done)
		done = done[:0]
	}
	defer commit()
	for rec := range q {
		if rec.msg != nil {
			if !in.stored(ctx, rec, timer) {
				return // ctx done: not committed, read again next time
			}
			appended++
		}
		done = append(done, rec.m)
		if len(q) == 0 || len(done) >= inQueue {
			commit()
		}
	}
}

// stored waits for rec's append, publishing it again while JetStream
// fails; false: ctx ended first.
func (in *inbound) stored(ctx context.Context, rec inRecord, timer *time.Timer) bool {
	timer.Reset(appendTimeout)
	defer timer.Stop()
	var err error
	select {
	case <-rec.fut.Ok():
		return true
	case err = <-rec.fut.Err():
	case <-timer.C:
		err = errors.New("no answer from JetStream in time")
	case <-ctx.Done():
		return false
	}
	backoff := in.opts.RetryMin
	for {
		in.failed(fmt.Errorf("append to DATA: %w", err))
		if sleep(ctx, backoff); ctx.Err() != nil {
			return false
		}
		backoff = min(2*backoff, in.opts.RetryMax)
		actx, cancel := context.WithTimeout(ctx, appendTimeout)
		_, err = in.store.JetStream().PublishMsg(actx, rec.msg)
		cancel()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
	}
}

func (in *inbound) failed(err error) {
	in.mu.Lock()
	first := in.status.LastError == ""
	in.status.LastError = err.Error()
	in.mu.Unlock()
	if first {
		in.log.Error("kafka bridge: device data from kafka held", "err", err)
	}
}
