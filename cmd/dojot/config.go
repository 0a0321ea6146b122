package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/dojot-es/dojot/gateway"
	"github.com/dojot-es/dojot/seal"
)

// Config is every setting of `dojot serve`. It is the only place that
// defines flags; each flag -x-y has the environment variable DOJOT_X_Y. A
// flag beats its variable, and the variable beats the default.
type Config struct {
	HTTPAddr       string
	InternalAddr   string
	PprofAddr      string
	MetricsAddr    string
	ReadyDeps      string
	DataDir        string
	NATSURL        string
	NATSListen     string
	NATSPrefix     string
	AdminPassword  string
	JWTSecret      string
	PSKKey         string
	LoginLimitUser string
	LoginLimitAddr string
	LogLevel       string
	LogFormat      string
	Fsync          string
	TokenTTL       time.Duration
	SessionMax     time.Duration
	MaxBodyBytes   int64
	MaxInFlight    int
	QueueWait      time.Duration
	DataMaxAge     time.Duration
	DataPartitions int
	WaitTimeout    time.Duration
	NATSReplicas   int
	ReplayMemory   int64
	View           string
	PostgresURL    string
	MongoURL       string
	ViewName       string

	KafkaBrokers      string
	KafkaPartitions   int
	KafkaReplication  int
	KafkaDevicesTopic bool
	KafkaEmbeddedAddr string

	MQTTAddr           string
	MQTTInsecure       bool
	MQTTBrokerURL      string
	MQTTBrokerGroup    string
	MQTTBrokerClientID string

	AMQPURL      string
	AMQPGroup    string
	AMQPPrefetch int

	SigfoxSecret string

	FlowsEngine bool
	FlowsGroup  string

	Cron                bool
	CronHTTPAllowedURLs string
	CronHTTPTimeout     time.Duration

	LoRaWAN loraConfig // the LoRaWAN agent (lorawan.go)

	HTTPAgent         bool
	HTTPAgentInsecure bool
	HTTPAgentTLSAddr  string
	HTTPAgentCertMode string

	History           string
	HistoryDB         string
	HistoryExpiration time.Duration

	RedisURL             string
	KafkaWSSecret        string
	KafkaWSTicketTTL     time.Duration
	Console              bool
	KafkaWSMaxLifetime   time.Duration
	KafkaWSJWTExp        bool
	KafkaWSMaxPerTenant  int
	SocketIOMaxPerTenant int
	SocketIOTokenTTL     time.Duration

	X509 x509Config // the CA and MQTT over TLS (x509.go)

	// Only for `dojot routes`: where the route table goes (routes.go).
	routesOut io.Writer

	// Only for `dojot replay`.
	sub   string
	From  uint64
	Fresh bool

	// Only for `dojot health`.
	HealthURL     string
	HealthTimeout time.Duration
}

func (c *Config) flagSet(out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("dojot "+c.sub, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.HTTPAddr, "http-addr", ":8000", "gateway listen address (host:port; port 0 picks a free one)")
	fs.StringVar(&c.InternalAddr, "internal-addr", "", "also serve dojot's internal endpoints (GET /topic/:subject, /admin/tenants, /internal/device) to legacy dojot services on this host:port, with their unsigned tokens; a trust boundary: bind it to a private network (empty: off)")
	fs.StringVar(&c.PprofAddr, "pprof-addr", "", "serve Go's runtime profiles (/debug/pprof/) on this host:port, for measuring where CPU goes; unauthenticated: loopback only (empty: off)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve the Prometheus metrics (/metrics) on this host:port instead of the gateway's port (empty: GET /metrics on -http-addr, unauthenticated)")
	fs.StringVar(&c.ReadyDeps, "ready-deps", "nats,postgres,mongo,redis", "configured dependencies whose outage makes GET /readyz answer 503 (of nats, postgres, mongo, redis, kafka, rabbitmq; the others configured are only shown in its body)")
	fs.StringVar(&c.DataDir, "data-dir", "./data", "directory for the embedded JetStream store, the generated JWT secret and admin password")
	fs.StringVar(&c.NATSURL, "nats-url", "", "external NATS URL (e.g. nats://127.0.0.1:4222); empty runs NATS embedded")
	fs.StringVar(&c.NATSListen, "nats-listen", "", "embedded NATS only: also serve NATS clients on this host:port (empty: in-process only)")
	fs.StringVar(&c.NATSPrefix, "nats-prefix", "", "namespace for this deployment's streams and subjects, to share one NATS between deployments (letters, digits, _ and -)")
	fs.StringVar(&c.AdminPassword, "admin-password", "", "password of user admin on first start (empty: generated, printed once, kept in the data dir)")
	fs.StringVar(&c.JWTSecret, "jwt-secret", "", "HS256 key for login tokens (empty: generated once and kept in the data dir)")
	fs.StringVar(&c.PSKKey, "psk-key", "", "AES-256 key (64 hex digits) sealing devices' pre-shared keys in the event log; every instance sharing one NATS must be given the same (empty: generated once and kept in the data dir)")
	fs.StringVar(&c.LoginLimitUser, "login-limit-user", "10/1m,100/1h", "login attempts allowed per username, <count>/<window> comma-separated, counted for the whole deployment (NATS KV) whatever the instance; past it 429 with Retry-After (empty: no limit)")
	fs.StringVar(&c.LoginLimitAddr, "login-limit-addr", "30/1m,300/1h", "login attempts allowed per client address (the TCP peer: a proxy in front counts as one address), as -login-limit-user; dojot's Kong allowed 5/1m,40/1h (empty: no limit)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "json", "json or text")
	fs.StringVar(&c.Fsync, "fsync", "1s", "embedded JetStream fsync policy: 'always' (fsync every write) or an interval such as 1s")
	fs.DurationVar(&c.TokenTTL, "token-ttl", 420*time.Second, "lifetime of login tokens (dojot: 420s)")
	fs.DurationVar(&c.SessionMax, "session-max", 12*time.Hour, "how long after its login a token may still be renewed (POST /auth/renew); 0: for ever")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", 16<<20, "largest request body accepted")
	fs.IntVar(&c.MaxInFlight, "http-max-inflight", gateway.DefaultMaxInFlight, "HTTP requests served at once, in each of two pools: the IoT agents' routes (HTTP agent, Sigfox, LoRaWAN) and the rest of the API; as many more wait up to -http-queue-wait for a slot, any other gets 503 with Retry-After (0: no limit)")
	fs.DurationVar(&c.QueueWait, "http-queue-wait", gateway.DefaultQueueWait, "how long an HTTP request may wait for a slot of -http-max-inflight before its 503")
	fs.DurationVar(&c.DataMaxAge, "data-max-age", 7*24*time.Hour, "retention of device data in the DATA stream")
	fs.IntVar(&c.DataPartitions, "data-partitions", 16, "partitions of the DATA stream by device, the unit in which instances share the work that keeps each device's order (flows); a setting of the stream, the same for every instance")
	fs.DurationVar(&c.WaitTimeout, "wait-timeout", 5*time.Second, "how long a request waits for the view to show its own write")
	fs.Int64Var(&c.ReplayMemory, "replay-memory-mib", 2048, "while the memory view is rebuilt at start, the GC runs only when the heap nears this many MiB, at most half the memory available (0: Go's default pacing; GOGC or GOMEMLIMIT in the environment also turn this off)")
	fs.IntVar(&c.NATSReplicas, "nats-replicas", 1, "replicas of each stream on a NATS cluster (3 for a 3-node cluster)")
	fs.StringVar(&c.View, "view", "memory", "view the gateway reads: memory, postgres (-postgres-url) or mongo (-mongo-url)")
	fs.StringVar(&c.PostgresURL, "postgres-url", "", "PostgreSQL URL of the postgres view, e.g. postgres://dojot:pw@host:5432/dojot")
	fs.StringVar(&c.MongoURL, "mongo-url", "", "MongoDB URL of the mongo view, e.g. mongodb://host:27017/dojot")
	fs.StringVar(&c.ViewName, "view-name", "", "namespace of the postgres/mongo view, to share one database between deployments (empty: dojot, or for mongo the URL's database)")
	fs.StringVar(&c.KafkaBrokers, "kafka-brokers", "", "Kafka bootstrap brokers (host:port, comma-separated): turns on the Kafka bridge (dojot's topics and payloads) and DataBroker's topic creation (empty: off)")
	// One partition, as dojot's data-broker created its topics: a tenant's
	// device events keep one total order, which some legacy consumers assume.
	fs.IntVar(&c.KafkaPartitions, "kafka-partitions", 1, "partitions of each Kafka topic the platform creates (order holds per device whatever the number)")
	fs.BoolVar(&c.KafkaDevicesTopic, "kafka-devices-topic", false, "also write device events to <tenant>.dojot.device-manager.devices (the plural of dojot's architecture page; dojot's services read the singular)")
	fs.IntVar(&c.KafkaReplication, "kafka-replication", 1, "replication factor of each Kafka topic the platform creates (3 on a 3-broker cluster)")
	fs.StringVar(&c.KafkaEmbeddedAddr, "kafka-embedded-addr", "", "development aid: run an in-process Kafka-protocol server on this host:port (records kept in the data dir) and bridge to it; not a production broker")
	fs.StringVar(&c.MQTTAddr, "mqtt-addr", ":1883", "MQTT agent listen address (host:port; port 0 picks a free one): devices publish <tenant>:<deviceid>/attrs")
	fs.BoolVar(&c.MQTTInsecure, "mqtt-insecure", false, "MQTT test mode: the username <tenant>:<deviceid> identifies a device with no password (logged as a warning; never in production)")
	fs.StringVar(&c.MQTTBrokerURL, "mqtt-broker-url", "", "external MQTT broker (tcp://host:1883, mqtt://, mqtts://, user:password@ allowed): embed no broker (-mqtt-addr unused) and read devices' readings from this one as a client, in the shared subscription of -mqtt-broker-group (empty: embedded broker)")
	fs.StringVar(&c.MQTTBrokerGroup, "mqtt-broker-group", "dojot", "external MQTT broker: shared-subscription group of this deployment's instances, which split the readings and send each actuation once (letters, digits, _ and -)")
	fs.StringVar(&c.MQTTBrokerClientID, "mqtt-broker-client-id", "", "external MQTT broker: this instance's client id, whose persistent session a restart resumes; stable per instance, unique in the group (empty: dojot-<group>-<hostname>-<hash of the data dir>)")
	fs.StringVar(&c.AMQPURL, "amqp-url", "", "RabbitMQ agent: RabbitMQ URL (amqp://user:password@host:5672/vhost); devices publish to inbound.dojot.exchange with their device_amqp_routing_key (empty: off)")
	fs.StringVar(&c.AMQPGroup, "amqp-group", "dojot", "RabbitMQ agent: this deployment's instances, which split the readings and send each actuation once (letters, digits, _ and -)")
	fs.IntVar(&c.AMQPPrefetch, "amqp-prefetch", 256, "RabbitMQ agent: messages in flight, unacknowledged until JetStream stored them")
	fs.BoolVar(&c.HTTPAgent, "http-agent", false, "HTTP agent: serve dojot's POST /http-agent/v1/incoming-messages[/create-many] and /iotagent/readings on the gateway's port, devices identified by their basic credentials")
	fs.BoolVar(&c.HTTPAgentInsecure, "http-agent-insecure", false, "HTTP agent test mode: /http-agent/v1/unsecure/... may name its device with ?tenant=&deviceId= and no credentials (dojot's params mode; never in production)")
	fs.StringVar(&c.HTTPAgentTLSAddr, "http-agent-tls-addr", "", "HTTP agent: also serve it over mutual TLS on this host:port (dojot: 3000), devices identified by their client certificate; server certificate from the CA for -mqtts-san (empty: off)")
	fs.StringVar(&c.HTTPAgentCertMode, "http-agent-cert-mode", "fingerprint", "HTTP agent TLS: fingerprint (the certificate's registered owner, dojot's default) or cn (also a platform certificate with no record, as its CN <tenant>:<deviceid> names)")
	fs.BoolVar(&c.Console, "console", true, "serve the web console at / (its assets under /ui/); false leaves / a 404, for a platform whose users bring their own GUI")
	fs.BoolVar(&c.FlowsEngine, "flows-engine", true, "run the tenants' flows on their devices' readings and events (false: the flows API only)")
	fs.StringVar(&c.FlowsGroup, "flows-group", "dojot", "flows: this deployment's instances, which share the inputs (letters, digits, _ and -)")
	fs.BoolVar(&c.Cron, "cron", true, "fire the cron jobs (/cron/v1/jobs) in this instance: with several instances each tick still fires once (false: the cron API only)")
	fs.StringVar(&c.CronHTTPAllowedURLs, "cron-http-allowed-urls", "", "base URLs a cron job's http action may call, comma-separated (dojot's actions.http.allowed.base.urls, e.g. http://device-manager:5000); empty: http jobs are refused")
	fs.DurationVar(&c.CronHTTPTimeout, "cron-http-timeout", 5*time.Second, "how long a cron job's http request may take (dojot: 5s)")
	fs.StringVar(&c.SigfoxSecret, "sigfox-secret", "", "Sigfox agent: the shared secret a Sigfox callback sends as 'Authorization: Bearer <secret>' to POST /sigfox on the gateway's port (empty: off)")
	fs.StringVar(&c.History, "history", "memory", "history view (persister and History API): memory (an index rebuilt from the DATA stream at start) or mongo (dojot's persister layout, on -mongo-url)")
	fs.StringVar(&c.HistoryDB, "history-db", "device_history", "mongo history: the database (dojot's persister uses device_history)")
	fs.StringVar(&c.RedisURL, "redis-url", "", "Redis URL for Kafka WS tickets and socket.io tokens (redis://host:6379/1, dojot's db 1); empty keeps them in memory, which serves one instance only")
	fs.StringVar(&c.KafkaWSSecret, "kafka-ws-secret", "", "key that signs Kafka WS tickets (dojot's KAFKA_WS_TICKET_SECRET); empty: derived from the JWT secret, so instances that share it share this")
	fs.DurationVar(&c.KafkaWSTicketTTL, "kafka-ws-ticket-ttl", 60*time.Second, "how long a Kafka WS ticket may wait for its websocket (dojot: 60 s)")
	fs.DurationVar(&c.KafkaWSMaxLifetime, "kafka-ws-max-lifetime", 2*time.Hour, "Kafka WS connections end after this long, close 4408 (dojot: 7200 s); negative: never")
	fs.BoolVar(&c.KafkaWSJWTExp, "kafka-ws-jwt-exp", false, "a Kafka WS connection may live until its login token expires when that is later than -kafka-ws-max-lifetime (dojot's server.jwt.exp.time)")
	fs.IntVar(&c.KafkaWSMaxPerTenant, "kafka-ws-max-per-tenant", 10000, "open Kafka WS connections a tenant may hold (429 beyond)")
	fs.DurationVar(&c.SocketIOTokenTTL, "socketio-token-ttl", 60*time.Second, "how long a socket.io token (GET /stream/socketio) may wait for its socket (dojot: 60 s)")
	fs.IntVar(&c.SocketIOMaxPerTenant, "socketio-max-per-tenant", 1000, "open socket.io sockets (GET /stream/socketio, /socket.io/) a tenant may hold; beyond, the handshake gets the error packet 'Too many connections for this tenant'")
	fs.DurationVar(&c.HistoryExpiration, "history-expiration", 7*24*time.Hour, "mongo history: TTL of the documents on ts (dojot's HISTORY_DB_DATA_EXPIRATION, 604800 s); the memory history keeps what the DATA stream keeps (-data-max-age)")
	c.X509.flags(fs)
	c.LoRaWAN.flags(fs)
	if c.sub == "health" {
		fs.StringVar(&c.HealthURL, "url", "", "base URL of the instance to ask (empty: http://127.0.0.1 on -http-addr's port)")
		fs.DurationVar(&c.HealthTimeout, "timeout", 5*time.Second, "how long to wait for the answer")
	}
	if c.sub == "replay" {
		fs.Uint64Var(&c.From, "from", 0, "replay from this event sequence instead of the start of the log")
		fs.BoolVar(&c.Fresh, "fresh", false, "start the new view from scratch instead of resuming an interrupted replay")
	}
	return fs
}

// Parse reads the environment, then args (flags win), for `dojot serve`.
func (c *Config) Parse(args []string, lookupEnv func(string) (string, bool), out io.Writer) error {
	return c.parse("serve", args, lookupEnv, out)
}

// usage is each subcommand's help text.
var usage = map[string]string{
	"serve":  "Usage: dojot [serve] [flags]\n\nRuns the dojot-compatible platform.",
	"routes": "Usage: dojot routes [flags]\n\nPrints the gateway's routes with every feature on (for tests).",
	"replay": "Usage: dojot replay -view memory|postgres|mongo [-from SEQ] [-fresh] [flags]\n\n" +
		"Rebuilds a view from the event log into a new generation beside the one being served,\n" +
		"and switches over atomically once it has caught up. An interrupted replay resumes\n" +
		"where it stopped unless -fresh is given. With -view memory it measures a rebuild.",
	"health": "Usage: dojot health [-url URL] [-timeout D]\n\n" +
		"Asks a running instance's GET /readyz: exits 0 when it is ready, 1 (with the reason\n" +
		"on one line) when not, for a container's healthcheck (the image has no curl).",
}

func (c *Config) parse(sub string, args []string, lookupEnv func(string) (string, bool), out io.Writer) error {
	c.sub = sub
	fs := c.flagSet(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "%s\n\nEvery flag -x-y can be set as DOJOT_X_Y.\n\nFlags:\n", usage[sub])
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(out, "  -%s (%s, default %q)\n    \t%s\n", f.Name, envName(f.Name), f.DefValue, f.Usage)
		})
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) { // env first, so flags on the command line win
		if v, ok := lookupEnv(envName(f.Name)); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", envName(f.Name), v, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("environment: %w", err)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c.validate()
}

func envName(flagName string) string {
	return "DOJOT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// validate joins every problem into one error.
func (c *Config) validate() error {
	var errs []error
	if _, err := c.logLevel(); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("-log-format %q: want json or text", c.LogFormat))
	}
	if _, _, err := c.fsync(); err != nil {
		errs = append(errs, err)
	}
	if c.SessionMax < 0 {
		errs = append(errs, fmt.Errorf("-session-max %s: must be 0 or positive", c.SessionMax))
	}
	if c.TokenTTL <= 0 {
		errs = append(errs, fmt.Errorf("-token-ttl %s: must be positive", c.TokenTTL))
	}
	if c.MaxInFlight < 0 || c.QueueWait < 0 {
		errs = append(errs, fmt.Errorf("-http-max-inflight %d, -http-queue-wait %s: must not be negative", c.MaxInFlight, c.QueueWait))
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, fmt.Errorf("-max-body-bytes %d: must be positive", c.MaxBodyBytes))
	}
	if c.NATSURL != "" && c.NATSListen != "" {
		errs = append(errs, errors.New("-nats-listen applies to the embedded NATS only; it cannot be used with -nats-url"))
	}
	if _, err := gateway.ParseRateLimits(c.LoginLimitUser); err != nil {
		errs = append(errs, fmt.Errorf("-login-limit-user: %w", err))
	}
	if _, err := gateway.ParseRateLimits(c.LoginLimitAddr); err != nil {
		errs = append(errs, fmt.Errorf("-login-limit-addr: %w", err))
	}
	if c.PSKKey != "" {
		if _, err := seal.ParseKey(c.PSKKey); err != nil {
			errs = append(errs, fmt.Errorf("-psk-key: %w", err))
		}
	}
	if c.ReplayMemory < 0 {
		errs = append(errs, fmt.Errorf("-replay-memory-mib %d: must be 0 or more", c.ReplayMemory))
	}
	if c.NATSReplicas < 1 || c.NATSReplicas > 5 {
		errs = append(errs, fmt.Errorf("-nats-replicas %d: want 1 to 5", c.NATSReplicas))
	}
	if c.DataPartitions < 1 || c.DataPartitions > 1024 {
		errs = append(errs, fmt.Errorf("-data-partitions %d: want 1 to 1024", c.DataPartitions))
	}
	switch c.View {
	case "memory":
	case "postgres":
		if c.PostgresURL == "" {
			errs = append(errs, errors.New("-view postgres needs -postgres-url (DOJOT_POSTGRES_URL)"))
		}
	case "mongo":
		if c.MongoURL == "" {
			errs = append(errs, errors.New("-view mongo needs -mongo-url (DOJOT_MONGO_URL)"))
		}
	default:
		errs = append(errs, fmt.Errorf("-view %q: want memory, postgres or mongo", c.View))
	}
	switch c.History {
	case "memory":
	case "mongo":
		if c.MongoURL == "" {
			errs = append(errs, errors.New("-history mongo needs -mongo-url (DOJOT_MONGO_URL)"))
		}
	default:
		errs = append(errs, fmt.Errorf("-history %q: want memory or mongo", c.History))
	}
	if c.KafkaWSTicketTTL < time.Second {
		errs = append(errs, fmt.Errorf("-kafka-ws-ticket-ttl %s: want 1s or more", c.KafkaWSTicketTTL))
	}
	if c.KafkaWSMaxPerTenant < 1 {
		errs = append(errs, fmt.Errorf("-kafka-ws-max-per-tenant %d: want 1 or more", c.KafkaWSMaxPerTenant))
	}
	if c.SocketIOTokenTTL < time.Second {
		errs = append(errs, fmt.Errorf("-socketio-token-ttl %s: want 1s or more", c.SocketIOTokenTTL))
	}
	if c.SocketIOMaxPerTenant < 1 {
		errs = append(errs, fmt.Errorf("-socketio-max-per-tenant %d: want 1 or more", c.SocketIOMaxPerTenant))
	}
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			errs = append(errs, errors.New("-redis-url: want redis://host:port/db or rediss://"))
		}
	}
	if c.HistoryExpiration < time.Second {
		errs = append(errs, fmt.Errorf("-history-expiration %s: want 1s or more", c.HistoryExpiration))
	}
	if c.KafkaPartitions < 1 {
		errs = append(errs, fmt.Errorf("-kafka-partitions %d: must be 1 or more", c.KafkaPartitions))
	}
	if c.KafkaReplication < 1 {
		errs = append(errs, fmt.Errorf("-kafka-replication %d: must be 1 or more", c.KafkaReplication))
	}
	if c.KafkaBrokers != "" && c.KafkaEmbeddedAddr != "" {
		errs = append(errs, errors.New("-kafka-embedded-addr starts its own Kafka; it cannot be used with -kafka-brokers"))
	}
	if c.ViewName != "" && !viewNameRe.MatchString(c.ViewName) {
		errs = append(errs, fmt.Errorf("-view-name %q: want lower case letters, digits and _ (starting with a letter)", c.ViewName))
	}
	for _, u := range c.cronAllowedURLs() {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("-cron-http-allowed-urls: %q is not an absolute http or https URL", u))
		}
	}
	if c.CronHTTPTimeout <= 0 {
		errs = append(errs, errors.New("-cron-http-timeout must be positive"))
	}
	if !prefixRe.MatchString(c.FlowsGroup) {
		errs = append(errs, fmt.Errorf("-flows-group %q: want letters, digits, _ and - only", c.FlowsGroup))
	}
	if c.AMQPURL != "" {
		if u, err := url.Parse(c.AMQPURL); err != nil || u.Host == "" || (u.Scheme != "amqp" && u.Scheme != "amqps") {
			errs = append(errs, errors.New("-amqp-url: want amqp://user:password@host:5672/vhost (or amqps://)"))
		}
		if !prefixRe.MatchString(c.AMQPGroup) {
			errs = append(errs, fmt.Errorf("-amqp-group %q: want letters, digits, _ and - only", c.AMQPGroup))
		}
		if c.AMQPPrefetch <= 0 {
			errs = append(errs, errors.New("-amqp-prefetch: want a positive number"))
		}
	}
	if !c.HTTPAgent && (c.HTTPAgentTLSAddr != "" || c.HTTPAgentInsecure) {
		errs = append(errs, errors.New("-http-agent-tls-addr and -http-agent-insecure need -http-agent"))
	}
	if c.HTTPAgentCertMode != "fingerprint" && c.HTTPAgentCertMode != "cn" {
		errs = append(errs, fmt.Errorf("-http-agent-cert-mode %q: want fingerprint or cn", c.HTTPAgentCertMode))
	}
	if c.MQTTBrokerURL != "" {
		if u, err := url.Parse(c.MQTTBrokerURL); err != nil || u.Host == "" || !slices.Contains([]string{"tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss"}, u.Scheme) {
			errs = append(errs, errors.New("-mqtt-broker-url: want tcp://host:port (or mqtt, mqtts, ssl, ws, wss)"))
		}
		if !prefixRe.MatchString(c.MQTTBrokerGroup) {
			errs = append(errs, fmt.Errorf("-mqtt-broker-group %q: want letters, digits, _ and - only", c.MQTTBrokerGroup))
		}
	}
	if c.NATSPrefix != "" && !prefixRe.MatchString(c.NATSPrefix) {
		errs = append(errs, fmt.Errorf("-nats-prefix %q: want letters, digits, _ and - only", c.NATSPrefix))
	}
	if err := c.validateReadyDeps(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.X509.validate()...)
	errs = append(errs, c.LoRaWAN.validate()...)
	return errors.Join(errs...)
}

var (
	prefixRe   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
	viewNameRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,30}$`)
)

// mqttClientID is -mqtt-broker-client-id, else dojot-<group>-<host>-<hash
// of the absolute data dir>: stable across restarts, and different for two
// instances on one host (each has its own data dir).
func (c *Config) mqttClientID() string {
	if c.MQTTBrokerClientID != "" || c.MQTTBrokerURL == "" {
		return c.MQTTBrokerClientID
	}
	host, _ := os.Hostname()
	dir, err := filepath.Abs(c.DataDir)
	if err != nil {
		dir = c.DataDir
	}
	sum := sha256.Sum256([]byte(dir))
	return "dojot-" + c.MQTTBrokerGroup + "-" + host + "-" + hex.EncodeToString(sum[:4])
}

// kafkaBrokers is -kafka-brokers as a list (nil: none).
func (c *Config) kafkaBrokers() []string {
	var out []string
	for _, b := range strings.Split(c.KafkaBrokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

func (c *Config) logLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("-log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}

// fsync parses -fsync into the embedded server's settings.
func (c *Config) fsync() (always bool, interval time.Duration, err error) {
	if c.Fsync == "always" {
		return true, 0, nil
	}
	d, err := time.ParseDuration(c.Fsync)
	if err != nil || d <= 0 {
		return false, 0, fmt.Errorf("-fsync %q: want 'always' or a positive interval such as 1s", c.Fsync)
	}
	return false, d, nil
}

// cronAllowedURLs is -cron-http-allowed-urls as a list.
func (c *Config) cronAllowedURLs() []string {
	var out []string
	for u := range strings.SplitSeq(c.CronHTTPAllowedURLs, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}
