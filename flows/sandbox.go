package flows

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/dojot-es/dojot"
)

// Recorder performs no side effect: it records each one, for the sandbox
// a replay runs in (issue 17: "actuations, device outs, notifications,
// http calls are recorded, not performed") and for tests. Its context
// store is a MemoryContext, so cumulative sum and merge data behave over
// a replay as they would live, without touching the live contexts. An
// http call answers 200 with an empty body; a cron job gets the id
// "sandbox-<n>".
type Recorder struct {
	mu      sync.Mutex
	Effects []Effect
	Context *MemoryContext
	node    string // the node running now (RunObserver)
	crons   int    // jobs created: ids stay unique after a Take
}

// Effect is one recorded side effect: Kind is data, actuation,
// notification, ftp, ftp-upload, http, cron-create or cron-remove, and
// Value the matching struct (DeviceData, Actuation, Notification, FTPFile,
// FTPUpload, HTTPCall, json.RawMessage, string). As an Observer the
// Recorder also records each message a node emits: Kind "emit", Value an
// Emit; as a RunObserver each node failure: Kind "error", Value the
// error's text. Node is the node that ran when the effect was recorded
// (empty when the Recorder is not the engine's Observer).
type Effect struct {
	Kind   string `json:"kind"`
	Node   string `json:"node,omitempty"`
	Tenant string `json:"tenant,omitempty"`
	Value  any    `json:"value"`
}

// Emit is a message a node sent on a port.
type Emit struct {
	Flow string `json:"flow"`
	Node string `json:"node"`
	Port int    `json:"port"`
	Msg  Msg    `json:"msg"`
}

// Emitted makes the Recorder an Observer: pass it as Options.Observer to
// see every node's output in a replay.
func (r *Recorder) Emitted(flowID, nodeID string, port int, msg Msg) {
	r.add("emit", "", Emit{Flow: flowID, Node: nodeID, Port: port, Msg: msg})
}

// Running makes the Recorder a RunObserver: the effects recorded next
// are the node's.
func (r *Recorder) Running(_, nodeID string) {
	r.mu.Lock()
	r.node = nodeID
	r.mu.Unlock()
}

// Failed records a node's failure (Kind "error").
func (r *Recorder) Failed(_, _ string, err error) { r.add("error", "", err.Error()) }

// HTTPCall is a recorded http request.
type HTTPCall struct {
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Header  http.Header `json:"header,omitempty"`
	Body    string      `json:"body,omitempty"`
	Timeout bool        `json:"-"`
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{Context: NewMemoryContext()} }

// AsEffects is the Effects that record into r.
func (r *Recorder) AsEffects() Effects {
	return Effects{Data: r, Actuator: r, Notifier: r, FTP: r, Uploader: r, HTTP: r, Cron: r, Context: r.Context}
}

func (r *Recorder) add(kind, tenant string, v any) {
	r.mu.Lock()
	r.Effects = append(r.Effects, Effect{Kind: kind, Node: r.node, Tenant: tenant, Value: v})
	r.mu.Unlock()
}

// Recorded returns a copy of the effects recorded so far.
func (r *Recorder) Recorded() []Effect {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Effect(nil), r.Effects...)
}

// Take returns the effects recorded so far and forgets them: a replay
// takes each input's after its run.
func (r *Recorder) Take() []Effect {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.Effects
	r.Effects = nil
	r.node = ""
	return out
}

func (r *Recorder) PublishData(_ context.Context, d DeviceData) error {
	r.add("data", d.Tenant, d)
	return nil
}

func (r *Recorder) Actuate(_ context.Context, a Actuation) error {
	r.add("actuation", a.Tenant, a)
	return nil
}

func (r *Recorder) Notify(_ context.Context, tenant string, n Notification) error {
	r.add("notification", tenant, n)
	return nil
}

func (r *Recorder) PublishFTP(_ context.Context, tenant string, f FTPFile) error {
	r.add("ftp", tenant, f)
	return nil
}

func (r *Recorder) Upload(_ context.Context, u FTPUpload) error {
	r.add("ftp-upload", "", u)
	return nil
}

func (r *Recorder) Do(req *http.Request) (*http.Response, error) {
	call := HTTPCall{Method: req.Method, URL: req.URL.String(), Header: req.Header}
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		call.Body = string(b)
	}
	r.add("http", "", call)
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(nil)), Request: req}, nil
}

func (r *Recorder) CreateJob(_ context.Context, tenant, _ string, job json.RawMessage) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Effects = append(r.Effects, Effect{Kind: "cron-create", Node: r.node, Tenant: tenant, Value: job})
	r.crons++
	return "sandbox-" + strconv.Itoa(r.crons), nil
}

func (r *Recorder) RemoveJob(_ context.Context, tenant, id string) error {
	r.add("cron-remove", tenant, id)
	return nil
}

// MemoryContext is a ContextStore in memory: the sandbox's, the tests',
// and the reference the JetStream KV store must match.
type MemoryContext struct {
	mu   sync.Mutex
	data map[ContextKey]memEntry
	rev  uint64
}

type memEntry struct {
	value []byte
	rev   uint64
}

// NewMemoryContext returns an empty store.
func NewMemoryContext() *MemoryContext { return &MemoryContext{data: map[ContextKey]memEntry{}} }

func (m *MemoryContext) Get(_ context.Context, key ContextKey) ([]byte, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.data[key]
	return e.value, e.rev, nil
}

func (m *MemoryContext) CompareAndSet(_ context.Context, key ContextKey, value []byte, revision uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data[key].rev != revision {
		return fmt.Errorf("context %s: %w", key, dojot.ErrConflict)
	}
	m.rev++
	m.data[key] = memEntry{value: append([]byte(nil), value...), rev: m.rev}
	return nil
}

// Set stores a context unconditionally (tests, and the API of a tenant
// context nobody else writes).
func (m *MemoryContext) Set(key ContextKey, value []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rev++
	m.data[key] = memEntry{value: append([]byte(nil), value...), rev: m.rev}
}
