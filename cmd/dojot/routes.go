package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/dojot-es/dojot/gateway"
)

// routes is the hidden `dojot routes`: it starts the platform as `dojot
// serve` does, on loopback ports and a temporary data dir, with every
// feature that adds a route turned on, and prints the gateway's route
// table ("METHOD PATTERN" a line) instead of serving. Tests generate what
// they check from it (the tenant isolation matrix in e2e), so a route added
// later cannot be left out. Flags are those of serve; the ones that would
// reach outside the process (an external NATS, views, Kafka, brokers) are
// dropped, since no route depends on them.
func routes(ctx context.Context, cfg *Config, out io.Writer) error {
	dir, err := os.MkdirTemp("", "dojot-routes")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	routesConfig(cfg, dir)
	cfg.routesOut = out
	// What goes wrong comes back as run's error; the log would only
	// show the shutdown that follows the printing.
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return run(ctx, cfg, log, io.Discard)
}

// routesConfig turns every route-adding feature on in dir, with nothing
// outside the process.
func routesConfig(cfg *Config, dir string) {
	cfg.DataDir = dir
	cfg.HTTPAddr, cfg.MQTTAddr, cfg.X509.MQTTSAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.InternalAddr, cfg.PprofAddr, cfg.HTTPAgentTLSAddr = "", "", ""
	cfg.NATSURL, cfg.NATSListen, cfg.MQTTBrokerURL, cfg.AMQPURL = "", "", "", ""
	cfg.View, cfg.History, cfg.KafkaBrokers, cfg.KafkaEmbeddedAddr, cfg.RedisURL = "memory", "memory", "", "", ""
	cfg.LoRaWAN.ChirpStackURL, cfg.LoRaWAN.TTSURL, cfg.LoRaWAN.EverynetURL = "", "", ""
	if cfg.X509.CACert == "" {
		cfg.X509.CAKeyType = "p-256" // quick to make; the key type adds no route
	}
	cfg.HTTPAgent, cfg.Console = true, true
	if cfg.SigfoxSecret == "" {
		cfg.SigfoxSecret = "routes"
	}
	if cfg.LoRaWAN.ChirpStackSecret == "" {
		cfg.LoRaWAN.ChirpStackSecret = "routes"
	}
	if cfg.LoRaWAN.TTSSecret == "" {
		cfg.LoRaWAN.TTSSecret = "routes"
	}
}

// printRoutes writes the route table, a route a line.
func printRoutes(w io.Writer, srv *gateway.Server) error {
	for _, r := range srv.Routes() {
		if _, err := fmt.Fprintf(w, "%s %s\n", r.Method, r.Pattern); err != nil {
			return err
		}
	}
	return nil
}
