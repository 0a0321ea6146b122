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

// read consumes topics until ctx is done or the reader fails. An offset is
// committed only after JetStream stored the reading (or it was skipped), so
// a crash reads again at most; the Nats-Msg-Id kafka:<topic>:<partition>:
// <offset> makes JetStream drop such a re-append within its duplicate
// window.
func (in *inbound) read(ctx context.Context, topics []string) {
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers:           in.opts.Brokers,
		GroupID:           in.opts.GroupID,
		GroupTopics:       topics,
		MinBytes:          1,
		MaxBytes:          10 << 20,
		MaxWait:           250 * time.Millisecond,
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
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				in.failed(fmt.Errorf("fetch: %w", err))
			}
			return
		}
		if !in.append(ctx, m) {
			return // ctx done, not stored: read again next time
		}
		if err := r.CommitMessages(ctx, m); err != nil && ctx.Err() == nil {
			in.failed(fmt.Errorf("commit: %w", err))
		}
	}
}

// append stores one record in DATA, or skips it; it retries while NATS
// fails and returns false only when ctx is done first.
func (in *inbound) append(ctx context.Context, m kafkago.Message) bool {
	for _, h := range m.Headers {
		if h.Key == HeaderSeq { // written by this bridge from DATA
			in.mu.Lock()
			in.status.Own++
			in.mu.Unlock()
			return true
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
		return true
	}
	if err != nil {
		in.mu.Lock()
		in.status.Skipped++
		n := in.status.Skipped
		in.mu.Unlock()
		if n == 1 || n%skipLogEvery == 0 {
			in.log.Warn("kafka bridge: skipping a bad device-data record", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "reason", err, "skipped_total", n)
		}
		return true
	}
	msg := nats.NewMsg(in.store.DataSubject(tenant, device))
	msg.Data = m.Value
	msg.Header.Set(OriginHeader, OriginKafka)
	msg.Header.Set(jetstream.MsgIDHeader, "kafka:"+m.Topic+":"+strconv.Itoa(m.Partition)+":"+strconv.FormatInt(m.Offset, 10))
	backoff := in.opts.RetryMin
	for {
		_, err := in.store.JetStream().PublishMsg(ctx, msg)
		if err == nil {
			in.mu.Lock()
			in.status.Appended++
			in.status.LastError = ""
			in.mu.Unlock()
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		in.failed(fmt.Errorf("append to DATA: %w", err))
		sleep(ctx, backoff)
		backoff = min(2*backoff, in.opts.RetryMax)
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
