package amqp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/agents"
	"github.com/dojot-es/dojot/eventstore"
)

// dojot's names and queue arguments (iotagent-rabbitmq, src/agent.ts).
const (
	InboundExchange  = "inbound.dojot.exchange"
	InboundQueue     = "inbound.dojot.queue"
	OutboundExchange = "outbound.dojot.exchange"
)

var inboundQueueArgs = amqp091.Table{
	"x-message-ttl":      int32(20000),
	"x-max-length":       int32(100000),
	"x-max-length-bytes": int32(512000000),
	"x-overflow":         "reject-publish",
}

// Appender stores device readings in the DATA stream
// (eventstore.Store.AppendDataAsyncID): it starts an append and returns at
// once; wait returns once JetStream stored the reading, or why not, or
// dojot.ErrUnavailable when expired fires first. A non-empty msgID
// deduplicates a redelivery.
type Appender interface {
	AppendDataAsyncID(tenant, deviceID string, payload []byte, msgID string) (wait func(expired <-chan time.Time) (uint64, error), err error)
}

// Devices finds devices by a static attribute's value, and reads one
// (the memory view, which follows the event log).
type Devices interface {
	DevicesByStatic(label, value string) []dojot.DeviceKey
	StaticValue(tenant, id, label string) (string, bool)
}

// Events is the event log as actuation reads it (eventstore.Store).
type Events interface {
	FollowShared(ctx context.Context, sh eventstore.Share, fn func(ev dojot.Event) error) error
}

// Options configure an Agent. A zero field means its default.
type Options struct {
	// URL is RabbitMQ's, amqp://user:password@host:5672/vhost (required).
	URL     string
	Store   Appender // required
	Devices Devices  // required
	// Group names the JetStream consumer that hands each actuation to one
	// instance (default "dojot"): the instances of one deployment share it.
	Group string
	// Prefetch bounds the messages in flight (default 256).
	Prefetch int
	// MaxPayload is the largest message accepted, in bytes (default
	// 256000, as the MQTT and HTTP agents).
	MaxPayload int
	// Timeout bounds the wait for JetStream to store a reading and for
	// RabbitMQ to confirm an actuation (default 5 s).
	Timeout time.Duration
	Logger  *slog.Logger
}

var groupRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (o *Options) setDefaults() {
	if o.Group == "" {
		o.Group = "dojot"
	}
	if o.Prefetch <= 0 {
		o.Prefetch = 256
	}
	if o.MaxPayload <= 0 {
		o.MaxPayload = 256000
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// A reason a message is refused.
type reason int

const (
	refusedUnknownDevice reason = iota
	refusedNotJSON
	refusedNotObject
	refusedTooLarge
	refusedStoreFailed
	refusedTenants
	numReasons
)

var reasonNames = [numReasons]string{"unknown_device", "not_json", "not_object", "too_large", "store_failed", "several_tenants"}

// Agent is dojot's RabbitMQ agent.
type Agent struct {
	opts Options
	log  *slog.Logger
	host string // RabbitMQ's address, for logs (no credentials)

	mu        sync.Mutex
	connected bool
	lastErr   string
	pub       *amqp091.Channel // confirm-mode channel for actuations; nil while down

	received atomic.Uint64
	stored   atomic.Uint64
	actuated atomic.Uint64
	refused  *agents.Refusals
}

// New checks opts; Run connects.
func New(opts Options) (*Agent, error) {
	opts.setDefaults()
	if opts.Store == nil || opts.Devices == nil {
		return nil, errors.New("amqp: Store and Devices are required")
	}
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Host == "" {
		return nil, fmt.Errorf("amqp: %q is not an amqp:// or amqps:// URL", opts.URL)
	}
	if !groupRe.MatchString(opts.Group) {
		return nil, fmt.Errorf("amqp: group %q: letters, digits, '-' and '_' only", opts.Group)
	}
	return &Agent{opts: opts, log: opts.Logger, host: u.Host, refused: agents.NewRefusals(reasonNames[:]...)}, nil
}

// Status is what /healthz shows of the agent.
type Status struct {
	Broker    string            `json:"broker"`
	Connected bool              `json:"connected"`
	Error     string            `json:"error,omitempty"`
	Received  uint64            `json:"received"`
	Stored    uint64            `json:"stored"`
	Actuated  uint64            `json:"actuated"`
	Refused   map[string]uint64 `json:"refused"`
}

// Counts are the readings stored and those refused, by reason: what
// /metrics reads at each scrape, without the rest of Status.
func (a *Agent) Counts() (stored uint64, refused map[string]uint64) {
	return a.stored.Load(), a.refused.Map()
}

// Status reports the connection and the counters.
func (a *Agent) Status() Status {
	a.mu.Lock()
	st := Status{Broker: a.host, Connected: a.connected, Error: a.lastErr}
	a.mu.Unlock()
	st.Received, st.Stored, st.Actuated = a.received.Load(), a.stored.Load(), a.actuated.Load()
	st.Refused = a.refused.Map()
	return st
}

func (a *Agent) refuse(r reason, msg string, args ...any) {
	if n, log := a.refused.Add(int(r)); log {
		a.log.Warn(msg, append(args, "reason", reasonNames[r], "count", n)...)
	}
}

// Backoff between connection attempts: minBackoff, doubling up to
// maxBackoff, back to minBackoff once connected.
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// Run consumes readings until ctx is done, reconnecting with backoff when
// the connection is lost or cannot be made. It returns nil once ctx is
// done.
func (a *Agent) Run(ctx context.Context) error {
	backoff, down := minBackoff, false
	for {
		connected, err := a.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		a.setDown(err)
		if connected {
			backoff = minBackoff
		}
		if !down {
			a.log.Warn("amqp: broker down, retrying", "broker", a.host, "err", err)
			down = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
		if connected {
			down = false // log the next loss too
		}
	}
}

func (a *Agent) setDown(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.connected, a.pub = false, nil
	if err != nil {
		a.lastErr = err.Error()
	}
}

// session is one connection: it declares dojot's topology, consumes until
// the connection fails, a reading is not stored or ctx is done, and
// reports whether it got as far as consuming.
func (a *Agent) session(ctx context.Context) (consuming bool, err error) {
	conn, err := amqp091.DialConfig(a.opts.URL, amqp091.Config{
		Heartbeat:  10 * time.Second,
		Properties: amqp091.Table{"connection_name": "dojot amqp agent"},
	})
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return false, fmt.Errorf("channel: %w", err)
	}
	if err := declare(ch); err != nil {
		return false, err
	}
	if err := ch.Qos(a.opts.Prefetch, 0, false); err != nil {
		return false, fmt.Errorf("qos: %w", err)
	}
	pub, err := conn.Channel()
	if err != nil {
		return false, fmt.Errorf("channel: %w", err)
	}
	if err := pub.Confirm(false); err != nil {
		return false, fmt.Errorf("confirm mode: %w", err)
	}
	deliveries, err := ch.ConsumeWithContext(ctx, InboundQueue, "", false, false, false, false, nil)
	if err != nil {
		return false, fmt.Errorf("consume %s: %w", InboundQueue, err)
	}
	closed := conn.NotifyClose(make(chan *amqp091.Error, 1))
	a.mu.Lock()
	a.connected, a.lastErr, a.pub = true, "", pub
	a.mu.Unlock()
	a.log.Info("amqp: consuming", "broker", a.host, "queue", InboundQueue, "prefetch", a.opts.Prefetch)

	k := newAcker(a, ch)
	defer k.stop() // acknowledges what was stored before the connection closes
	for {
		select {
		case <-ctx.Done():
			return true, nil
		case e := <-closed:
			if e == nil {
				return true, errors.New("connection closed")
			}
			return true, e
		case err := <-k.failed:
			return true, err
		case d, ok := <-deliveries:
			if !ok {
				return true, errors.New("deliveries ended")
			}
			a.received.Add(1)
			if !k.queue(a.handle(d)) {
				return true, <-k.failed
			}
		}
	}
}

// declare makes dojot's exchanges and queue (a no-op when they exist with
// the same settings).
func declare(ch *amqp091.Channel) error {
	if err := ch.ExchangeDeclare(InboundExchange, "topic", true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare %s: %w", InboundExchange, err)
	}
	if err := ch.ExchangeDeclare(OutboundExchange, "direct", true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare %s: %w", OutboundExchange, err)
	}
	if _, err := ch.QueueDeclare(InboundQueue, true, false, false, false, inboundQueueArgs); err != nil {
		return fmt.Errorf("declare %s: %w", InboundQueue, err)
	}
	if err := ch.QueueBind(InboundQueue, "#", InboundExchange, false, nil); err != nil {
		return fmt.Errorf("bind %s: %w", InboundQueue, err)
	}
	return nil
}

// handle checks a message and starts storing it for each of its devices.
func (a *Agent) handle(d amqp091.Delivery) inFlight {
	f := inFlight{tag: d.DeliveryTag, key: d.RoutingKey}
	refuse := func(r reason, msg string, args ...any) inFlight {
		a.refuse(r, msg, append(args, "routing_key", d.RoutingKey)...)
		f.refused = true
		return f
	}
	if len(d.Body) > a.opts.MaxPayload {
		return refuse(refusedTooLarge, "amqp: message refused: too large", "bytes", len(d.Body), "max", a.opts.MaxPayload)
	}
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(d.Body, &attrs); err != nil || attrs == nil {
		if !json.Valid(d.Body) {
			return refuse(refusedNotJSON, "amqp: message refused: not JSON", "bytes", len(d.Body))
		}
		return refuse(refusedNotObject, "amqp: message refused: not a JSON object", "bytes", len(d.Body))
	}
	devices, oneTenant := agents.ForTenant(a.opts.Devices.DevicesByStatic(dojot.AttrAMQPRoutingKey, d.RoutingKey), "")
	if len(devices) == 0 {
		return refuse(refusedUnknownDevice, "amqp: message refused: no device has this routing key")
	}
	if !oneTenant {
		return refuse(refusedTenants, "amqp: message refused: devices of several tenants have this routing key")
	}
	ts := dojot.ReadingTime(attrs["timestamp"], time.Now())
	for _, dev := range devices {
		var msgID string
		if d.MessageId != "" { // the publisher's id: a redelivery is stored once
			msgID = "amqp:" + dev.Tenant + "." + dev.ID + ":" + d.MessageId
		}
		wait, err := a.opts.Store.AppendDataAsyncID(dev.Tenant, dev.ID, dojot.Reading(dev.Tenant, dev.ID, ts, d.Body), msgID)
		if err != nil {
			wait = func(<-chan time.Time) (uint64, error) { return 0, err }
		}
		f.waits = append(f.waits, wait)
	}
	return f
}

// FollowActuations publishes every device.actuated event of an AMQP
// device (one with device_amqp_routing_key) to outbound.dojot.exchange,
// each from one instance of the group, until ctx is done.
func (a *Agent) FollowActuations(ctx context.Context, log Events) error {
	err := log.FollowShared(ctx, eventstore.Share{
		Durable:     ActuationConsumer(a.opts.Group),
		Description: "dojot AMQP agents of group " + a.opts.Group + ": device.actuated to RabbitMQ, each by one instance",
		AckWait:     2*a.opts.Timeout + 5*time.Second,
		Started: func() {
			a.log.Info("amqp: following actuations", "consumer", ActuationConsumer(a.opts.Group))
		},
	}, func(ev dojot.Event) error {
		if ev.Type != dojot.EventDeviceActuated {
			return nil
		}
		var p dojot.DeviceActuated
		if err := ev.Decode(&p); err != nil || len(p.Attrs) == 0 {
			a.log.Error("amqp: undecodable actuation", "seq", ev.Seq, "err", err)
			return nil
		}
		key, ok := a.opts.Devices.StaticValue(ev.Tenant, p.ID, dojot.AttrAMQPRoutingKey)
		if !ok {
			return nil // not an AMQP device
		}
		if _, one := agents.ForTenant(a.opts.Devices.DevicesByStatic(dojot.AttrAMQPRoutingKey, key), ""); !one {
			// The key may be another tenant's device's (agents.ForTenant).
			a.log.Warn("amqp: actuation not sent: devices of several tenants have its routing key", "tenant", ev.Tenant, "device", p.ID)
			return nil
		}
		return a.Actuate(ctx, key, p.ID, p.Attrs)
	})
	if err != nil {
		return fmt.Errorf("amqp: actuations: %w", err)
	}
	return nil
}

// ActuationConsumer is the name of the durable JetStream consumer through
// which the agents of a group share actuations.
func ActuationConsumer(group string) string { return "amqp_actuate_" + group }

// Actuate publishes dojot's configure message {"id","attrs"} to
// outbound.dojot.exchange with routing key key, and returns once RabbitMQ
// confirmed it (Options.Timeout at most).
func (a *Agent) Actuate(ctx context.Context, key, deviceID string, attrs json.RawMessage) error {
	body, err := json.Marshal(struct {
		ID    string          `json:"id"`
		Attrs json.RawMessage `json:"attrs"`
	}{deviceID, attrs})
	if err != nil {
		return fmt.Errorf("amqp: actuate %s: %w", deviceID, err)
	}
	a.mu.Lock()
	pub := a.pub
	a.mu.Unlock()
	if pub == nil {
		return fmt.Errorf("amqp: actuate %s: not connected: %w", deviceID, dojot.ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, a.opts.Timeout)
	defer cancel()
	dc, err := pub.PublishWithDeferredConfirmWithContext(ctx, OutboundExchange, key, false, false, amqp091.Publishing{
		ContentType: "application/json", DeliveryMode: amqp091.Persistent, Timestamp: time.Now(), Body: body,
	})
	if err != nil {
		return fmt.Errorf("amqp: actuate %s: %w", deviceID, err)
	}
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("amqp: actuate %s: no confirmation: %w", deviceID, err)
	}
	if !ok {
		return fmt.Errorf("amqp: actuate %s: RabbitMQ refused it", deviceID)
	}
	a.actuated.Add(1)
	return nil
}
