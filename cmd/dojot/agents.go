package main

import (
	"context"
	"log/slog"
	"sync"

	agentamqp "github.com/dojot-es/dojot/agents/amqp"
	agentsigfox "github.com/dojot-es/dojot/agents/sigfox"
	"github.com/dojot-es/dojot/eventstore"
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
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = a.Run(ctx)
	}()
	go func() {
		defer wg.Done()
		if err := a.FollowActuations(ctx, store); err != nil {
			log.Error("amqp: following actuations stopped", "err", err)
		}
	}()
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
