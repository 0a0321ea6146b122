package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

// What the sources report. Each is documented in the README's
// operability section.
var (
	agentStored = desc("agent_messages_stored_total",
		"Device messages an IoT agent stored in the event log (acknowledged to the device).", "agent")
	agentRefused = desc("agent_messages_refused_total",
		"Device messages or connections an IoT agent refused, by reason.", "agent", "reason")
	agentClients = desc("agent_connected_clients",
		"Devices connected to an agent (the embedded MQTT broker).", "agent")
	pending = desc("consumer_pending_messages",
		"Messages of the event log a consumer (a view, the history persister, the Kafka bridge, the flow engine) has not handled yet.", "consumer")
	consumerErrors = desc("consumer_errors_total",
		"Messages a consumer could not handle (a view refused an event, a flow node failed).", "consumer")
	wsOpen = desc("kafkaws_connections",
		"Open Kafka WS websockets.")
	wsOpened = desc("kafkaws_connections_opened_total",
		"Kafka WS websockets opened.")
	wsRefused = desc("kafkaws_connections_refused_total",
		"Kafka WS connections refused, by reason.", "reason")
	wsFrames = desc("kafkaws_frames_sent_total",
		"Frames sent on Kafka WS websockets.")
	sioOpen = desc("socketio_connections",
		"Open socket.io sockets (DataBroker's real-time channel).")
	sioOpened = desc("socketio_connections_opened_total",
		"socket.io sockets connected.")
	sioRefused = desc("socketio_connections_refused_total",
		"socket.io handshakes refused, by reason.", "reason")
	sioEvents = desc("socketio_events_sent_total",
		"Events queued to socket.io sockets.")
	sioTooSlow = desc("socketio_slow_disconnects_total",
		"socket.io sockets disconnected because their send buffer was full.")
	depUp = desc("dependency_up",
		"1 while a configured dependency (nats, postgres, mongo, redis, kafka, rabbitmq) answers, else 0.", "dependency")
	ready = desc("ready",
		"1 while GET /readyz answers 200, else 0.")
)

var descs = []*prometheus.Desc{agentStored, agentRefused, agentClients, pending, consumerErrors,
	wsOpen, wsOpened, wsRefused, wsFrames, sioOpen, sioOpened, sioRefused, sioEvents, sioTooSlow, depUp, ready}

// Scrape receives what the sources report during one scrape.
type Scrape struct {
	ch chan<- prometheus.Metric
}

func (s *Scrape) counter(d *prometheus.Desc, v uint64, labels ...string) {
	s.ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func (s *Scrape) gauge(d *prometheus.Desc, v float64, labels ...string) {
	s.ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Agent reports an agent's counters: messages stored, and refusals by
// reason (the agent's own fixed set of reasons).
func (s *Scrape) Agent(agent string, stored uint64, refused map[string]uint64) {
	s.counter(agentStored, stored, agent)
	for reason, n := range refused {
		s.counter(agentRefused, n, agent, reason)
	}
}

// Clients reports an agent's connected devices.
func (s *Scrape) Clients(agent string, n int64) { s.gauge(agentClients, float64(n), agent) }

// Pending reports a consumer's backlog.
func (s *Scrape) Pending(consumer string, n uint64) { s.gauge(pending, float64(n), consumer) }

// ConsumerErrors reports what a consumer failed to handle.
func (s *Scrape) ConsumerErrors(consumer string, n uint64) { s.counter(consumerErrors, n, consumer) }

// KafkaWS reports Kafka WS's connections.
func (s *Scrape) KafkaWS(open int, opened, frames uint64, refused map[string]uint64) {
	s.gauge(wsOpen, float64(open))
	s.counter(wsOpened, opened)
	s.counter(wsFrames, frames)
	for reason, n := range refused {
		s.counter(wsRefused, n, reason)
	}
}

// SocketIO reports the socket.io service's sockets.
func (s *Scrape) SocketIO(open int, opened, events, tooSlow uint64, refused map[string]uint64) {
	s.gauge(sioOpen, float64(open))
	s.counter(sioOpened, opened)
	s.counter(sioEvents, events)
	s.counter(sioTooSlow, tooSlow)
	for reason, n := range refused {
		s.counter(sioRefused, n, reason)
	}
}

// Dependency reports whether a dependency answers.
func (s *Scrape) Dependency(name string, up bool) { s.gauge(depUp, bit(up), name) }

// Ready reports whether the instance is ready.
func (s *Scrape) Ready(ok bool) { s.gauge(ready, bit(ok)) }

// sourceCollector is the Registry as a prometheus.Collector of its sources.
type sourceCollector Registry

func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range descs {
		ch <- d
	}
}

func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	sources := append([]Source(nil), c.sources...)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeTimeout)
	defer cancel()
	s := &Scrape{ch: ch}
	for _, src := range sources {
		src(ctx, s)
	}
}
