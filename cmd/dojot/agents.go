package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	agentamqp "github.com/dojot-es/dojot/agents/amqp"
	agenthttp "github.com/dojot-es/dojot/agents/http"
	agentsigfox "github.com/dojot-es/dojot/agents/sigfox"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/gateway"
	"github.com/dojot-es/dojot/pki"
	"github.com/dojot-es/dojot/projections/memory"
)

// startAMQP runs the RabbitMQ agent when -amqp-url is set (nil otherwise):
// it consumes and reconnects on its own until ctx is done, and follows
// actuations, both under wg.
func startAMQP(ctx context.Context, cfg *Config, store *eventstore.Store, view *memory.View, log *slog.Logger, wg *sync.WaitGroup) (*agentamqp.Agent, error) {
	if cfg.AMQPURL == "" {
		return nil, nil
	}
	a, err := agentamqp.New(agentamqp.Options{URL: cfg.AMQPURL, Store: store, Devices: view, Group: cfg.AMQPGroup,
		Prefetch: cfg.AMQPPrefetch, Timeout: cfg.WaitTimeout, Logger: log})
	if err != nil {
		return nil, err
	}
	goRun(ctx, wg, log, a.Run, "amqp: stopped")
	goRun(ctx, wg, log, func(ctx context.Context) error { return a.FollowActuations(ctx, store) }, "amqp: following actuations stopped")
	return a, nil
}

// newSigfox is the Sigfox callback when -sigfox-secret is set (nil
// otherwise).
func newSigfox(cfg *Config, store *eventstore.Store, view *memory.View, log *slog.Logger) (*agentsigfox.Agent, error) {
	if cfg.SigfoxSecret == "" {
		return nil, nil
	}
	return agentsigfox.New(agentsigfox.Options{Store: store, Devices: view, Secret: cfg.SigfoxSecret, Timeout: cfg.WaitTimeout, Logger: log})
}

// httpAgent is the HTTP agent and, with -http-agent-tls-addr, its mutual
// TLS server.
type httpAgent struct {
	agent *agenthttp.Agent
	srv   *http.Server
}

func (h *httpAgent) close() {
	if h.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.srv.Shutdown(ctx)
	}
}

// startHTTPAgent builds the HTTP agent when -http-agent is on (nil
// otherwise), for the gateway's port, and serves it over mutual TLS on
// tlsLn when there is one: client certificates checked against the CA, the
// trusted CAs and the view in the handshake, then looked up per request;
// its requests share the gateway's agents' pool (limit).
func startHTTPAgent(cfg *Config, store *eventstore.Store, view *memory.View, creds agenthttp.Credentials, ca *pki.CA, tlsLn net.Listener, limit *gateway.Limit, log *slog.Logger) (*httpAgent, error) {
	if !cfg.HTTPAgent {
		return nil, nil
	}
	certID := &pki.Identifier{CA: ca, Registry: view, LegacyCN: cfg.HTTPAgentCertMode == "cn"}
	a, err := agenthttp.New(agenthttp.Options{Store: store, Devices: view, Credentials: creds, Certs: certID,
		Insecure: cfg.HTTPAgentInsecure, Timeout: cfg.WaitTimeout, Logger: log})
	if err != nil {
		return nil, err
	}
	if cfg.HTTPAgentInsecure {
		log.Warn("http agent: -http-agent-insecure: /http-agent/v1/unsecure/... accepts ?tenant=&deviceId= with no credentials; never in production")
	}
	h := &httpAgent{agent: a}
	if tlsLn == nil {
		return h, nil
	}
	tlsCfg, err := certID.ServerTLS(cfg.X509.sans())
	if err != nil {
		return nil, fmt.Errorf("-mqtts-san: %w", err)
	}
	mux := http.NewServeMux()
	for pattern, handler := range a.Routes() {
		mux.Handle(strings.TrimSuffix(pattern, "*"), handler)
	}
	h.srv = httpServer(limit.Handler(mux), slog.NewLogLogger(log.Handler(), slog.LevelDebug)) // failed handshakes are the devices' business
	h.srv.TLSConfig = tlsCfg
	go func() {
		if err := h.srv.Serve(tls.NewListener(tlsLn, tlsCfg)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http agent: tls listener stopped", "err", err)
		}
	}()
	log.Info("http agent tls listening", "addr", tlsLn.Addr().String(), "cert_mode", cfg.HTTPAgentCertMode)
	return h, nil
}
