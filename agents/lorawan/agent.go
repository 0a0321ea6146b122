package lorawan

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/agents"
	"github.com/dojot-es/dojot/eventstore"
)

// Static attributes a LoRaWAN device's template (or the device) may carry
// besides dev_eui (dojot.AttrDevEUI).
const (
	// AttrDecoder names the decoder of the device's raw payload when the
	// network server sent no decoded object: "hex", "decentlab" or
	// "json" (Decoders).
	AttrDecoder = "lora_decoder"
	// AttrEncoder names how an actuation's attrs become the downlink's
	// bytes: "json" (default) or "hex" (Encode).
	AttrEncoder = "lora_encoder"
	// AttrFPort is the LoRaWAN port of the device's downlinks, 1 to 223
	// (default 1).
	AttrFPort = "lora_fport"
	// AttrNetwork is the network server an actuation goes through,
	// "chirpstack" or "tts": needed only when both are configured.
	AttrNetwork = "lora_network"
	// AttrTTSDeviceID is the device's end device ID in The Things Stack,
	// for downlinks (default "eui-<dev_eui in lower case>", the ID the TTS
	// Console proposes).
	AttrTTSDeviceID = "tts_device_id"
)

// Appender stores device readings in the DATA stream
// (eventstore.Store.AppendDataAsync).
type Appender interface {
	AppendDataAsync(tenant, deviceID string, payload []byte) (wait func(expired <-chan time.Time) (uint64, error), err error)
}

// Devices finds devices by their dev_eui and reads their static attributes
// (the memory view, which follows the event log).
type Devices interface {
	DevicesByStatic(label, value string) []dojot.DeviceKey
	StaticValue(tenant, id, label string) (string, bool)
}

// Events is the event log as actuation reads it (eventstore.Store).
type Events interface {
	FollowShared(ctx context.Context, sh eventstore.Share, fn func(ev dojot.Event) error) error
}

// Options configure an Agent. Each network server is on when its settings
// are; a zero field otherwise means its default.
type Options struct {
	Store   Appender // required
	Devices Devices  // required

	// ChirpStackSecret turns on POST /lorawan/chirpstack, ChirpStack v4's
	// HTTP integration (JSON encoding), which must send it as
	// "Authorization: Bearer <secret>" (a header of the integration).
	ChirpStackSecret string
	// ChirpStackURL and ChirpStackToken turn on downlinks through
	// ChirpStack's REST API (chirpstack-rest-api, e.g.
	// http://chirpstack:8090) with an API token.
	ChirpStackURL, ChirpStackToken string

	// TTSSecret turns on POST /lorawan/tts, The Things Stack v3's webhook
	// (JSON format), which must send it as "Authorization: Bearer
	// <secret>" (an additional header of the webhook).
	TTSSecret string
	// TTSURL and TTSKey turn on downlinks through the webhook's push
	// operation: TTSURL is the webhook's API path,
	// https://<host>/api/v3/as/applications/<app>/webhooks/<webhook>, TTSKey
	// an API key with the right to write downlinks.
	TTSURL, TTSKey string

	// EverynetURL and EverynetToken turn on dojot's Everynet mode: a
	// websocket client to <EverynetURL>?access_token=<EverynetToken>
	// (ws:// or wss://).
	EverynetURL, EverynetToken string

	// Group names the JetStream consumer that hands each actuation to one
	// instance (default "dojot").
	Group string
	// MaxBody is the largest webhook body or Everynet message accepted, in
	// bytes (default 256000, as the other agents).
	MaxBody int64
	// Timeout bounds the wait for JetStream to store readings and for a
	// network server to take a downlink (default 5 s).
	Timeout time.Duration
	// Client makes the downlink requests (default: one with Timeout).
	Client *http.Client
	Logger *slog.Logger
	// Now is the clock, for uplinks without a time (default time.Now).
	Now func() time.Time
}

var groupRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Enabled tells whether opts turn any part of the agent on.
func (o *Options) Enabled() bool {
	return o.ChirpStackSecret != "" || o.ChirpStackURL != "" || o.TTSSecret != "" || o.TTSURL != "" || o.EverynetURL != ""
}

// Validate checks the network servers' settings (not Store and Devices).
func (o Options) Validate() error {
	if !o.Enabled() {
		return errors.New("lorawan: no network server configured")
	}
	for _, d := range []struct{ name, url, secret, what string }{
		{"ChirpStack", o.ChirpStackURL, o.ChirpStackToken, "API token"},
		{"The Things Stack", o.TTSURL, o.TTSKey, "API key"},
	} {
		if d.url == "" {
			continue
		}
		if u, err := url.Parse(d.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("lorawan: %s URL %q: not an http:// or https:// URL", d.name, d.url)
		}
		if d.secret == "" {
			return fmt.Errorf("lorawan: %s downlinks need its %s", d.name, d.what)
		}
	}
	if o.EverynetURL != "" {
		if u, err := url.Parse(o.EverynetURL); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return fmt.Errorf("lorawan: Everynet URL %q: not a ws:// or wss:// URL", o.EverynetURL)
		}
		if o.EverynetToken == "" {
			return errors.New("lorawan: Everynet needs its access token (dojot's LORA_ACCESS_TOKEN)")
		}
	}
	if o.Group != "" && !groupRe.MatchString(o.Group) {
		return fmt.Errorf("lorawan: group %q: letters, digits, '-' and '_' only", o.Group)
	}
	return nil
}

func (o *Options) check() error {
	if o.Store == nil || o.Devices == nil {
		return errors.New("lorawan: Store and Devices are required")
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if o.Group == "" {
		o.Group = "dojot"
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 256000
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Timeout}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.ChirpStackURL = strings.TrimRight(o.ChirpStackURL, "/")
	o.TTSURL = strings.TrimRight(o.TTSURL, "/")
	return nil
}

// A reason an uplink is refused.
type reason int

const (
	refusedAuth reason = iota
	refusedEncoding
	refusedBadJSON
	refusedBadBase64
	refusedTooLarge
	refusedUnknownDevice
	refusedDecoding
	refusedStoreFailed
	refusedTenants
	numReasons
)

var reasonNames = [numReasons]string{"auth", "encoding", "bad_json", "bad_base64", "too_large", "unknown_device", "decode_failed", "store_failed", "several_tenants"}

// Agent is the LoRaWAN agent: the webhooks (an http.Handler per network
// server, Routes), the Everynet client (Run) and actuations
// (FollowActuations).
type Agent struct {
	opts Options
	log  *slog.Logger

	accepted        atomic.Uint64
	stored          atomic.Uint64
	ignored         atomic.Uint64
	actuated        atomic.Uint64
	actuationFailed atomic.Uint64
	refused         *agents.Refusals

	mu          sync.Mutex
	evConnected bool
	evErr       string
}

// New checks opts.
func New(opts Options) (*Agent, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	return &Agent{opts: opts, log: opts.Logger, refused: agents.NewRefusals(reasonNames[:]...)}, nil
}

// Routes are the webhooks of the network servers configured, for the
// gateway's port: POST /lorawan/chirpstack (ChirpStack appends
// ?event=<type>) and POST /lorawan/tts (and any path under it, which a TTS
// webhook may append per message type).
func (a *Agent) Routes() map[string]http.Handler {
	r := map[string]http.Handler{}
	if a.opts.ChirpStackSecret != "" {
		r["/lorawan/chirpstack"] = webhook{a, chirpStack}
	}
	if a.opts.TTSSecret != "" {
		r["/lorawan/tts"] = webhook{a, theThingsStack}
		r["/lorawan/tts/*"] = webhook{a, theThingsStack}
	}
	return r
}

// Status is what /healthz shows of the agent.
type Status struct {
	Accepted        uint64            `json:"accepted"` // uplinks stored
	Stored          uint64            `json:"stored"`   // readings stored, one per device of an uplink's EUI
	Ignored         uint64            `json:"ignored"`  // other events and empty uplinks, acknowledged
	Refused         map[string]uint64 `json:"refused"`
	Actuated        uint64            `json:"actuated"`
	ActuationFailed uint64            `json:"actuation_failed"`
	Everynet        *EverynetStatus   `json:"everynet,omitempty"`
}

// EverynetStatus is the Everynet websocket's state.
type EverynetStatus struct {
	Server    string `json:"server"`
	Connected bool   `json:"connected"`
	Error     string `json:"error,omitempty"`
}

// Counts are the readings stored and those refused, by reason: what
// /metrics reads at each scrape, without the rest of Status.
func (a *Agent) Counts() (stored uint64, refused map[string]uint64) {
	return a.stored.Load(), a.refused.Map()
}

// Status reports the counters.
func (a *Agent) Status() Status {
	st := Status{Accepted: a.accepted.Load(), Stored: a.stored.Load(), Ignored: a.ignored.Load(),
		Actuated: a.actuated.Load(), ActuationFailed: a.actuationFailed.Load(), Refused: a.refused.Map()}
	if a.opts.EverynetURL != "" {
		a.mu.Lock()
		st.Everynet = &EverynetStatus{Server: everynetHost(a.opts.EverynetURL), Connected: a.evConnected, Error: a.evErr}
		a.mu.Unlock()
	}
	return st
}

// refuse is an uplink's refusal, counted under r.
func refuse(r reason, code int, format string, args ...any) *agents.Refusal {
	return agents.Refuse(int(r), code, format, args...)
}

// count counts err's refusal and logs the first of each kind, then one in
// agents.LogEvery.
func (a *Agent) count(n network, err error) {
	var rf *agents.Refusal
	if !errors.As(err, &rf) {
		rf = &agents.Refusal{Reason: int(refusedBadJSON), Code: http.StatusBadRequest, Msg: err.Error()}
	}
	if c, log := a.refused.Add(rf.Reason); log {
		a.log.Warn("lorawan: uplink refused", "network", n.String(), "reason", reasonNames[rf.Reason], "err", rf.Msg, "count", c)
	}
}

// webhook is a network server's uplink endpoint.
type webhook struct {
	a   *Agent
	net network
}

func (h webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		agents.WriteError(w, http.StatusMethodNotAllowed, "Method not allowed")
		return
	}
	stored, err := h.a.webhook(h.net, r)
	if err != nil {
		h.a.count(h.net, err)
		var rf *agents.Refusal
		errors.As(err, &rf)
		agents.WriteError(w, rf.Code, rf.Msg)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprintf(w, "{\"stored\":%d}\n", stored)
}

// webhook checks, parses and stores one webhook request, and returns the
// number of readings stored (0: an event other than an uplink, or an
// uplink without payload, acknowledged).
func (a *Agent) webhook(n network, r *http.Request) (int, error) {
	secret := a.opts.ChirpStackSecret
	if n == theThingsStack {
		secret = a.opts.TTSSecret
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(secret)) != 1 {
		return 0, refuse(refusedAuth, http.StatusUnauthorized, "Missing or wrong secret (Authorization: Bearer <secret>)")
	}
	// ChirpStack's integration may be set to Protobuf, TTS's webhook to
	// Protocol Buffers: say so rather than "not JSON".
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/octet-stream" || strings.HasSuffix(mt, "protobuf") {
		return 0, refuse(refusedEncoding, http.StatusUnsupportedMediaType, "Content-Type %q: set the integration's encoding (payload marshaler, webhook format) to JSON", mt)
	}
	if n == chirpStack {
		switch ev := r.URL.Query().Get("event"); ev {
		case "up":
		case "":
			return 0, refuse(refusedBadJSON, http.StatusBadRequest, "Missing ?event= (ChirpStack's HTTP integration sends it)")
		default:
			a.ignored.Add(1) // join, status, ack, txack, log, location, integration
			return 0, nil
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, a.opts.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return 0, refuse(refusedTooLarge, http.StatusRequestEntityTooLarge, "Body larger than %d bytes", a.opts.MaxBody)
		}
		return 0, refuse(refusedBadJSON, http.StatusBadRequest, "Could not read the body")
	}
	up, isUplink, err := n.parse(body)
	if err != nil {
		return 0, err
	}
	if !isUplink {
		a.ignored.Add(1)
		return 0, nil
	}
	return a.ingest(n, up, r.URL.Query().Get("tenant"))
}

// ingest stores up for every device of its EUI (of tenant, when not "":
// agents.ForTenant) and returns once JetStream stored them all. Every
// device's attrs are decoded before anything is stored, so a refused
// uplink stores nothing.
func (a *Agent) ingest(n network, up uplink, tenant string) (int, error) {
	if len(up.object) == 0 && len(up.data) == 0 {
		a.ignored.Add(1) // a MAC-only frame: nothing of the device's to store
		return 0, nil
	}
	devices, oneTenant := agents.ForTenant(a.opts.Devices.DevicesByStatic(dojot.AttrDevEUI, up.eui), tenant)
	if len(devices) == 0 {
		return 0, refuse(refusedUnknownDevice, http.StatusNotFound, "No device has the dev_eui %q", up.eui)
	}
	if !oneTenant {
		return 0, refuse(refusedTenants, http.StatusConflict, "Devices of several tenants have the dev_eui %q: add ?tenant=<tenant> to the integration's URL", up.eui)
	}
	ts := up.ts
	if ts == 0 {
		ts = a.opts.Now().UnixMilli()
	}
	readings := make([][]byte, len(devices))
	var decoded map[string][]byte // by decoder, for devices that share an EUI
	for i, d := range devices {
		attrs := up.object
		if len(attrs) == 0 {
			name, _ := a.opts.Devices.StaticValue(d.Tenant, d.ID, AttrDecoder)
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				name = n.defaultDecoder()
			}
			var ok bool
			if attrs, ok = decoded[name]; !ok {
				var err error
				if attrs, err = Decode(name, up.data); err != nil {
					return 0, refuse(refusedDecoding, http.StatusUnprocessableEntity, "Device %s: decoder %q: %v", d.ID, name, err)
				}
				if decoded == nil {
					decoded = make(map[string][]byte, 1)
				}
				decoded[name] = attrs
			}
		}
		readings[i] = dojot.Reading(d.Tenant, d.ID, ts, attrs)
	}
	waits := make([]func(<-chan time.Time) (uint64, error), 0, len(devices))
	for i, d := range devices {
		wait, err := a.opts.Store.AppendDataAsync(d.Tenant, d.ID, readings[i])
		if err != nil {
			return 0, refuse(refusedStoreFailed, http.StatusServiceUnavailable, "Reading not stored: %v", err)
		}
		waits = append(waits, wait)
	}
	timer := time.NewTimer(a.opts.Timeout)
	defer timer.Stop()
	for _, wait := range waits {
		if _, err := wait(timer.C); err != nil {
			return 0, refuse(refusedStoreFailed, http.StatusServiceUnavailable, "Reading not stored: %v", err)
		}
		a.stored.Add(1)
	}
	a.accepted.Add(1)
	return len(devices), nil
}
