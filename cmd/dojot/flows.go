package main

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/dojot-es/dojot/flows"
	"github.com/dojot-es/dojot/gateway"
)

// checkFlow is the flow engine's parser as the flows API's check: a flow
// the engine could not run is refused when it is saved, with the engine's
// reasons as the 400's detail.
func checkFlow(raw json.RawMessage) error {
	var nodes []json.RawMessage
	if err := json.Unmarshal(raw, &nodes); err != nil {
		return err
	}
	_, err := flows.Parse(nodes)
	var inv *flows.InvalidError
	if errors.As(err, &inv) {
		return errors.New(strings.TrimPrefix(inv.Error(), "invalid flow: "))
	}
	return err
}

// flowNodes is GET /flows/nodes: the engine's node types as node-RED's
// registry lists them.
func flowNodes() []gateway.FlowNode {
	types := flows.Types()
	slices.Sort(types)
	out := make([]gateway.FlowNode, len(types))
	for i, t := range types {
		out[i] = gateway.FlowNode{ID: "dojot/" + t, Name: t, Module: "dojot", Version: "1.0.0", Enabled: true, Local: true, Types: []string{t}}
	}
	return out
}
