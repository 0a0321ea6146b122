package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	agentamqp "github.com/dojot-es/dojot/agents/amqp"
	agentmqtt "github.com/dojot-es/dojot/agents/mqtt"
	"github.com/dojot-es/dojot/bridges/kafka"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/flows/broker"
	"github.com/dojot-es/dojot/gateway"
	"github.com/dojot-es/dojot/kafkaws"
	"github.com/dojot-es/dojot/metrics"
	"github.com/dojot-es/dojot/projections"
	"github.com/dojot-es/dojot/socketio"
)

// dependencyNames are what -ready-deps may name.
var dependencyNames = []string{"nats", "postgres", "mongo", "redis", "kafka", "rabbitmq"}

// pinger is a view or store that can tell whether its database answers.
type pinger interface {
	Ping(ctx context.Context) error
}

// dependencies are the configured dependencies of the instance, checked
// for /readyz and the dependency_up metric at most once a second whoever
// asks: a load balancer polling /readyz costs each database one ping a
// second at most.
type dependencies struct {
	decides map[string]bool // -ready-deps
	checks  map[string]func(ctx context.Context) error

	mu   sync.Mutex
	at   time.Time
	last map[string]gateway.Dependency
}

// checkTimeout bounds one round of checks: a database that does not answer
// within it is down.
const checkTimeout = 2 * time.Second

func newDependencies(cfg *Config) *dependencies {
	d := &dependencies{decides: map[string]bool{}, checks: map[string]func(context.Context) error{}}
	for _, name := range cfg.readyDeps() {
		d.decides[name] = true
	}
	return d
}

// add configures a dependency; a second check of the same name (the Mongo
// view and the Mongo history on one -mongo-url) is added to the first.
func (d *dependencies) add(name string, check func(ctx context.Context) error) {
	if prev := d.checks[name]; prev != nil {
		d.checks[name] = func(ctx context.Context) error { return errors.Join(prev(ctx), check(ctx)) }
		return
	}
	d.checks[name] = check
}

// addPing configures a dependency whose state is v's ping.
func (d *dependencies) addPing(name string, v any) {
	if p, ok := v.(pinger); ok {
		d.add(name, p.Ping)
	}
}

// State is every configured dependency's state, as of at most a second
// ago.
func (d *dependencies) State(ctx context.Context) map[string]gateway.Dependency {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last != nil && time.Since(d.at) < time.Second {
		return maps.Clone(d.last)
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	out := make(map[string]gateway.Dependency, len(d.checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range d.checks {
		wg.Go(func() {
			dep := gateway.Dependency{OK: true, Decides: d.decides[name]}
			if err := check(ctx); err != nil {
				dep.OK, dep.Error = false, err.Error()
			}
			mu.Lock()
			out[name] = dep
			mu.Unlock()
		})
	}
	wg.Wait()
	d.last, d.at = out, time.Now()
	return maps.Clone(out)
}

// natsCheck: writes can reach the event store. Checked on the connection,
// not with a request, so polling it costs JetStream nothing.
func natsCheck(store *eventstore.Store) func(context.Context) error {
	return func(context.Context) error {
		if st := store.Conn().Status(); st != nats.CONNECTED {
			return fmt.Errorf("nats connection %s", st)
		}
		return nil
	}
}

// kafkaCheck: the bridge's writes to Kafka succeed, in every direction.
func kafkaCheck(b *kafka.Bridge) func(context.Context) error {
	return func(context.Context) error {
		st := b.Status()
		for _, p := range []*kafka.Status{&st, st.Data, st.Notifications, st.FTP} {
			if p != nil && !p.KafkaOK {
				return fmt.Errorf("kafka: %s", p.LastError)
			}
		}
		return nil
	}
}

// rabbitCheck: the AMQP agent is connected to RabbitMQ.
func rabbitCheck(a *agentamqp.Agent) func(context.Context) error {
	return func(context.Context) error {
		if st := a.Status(); !st.Connected {
			return fmt.Errorf("rabbitmq %s: %s", st.Broker, st.Error)
		}
		return nil
	}
}

// startStage is what the instance is doing while it starts, for the
// Starting handler's /readyz.
type startStage struct{ fn atomic.Pointer[func() string] }

func (s *startStage) set(fn func() string) { s.fn.Store(&fn) }

func (s *startStage) String() string {
	if fn := s.fn.Load(); fn != nil {
		return (*fn)()
	}
	return "starting"
}

// swapHandler serves the Starting handler, then the gateway once it is
// built, on the listener opened first.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

// watched are the parts of a running instance the metrics read at each
// scrape; a nil part is off.
type watched struct {
	cfg     *Config
	store   *eventstore.Store
	deps    *dependencies
	views   map[string]*projections.Runner // consumer name -> runner of the EVENTS stream
	history *historyService
	bridge  *kafka.Bridge
	flows   *broker.Broker
	kws     *kafkaws.Server
	sio     *socketio.Server

	mqtt   *agentmqtt.Agent
	agents map[string]countingAgent // the other agents on, by their metrics label
}

// countingAgent is a device agent as /metrics counts it. MQTT is apart:
// its one agent is counted as two, per listener.
type countingAgent interface {
	Counts() (stored uint64, refused map[string]uint64)
}

// lag is how far applied is behind last.
func lag(last, applied uint64) uint64 {
	if last > applied {
		return last - applied
	}
	return 0
}

// source reports w into a scrape. The consumers' backlogs cost JetStream
// a stream info per stream and a consumer list per shared consumer; the
// rest are counters already kept.
func (w *watched) source(ctx context.Context, s *metrics.Scrape) {
	if w.mqtt != nil {
		// One agent, two listeners: 1883 (or the external broker) is
		// "mqtt", 8883 "mqtts".
		st := w.mqtt.Status()
		stored, refused := st.Stored, maps.Clone(st.Refused)
		if st.TLS != nil {
			stored -= st.TLS.Stored
			for reason, n := range st.TLS.Refused {
				refused[reason] -= n
			}
			s.Agent("mqtts", st.TLS.Stored, st.TLS.Refused)
		}
		s.Agent("mqtt", stored, refused)
		s.Clients("mqtt", st.Clients)
	}
	for name, a := range w.agents {
		stored, refused := a.Counts()
		s.Agent(name, stored, refused)
	}

	if last, err := w.store.LastSeq(ctx); err == nil {
		for name, r := range w.views {
			s.Pending(name, lag(last, r.Applied()))
			s.ConsumerErrors(name, r.Failed())
		}
		if w.history != nil {
			s.Pending("history_events", lag(last, w.history.events.Applied()))
		}
	}
	if h := w.history; h != nil {
		if _, last, err := w.store.DataRange(ctx); err == nil {
			s.Pending("history_readings", lag(last, h.readings.Applied()))
		}
		if _, last, err := w.store.NotificationsRange(ctx); err == nil {
			s.Pending("history_notifications", lag(last, h.notifications.Applied()))
		}
		s.ConsumerErrors("history", h.readings.Failed()+h.events.Failed()+h.notifications.Failed())
	}
	if w.bridge != nil {
		st := w.bridge.Status()
		s.Pending("kafka_bridge_events", st.Lag)
		for name, p := range map[string]*kafka.Status{"data": st.Data, "notifications": st.Notifications, "ftp": st.FTP} {
			if p != nil {
				s.Pending("kafka_bridge_"+name, p.Lag)
			}
		}
	}
	if w.flows != nil {
		group := w.cfg.FlowsGroup
		if n, err := w.store.Pending(ctx, w.store.DataStream(), "flows_data_"+group+"_"); err == nil {
			s.Pending("flows_data", n)
		}
		if n, err := w.store.Pending(ctx, w.store.EventsStream(), "flows_events_"+group+"_"); err == nil {
			s.Pending("flows_events", n)
		}
		s.ConsumerErrors("flows", w.flows.Failed())
	}
	if w.kws != nil {
		st := w.kws.Stats()
		s.KafkaWS(st.Open, st.Opened, st.Frames, st.Refused)
	}
	if w.sio != nil {
		st := w.sio.Stats()
		s.SocketIO(st.Open, st.Opened, st.Events, st.TooSlow, st.Refused)
	}
	ready := true
	for name, d := range w.deps.State(ctx) {
		s.Dependency(name, d.OK)
		ready = ready && (d.OK || !d.Decides)
	}
	s.Ready(ready) // as GET /readyz, which has nothing else to wait for once serving
}

// readyDeps is -ready-deps as a list.
func (c *Config) readyDeps() []string {
	var out []string
	for name := range strings.SplitSeq(c.ReadyDeps, ",") {
		if name = strings.TrimSpace(name); name != "" {
			out = append(out, name)
		}
	}
	return out
}

func (c *Config) validateReadyDeps() error {
	for _, name := range c.readyDeps() {
		if !slices.Contains(dependencyNames, name) {
			return fmt.Errorf("-ready-deps: %q is not one of %s", name, strings.Join(dependencyNames, ", "))
		}
	}
	return nil
}
