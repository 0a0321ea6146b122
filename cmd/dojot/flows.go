package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"

	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/flows"
	"github.com/dojot-es/dojot/flows/broker"
	flowsreplay "github.com/dojot-es/dojot/flows/replay"
	"github.com/dojot-es/dojot/gateway"
	"github.com/dojot-es/dojot/projections/memory"
)

// startFlows runs the flows of every tenant on the devices' inputs, unless
// -flows-engine=false, under wg until ctx is done.
func startFlows(ctx context.Context, cfg *Config, store *eventstore.Store, view *memory.View, devices *commands.Devices, cronJobs *commands.Cron, log *slog.Logger, wg *sync.WaitGroup) (*broker.Broker, error) {
	if !cfg.FlowsEngine {
		return nil, nil
	}
	kv, err := store.KV(ctx, "FLOW_CONTEXT")
	if err != nil {
		return nil, err
	}
	b, err := broker.New(broker.Options{Store: store, View: view, Actuator: devices, Contexts: broker.KVContexts{KV: kv},
		Cron:  cronJobs, // in process: the cron nodes' jobs are the cron API's
		Group: cfg.FlowsGroup, Logger: log})
	if err != nil {
		return nil, err
	}
	goRun(ctx, wg, log, b.Run, "flows: stopped")
	return b, nil
}

// flowReplay runs a flow over the past in a sandbox (flows/replay), for
// the gateway's replay routes. It needs no engine: -flows-engine=false
// still replays.
func flowReplay(store *eventstore.Store, view *memory.View, log *slog.Logger) func(context.Context, gateway.FlowReplay) (any, error) {
	p := &flowsreplay.Replayer{Store: store, View: view, Logger: log}
	return func(ctx context.Context, r gateway.FlowReplay) (any, error) {
		return p.Replay(ctx, flowsreplay.Request{Tenant: r.Tenant, FlowID: r.FlowID, Nodes: r.Nodes, From: r.From, To: r.To, Limit: r.Limit})
	}
}

// checkFlow is the flow engine's parser as the flows API's check: a flow
// the engine could not run is refused when it is saved, with the engine's
// reasons as the 400's detail.
func checkFlow(raw json.RawMessage) error { return flows.Check(raw) }

// flowNodes is GET /flows/nodes: the engine's palette.
func flowNodes() []gateway.FlowNode {
	palette := flows.Palette()
	out := make([]gateway.FlowNode, len(palette))
	for i, n := range palette {
		out[i] = gateway.FlowNode(n)
	}
	return out
}
