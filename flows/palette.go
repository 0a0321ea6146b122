package flows

import (
	"sort"
	"strings"
)

// NodeInfo is one entry of dojot's GET /flows/nodes (Accept:
// application/json): the node's getMetadata() plus enabled, local and
// types, as dojot's nodeManager lists them.
type NodeInfo struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Module  string   `json:"module"`
	Version string   `json:"version"`
	Enabled bool     `json:"enabled"`
	Local   bool     `json:"local"`
	Types   []string `json:"types"`
}

// Palette lists the node types this engine runs, heads included, sorted
// by name, as dojot's GET /flows/nodes does ("dojot/<type with dashes>").
func Palette() []NodeInfo {
	types := Types()
	sort.Strings(types)
	out := make([]NodeInfo, len(types))
	for i, t := range types {
		out[i] = NodeInfo{ID: "dojot/" + strings.ReplaceAll(t, " ", "-"), Name: t, Module: "dojot", Version: "1.0.0", Enabled: true, Local: true, Types: []string{t}}
	}
	return out
}
