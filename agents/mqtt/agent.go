package mqtt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/dojot-es/dojot"
)

// Appender stores device readings in the DATA stream
// (eventstore.Store.AppendDataAsync): it starts an append and returns at
// once; wait returns once JetStream stored the reading (its sequence), or
// why not, or dojot.ErrUnavailable when expired fires first.
type Appender interface {
	AppendDataAsync(tenant, deviceID string, payload []byte) (wait func(expired <-chan time.Time) (uint64, error), err error)
}

// Devices says whether a device exists in a tenant (the memory view).
type Devices interface {
	Device(tenant, id string) (dojot.Device, bool)
}

// Credentials checks a device's basic-auth password
// (commands.Devices.CheckDeviceCredentials).
type Credentials interface {
	CheckDeviceCredentials(tenant, deviceID, password string) bool
}

// Options configure an Agent. A zero field means its default.
type Options struct {
	Store   Appender // required
	Devices Devices  // required
	// Credentials checks the password of a client that is not in insecure
	// mode; nil refuses every such client.
	Credentials Credentials
	// Insecure lets the username <tenant>:<deviceid> alone identify a
	// device, with no password (dojot's plain-1883 test mode).
	Insecure bool
	// CertIdentity names the device of a client on the TLS listener
	// (ServeTLS, tls.go) from its certificate.
	CertIdentity CertIdentifier
	// RecheckEvery is how often the certificates of connected TLS clients
	// are checked again (default 1s): a revoked one's session ends then.
	RecheckEvery time.Duration
	// MaxPayload is the largest publish payload accepted, in bytes
	// (default 256000, the body limit of dojot's HTTP agent).
	MaxPayload int
	// Timeout bounds the wait for JetStream to store one reading (default
	// 5s), and in external-broker mode the wait for the broker to
	// acknowledge an actuation.
	Timeout time.Duration
	Logger  *slog.Logger

	// BrokerURL, when set, turns on external-broker mode: the agent embeds
	// no broker and is instead a client of this one (tcp://host:1883,
	// mqtt://, ssl:// or mqtts://, ws:// or wss://; user:password in the URL
	// are the agent's own credentials there). It takes its share of the
	// devices' readings through the shared subscriptions
	// $share/<BrokerGroup>/+/attrs and $share/<BrokerGroup>//+/+/attrs, and
	// publishes actuation there. Devices then authenticate, and are kept to
	// their own topics, by that broker: Credentials and Insecure do not
	// apply.
	BrokerURL string
	// BrokerGroup names the shared subscription, and the JetStream consumer
	// that hands each actuation to one instance (default "dojot"): the
	// instances of one deployment share it.
	BrokerGroup string
	// ClientID is the agent's MQTT client id at the broker, whose
	// persistent session is resumed after a restart: it must be stable
	// across restarts and differ between instances (default
	// dojot-<BrokerGroup>-<hostname>).
	ClientID string
}

func (o *Options) setDefaults() {
	if o.MaxPayload <= 0 {
		o.MaxPayload = 256000
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RecheckEvery <= 0 {
		o.RecheckEvery = time.Second
	}
	if o.BrokerURL != "" {
		if o.BrokerGroup == "" {
			o.BrokerGroup = "dojot"
		}
		if o.ClientID == "" {
			host, _ := os.Hostname()
			o.ClientID = "dojot-" + o.BrokerGroup + "-" + host
		}
	}
}

// Agent is the embedded MQTT broker, or in external-broker mode
// (Options.BrokerURL) a client of another one.
type Agent struct {
	opts   Options
	log    *slog.Logger
	srv    *mochi.Server // nil in external-broker mode
	ext    *external     // nil unless external-broker mode
	acks   *ackers       // nil in external-broker mode
	stored atomic.Uint64
	// actuated counts configurations sent to devices.
	actuated atomic.Uint64
	refused  [numReasons]atomic.Uint64
	// storedTLS and refusedTLS are the share of stored and refused that
	// came on the mutual-TLS listener (the metrics' agent "mqtts").
	storedTLS  atomic.Uint64
	refusedTLS [numReasons]atomic.Uint64
	// stopRecheck ends the TLS clients' recheck (tls.go); nil without one.
	stopRecheck func()
}

// A reason a connection, subscription or publish is refused.
type reason int

const (
	refusedAuth reason = iota
	refusedUnknownDevice
	refusedWill
	refusedPublishTopic
	refusedSubscribeTopic
	refusedNotJSON
	refusedNotObject
	refusedTooLarge
	refusedStoreFailed
	refusedCertificate
	numReasons
)

var reasonNames = [numReasons]string{
	"auth", "unknown_device", "will", "publish_topic", "subscribe_topic",
	"not_json", "not_object", "too_large", "store_failed", "certificate",
}

// logEvery: a refusal is logged the first time and then once per logEvery
// of its kind, so a misbehaving device cannot flood the log.
const logEvery = 1000

// New returns an agent that is not yet serving.
func New(opts Options) (*Agent, error) {
	if opts.Store == nil || opts.Devices == nil {
		return nil, errors.New("mqtt: Options.Store and Options.Devices are required")
	}
	opts.setDefaults()
	if opts.BrokerURL != "" {
		a := &Agent{opts: opts, log: opts.Logger}
		ext, err := newExternal(a)
		if err != nil {
			return nil, err
		}
		a.ext = ext
		return a, nil
	}
	caps := mochi.NewDefaultServerCapabilities()
	// Packets far above MaxPayload are cut off while read (disconnect);
	// those just above it reach OnPublish, which refuses them with a log.
	caps.MaximumPacketSize = uint32(min(opts.MaxPayload+64<<10, math.MaxInt32))
	// The ACL check runs on the topic name before mochi resolves an alias,
	// so aliases could only ever be refused: do not offer them.
	caps.TopicAliasMaximum = 0
	// mochi makes each client an outbound channel of this many packets
	// (default 8,192: 64 KiB of pointers per connection, scanned by every
	// GC, 63 MiB for 1,000 devices). A device is sent only actuation, and
	// one that lets 256 pile up is not reading its socket.
	caps.MaximumClientWritesPending = 256
	a := &Agent{opts: opts, log: opts.Logger}
	a.acks = newAckers(a)
	a.srv = mochi.New(&mochi.Options{
		InlineClient: true, // actuation is published by the agent itself
		Capabilities: caps,
		Logger:       slog.New(levelHandler{slog.LevelError, opts.Logger.Handler()}).With("component", "mqtt"),
	})
	if err := a.srv.AddHook(&hook{a: a}, nil); err != nil {
		return nil, fmt.Errorf("mqtt: %w", err)
	}
	if opts.Insecure {
		a.log.Warn("mqtt: insecure mode: the username <tenant>:<deviceid> identifies a device with no password; for tests only (-mqtt-insecure)")
	}
	return a, nil
}

// Serve serves MQTT on ln in the background until Close. In
// external-broker mode ln is unused (nil): Serve connects to the broker in
// the background and returns at once; a broker that is away is retried
// until Close.
func (a *Agent) Serve(ln net.Listener) error {
	if a.ext != nil {
		a.ext.start()
		return nil
	}
	if err := a.srv.AddListener(listeners.NewNet("mqtt", ln)); err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	return a.srv.Serve()
}

// Close disconnects every client and stops the listener; in
// external-broker mode it disconnects from the broker.
func (a *Agent) Close() error {
	if a.ext != nil {
		a.ext.close()
		return nil
	}
	if a.stopRecheck != nil {
		a.stopRecheck()
	}
	err := a.srv.Close()
	a.acks.close()
	return err
}

// Status counts what the agent did since it started.
type Status struct {
	Clients  int64             `json:"clients"` // devices connected (embedded broker only)
	Stored   uint64            `json:"stored"`
	Actuated uint64            `json:"actuated"`
	Refused  map[string]uint64 `json:"refused,omitempty"`
	// Broker is the connection to the external broker (external-broker
	// mode only).
	Broker *BrokerStatus `json:"broker,omitempty"`
	// TLS is the share of Stored and Refused that came on the mutual-TLS
	// listener (8883), when it serves.
	TLS *ListenerStatus `json:"mqtts,omitempty"`
}

// ListenerStatus counts what came on one listener.
type ListenerStatus struct {
	Stored  uint64            `json:"stored"`
	Refused map[string]uint64 `json:"refused,omitempty"`
}

// Status is a snapshot of the counters.
func (a *Agent) Status() Status {
	st := Status{Stored: a.stored.Load(), Actuated: a.actuated.Load()}
	if a.srv != nil {
		st.Clients = atomic.LoadInt64(&a.srv.Info.ClientsConnected)
	}
	if a.ext != nil {
		b := a.ext.status()
		st.Broker = &b
	}
	st.Refused = refusals(&a.refused)
	if a.srv != nil {
		if _, ok := a.srv.Listeners.Get(tlsListener); ok {
			st.TLS = &ListenerStatus{Stored: a.storedTLS.Load(), Refused: refusals(&a.refusedTLS)}
		}
	}
	return st
}

// refusals are the reasons counted at least once, by name (nil: none).
func refusals(counts *[numReasons]atomic.Uint64) map[string]uint64 {
	var m map[string]uint64
	for r := range numReasons {
		if n := counts[r].Load(); n > 0 {
			if m == nil {
				m = map[string]uint64{}
			}
			m[reasonNames[r]] = n
		}
	}
	return m
}

// onTLS reports whether cl came on the mutual-TLS listener (nil, the
// external broker's readings: no).
func onTLS(cl *mochi.Client) bool { return cl != nil && cl.Net.Listener == tlsListener }

// countStored counts a reading of cl stored.
func (a *Agent) countStored(cl *mochi.Client) {
	a.stored.Add(1)
	if onTLS(cl) {
		a.storedTLS.Add(1)
	}
}

// refuse counts a refusal and logs it (see logEvery). cl is nil in
// external-broker mode, where the device's connection is the broker's.
func (a *Agent) refuse(r reason, cl *mochi.Client, msg string, args ...any) {
	n := a.refused[r].Add(1)
	if onTLS(cl) {
		a.refusedTLS[r].Add(1)
	}
	if n == 1 || n%logEvery == 0 {
		args = append(args, "reason", reasonNames[r])
		if cl != nil {
			args = append(args, "client_id", cl.ID, "username", string(cl.Properties.Username), "remote", cl.Net.Remote)
		}
		a.log.Warn(msg, append(args, "refused_total", n)...)
	}
}

// hook is where mochi asks the agent: who connects, what they may
// publish and subscribe to, and what a publish becomes.
type hook struct {
	mochi.HookBase
	a *Agent
}

func (h *hook) ID() string { return "dojot" }

func (h *hook) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck || b == mochi.OnPublish
}

// identity is the device a connected client is, from its username.
func identity(cl *mochi.Client) (tenant, device string, ok bool) {
	return parseIdentity(string(cl.Properties.Username))
}

func (h *hook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	a := h.a
	cert, isTLS, err := a.certIdentity(cl)
	if err != nil {
		a.refuse(refusedCertificate, cl, "mqtt: connection refused: client certificate", "err", err)
		return false
	}
	if isTLS {
		// The certificate is the identity; the ACL reads it as the
		// username, as VerneMQ's use_identity_as_username.
		cl.Properties.Username = []byte(cert.Tenant + ":" + cert.Device)
	}
	tenant, device, ok := identity(cl)
	if !ok {
		a.refuse(refusedAuth, cl, "mqtt: connection refused: the username must be <tenant>:<deviceid> or <tenant>@<deviceid>")
		return false
	}
	if !a.opts.Insecure && !isTLS {
		if a.opts.Credentials == nil || !pk.Connect.PasswordFlag ||
			!a.opts.Credentials.CheckDeviceCredentials(tenant, device, string(pk.Connect.Password)) {
			a.refuse(refusedAuth, cl, "mqtt: connection refused: wrong device credentials")
			return false
		}
	}
	if _, ok := a.opts.Devices.Device(tenant, device); !ok {
		a.refuse(refusedUnknownDevice, cl, "mqtt: connection refused: no such device", "tenant", tenant, "device_id", device)
		return false
	}
	// mochi sends a will without asking the ACL or OnPublish: one on
	// another device's topic would reach that device as if from the
	// platform.
	if pk.Connect.WillFlag {
		if t, err := ParseTopic(pk.Connect.WillTopic); err != nil || t.Tenant != tenant || t.Device != device || t.Kind != KindAttrs {
			a.refuse(refusedWill, cl, "mqtt: connection refused: a will may only name the device's own attrs topic", "will_topic", pk.Connect.WillTopic)
			return false
		}
	}
	return true
}

// OnACLCheck: a device publishes only to its own attrs topic and
// subscribes only to its own config topic (either form).
func (h *hook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	if cl.Net.Inline { // the agent itself, sending actuation (Actuate)
		return true
	}
	kind, r := KindConfig, refusedSubscribeTopic
	if write {
		kind, r = KindAttrs, refusedPublishTopic
	}
	tenant, device, ok := identity(cl)
	if t, err := ParseTopic(topic); ok && err == nil && t.Tenant == tenant && t.Device == device && t.Kind == kind {
		return true
	}
	h.a.refuse(r, cl, "mqtt: topic refused", "topic", topic, "write", write)
	return false
}

// OnPublish starts storing the reading and hands it to the client's acker
// (ack.go), which writes the PUBACK once JetStream stored it: the hook
// returns ErrRejectPacket, the one answer on which mochi writes no PUBACK
// itself (server.go, processPublish, v2.7.9). QoS 2, rare for readings,
// is stored before the hook returns and mochi writes the PUBREC.
func (h *hook) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline { // actuation from the agent itself: deliver as it is
		return pk, nil
	}
	a := h.a
	pk.FixedHeader.Retain = false // a reading is not kept in the broker
	pk.Ignore = true              // nor forwarded: nobody may subscribe to attrs
	t, err := ParseTopic(pk.TopicName)
	tenant, device, ok := identity(cl)
	if err != nil || !ok || t.Tenant != tenant || t.Device != device || t.Kind != KindAttrs { // the ACL already said so
		a.refuse(refusedPublishTopic, cl, "mqtt: topic refused", "topic", pk.TopicName, "write", true)
		return nack(cl, pk, packets.ErrNotAuthorized)
	}
	msg, ref := a.reading(t, pk.Payload, time.Now())
	if ref != nil {
		a.refuse(ref.reason, cl, ref.msg, ref.args...)
		return nack(cl, pk, ref.code)
	}
	if pk.FixedHeader.Qos == 2 {
		if err := a.store(cl, t, msg); err != nil {
			a.notStored(cl, pk.FixedHeader.Qos, pk.TopicName, err)
			return pk, packets.ErrRejectPacket
		}
		return pk, nil
	}
	wait, err := a.opts.Store.AppendDataAsync(t.Tenant, t.Device, msg)
	if err != nil {
		a.notStored(cl, pk.FixedHeader.Qos, pk.TopicName, err)
		return pk, packets.ErrRejectPacket
	}
	if !a.acks.queue(inFlight{cl: cl, id: pk.PacketID, qos: pk.FixedHeader.Qos, topic: pk.TopicName, sent: time.Now(), wait: wait}) {
		cl.Stop(packets.ErrServerShuttingDown) // closing: not acknowledged, sent again elsewhere
	}
	return pk, packets.ErrRejectPacket
}

// notStored: a reading JetStream did not store is counted and logged; at
// QoS 1 and 2 it is not acknowledged and the client is disconnected, so
// that it sends it again (a negative PUBACK would tell it not to).
func (a *Agent) notStored(cl *mochi.Client, qos byte, topic string, err error) {
	a.refuse(refusedStoreFailed, cl, "mqtt: publish not stored", "topic", topic, "err", err)
	if qos > 0 {
		cl.Stop(packets.ErrServerUnavailable)
	}
}

// refusal is why a reading is refused: the reason counted, the line
// logged, and the reason code an MQTT 5 client gets.
type refusal struct {
	reason reason
	msg    string
	args   []any
	code   packets.Code
}

// reading checks a publish on the attrs topic t, as the embedded broker and
// the external-broker client both do, and returns it as the reading to
// store (Reading): the payload is a JSON object of at most
// Options.MaxPayload bytes and the device exists in its tenant.
func (a *Agent) reading(t Topic, payload []byte, now time.Time) ([]byte, *refusal) {
	topic := t.String()
	if len(payload) > a.opts.MaxPayload {
		return nil, &refusal{refusedTooLarge, "mqtt: publish refused: payload too large",
			[]any{"topic", topic, "bytes", len(payload), "max", a.opts.MaxPayload},
			packets.Code{Code: packets.ErrImplementationSpecificError.Code, Reason: "payload larger than " + strconv.Itoa(a.opts.MaxPayload) + " bytes"}}
	}
	ts, ok := objectMember(payload, "timestamp")
	if !ok {
		r, why := refusedNotObject, "payload is not a JSON object"
		if !json.Valid(payload) {
			r, why = refusedNotJSON, "payload is not JSON"
		}
		return nil, &refusal{r, "mqtt: publish refused: " + why, []any{"topic", topic, "bytes", len(payload)},
			packets.Code{Code: packets.ErrPayloadFormatInvalid.Code, Reason: why}}
	}
	if _, ok := a.opts.Devices.Device(t.Tenant, t.Device); !ok { // removed since it connected
		return nil, &refusal{refusedUnknownDevice, "mqtt: publish refused: no such device",
			[]any{"tenant", t.Tenant, "device_id", t.Device}, packets.ErrNotAuthorized}
	}
	return dojot.Reading(t.Tenant, t.Device, dojot.ReadingTime(ts, now), payload), nil
}

// store appends a reading to DATA and waits until JetStream stored it
// (Options.Timeout at most).
func (a *Agent) store(cl *mochi.Client, t Topic, reading []byte) error {
	wait, err := a.opts.Store.AppendDataAsync(t.Tenant, t.Device, reading)
	if err != nil {
		return err
	}
	timer := time.NewTimer(a.opts.Timeout)
	defer timer.Stop()
	if _, err := wait(timer.C); err != nil {
		return err
	}
	a.countStored(cl)
	return nil
}

// nack refuses a publish. QoS 0: dropped. MQTT 5: a PUBACK with the
// reason code. MQTT 3.1.1 has no negative PUBACK: the client is
// disconnected, and the publish is never acknowledged.
func nack(cl *mochi.Client, pk packets.Packet, code packets.Code) (packets.Packet, error) {
	switch {
	case pk.FixedHeader.Qos == 0:
		return pk, packets.ErrRejectPacket
	case cl.Properties.ProtocolVersion == 5:
		return pk, code
	}
	cl.Stop(code)
	return pk, packets.ErrRejectPacket
}

// levelHandler drops records below min: mochi logs every connection at
// info level and every disconnection or refused packet at warning level,
// which the agent's own log lines already cover.
type levelHandler struct {
	min slog.Level
	slog.Handler
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}
func (h levelHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return levelHandler{h.min, h.Handler.WithAttrs(a)}
}
func (h levelHandler) WithGroup(n string) slog.Handler {
	return levelHandler{h.min, h.Handler.WithGroup(n)}
}
