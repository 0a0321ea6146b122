package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
)

// FlowReplay is a replay request as the gateway read it: run a flow over
// the stored readings and device events of [From, To] in a sandbox
// (flows/replay does it). FlowID is "" for a flow not saved; zero From,
// To and Limit take the replayer's defaults.
type FlowReplay struct {
	Tenant   string
	FlowID   string
	Nodes    json.RawMessage
	From, To time.Time
	Limit    int
}

// replayParams are a replay's range and limit, as JSON body keys or query
// parameters; each a string (ISO 8601, or digits: epoch ms) or a number
// (epoch ms).
type replayParams struct {
	Flow  json.RawMessage `json:"flow"`
	From  json.RawMessage `json:"from"`
	To    json.RawMessage `json:"to"`
	Limit json.RawMessage `json:"limit"`
}

// mountFlowReplay serves POST /flows/v1/flow/:id/replay (a saved flow,
// enabled or not) and POST /flows/v1/replay (a flow in the body, not
// saved); ours, dojot had neither.
func (s *Server) mountFlowReplay(r chi.Router) {
	r.Method(http.MethodPost, "/flows/v1/flow/{id}/replay", tenantHandler(s.replaySavedFlow))
	r.Method(http.MethodPost, "/flows/v1/replay", tenantHandler(s.replayFlow))
}

func (s *Server) replaySavedFlow(w http.ResponseWriter, r *http.Request, tenant string) error {
	f, err := s.flowOf(r, tenant)
	if err != nil {
		return err
	}
	p, err := readReplayParams(r)
	if err != nil {
		return err
	}
	return s.replay(r.Context(), w, tenant, f.ID, f.Nodes, p)
}

func (s *Server) replayFlow(w http.ResponseWriter, r *http.Request, tenant string) error {
	p, err := readReplayParams(r)
	if err != nil {
		return err
	}
	if len(p.Flow) == 0 {
		return replayInvalid("Missing mandatory field: flow")
	}
	return s.replay(r.Context(), w, tenant, "", p.Flow, p)
}

func (s *Server) replay(ctx context.Context, w http.ResponseWriter, tenant, id string, nodes json.RawMessage, p replayParams) error {
	req := FlowReplay{Tenant: tenant, FlowID: id, Nodes: nodes}
	var err error
	if req.From, err = replayTime("from", p.From); err != nil {
		return err
	}
	if req.To, err = replayTime("to", p.To); err != nil {
		return err
	}
	if len(p.Limit) > 0 {
		var n float64
		digits := strings.Trim(string(p.Limit), `"`)
		if n, err = strconv.ParseFloat(digits, 64); err != nil || n != float64(int(n)) || n < 1 {
			return replayInvalid(fmt.Sprintf("limit must be a positive integer, not %s", p.Limit))
		}
		req.Limit = int(n)
	}
	res, err := s.opts.FlowReplay(ctx, req)
	// A flow the engine cannot run: the flows API's 400, its problems as
	// the detail (flows.InvalidError).
	var inv interface{ Detail() string }
	if errors.Is(err, dojot.ErrInvalid) && errors.As(err, &inv) {
		return commands.FlowInvalid(inv.Detail())
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// readReplayParams reads the JSON body (optional for a saved flow) and
// the query parameters from, to and limit; a key in the body wins.
func readReplayParams(r *http.Request) (replayParams, error) {
	var p replayParams
	body, err := readBody(r)
	if err != nil {
		return p, err
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if !isJSON(r) {
			return p, replayInvalid("Payload must be a JSON object, and Content-Type application/json")
		}
		if t, _ := json.NewDecoder(bytes.NewReader(body)).Token(); t != json.Delim('{') || json.Unmarshal(body, &p) != nil {
			return p, replayInvalid("Payload must be a JSON object")
		}
	}
	q := r.URL.Query()
	for key, dst := range map[string]*json.RawMessage{"from": &p.From, "to": &p.To, "limit": &p.Limit} {
		if v, ok := q[key]; ok && len(*dst) == 0 {
			*dst, _ = json.Marshal(v[len(v)-1])
		}
	}
	return p, nil
}

// replayTime reads from or to: epoch ms as a number or a string of digits,
// or an ISO 8601 time (a time without an offset is UTC). Absent or null
// is the zero time (the default).
func replayTime(key string, raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	bad := replayInvalid(fmt.Sprintf("%s must be an ISO 8601 time or epoch milliseconds, not %s", key, raw))
	var ms int64
	if json.Unmarshal(raw, &ms) == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil || s == "" {
		return time.Time{}, bad
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, bad
}

// replayInvalid is a 400 in the flowbroker's shape, {"message":...}.
func replayInvalid(msg string) error {
	return &dojot.Error{Kind: dojot.ErrInvalid, Message: msg, Body: map[string]string{"message": msg}}
}
