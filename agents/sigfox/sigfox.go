package sigfox

import (
	"bytes"
	"crypto/subtle"
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

// Devices finds devices by a static attribute's value (the memory view).
type Devices interface {
	DevicesByStatic(label, value string) []dojot.DeviceKey
}

// Options configure an Agent. A zero field means its default.
type Options struct {
	Store   Appender // required
	Devices Devices  // required
	// Secret is what a callback must send as "Authorization: Bearer
	// <Secret>" (required).
	Secret string
	// MaxBody is the largest callback body accepted, in bytes (default
	// 256000, as the other agents).
	MaxBody int64
	// Timeout bounds the wait for JetStream to store the readings (default
	// 5 s).
	Timeout time.Duration
	Logger  *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// A reason a callback is refused.
type reason int

const (
	refusedAuth reason = iota
	refusedBadBody
	refusedTooLarge
	refusedUnknownDevice
	refusedStoreFailed
	refusedTenants
	numReasons
)

var reasonNames = [numReasons]string{"auth", "bad_body", "too_large", "unknown_device", "store_failed", "several_tenants"}

// Agent is the Sigfox callback endpoint, an http.Handler.
type Agent struct {
	opts     Options
	accepted atomic.Uint64
	stored   atomic.Uint64
	refused  *agents.Refusals
}

// New checks opts.
func New(opts Options) (*Agent, error) {
	if opts.Store == nil || opts.Devices == nil {
		return nil, errors.New("sigfox: Store and Devices are required")
	}
	if opts.Secret == "" {
		return nil, errors.New("sigfox: a shared secret is required")
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

// refuse is a callback's refusal, counted under r.
func refuse(r reason, code int, format string, args ...any) *agents.Refusal {
	return agents.Refuse(int(r), code, format, args...)
}

// Routes are the agent's paths, for the gateway's router, as every
// agent's.
func (a *Agent) Routes() map[string]http.Handler { return map[string]http.Handler{"/sigfox": a} }

// ServeHTTP is POST /sigfox.
func (a *Agent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		agents.WriteError(w, http.StatusMethodNotAllowed, "Method not allowed")
		return
	}
	err := a.callback(r)
	var rf *agents.Refusal
	if errors.As(err, &rf) {
		if n, log := a.refused.Add(rf.Reason); log {
			a.opts.Logger.Warn("sigfox: callback refused", "reason", reasonNames[rf.Reason], "err", rf.Msg, "count", n)
		}
		agents.WriteError(w, rf.Code, rf.Msg)
		return
	}
	a.accepted.Add(1)
	w.WriteHeader(http.StatusOK)
}

func (a *Agent) callback(r *http.Request) error {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(a.opts.Secret)) != 1 {
		return refuse(refusedAuth, http.StatusUnauthorized, "Missing or wrong shared secret (Authorization: Bearer <secret>)")
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, a.opts.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return refuse(refusedTooLarge, http.StatusRequestEntityTooLarge, "Body larger than %d bytes", a.opts.MaxBody)
		}
		return refuse(refusedBadBody, http.StatusBadRequest, "Could not read the body")
	}
	attrs, ts, sigfoxID, err := parse(body)
	if err != nil {
		return refuse(refusedBadBody, http.StatusBadRequest, "%s", err.Error())
	}
	devices, oneTenant := agents.ForTenant(a.opts.Devices.DevicesByStatic(dojot.AttrSigfoxDevice, sigfoxID), r.URL.Query().Get("tenant"))
	if len(devices) == 0 {
		return refuse(refusedUnknownDevice, http.StatusNotFound, "No device has the Sigfox id %q", sigfoxID)
	}
	if !oneTenant {
		return refuse(refusedTenants, http.StatusConflict, "Devices of several tenants have the Sigfox id %q: add ?tenant=<tenant> to the callback's URL", sigfoxID)
	}
	if ts == 0 {
		ts = a.opts.Now().UnixMilli()
	}
	waits := make([]func(<-chan time.Time) (uint64, error), 0, len(devices))
	for _, d := range devices {
		wait, err := a.opts.Store.AppendDataAsync(d.Tenant, d.ID, dojot.Reading(d.Tenant, d.ID, ts, attrs))
		if err != nil {
			return refuse(refusedStoreFailed, http.StatusServiceUnavailable, "Reading not stored: %v", err)
		}
		waits = append(waits, wait)
	}
	timer := time.NewTimer(a.opts.Timeout)
	defer timer.Stop()
	for _, wait := range waits {
		if _, err := wait(timer.C); err != nil {
			return refuse(refusedStoreFailed, http.StatusServiceUnavailable, "Reading not stored: %v", err)
		}
		a.stored.Add(1)
	}
	return nil
}

// parse reads a callback body: the attrs dojot publishes (the body,
// "timestamp" as an ISO string, "station_coordinates" added), the
// message's time in epoch ms (0: none) and the Sigfox id.
func parse(body []byte) (attrs []byte, ts int64, sigfoxID string, err error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil {
		return nil, 0, "", errors.New("The body must be a JSON object")
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, 0, "", errors.New("The body must be one JSON object")
	}
	switch id := m["device"].(type) {
	case string:
		sigfoxID = id
	case json.Number:
		sigfoxID = id.String()
	}
	if sigfoxID == "" {
		return nil, 0, "", errors.New(`"device" (the Sigfox id) is missing`)
	}
	if raw, ok := m["timestamp"]; ok {
		secs, ok := seconds(raw)
		if !ok {
			return nil, 0, "", errors.New(`"timestamp" must be a number of seconds since the epoch`)
		}
		t := time.UnixMilli(int64(secs * 1000)).UTC()
		m["timestamp"] = t.Format("2006-01-02T15:04:05.000Z")
		ts = t.UnixMilli()
	}
	lat, latOK := coordinate(m["station_lat"])
	lng, lngOK := coordinate(m["station_lng"])
	if latOK && lngOK {
		m["station_coordinates"] = lat + "," + lng
	}
	attrs, err = json.Marshal(m)
	return attrs, ts, sigfoxID, err
}

// seconds reads a Unix time in seconds, a JSON number or a numeric string
// (JavaScript's arithmetic takes both).
func seconds(v any) (float64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e11 {
		return 0, false
	}
	return f, true
}

// coordinate is a station coordinate as JavaScript's toString writes it.
func coordinate(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return "", false
		}
		return strconv.FormatFloat(f, 'f', -1, 64), true
	case string:
		return x, true
	}
	return "", false
}
