package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	agentmqtt "github.com/dojot-es/dojot/agents/mqtt"
	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/console"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/gateway"
	"github.com/dojot-es/dojot/metrics"
	"github.com/dojot-es/dojot/pki"
	"github.com/dojot-es/dojot/projections"
	"github.com/dojot-es/dojot/projections/memory"
	"github.com/dojot-es/dojot/seal"
)

// run serves until ctx is done, then shuts down in reverse order: stop
// accepting and drain HTTP, stop following the log, close the event store
// (which stops the embedded NATS). notices gets what a human must see once
// (a generated admin password).
func run(ctx context.Context, cfg *Config, log *slog.Logger, notices io.Writer) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("-data-dir %s: %w", cfg.DataDir, err)
	}
	if err := privateDir(cfg.DataDir); err != nil {
		return fmt.Errorf("-data-dir: %w", err)
	}
	// Listen first: a busy port is reported before anything is started.
	var lns listeners
	defer lns.close()
	ln := lns.listen("http-addr", cfg.HTTPAddr)
	internalLn := lns.open("internal-addr", cfg.InternalAddr)
	pprofLn := lns.open("pprof-addr", cfg.PprofAddr)
	var mqttLn, mqttsLn net.Listener // none with -mqtt-broker-url: the agent is that broker's client
	if cfg.MQTTBrokerURL == "" {
		mqttLn = lns.listen("mqtt-addr", cfg.MQTTAddr)
		mqttsLn = lns.open("mqtts-addr", cfg.X509.MQTTSAddr)
	}
	var agentTLSLn net.Listener
	if cfg.HTTPAgent {
		agentTLSLn = lns.open("http-agent-tls-addr", cfg.HTTPAgentTLSAddr)
	}
	metricsLn := lns.open("metrics-addr", cfg.MetricsAddr)
	if lns.err != nil {
		return lns.err
	}

	// The HTTP listener answers from the start: /healthz (alive), /readyz
	// (503 and what is being done) and /metrics while the log replays,
	// the gateway once everything is up.
	reg := metrics.New()
	var serving atomic.Bool
	reg.Add(func(_ context.Context, s *metrics.Scrape) {
		if !serving.Load() {
			s.Ready(false)
		}
	})
	var gwMetrics http.Handler = reg.Handler() // on the gateway's port unless -metrics-addr
	if metricsLn != nil {
		gwMetrics = nil
	}
	var stage startStage
	stage.set(func() string { return "opening the event store" })
	front := &swapHandler{}
	front.set(gateway.Starting(stage.String, gwMetrics))
	errorLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	srv := httpServer(front, errorLog)
	served := make(chan error, 4) // one per server: none blocks after a shutdown
	go func() { served <- srv.Serve(ln) }()
	servers := []*http.Server{srv}
	defer func() { // on an early return; Shutdown drains them otherwise
		for _, s := range servers {
			s.Close()
		}
	}()
	// serve serves h on the listener of -<name>-addr; its failure ends run.
	serve := func(name string, h http.Handler, ln net.Listener) {
		s := httpServer(h, errorLog)
		go func() {
			if err := s.Serve(ln); err != nil {
				served <- fmt.Errorf("%s: %w", name, err)
			}
		}()
		log.Info(name+" listening", "addr", ln.Addr().String())
		servers = append(servers, s)
	}
	if metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", reg.Handler())
		serve("metrics", mux, metricsLn)
	}
	log.Info("http starting", "addr", ln.Addr().String()) // /healthz, /readyz and /metrics answer already

	started := time.Now()
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()

	view := memory.New()
	runner := projections.NewRunner(store, view, projections.Options{Logger: log, WaitTimeout: cfg.WaitTimeout})
	runCtx, stopRunner := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	goRun(runCtx, &wg, log, runner.Run, "projection runner stopped")
	defer func() { stopRunner(); wg.Wait() }()
	if last, err := store.LastSeq(ctx); err == nil {
		stage.set(func() string {
			return fmt.Sprintf("replaying the event log into the memory view: %d of %d events", runner.Applied(), last)
		})
	}
	restoreGC := replayGC(cfg.ReplayMemory, log)
	err = runner.CatchUp(ctx)
	restoreGC()
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	if n := store.Unopened(); n > 0 {
		// Commands decide on this view: a device shown without its keys
		// would be stored without them at its next change.
		return fmt.Errorf("-psk-key: the pre-shared keys of %d events do not open with this key (logged above, with the id of the key they were sealed with): give this instance the deployment's key", n)
	}
	if runner.Applied() >= 100_000 {
		// Decoding a large log leaves the heap at about twice the view's
		// size, which the runtime would keep: give it back once (1M
		// devices: RSS 910 -> 500 MiB, for 0.26 s of start-up).
		debug.FreeOSMemory()
	}
	elapsed := time.Since(started)
	log.Info("view rebuilt from the event log", "events", runner.Applied(), "took", elapsed.String(),
		"events_per_s", int(float64(runner.Applied())/max(elapsed.Seconds(), 1e-9)))

	secret, err := jwtSecret(cfg, log)
	if err != nil {
		return err
	}
	// Commands always decide against the memory view (it follows the log
	// in every instance); the gateway reads the view -view names.
	var reads gateway.Reads = view.Reads()
	var certReads x509Reads = view
	sync := syncAll{runner}
	dv, closeView, err := openDurable(ctx, cfg, log)
	if err != nil {
		return err
	}
	views := map[string]*projections.Runner{"view_memory": runner}
	if dv != nil {
		// After the runners stopped: they use the view.
		defer func() { stopRunner(); wg.Wait(); closeView() }()
		stage.set(func() string { return "checking the " + cfg.View + " view against the event log" })
		if err := trust(ctx, store, dv, cfg, log); err != nil {
			return fmt.Errorf("%s view: %w", cfg.View, err)
		}
		vr := projections.NewRunner(store, dv, projections.Options{Logger: log, WaitTimeout: cfg.WaitTimeout})
		goRun(runCtx, &wg, log, vr.Run, "view runner stopped", "view", cfg.View)
		if last, err := store.LastSeq(ctx); err == nil {
			stage.set(func() string {
				return fmt.Sprintf("catching up the %s view: %d of %d events", cfg.View, vr.Applied(), last)
			})
		}
		views["view_"+cfg.View] = vr
		if err := vr.CatchUp(ctx); err != nil {
			return fmt.Errorf("%s view: catch up: %w", cfg.View, err)
		}
		log.Info("view caught up with the event log", "view", cfg.View, "seq", vr.Applied())
		reads, certReads, sync = dv, dv, append(sync, vr)
	}

	stage.set(func() string { return "starting the agents and consumers" })
	copts := commands.Options{Store: store, Sync: sync, Logger: log}
	devices := commands.NewDevices(copts, view)
	auth := commands.NewAuth(copts, view)
	flowCmds := commands.NewFlows(copts, view, checkFlow)
	cronCmds := commands.NewCron(copts, view, cfg.cronAllowedURLs())
	if err := bootstrap(ctx, cfg, auth, log, notices); err != nil {
		return err
	}
	ca, certs, err := openCA(ctx, cfg, func(ca *pki.CA) *commands.Certificates { return commands.NewCertificates(copts, view, ca) }, log)
	if err != nil {
		return err
	}
	hist, err := startHistory(runCtx, cfg, store, log, &wg)
	if err != nil {
		return err
	}
	defer func() { stopRunner(); wg.Wait(); _ = hist.Close() }() // after its runners stopped
	// The Kafka bridge follows the log on its own. A Kafka outage does not
	// make /healthz 503 (the rest of the platform serves; the bridge logs
	// it and holds events meanwhile): it shows under "kafka_bridge".
	kafkaBrokers, bridge, stopKafka, err := openKafka(store, cfg, log)
	if err != nil {
		return err
	}
	defer stopKafka()

	certID := &pki.Identifier{CA: ca, Registry: view, LegacyCN: cfg.X509.MQTTSCNIdentity}
	agent, err := agentmqtt.New(agentmqtt.Options{Store: store, Devices: view, Credentials: devices, Insecure: cfg.MQTTInsecure, Logger: log, CertIdentity: certID,
		BrokerURL: cfg.MQTTBrokerURL, BrokerGroup: cfg.MQTTBrokerGroup, ClientID: cfg.mqttClientID()})
	if err != nil {
		return err
	}
	if err := agent.Serve(mqttLn); err != nil {
		return err
	}
	defer agent.Close() // before the store closes: no publish is left waiting for it
	goRun(runCtx, &wg, log, func(ctx context.Context) error { return agent.FollowActuations(ctx, store) }, "mqtt: following actuations stopped")
	if mqttLn != nil { // else the agent logs its broker's connection
		log.Info("mqtt listening", "addr", mqttLn.Addr().String(), "insecure", cfg.MQTTInsecure)
	}
	if err := serveMQTTS(agent, mqttsLn, certID, cfg, log); err != nil {
		return err
	}

	flowBroker, err := startFlows(runCtx, cfg, store, view, devices, cronCmds, log, &wg)
	if err != nil {
		return err
	}
	scheduler, err := startCron(runCtx, cfg, store, view, devices, log, &wg)
	if err != nil {
		return err
	}
	var flowStats func(string) any
	if flowBroker != nil {
		flowStats = func(id string) any { return flowBroker.Stats(id) }
	}

	amqpAgent, err := startAMQP(runCtx, cfg, store, view, log, &wg)
	if err != nil {
		return err
	}

	kws, err := startKafkaWS(ctx, cfg, store, secret, kafkaBrokers, log)
	if err != nil {
		return err
	}
	defer kws.Close() // hijacked websockets outlive the HTTP server's shutdown
	sio, err := startSocketIO(cfg, kws, log)
	if err != nil {
		return err
	}
	defer sio.Close() // before kws's: its sockets follow Kafka WS's feeds

	sigfox, err := newSigfox(cfg, store, view, log)
	if err != nil {
		return err
	}
	lorawan, err := startLoRaWAN(runCtx, cfg, store, view, log, &wg)
	if err != nil {
		return err
	}
	apiLimit, agentLimit := gateway.NewLimit(cfg.MaxInFlight, cfg.QueueWait), gateway.NewLimit(cfg.MaxInFlight, cfg.QueueWait)
	httpAgent, err := startHTTPAgent(cfg, store, view, devices, ca, agentTLSLn, agentLimit, log)
	if err != nil {
		return err
	}
	deviceRoutes := map[string]http.Handler{}
	counted := map[string]countingAgent{} // for /metrics, with MQTT apart
	if amqpAgent != nil {
		counted["amqp"] = amqpAgent
	}
	if sigfox != nil {
		maps.Copy(deviceRoutes, sigfox.Routes())
		counted["sigfox"] = sigfox
	}
	if lorawan != nil {
		maps.Copy(deviceRoutes, lorawan.Routes())
		counted["lorawan"] = lorawan
	}
	if httpAgent != nil {
		maps.Copy(deviceRoutes, httpAgent.agent.Routes())
		counted["http"] = httpAgent.agent
		defer httpAgent.close()
	}

	deps := newDependencies(cfg)
	deps.add("nats", natsCheck(store))
	if dv != nil {
		deps.addPing(cfg.View, dv)
	}
	if cfg.History == "mongo" {
		deps.addPing("mongo", hist.view)
	}
	if cfg.RedisURL != "" {
		deps.addPing("redis", kws.store)
	}
	if bridge != nil {
		deps.add("kafka", kafkaCheck(bridge))
	}
	if amqpAgent != nil {
		deps.add("rabbitmq", rabbitCheck(amqpAgent))
	}

	var topics gateway.Topics
	if len(kafkaBrokers) > 0 {
		topics = newKafkaTopics(kafkaBrokers, cfg.KafkaPartitions, cfg.KafkaReplication)
	}
	limitUser, limitAddr, loginCounter, err := loginLimits(ctx, cfg, store)
	if err != nil {
		return err
	}
	var consoleHandler http.Handler
	if cfg.Console {
		c, err := console.New()
		if err != nil {
			return err
		}
		consoleHandler = c
	}
	gwOpts := gateway.Options{
		Console:        consoleHandler,
		LoginLimitUser: limitUser,
		LoginLimitAddr: limitAddr,
		LoginCounter:   loginCounter,
		Topics:         topics,
		Logger:         log,
		DeviceCommands: devices,
		DeviceView:     reads,
		Events:         store,
		AuthCommands:   auth,
		AuthView:       reads,
		History:        hist.view,
		Notifications:  hist.view,
		KafkaWS:        kws.srv,
		SocketIO:       sio,
		DeviceRoutes:   deviceRoutes,
		FlowCommands:   flowCmds,
		FlowView:       reads,
		FlowNodes:      flowNodes(),
		FlowStats:      flowStats,
		FlowReplay:     flowReplay(store, view, log),
		CronCommands:   cronCmds,
		CronView:       reads,
		JWTSecret:      []byte(secret),
		TokenTTL:       cfg.TokenTTL,
		SessionMax:     cfg.SessionMax,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		Limit:          apiLimit,
		AgentLimit:     agentLimit,
		X509Commands:   certs,
		X509View:       certReads,
		X509Internal:   view,
		X509Services:   certs,
		CA:             ca,
		Dependencies:   deps.State,
		Observer:       reg,
		Metrics:        gwMetrics,
		Health: func(ctx context.Context) map[string]any {
			h := map[string]any{"nats": strings.ToLower(store.Conn().Status().String())}
			if bridge != nil {
				h["kafka_bridge"] = bridge.Status()
			}
			h["mqtt"] = agent.Status()
			if amqpAgent != nil {
				h["amqp"] = amqpAgent.Status()
			}
			if sigfox != nil {
				h["sigfox"] = sigfox.Status()
			}
			if lorawan != nil {
				h["lorawan"] = lorawan.Status()
			}
			if httpAgent != nil {
				h["http_agent"] = httpAgent.agent.Status()
			}
			h["history"] = hist.Status(ctx, cfg.History)
			if scheduler != nil {
				h["cron"] = scheduler.Stats()
			}
			h["kafka_ws"] = map[string]any{"tickets": ticketStore(cfg), "stats": kws.srv.Stats()}
			h["socketio"] = map[string]any{"tokens": ticketStore(cfg), "stats": sio.Stats()}
			return h
		},
	}
	w := &watched{cfg: cfg, store: store, deps: deps, views: views, history: hist, bridge: bridge, flows: flowBroker, kws: kws.srv, sio: sio,
		mqtt: agent, agents: counted}
	reg.Add(w.source)
	gw := gateway.New(gwOpts)
	if cfg.routesOut != nil { // dojot routes: the table, not a server
		return printRoutes(cfg.routesOut, gw)
	}
	front.set(gw)
	serving.Store(true)
	log.Info("http listening", "addr", ln.Addr().String(), "nats", natsMode(cfg, store))
	if internalLn != nil {
		serve("internal", gateway.NewInternal(gwOpts), internalLn)
	}
	if pprofLn != nil {
		serve("pprof", pprofMux(), pprofLn)
	}

	select {
	case err := <-served:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("http shutdown", "err", err)
		}
	}
	return nil
}

// listeners are the instance's listeners, opened one after the other
// until one fails (err, naming its flag), and closed together.
type listeners struct {
	all []net.Listener
	err error
}

// listen listens on addr, the value of -flag; nil once one has failed.
func (l *listeners) listen(flag, addr string) net.Listener {
	if l.err != nil {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		l.err = fmt.Errorf("-%s %s: %w", flag, addr, err)
		return nil
	}
	l.all = append(l.all, ln)
	return ln
}

// open is listen for a flag whose empty value means off: nil then.
func (l *listeners) open(flag, addr string) net.Listener {
	if addr == "" {
		return nil
	}
	return l.listen(flag, addr)
}

func (l *listeners) close() {
	for _, ln := range l.all {
		ln.Close()
	}
}

// goRun runs fn under wg until ctx is done. An error it stops with is
// logged as msg, with args: the instance goes on serving without it.
func goRun(ctx context.Context, wg *sync.WaitGroup, log *slog.Logger, fn func(context.Context) error, msg string, args ...any) {
	wg.Go(func() {
		if err := fn(ctx); err != nil {
			log.Error(msg, append(args, "err", err)...)
		}
	})
}

// maxHeaderBytes bounds a request's header: a login token is under 1 KiB,
// and net/http's default (1 MiB) lets each connection hold that much.
// Past it net/http answers 431 Request Header Fields Too Large.
const maxHeaderBytes = 64 << 10

// httpServer is every listener's http.Server: headers bounded in size
// and in time (a client trickling its header holds a connection 10 s at
// most), idle keep-alive connections closed after 2 minutes. No overall
// read or write timeout: websockets and large histories stream for long.
func httpServer(h http.Handler, errLog *stdlog.Logger) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: maxHeaderBytes,
		IdleTimeout: 2 * time.Minute, ErrorLog: errLog}
}

// pprofMux serves net/http/pprof's handlers on a mux of its own (not
// http.DefaultServeMux, which any imported package may add to).
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func natsMode(cfg *Config, store *eventstore.Store) string {
	if cfg.NATSURL != "" {
		return cfg.NATSURL
	}
	if u := store.ClientURL(); u != "" {
		return "embedded, " + u
	}
	return "embedded (in-process)"
}

// jwtSecret is -jwt-secret, or the one generated on the first start and kept
// in the data dir. Instances sharing one NATS must be given the same secret.
func jwtSecret(cfg *Config, log *slog.Logger) (string, error) {
	if cfg.JWTSecret != "" {
		return cfg.JWTSecret, nil
	}
	if cfg.NATSURL != "" {
		log.Warn("no -jwt-secret with an external NATS: tokens from this instance are valid only on instances given the same secret")
	}
	s, _, err := fileSecret(cfg.DataDir, "jwt-secret", func() string { return randomHex(32) })
	if err != nil {
		return "", fmt.Errorf("-jwt-secret: %w", err)
	}
	return s, nil
}

// loginLimits are -login-limit-user and -login-limit-addr, counted in the
// LOGIN_ATTEMPTS bucket: every instance of a deployment counts in it, so a
// limit holds for the deployment, not per instance (which would multiply
// it by the number of instances behind a load balancer). Keys outlive
// their window by at most the longest window.
func loginLimits(ctx context.Context, cfg *Config, store *eventstore.Store) (user, addr []gateway.RateLimit, counter gateway.Counter, err error) {
	user, _ = gateway.ParseRateLimits(cfg.LoginLimitUser) // validated by Parse
	addr, _ = gateway.ParseRateLimits(cfg.LoginLimitAddr)
	var longest time.Duration
	for _, l := range append(slices.Clone(user), addr...) {
		longest = max(longest, l.Per)
	}
	if longest == 0 {
		return nil, nil, nil, nil
	}
	kv, err := store.KVWithTTL(ctx, "LOGIN_ATTEMPTS", longest)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("login limits: %w", err)
	}
	return user, addr, kv, nil
}

// pskSealer seals devices' pre-shared keys in the event log under
// -psk-key, or the key generated on the first start and kept in the data
// dir (0600). Instances sharing one NATS must be given the same key: one
// that lacks it cannot read the keys another stored.
func pskSealer(cfg *Config, log *slog.Logger) (*seal.Sealer, error) {
	hexKey := cfg.PSKKey
	if hexKey == "" {
		if cfg.NATSURL != "" {
			log.Warn("no -psk-key with an external NATS: pre-shared keys this instance stores are readable only by instances given the same key")
		}
		var err error
		if hexKey, _, err = fileSecret(cfg.DataDir, "psk-key", func() string { return randomHex(seal.KeySize) }); err != nil {
			return nil, fmt.Errorf("-psk-key: %w", err)
		}
	}
	key, err := seal.ParseKey(hexKey)
	if err != nil {
		return nil, fmt.Errorf("-psk-key: %w", err)
	}
	s, err := seal.New(key)
	if err != nil {
		return nil, fmt.Errorf("-psk-key: %w", err)
	}
	log.Info("pre-shared keys sealed in the event log", "key_id", s.KeyID())
	return s, nil
}

// bootstrap creates tenant and user admin on an empty log. Without
// -admin-password the password is generated, kept in the data dir (0600) and
// printed once.
func bootstrap(ctx context.Context, cfg *Config, auth *commands.Auth, log *slog.Logger, notices io.Writer) error {
	pw, generated := cfg.AdminPassword, false
	path := filepath.Join(cfg.DataDir, "admin-password")
	if pw == "" {
		var err error
		if pw, generated, err = fileSecret(cfg.DataDir, "admin-password", randomPassword); err != nil {
			return fmt.Errorf("-admin-password: %w", err)
		}
	}
	created, err := auth.Bootstrap(ctx, pw)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	switch {
	case created && generated:
		fmt.Fprintf(notices, "dojot: created user admin with password %s (kept in %s)\n", pw, path)
	case created:
		log.Info("created tenant and user admin")
	case generated:
		// Another instance bootstrapped first: this password is not admin's.
		_ = os.Remove(path)
	}
	return nil
}

// openStore opens the event store as cfg says: embedded NATS in the data
// dir, or an external one.
func openStore(ctx context.Context, cfg *Config, log *slog.Logger) (*eventstore.Store, error) {
	always, interval, _ := cfg.fsync() // validated by Parse
	var streamPrefix, subjectPrefix string
	if cfg.NATSPrefix != "" {
		streamPrefix, subjectPrefix = cfg.NATSPrefix+"_", cfg.NATSPrefix+"."
	}
	sealer, err := pskSealer(cfg, log)
	if err != nil {
		return nil, err
	}
	store, err := eventstore.Open(ctx, eventstore.Options{
		Sealer:         sealer,
		StreamPrefix:   streamPrefix,
		SubjectPrefix:  subjectPrefix,
		URL:            cfg.NATSURL,
		DataDir:        cfg.DataDir,
		Listen:         cfg.NATSListen,
		SyncAlways:     always,
		SyncInterval:   interval,
		DataMaxAge:     cfg.DataMaxAge,
		DataPartitions: cfg.DataPartitions,
		Replicas:       cfg.NATSReplicas,
		Logger:         log,
	})
	if errors.Is(err, eventstore.ErrDataDirInUse) {
		return nil, fmt.Errorf("-data-dir %s: %w", cfg.DataDir, err)
	}
	if err != nil {
		if cfg.NATSListen != "" {
			return nil, fmt.Errorf("-nats-listen %s: %w", cfg.NATSListen, err)
		}
		return nil, fmt.Errorf("event store: %w", err)
	}
	return store, nil
}

// replayGC paces the GC by a memory limit instead of heap growth while the
// log is replayed at start, and returns what restores the pacing. A replay
// makes garbage (decoded messages, envelopes) far faster than it keeps
// data, and with Go's default (a GC each time the heap doubles) the GC took
// a third of the replay: 200k events, 206k -> 306k events/s without it.
// Past the limit the GC runs as needed, so a view larger than the limit
// only loses the gain. The limit is at most half the memory the process
// may use (its cgroup's limit, else the machine's), so a small container
// is not pushed out of memory. GOGC or GOMEMLIMIT in the environment win.
func replayGC(mib int64, log *slog.Logger) (restore func()) {
	_, gogc := os.LookupEnv("GOGC")
	_, memlimit := os.LookupEnv("GOMEMLIMIT")
	if mib == 0 || gogc || memlimit {
		return func() {}
	}
	want := mib << 20
	if avail := memoryAvailable(); avail > 0 && want > avail/2 {
		want = avail / 2 // a container's limit, or the machine's memory
	}
	percent := debug.SetGCPercent(-1)
	limit := debug.SetMemoryLimit(want)
	log.Debug("replay GC paced by a memory limit", "mib", want>>20)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}

// memoryAvailable is the memory this process may use: its cgroup's limit
// (v2, then v1) if set, else the machine's total; 0 when unknown.
func memoryAvailable() int64 {
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 && n < 1<<50 {
			return n
		}
	}
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
