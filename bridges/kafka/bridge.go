package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
	// "kafka-bridge"); the one on DATA is Consumer + "-data". Instances
	// sharing one NATS share them.
	Consumer string
	// GroupID is the Kafka consumer group that reads <tenant>.device-data
	// into DATA (default "dojot-bridge").
	GroupID string
	// Partitions and Replication of the topics the bridge creates (default
	// 1 and 1: dojot's data-broker created its topics with one partition,
	// which keeps a tenant's device events in one total order; raise
	// Partitions for throughput, order then holds per device).
	Partitions  int
	Replication int
	// Batch is the most messages written to Kafka at once, and pulled
	// ahead of the one being written (default 4096). A batch is what has
	// arrived, never waited for; a large one only lets a backlog go in
	// fewer round trips when the process is short of CPU.
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
	// DevicesTopic also writes the device records to
	// <tenant>.dojot.device-manager.devices, the name dojot's architecture
	// page uses, for consumers configured with it (default off: dojot's
	// services use the singular).
	DevicesTopic bool
}

func (o *Options) setDefaults() {
	if o.Consumer == "" {
		o.Consumer = "kafka-bridge"
	}
	if o.GroupID == "" {
		o.GroupID = "dojot-bridge"
	}
	if o.Partitions == 0 {
		o.Partitions = 1
	}
	if o.Replication == 0 {
		o.Replication = 1
	}
	if o.Batch == 0 {
		o.Batch = 4096
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

// priorityGroup is each consumer's one pinned-client group.
const priorityGroup = "bridge"

// outageLogEvery is how often a lasting Kafka outage is logged again.
const outageLogEvery = 30 * time.Second

// Status is the bridge's state, for health: the EVENTS direction at the
// top level, DATA -> Kafka under Data, Kafka -> DATA under In.
type Status struct {
	// Acked is the stream sequence up to which everything is in Kafka.
	Acked uint64 `json:"acked_seq"`
	// Lag is how many messages of the stream are not yet delivered (as of
	// the last batch read).
	Lag uint64 `json:"lag"`
	// KafkaOK is false while writes to Kafka fail; LastError and Since then
	// say why and since when.
	KafkaOK   bool      `json:"kafka_ok"`
	LastError string    `json:"last_error,omitempty"`
	Since     time.Time `json:"since,omitzero"`
	// Data is the DATA -> <tenant>.device-data direction.
	Data *Status `json:"data,omitempty"`
	// In is the <tenant>.device-data -> DATA direction.
	In *InStatus `json:"in,omitempty"`
	// Notifications is the NOTIFICATIONS -> <tenant>.dojot.notifications
	// direction.
	Notifications *Status `json:"notifications,omitempty"`
	// FTP is the FTP -> <tenant>.dojot.ftp direction (publish-ftp).
	FTP *Status `json:"ftp,omitempty"`
}

// Bridge mirrors EVENTS and DATA to dojot's Kafka topics, and legacy IoT
// agents' <tenant>.device-data records to DATA. Run it once per process.
type Bridge struct {
	opts   Options
	store  *eventstore.Store
	view   *memory.View
	log    *slog.Logger
	events *pump
	data   *pump
	notify *pump
	ftp    *pump
	in     *inbound

	// tenantsChanged is signalled (never blocking) when the tenants'
	// device-data topics exist, at start and when a tenant came or went.
	tenantsChanged chan struct{}
	tenantEvent    bool // the current batch of EVENTS has a tenant event
}

// New returns a bridge from store to opts.Brokers; Run starts it.
func New(store *eventstore.Store, opts Options) (*Bridge, error) {
	opts.setDefaults()
	if len(opts.Brokers) == 0 {
		return nil, errors.New("kafka bridge: no brokers")
	}
	b := &Bridge{
		opts:           opts,
		store:          store,
		view:           memory.New(),
		log:            opts.Logger.With("component", "kafka-bridge"),
		tenantsChanged: make(chan struct{}, 1),
	}
	b.events = newPump(&b.opts, store, store.EventsStream(), opts.Consumer, "dojot Kafka bridge")
	b.events.deliver0 = jetstream.DeliverAllPolicy
	b.events.catchUp = b.catchUp
	b.events.records = b.eventRecords
	b.events.starting = func() {
		b.tenantEvent = true // signal once the topics exist
		for _, t := range b.tenants() {
			b.wantTenantTopics(t)
		}
		b.events.wantTopic(tenancyTopic)
	}
	b.events.delivered = func() {
		if b.tenantEvent {
			b.tenantEvent = false
			b.signalTenants()
		}
	}
	b.data = newDataPump(&b.opts, store)
	b.notify = newNotifyPump(&b.opts, store)
	b.ftp = newFTPPump(&b.opts, store)
	b.in = newInbound(&b.opts, store, b.log)
	return b, nil
}

// tenants are those with users or created by a tenant event, sorted.
func (b *Bridge) tenants() []string {
	all := append(b.view.Tenants(), b.view.ActiveTenants()...)
	slices.Sort(all)
	return slices.Compact(all)
}

func (b *Bridge) signalTenants() {
	select {
	case b.tenantsChanged <- struct{}{}:
	default:
	}
}

// Status reports the bridge's state; safe for concurrent use.
func (b *Bridge) Status() Status {
	st := b.events.Status()
	data := b.data.Status()
	in := b.in.Status()
	notify, ftp := b.notify.Status(), b.ftp.Status()
	st.Data, st.In, st.Notifications, st.FTP = &data, &in, &notify, &ftp
	return st
}

// Close releases the Kafka writers. Call it after Run returned.
func (b *Bridge) Close() error {
	return errors.Join(b.events.Close(), b.data.Close(), b.notify.Close(), b.ftp.Close())
}

// Run bridges until ctx is done (then it returns nil). NATS or Kafka
// failures are retried, never returned.
func (b *Bridge) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { b.events.Run(ctx) })
	wg.Go(func() { b.data.Run(ctx) })
	wg.Go(func() { b.notify.Run(ctx) })
	wg.Go(func() { b.ftp.Run(ctx) })
	wg.Go(func() { b.in.Run(ctx, b.tenants, b.tenantsChanged) })
	wg.Wait()
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
			b.log.ErrorContext(ev.Context(ctx), "kafka bridge: view refused event", "seq", ev.Seq, "type", ev.Type, "err", err)
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

// eventRecords decodes one EVENTS message, applies it to the view and
// renders its records.
func (b *Bridge) eventRecords(ctx context.Context, m jetstream.Msg, seq uint64) []kafkago.Message {
	ev, err := b.store.Decode(m.Data())
	if err != nil {
		b.log.Error("kafka bridge: skipping undecodable event", "seq", seq, "subject", m.Subject(), "err", err)
		return nil
	}
	ev.Seq = seq
	if err := b.view.Apply(ctx, ev); err != nil {
		b.log.ErrorContext(ev.Context(ctx), "kafka bridge: view refused event", "seq", seq, "type", ev.Type, "err", err)
	}
	return b.records(ev)
}

// wantTenantTopics asks for a tenant's topics: as dojot's data-broker,
// they exist for the tenant's consumers and agents before anything is
// written.
func (b *Bridge) wantTenantTopics(tenant string) {
	b.events.wantTopic(deviceTopic(tenant))
	b.events.wantTopic(dataTopic(tenant))
	if b.opts.DevicesTopic {
		b.events.wantTopic(devicesTopic(tenant))
	}
}
