package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/dojot-es/dojot"
)

// Reads is every query the gateway makes of a view: what a view must
// answer to be served from (memory, Postgres, Mongo).
type Reads interface {
	deviceView
	authView
	flowView
	cronView
}

// Options configure the gateway. A zero field means the default.
type Options struct {
	Logger *slog.Logger

	// DeviceManager: commands on templates/devices and the view they are read
	// from (interfaces in devices.go).
	DeviceCommands deviceCommands
	DeviceView     deviceView

	// Auth: commands on users/groups/permissions/tenants and their view
	// (interfaces in auth.go).
	AuthCommands authCommands
	AuthView     authView

	// JWTSecret signs and verifies tokens (HS256, alg pinned).
	JWTSecret []byte
	// TokenTTL is the lifetime of a login token (default 420 s, as dojot).
	TokenTTL time.Duration
	// SessionMax bounds how long after its login a token may still be
	// renewed (POST /auth/renew); 0: no bound.
	SessionMax time.Duration
	// LoginLimitUser and LoginLimitAddr limit login attempts per username
	// and per client address (ratelimit.go; nil: no limit), counted in
	// LoginCounter (nil: in this instance's memory).
	LoginLimitUser []RateLimit
	LoginLimitAddr []RateLimit
	LoginCounter   Counter
	// MaxBodyBytes caps request bodies (default 1 MiB).
	MaxBodyBytes int64
	// Ready reports whether the instance has started, its views caught up
	// with the event log: GET /readyz answers 503 with its error until
	// then (health.go).
	Ready func(ctx context.Context) error
	// Dependencies are the states of what the instance depends on, shown
	// by GET /readyz; one that decides readiness makes it 503 while down.
	Dependencies func(ctx context.Context) map[string]Dependency
	// Health adds the state of the parts of the platform to GET /healthz's
	// body (e.g. "kafka_bridge" while Kafka is down). /healthz is
	// liveness: it answers 200 whatever they say, and they cannot replace
	// its "status" key.
	Health func(ctx context.Context) map[string]any
	// Observer is told of every request answered, by route (the metrics'
	// latency histogram, accesslog.go); nil: none.
	Observer RequestObserver
	// Metrics serves GET /metrics (Prometheus); nil leaves it unrouted.
	Metrics http.Handler
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Events reads aggregates' histories from the event log
	// (eventstore.Store): GET /device/:id/events and /template/:id/events,
	// the change log (events.go); nil leaves them unrouted.
	Events eventLog
	// History is the history view the History API reads (history.go); nil
	// leaves /history unrouted.
	History historyView
	// Notifications is the notifications history (notifications.go); nil
	// leaves its route out.
	Notifications notificationHistory
	// Topics creates the Kafka topics GET /topic/:subject names (topic.go);
	// nil when Kafka is off: the topic is only named.
	Topics Topics
	// KafkaWS serves dojot's Kafka WS (kafkaws.Server); nil leaves
	// /kafka-ws unrouted.
	KafkaWS KafkaWS
	// Console serves the web console at "/" and its assets under "/ui/"
	// (console.Handler); nil leaves "/" a 404, as dojot without its GUI.
	Console http.Handler
	// SocketIO serves DataBroker's socket.io (socketio.Server); nil
	// leaves /stream/socketio and /socket.io/ unrouted.
	SocketIO SocketIO
	// FlowCommands and FlowView serve the flowbroker's API (flows.go);
	// nil FlowCommands leaves /flows unrouted. FlowNodes lists the node
	// types the engine runs (GET /flows/nodes).
	FlowCommands flowCommands
	FlowView     flowView
	FlowNodes    []FlowNode
	// FlowStats gives a flow's counters in this instance (the flow
	// engine's); nil when the engine is off.
	FlowStats func(flowID string) any
	// FlowReplay runs a flow over the past in a sandbox (flows/replay):
	// POST /flows/v1/flow/:id/replay and /flows/v1/replay; nil leaves them
	// unrouted. A flow that does not parse is an error wrapping
	// dojot.ErrInvalid with a Detail() string (flows.InvalidError),
	// answered as the flows API's "Given flow is invalid".
	FlowReplay func(ctx context.Context, r FlowReplay) (any, error)
	// CronCommands and CronView serve dojot's cron service API (cron.go);
	// nil CronCommands leaves /cron unrouted.
	CronCommands cronCommands
	CronView     cronView
	// DeviceRoutes are IoT agents' endpoints (the Sigfox callback, the HTTP
	// agent...), by chi pattern: served outside the PEP, since devices and
	// network servers authenticate to each agent in its own way.
	DeviceRoutes map[string]http.Handler
	// X509Commands, X509View and CA serve x509-identity-mgmt's API
	// (x509.go); a nil CA leaves /x509 unrouted.
	X509Commands x509Commands
	X509View     x509View
	CA           X509CA
	// X509Internal and X509Services serve x509-identity-mgmt's internal
	// API on the internal listener (x509_internal.go); nil leaves it
	// unrouted.
	X509Internal x509Internal
	X509Services x509ServiceIssuer
	// Limit bounds the requests served at once, AgentLimit those of
	// DeviceRoutes (limit.go): an ingest flood leaves the API its own
	// slots. Nil: NewLimit(DefaultMaxInFlight, DefaultQueueWait).
	Limit, AgentLimit *Limit
}

// KafkaWS is dojot's Kafka WS (kafkaws.Server): the ticket route runs
// behind the PEP, which puts the caller's identity in the context; the
// websocket route is authenticated by its ticket (no PEP, as in dojot's
// Kong).
type KafkaWS interface {
	Ticket(w http.ResponseWriter, r *http.Request)
	Topic(w http.ResponseWriter, r *http.Request)
}

// SocketIO is DataBroker's socket.io (socketio.Server): the token route
// runs behind the PEP; /socket.io/ (polling requests of every method, and
// websockets) is authenticated by the token, as in dojot's Kong.
type SocketIO interface {
	Token(w http.ResponseWriter, r *http.Request)
	Handler() http.Handler
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = 420 * time.Second
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.Ready == nil {
		o.Ready = func(context.Context) error { return nil }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Limit == nil {
		o.Limit = NewLimit(DefaultMaxInFlight, DefaultQueueWait)
	}
	if o.AgentLimit == nil {
		o.AgentLimit = NewLimit(DefaultMaxInFlight, DefaultQueueWait)
	}
}

// Server is the gateway's http.Handler.
type Server struct {
	opts   Options
	log    *slog.Logger
	router chi.Router
	// loginCounter is Options.LoginCounter or a memoryCounter.
	loginCounter Counter
}

// newServer is what both listeners start from: the server and a router
// with request ids, panic recovery, the body limit and dojot's 404 and 405
// bodies.
func newServer(opts Options) (*Server, chi.Router) {
	opts.setDefaults()
	s := &Server{opts: opts, log: opts.Logger, loginCounter: opts.LoginCounter}
	if s.loginCounter == nil {
		s.loginCounter = newMemoryCounter(opts.Now, 100_000)
	}
	r := chi.NewRouter()
	r.Use(s.requestID, s.accessLog, middleware.Recoverer, s.limitLoad, s.limitBody)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errBody{Message: "Not found", Status: http.StatusNotFound})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, errBody{Message: "Method not allowed", Status: http.StatusMethodNotAllowed})
	})
	return s, r
}

// New builds the router.
func New(opts Options) *Server {
	s, r := newServer(opts)
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	if s.opts.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", s.opts.Metrics)
	}
	r.Get("/openapi.json", serveDocument(openAPIPublic))
	if s.opts.Console != nil {
		r.Method(http.MethodGet, "/", s.opts.Console)
		r.Method(http.MethodGet, "/ui/*", s.opts.Console)
	}
	s.mountAuth(r)
	r.Group(func(r chi.Router) {
		r.Use(s.pep)
		s.mountDeviceManager(r)
		s.mountBasicAuth(r)
		if s.opts.History != nil {
			s.mountHistory(r)
		}
		if s.opts.FlowCommands != nil {
			s.mountFlows(r)
		}
		if s.opts.CronCommands != nil {
			s.mountCron(r)
		}
		if s.opts.KafkaWS != nil {
			r.Get("/kafka-ws/v1/ticket", s.opts.KafkaWS.Ticket)
		}
		if s.opts.SocketIO != nil {
			r.Get("/stream/socketio", s.opts.SocketIO.Token)
		}
		if s.opts.CA != nil {
			s.mountX509(r)
		}
	})
	if s.opts.KafkaWS != nil {
		r.Get("/kafka-ws/v1/topics/{topic}", s.opts.KafkaWS.Topic)
	}
	if s.opts.SocketIO != nil {
		r.Handle("/socket.io/*", s.opts.SocketIO.Handler())
	}
	for pattern, h := range s.opts.DeviceRoutes {
		r.Handle(pattern, h)
	}
	// DataBroker's /topic is internal in dojot (no Kong route, no PDP): any
	// verified token may ask for its own tenant's topic names.
	r.With(s.authenticate, jsonType(jsonExpress)).Method(http.MethodGet, "/topic/{subject}", errorHandler(s.topic))
	s.router = r
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// requestID takes the client's X-Request-Id (Kong sets one) or makes one, and
// puts it in the context so logs and events carry it.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 128 {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(dojot.WithRequestID(r.Context(), id)))
	})
}

func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.opts.MaxBodyBytes {
			writeError(w, r, &dojot.Error{Kind: dojot.ErrTooLarge, Message: "Request body too large"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// pathParam is a route's path parameter, percent-decoded once. chi matches
// on the raw path when the request has one (so that %2F stays inside its
// segment) and then hands the parameter over still encoded; dojot's Flask
// and Express services decode it (/device/b374%61%35 is device b374a5).
// Without a raw path chi matched the decoded one, which must not be
// decoded twice.
func pathParam(r *http.Request, key string) string {
	v := chi.URLParam(r, key)
	if r.URL.RawPath == "" {
		return v
	}
	if d, err := url.PathUnescape(v); err == nil {
		return d
	}
	return v // net/url keeps RawPath only when it is valid, so this is unreachable
}
