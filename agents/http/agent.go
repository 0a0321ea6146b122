package http

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/agents"
)

// Appender stores device readings in the DATA stream
// (eventstore.Store.AppendDataAsync).
type Appender interface {
	AppendDataAsync(tenant, deviceID string, payload []byte) (wait func(expired <-chan time.Time) (uint64, error), err error)
}

// Devices says whether a device exists (the memory view).
type Devices interface {
	Device(tenant, id string) (dojot.Device, bool)
}

// Credentials checks a device's basic-auth password
// (commands.Devices.CheckDeviceCredentials).
type Credentials interface {
	CheckDeviceCredentials(tenant, deviceID, password string) bool
}

// Certs is the identity of a client certificate the TLS handshake verified
// (pki.Identifier.Lookup).
type Certs interface {
	Lookup(leafDER []byte) (dojot.CertIdentity, error)
}

// Options configure an Agent. A zero field means its default.
type Options struct {
	Store       Appender    // required
	Devices     Devices     // required
	Credentials Credentials // required
	// Certs identifies clients of the TLS listener; nil: no certificates.
	Certs Certs
	// Insecure lets /unsecure/ requests name their device with
	// ?tenant=&deviceId=, with no credentials (dojot's params mode; tests
	// only).
	Insecure bool
	// MaxBody is the largest body accepted (default 256000 bytes, dojot's
	// express.parsing.limit).
	MaxBody int64
	// Timeout bounds the wait for JetStream to store a request's readings
	// (default 5 s).
	Timeout time.Duration
	Logger  *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// A reason a request is refused.
type reason int

const (
	refusedAuth reason = iota
	refusedUnknownDevice
	refusedBadBody
	refusedSchema
	refusedTooLarge
	refusedStoreFailed
	numReasons
)

var reasonNames = [numReasons]string{"auth", "unknown_device", "bad_body", "schema", "too_large", "store_failed"}

// Agent is dojot's HTTP agent, an http.Handler for its routes.
type Agent struct {
	opts     Options
	accepted atomic.Uint64
	stored   atomic.Uint64
	refused  *agents.Refusals
}

// New checks opts.
func New(opts Options) (*Agent, error) {
	if opts.Store == nil || opts.Devices == nil || opts.Credentials == nil {
		return nil, errors.New("http agent: Store, Devices and Credentials are required")
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 256000
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Agent{opts: opts, refused: agents.NewRefusals(reasonNames[:]...)}, nil
}

// Routes are the agent's paths, for the gateway's router.
func (a *Agent) Routes() map[string]http.Handler {
	return map[string]http.Handler{"/http-agent/v1/*": a, "/iotagent/readings": a}
}

// Status is what /healthz shows of the agent.
type Status struct {
	Accepted uint64            `json:"accepted"`
	Stored   uint64            `json:"stored"`
	Refused  map[string]uint64 `json:"refused"`
}

// Counts are the readings stored and those refused, by reason: what
// /metrics reads at each scrape, without the rest of Status.
func (a *Agent) Counts() (stored uint64, refused map[string]uint64) {
	return a.stored.Load(), a.refused.Map()
}

// Status reports the counters.
func (a *Agent) Status() Status {
	return Status{Accepted: a.accepted.Load(), Stored: a.stored.Load(), Refused: a.refused.Map()}
}

// refusal is an answer other than success: the reason counted, the status
// and the body.
type refusal struct {
	reason reason
	code   int
	body   any
}

func (r *refusal) Error() string { b, _ := json.Marshal(r.body); return string(b) }

// schemaFailure is dojot's 400 for a body its schema refuses, its keys
// in dojot's order.
type schemaFailure struct {
	Error  string       `json:"error"`
	Detail schemaDetail `json:"detail"`
}

type schemaDetail struct {
	SchemaID     string        `json:"schemaId"`
	SchemaErrors []schemaError `json:"schemaErrors"`
}

// refuse is a refusal with the agent's {"error": ...}.
func refuse(r reason, code int, msg any) *refusal {
	return &refusal{r, code, map[string]any{"error": msg}}
}

func (a *Agent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var err error
	switch r.URL.Path {
	case "/http-agent/v1/incoming-messages", "/http-agent/v1/unsecure/incoming-messages":
		err = a.post(w, r, false)
	case "/http-agent/v1/incoming-messages/create-many", "/http-agent/v1/unsecure/incoming-messages/create-many":
		err = a.post(w, r, true)
	case "/iotagent/readings":
		err = a.legacy(w, r)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Not found"})
		return
	}
	var rf *refusal
	if errors.As(err, &rf) {
		if n, log := a.refused.Add(int(rf.reason)); log {
			a.opts.Logger.Warn("http agent: request refused", "path", r.URL.Path, "reason", reasonNames[rf.reason], "answer", rf.Error(), "count", n)
		}
		writeJSON(w, rf.code, rf.body)
		return
	}
	a.accepted.Add(1)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// post is POST /http-agent/v1[/unsecure]/incoming-messages[/create-many].
func (a *Agent) post(w http.ResponseWriter, r *http.Request, many bool) error {
	if r.Method != http.MethodPost {
		return refuse(refusedBadBody, http.StatusMethodNotAllowed, "Method not allowed")
	}
	id, err := a.identify(r)
	if err != nil {
		return err
	}
	body, err := a.body(r)
	if err != nil {
		return err
	}
	var msgs []message
	var errs []schemaError
	schema := SchemaSingle
	if many {
		schema = SchemaMultiple
		msgs, errs = checkBatch(body)
	} else if jsonType(body) != "object" {
		errs = []schemaError{{"", "#/type", "type", map[string]any{"type": "object"}, "must be object"}}
	} else {
		var m message
		m, errs = checkMessage(body, "", "#", false)
		msgs = []message{m}
	}
	if len(errs) > 0 {
		return &refusal{refusedSchema, http.StatusBadRequest, schemaFailure{Error: "Input data schema validation failure.",
			Detail: schemaDetail{SchemaID: schema, SchemaErrors: errs}}}
	}
	readings := make([][]byte, len(msgs))
	for i, m := range msgs {
		ts, ok := a.timestamp(m.TS)
		if !ok {
			return refuse(refusedSchema, http.StatusBadRequest, "Invalid timestamp")
		}
		readings[i] = dojot.Reading(id.Tenant, id.Device, ts, m.Data)
	}
	if errs := a.store(id, readings); errs != nil {
		if !many {
			return refuse(refusedStoreFailed, http.StatusServiceUnavailable, errs["0"])
		}
		return refuse(refusedStoreFailed, http.StatusServiceUnavailable, errs)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// timestamp is dojot's parseTimestamp: no ts (or 0) is now, an integer is
// ms since the epoch, a date-time string its instant, which must be after
// the epoch.
func (a *Agent) timestamp(raw json.RawMessage) (int64, bool) {
	if n, ok := integer(raw); ok {
		if n == 0 {
			return a.opts.Now().UnixMilli(), true
		}
		return int64(n), n < 1<<63
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return a.opts.Now().UnixMilli(), true // absent
	}
	t, ok := parseDateTime(s)
	if !ok || t.UnixMilli() <= 0 {
		return 0, false
	}
	return t.UnixMilli(), true
}

// store appends every reading of one device, in order, and waits until
// JetStream stored them all: nil, or the failures by index.
func (a *Agent) store(id dojot.CertIdentity, readings [][]byte) map[string]string {
	waits := make([]func(<-chan time.Time) (uint64, error), len(readings))
	failed := map[string]string{}
	for i, rd := range readings {
		wait, err := a.opts.Store.AppendDataAsync(id.Tenant, id.Device, rd)
		if err != nil {
			failed[strconv.Itoa(i)] = err.Error()
			continue
		}
		waits[i] = wait
	}
	timer := time.NewTimer(a.opts.Timeout)
	defer timer.Stop()
	for i, wait := range waits {
		if wait == nil {
			continue
		}
		if _, err := wait(timer.C); err != nil {
			failed[strconv.Itoa(i)] = err.Error()
			continue
		}
		a.stored.Add(1)
	}
	if len(failed) > 0 {
		return failed
	}
	return nil
}

// body reads a JSON body of at most MaxBody bytes.
func (a *Agent) body(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, a.opts.MaxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, refuse(refusedTooLarge, http.StatusRequestEntityTooLarge, "request entity too large")
	}
	if err != nil {
		return nil, refuse(refusedBadBody, http.StatusBadRequest, "could not read the body")
	}
	if !json.Valid(b) {
		return nil, refuse(refusedBadBody, http.StatusBadRequest, "The body is not valid JSON")
	}
	return b, nil
}

// identify finds the device a request is from, as dojot's interceptor
// does: a client certificate on the TLS listener; on plain HTTP basic
// credentials (<tenant>@<deviceid>, the password POST
// /basic-auth/v1/devices/:id/basic-credentials gave), or with Insecure
// ?tenant=&deviceId= on /unsecure/ paths. The device must exist.
func (a *Agent) identify(r *http.Request) (dojot.CertIdentity, error) {
	var id dojot.CertIdentity
	switch {
	case r.TLS != nil && len(r.TLS.PeerCertificates) > 0 && a.opts.Certs != nil:
		var err error
		if id, err = a.opts.Certs.Lookup(r.TLS.PeerCertificates[0].Raw); err != nil {
			return id, refuse(refusedAuth, http.StatusForbidden, "Client certificate is invalid")
		}
	case a.opts.Insecure && strings.Contains(r.URL.Path, "/unsecure/") && r.Header.Get("Authorization") == "":
		q := r.URL.Query()
		id = dojot.CertIdentity{Tenant: q.Get("tenant"), Device: q.Get("deviceId")}
		if id.Tenant == "" || id.Device == "" {
			return id, refuse(refusedAuth, http.StatusUnauthorized, "Unidentified parameters")
		}
	case r.Header.Get("Authorization") != "":
		var err error
		if id, err = a.basic(r.Header.Get("Authorization")); err != nil {
			return id, err
		}
	default:
		return id, refuse(refusedAuth, http.StatusBadRequest, "Unable to authenticate")
	}
	if !dojot.ValidTenant(id.Tenant) || !dojot.ValidToken(id.Device) {
		return id, refuse(refusedUnknownDevice, http.StatusNotFound, "No such device")
	}
	if _, ok := a.opts.Devices.Device(id.Tenant, id.Device); !ok {
		return id, refuse(refusedUnknownDevice, http.StatusNotFound, "No such device")
	}
	return id, nil
}

// basic checks "Basic base64(<tenant>@<deviceid>:<password>)".
func (a *Agent) basic(header string) (dojot.CertIdentity, error) {
	bad := refuse(refusedAuth, http.StatusUnauthorized, "Invalid Basic token.")
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return dojot.CertIdentity{}, bad
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil {
		return dojot.CertIdentity{}, bad
	}
	user, password, ok := strings.Cut(string(raw), ":")
	tenant, device, ok2 := strings.Cut(user, "@")
	if !ok || !ok2 {
		return dojot.CertIdentity{}, bad
	}
	if !a.opts.Credentials.CheckDeviceCredentials(tenant, device, password) {
		return dojot.CertIdentity{}, refuse(refusedAuth, http.StatusUnauthorized, "Invalid credentials.")
	}
	return dojot.CertIdentity{Tenant: tenant, Device: device}, nil
}
