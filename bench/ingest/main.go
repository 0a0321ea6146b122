package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Config is every setting of one run; a zero field means its default.
type Config struct {
	Devices  int           // simulated devices, one MQTT client each
	Rate     float64       // aggregate target, readings/s
	Duration time.Duration // measured window
	InFlight int           // readings awaiting a PUBACK per device, at most
	Connect  int           // clients connecting at once
	Client   string        // raw (rawClient) or paho

	Kafka          bool          // start the Kafka bridge (embedded kfake) and measure arrival on admin.device-data
	KafkaRate      float64       // readings/s a legacy agent produces to <tenant>.device-data (needs Kafka)
	KafkaDevices   int           // its devices
	KafkaWS        int           // Kafka WS sockets on <tenant>.device-data, each getting every reading
	Flows          int           // issue 17's speed flows created on the devices' template (flows API)
	FlowsEvery     int           // each flow notifies the readings whose n is a multiple of this (1, 10, 100...)
	History        string        // auto (skip when the route is missing), on (fail when missing), off
	HistoryDevices int           // devices polled for the visibility latency
	HistoryPoll    time.Duration // their poll interval
	HistoryCheck   string        // all: read back every device's history at the end; sample: the polled devices only
	Drain          time.Duration // after the window: how long history and Kafka may take to show every reading

	Baseline        bool          // run the baselines: `nats bench js pub async` against the same server, the generator against Mosquitto and a bare mochi-mqtt, raw kafka-go
	BaselineFor     time.Duration // the MQTT and Kafka baselines' window
	Mosquitto       string        // the machine's Mosquitto (QoS 1, no storage); "off": no such baseline
	NATSCLI         string        // the nats CLI
	BaselineClients int
	BaselineMsgs    int

	CPUProfile string   // write the started server's CPU profile of the window here (pprof)
	Binary     string   // a built dojot binary (empty: go build ./cmd/dojot)
	ServerLog  string   // append the started server's log here
	ServerArgs []string // more flags for dojot serve
	Tenant     string
	User       string
	Password   string

	// An instance that already runs, instead of starting one.
	TargetHTTP  string // http://127.0.0.1:8000
	TargetMQTT  string // 127.0.0.1:1883 (needs -mqtt-insecure there)
	TargetKafka string // 127.0.0.1:9092
	TargetNATS  string // nats://127.0.0.1:4222, for the baseline
	TargetPid   int    // for CPU and RSS
}

func (c *Config) setDefaults() {
	if c.Devices <= 0 {
		c.Devices = 1000
	}
	if c.Rate <= 0 {
		c.Rate = 20000
	}
	if c.Duration <= 0 {
		c.Duration = 30 * time.Second
	}
	if c.InFlight <= 0 {
		c.InFlight = 16
	}
	if c.Connect <= 0 {
		c.Connect = 32
	}
	if c.Client == "" {
		c.Client = "raw"
	}
	if c.HistoryCheck == "" {
		c.HistoryCheck = "all"
	}
	if c.History == "" {
		c.History = "auto"
	}
	if c.HistoryDevices <= 0 {
		c.HistoryDevices = 5
	}
	if c.HistoryPoll <= 0 {
		c.HistoryPoll = 10 * time.Millisecond
	}
	if c.Drain <= 0 {
		c.Drain = 30 * time.Second
	}
	if c.FlowsEvery <= 0 {
		c.FlowsEvery = 1
	}
	if c.KafkaDevices <= 0 {
		c.KafkaDevices = 100
	}
	if c.BaselineFor <= 0 {
		c.BaselineFor = min(c.Duration, 10*time.Second)
	}
	if c.Mosquitto == "" {
		c.Mosquitto = "127.0.0.1:1883"
	}
	if c.NATSCLI == "" {
		c.NATSCLI = "nats"
	}
	if c.BaselineClients <= 0 {
		c.BaselineClients = 16
	}
	if c.BaselineMsgs <= 0 {
		c.BaselineMsgs = 200000
	}
	if c.Tenant == "" {
		c.Tenant = "admin"
	}
	if c.User == "" {
		c.User = "admin"
	}
	if c.Password == "" {
		c.Password = "admin"
	}
}

func (c *Config) validate() error {
	var errs []error
	switch c.History {
	case "auto", "on", "off":
	default:
		errs = append(errs, fmt.Errorf("-history %q: want auto, on or off", c.History))
	}
	if c.Client != "raw" && c.Client != "paho" {
		errs = append(errs, fmt.Errorf("-client %q: want raw or paho", c.Client))
	}
	if c.HistoryCheck != "all" && c.HistoryCheck != "sample" {
		errs = append(errs, fmt.Errorf("-history-check %q: want all or sample", c.HistoryCheck))
	}
	if c.TargetHTTP != "" && c.TargetMQTT == "" || c.TargetHTTP == "" && c.TargetMQTT != "" {
		errs = append(errs, errors.New("-target-http and -target-mqtt go together"))
	}
	for _, a := range []string{c.TargetHTTP, c.TargetMQTT, c.TargetKafka, c.TargetNATS} {
		if a != "" && !loopback(a) {
			errs = append(errs, fmt.Errorf("target %s: only loopback addresses", a))
		}
	}
	if e := strconv.Itoa(c.FlowsEvery); e[0] != '1' || strings.Trim(e[1:], "0") != "" {
		errs = append(errs, fmt.Errorf("-flows-every %d: want a power of 10", c.FlowsEvery))
	}
	if c.Flows < 0 {
		errs = append(errs, fmt.Errorf("-flows %d: want 0 or more", c.Flows))
	}
	if c.KafkaRate > 0 && !c.Kafka {
		errs = append(errs, errors.New("-kafka-produce needs -kafka"))
	}
	if c.Kafka && c.TargetHTTP != "" && c.TargetKafka == "" {
		errs = append(errs, errors.New("-kafka with -target-http needs -target-kafka"))
	}
	return errors.Join(errs...)
}

func (c *Config) parse(args []string) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.IntVar(&c.Devices, "devices", 1000, "simulated devices, one MQTT client each")
	fs.Float64Var(&c.Rate, "rate", 20000, "aggregate target rate, readings/s (each device rate/devices)")
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "measured window")
	fs.IntVar(&c.InFlight, "inflight", 16, "readings awaiting a PUBACK per device at most; one due beyond that is skipped as behind schedule")
	fs.IntVar(&c.Connect, "connect", 32, "clients connecting at once")
	fs.StringVar(&c.Client, "client", "raw", "MQTT client of each device: raw (a minimal QoS 1 publisher, the least CPU taken from the server's cores) or paho")
	fs.BoolVar(&c.Kafka, "kafka", false, "run the Kafka bridge (embedded) and measure arrival on <tenant>.device-data")
	fs.Float64Var(&c.KafkaRate, "kafka-produce", 0, "readings/s a legacy IoT agent produces to <tenant>.device-data with kafka-go (Kafka -> DATA; needs -kafka)")
	fs.IntVar(&c.KafkaDevices, "kafka-devices", 100, "the legacy agent's devices (besides -devices)")
	fs.IntVar(&c.KafkaWS, "kafka-ws", 0, "Kafka WS sockets on <tenant>.device-data, no filter: each must get every reading")
	fs.IntVar(&c.Flows, "flows", 0, "create this many flows (issue 17's: event template in on the devices' template -> switch -> change -> template -> notification) over the flows API; with -kafka, measure publish -> <tenant>.dojot.notifications and the flow engine's backlog")
	fs.IntVar(&c.FlowsEvery, "flows-every", 1, "each flow notifies the readings whose n is a multiple of this power of 10 (1: every reading, so -flows notifications per reading)")
	fs.StringVar(&c.History, "history", "auto", "history measurement: auto (skipped when GET /history/... is not served), on, off")
	fs.IntVar(&c.HistoryDevices, "history-devices", 5, "devices polled for the history latency (their polls add to the server's CPU)")
	fs.DurationVar(&c.HistoryPoll, "history-poll", 10*time.Millisecond, "their poll interval (the latency's resolution)")
	fs.StringVar(&c.HistoryCheck, "history-check", "all", "at the end, read back the whole history of every device (all: ~28,000 readings/s here) or of the polled ones (sample)")
	fs.DurationVar(&c.Drain, "drain", 30*time.Second, "after the window, how long history and Kafka may take to show every reading")
	fs.BoolVar(&c.Baseline, "baseline", true, "measure, in the same run: raw nats bench js pub async against the same server; the same generator against Mosquitto and a bare mochi-mqtt (no store); raw kafka-go produce -> consume on the same Kafka")
	fs.DurationVar(&c.BaselineFor, "baseline-duration", 0, "the MQTT and Kafka baselines' window (default: -duration, at most 10 s)")
	fs.StringVar(&c.Mosquitto, "mosquitto", "127.0.0.1:1883", "the machine's Mosquitto, for its baseline (off: skip)")
	fs.StringVar(&c.NATSCLI, "nats-cli", "nats", "the nats CLI (go install github.com/nats-io/natscli/nats@latest)")
	fs.IntVar(&c.BaselineClients, "baseline-clients", 16, "nats bench publishers")
	fs.IntVar(&c.BaselineMsgs, "baseline-msgs", 200000, "nats bench messages")
	fs.StringVar(&c.CPUProfile, "cpu-profile", "", "write the started server's CPU profile over the window to this file (dojot -pprof-addr; read it with go tool pprof -top)")
	fs.StringVar(&c.Binary, "binary", "", "dojot binary to start (empty: go build ./cmd/dojot into a temporary dir)")
	fs.StringVar(&c.ServerLog, "server-log", "", "append the started server's log to this file")
	fs.Func("server-arg", "one more flag for the started dojot serve (repeatable), e.g. -server-arg=-fsync=always", func(v string) error {
		c.ServerArgs = append(c.ServerArgs, v)
		return nil
	})
	fs.StringVar(&c.Tenant, "tenant", "admin", "tenant of the devices")
	fs.StringVar(&c.User, "user", "admin", "user for the HTTP setup")
	fs.StringVar(&c.Password, "password", "admin", "its password (the started server's admin gets this one)")
	fs.StringVar(&c.TargetHTTP, "target-http", "", "use this running instance's gateway (http://127.0.0.1:8000) instead of starting one")
	fs.StringVar(&c.TargetMQTT, "target-mqtt", "", "its MQTT agent (127.0.0.1:1883, started with -mqtt-insecure)")
	fs.StringVar(&c.TargetKafka, "target-kafka", "", "its Kafka broker, for -kafka")
	fs.StringVar(&c.TargetNATS, "target-nats", "", "its NATS (nats://127.0.0.1:4222), for the baseline")
	fs.IntVar(&c.TargetPid, "target-pid", 0, "its process id, for CPU and RSS")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./bench/ingest [flags]\n\nMQTT QoS 1 ingest load against dojot; see BENCHMARKS.md (issue 7).\n\n")
		fs.PrintDefaults()
	}
	return fs.Parse(args)
}

func main() {
	if addr := os.Getenv(mochiEnv); addr != "" {
		if err := serveMochi(addr); err != nil {
			fmt.Fprintln(os.Stderr, "bare mochi-mqtt:", err)
			os.Exit(1)
		}
		return
	}
	var cfg Config
	if err := cfg.parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, &cfg, os.Stderr)
	if rep != nil {
		rep.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
	if rep.Lost() > 0 {
		fmt.Fprintf(os.Stderr, "ingest: %d readings lost\n", rep.Lost())
		os.Exit(1)
	}
}

// progress prints a line of progress to w.
func progress(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "ingest: "+format+"\n", args...)
}
