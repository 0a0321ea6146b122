package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
)

// flowCommands are the flowbroker's writes (commands.Flows).
type flowCommands interface {
	Create(ctx context.Context, tenant string, body []byte) (dojot.Flow, error)
	Update(ctx context.Context, tenant, id string, body []byte) (dojot.Flow, error)
	Delete(ctx context.Context, tenant, id string) (dojot.Flow, error)
	DeleteAll(ctx context.Context, tenant string) error
}

// flowView is where flows are read (every view).
type flowView interface {
	Flow(ctx context.Context, tenant, id string) (dojot.Flow, bool, error)
	Flows(ctx context.Context, tenant string) ([]dojot.Flow, error)
}

// FlowNode is one entry of GET /flows/nodes: a node type the engine runs,
// as node-RED's registry lists it for editors.
type FlowNode struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Module  string   `json:"module"`
	Version string   `json:"version"`
	Enabled bool     `json:"enabled"`
	Local   bool     `json:"local"`
	Types   []string `json:"types"`
}

// mountFlows serves dojot's flowbroker API at its client paths (Kong's
// /flows prefix kept), behind the PEP (permission /flows/(.*)).
func (s *Server) mountFlows(r chi.Router) {
	r = r.With(jsonType(jsonExpress)) // the flowbroker is an Express service
	r.Method(http.MethodGet, "/flows/v1/flow", tenantHandler(s.listFlows))
	r.Method(http.MethodPost, "/flows/v1/flow", tenantHandler(s.createFlow))
	r.Method(http.MethodDelete, "/flows/v1/flow", tenantHandler(s.deleteFlows))
	r.Method(http.MethodGet, "/flows/v1/flow/{id}", tenantHandler(s.getFlow))
	r.Method(http.MethodPut, "/flows/v1/flow/{id}", tenantHandler(s.updateFlow))
	r.Method(http.MethodDelete, "/flows/v1/flow/{id}", tenantHandler(s.deleteFlow))
	r.Method(http.MethodGet, "/flows/v1/flow/{id}/status", tenantHandler(s.flowStatus))
	r.Method(http.MethodGet, "/flows/nodes", tenantHandler(s.flowNodes))
	if s.opts.FlowReplay != nil {
		s.mountFlowReplay(r)
	}
	// dojot started a container per remote node; this platform runs only
	// its own nodes.
	remote := tenantHandler(func(http.ResponseWriter, *http.Request, string) error {
		return &dojot.Error{Kind: dojot.ErrNotImplemented, Body: map[string]string{
			"message": "Remote nodes are not supported: flows use the built-in nodes of GET /flows/nodes"}}
	})
	r.Handle("/flows/v1/node", remote)
	r.Handle("/flows/v1/node/*", remote)
}

// flowFailed is dojot's 500 of a flow route ({"message":"Failed to list
// flows"}...) for an error of no known kind, which goes to the log; an
// error of a known kind (400, 404, 503...) is answered as it is.
func flowFailed(r *http.Request, msg string, err error) error {
	for kind := range statusOf {
		if errors.Is(err, kind) {
			return err
		}
	}
	logger(r.Context()).ErrorContext(r.Context(), "flows request failed", "err", err, "method", r.Method, "path", r.URL.Path)
	return &dojot.Error{Kind: dojot.ErrInternal, Message: msg, Body: map[string]string{"message": msg}}
}

// flowSummary is the flowbroker's summary of a flow, its keys in dojot's
// order, times in epoch ms.
type flowSummary struct {
	Name    string          `json:"name"`
	Enabled bool            `json:"enabled"`
	ID      string          `json:"id"`
	Flow    json.RawMessage `json:"flow"`
	Created int64           `json:"created"`
	Updated int64           `json:"updated"`
}

func summarize(f dojot.Flow) flowSummary {
	return flowSummary{Name: f.Name, Enabled: f.Enabled, ID: f.ID, Flow: f.Nodes, Created: f.Created.UnixMilli(), Updated: f.Updated.UnixMilli()}
}

type flowAnswer struct {
	Message string      `json:"message"`
	Flow    flowSummary `json:"flow"`
}

func (s *Server) listFlows(w http.ResponseWriter, r *http.Request, tenant string) error {
	flows, err := s.opts.FlowView.Flows(r.Context(), tenant)
	if err != nil {
		return flowFailed(r, "Failed to list flows", err)
	}
	out := make([]flowSummary, len(flows))
	for i, f := range flows {
		out[i] = summarize(f)
	}
	writeJSON(w, http.StatusOK, map[string][]flowSummary{"flows": out})
	return nil
}

// flowBody reads a flow body: as Express's json parser, a body not
// declared as JSON is an empty object.
func flowBody(r *http.Request) ([]byte, error) {
	if !isJSON(r) {
		return []byte("{}"), nil
	}
	return readBody(r)
}

func (s *Server) createFlow(w http.ResponseWriter, r *http.Request, tenant string) error {
	body, err := flowBody(r)
	if err != nil {
		return err
	}
	f, err := s.opts.FlowCommands.Create(r.Context(), tenant, body)
	if err != nil {
		return flowFailed(r, "failed to create flow", err)
	}
	writeJSON(w, http.StatusOK, flowAnswer{"ok", summarize(f)})
	return nil
}

func (s *Server) deleteFlows(w http.ResponseWriter, r *http.Request, tenant string) error {
	if err := s.opts.FlowCommands.DeleteAll(r.Context(), tenant); err != nil {
		return flowFailed(r, "failed to remove flows", err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": "All flows removed"})
	return nil
}

// flowOf is the tenant's flow of the request's :id, or dojot's 404.
func (s *Server) flowOf(r *http.Request, tenant string) (dojot.Flow, error) {
	id := pathParam(r, "id")
	f, ok, err := s.opts.FlowView.Flow(r.Context(), tenant, id)
	if err != nil {
		return f, flowFailed(r, "Failed to get flow", err)
	}
	if !ok {
		return f, commands.FlowNotFound(id)
	}
	return f, nil
}

func (s *Server) getFlow(w http.ResponseWriter, r *http.Request, tenant string) error {
	f, err := s.flowOf(r, tenant)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, flowAnswer{"ok", summarize(f)})
	return nil
}

func (s *Server) updateFlow(w http.ResponseWriter, r *http.Request, tenant string) error {
	body, err := flowBody(r)
	if err != nil {
		return err
	}
	f, err := s.opts.FlowCommands.Update(r.Context(), tenant, pathParam(r, "id"), body)
	if err != nil {
		return flowFailed(r, "Failed to update flows", err)
	}
	writeJSON(w, http.StatusOK, flowAnswer{"ok", summarize(f)})
	return nil
}

func (s *Server) deleteFlow(w http.ResponseWriter, r *http.Request, tenant string) error {
	f, err := s.opts.FlowCommands.Delete(r.Context(), tenant, pathParam(r, "id"))
	if err != nil {
		return flowFailed(r, "Failed to remove flow", err)
	}
	writeJSON(w, http.StatusOK, flowAnswer{"flow removed", summarize(f)})
	return nil
}

// flowStatus is GET /flows/v1/flow/:id/status (ours; dojot had none): the
// engine's counters of the flow in the instance that answers (runs, and
// per node in, out, errors, loops cut, the last error and when), since it
// started; null when the engine is off.
func (s *Server) flowStatus(w http.ResponseWriter, r *http.Request, tenant string) error {
	f, err := s.flowOf(r, tenant)
	if err != nil {
		return err
	}
	id := f.ID
	var stats any
	if s.opts.FlowStats != nil {
		stats = s.opts.FlowStats(id)
	}
	writeJSON(w, http.StatusOK, map[string]any{"flow": id, "stats": stats})
	return nil
}

// flowNodes is GET /flows/nodes as JSON (node-RED's registry entries);
// dojot also served the editor's HTML there, which this platform does not.
func (s *Server) flowNodes(w http.ResponseWriter, _ *http.Request, _ string) error {
	nodes := s.opts.FlowNodes
	if nodes == nil {
		nodes = []FlowNode{}
	}
	writeJSON(w, http.StatusOK, nodes)
	return nil
}
