package dojot

import (
	"encoding/json"
	"strings"
	"time"
)

// Device event types. Every device event is appended expecting the last
// sequence of its own subject, so an id is claimed by the stream itself and
// never taken twice, even by two instances at once.
const (
	EventDeviceCreated  = "device.created"
	EventDeviceUpdated  = "device.updated"
	EventDeviceDeleted  = "device.deleted"
	EventDeviceActuated = "device.actuated"
	// EventDeviceCredentialsSet: POST /basic-auth/v1/devices/:id/basic-credentials
	// gave the device a new password (dojot's device-basic-authentication).
	// It is a device event, so it conflicts with a concurrent delete, and a
	// device.deleted drops the credentials.
	EventDeviceCredentialsSet = "device.credentials_set"
	// EventReading is never stored in EVENTS: it is the type a device
	// reading from the DATA stream carries when a projection follows DATA
	// (eventstore.DataLog), so one Runner serves both logs. Data is the
	// reading as stored ({"metadata":..,"attrs":..}), AggregateID the
	// device, Time when JetStream stored it.
	EventReading = "device.reading"
)

// Causes of a device event other than its plain REST call. They tell the
// Kafka bridge which dojot message (if any) to send.
const (
	// CauseImport: created or deleted by POST /import (dojot sends create
	// and remove for these).
	CauseImport = "import"
	// CauseDeleteAll: deleted by DELETE /device; dojot sends nothing.
	CauseDeleteAll = "delete_all"
	// CauseTemplateAdded, CauseTemplateRemoved: POST or DELETE
	// /device/:id/template/:tid; dojot sends nothing.
	CauseTemplateAdded   = "template_added"
	CauseTemplateRemoved = "template_removed"
	// CausePSK: pre-shared keys were generated (POST
	// /device/gen_psk/:id) or copied to this device (PUT
	// /device/:id/attrs/:label/psk). dojot sends "update" for the device,
	// rendered as GET /internal/device/:id shows it (every key in clear),
	// except that its "updated" is still the value from before the change.
	CausePSK = "psk"
)

// Override is a device's own static value for one of its templates' attrs
// or metadata (dojot's overrides table).
type Override struct {
	AttrID      int    `json:"attr_id"`
	StaticValue string `json:"static_value"`
}

// Device is a device's own state, as stored in events. What it shows is
// this combined with its templates' current attributes.
type Device struct {
	ID        string     `json:"id"`
	Label     string     `json:"label"`
	Created   time.Time  `json:"created"`
	Updated   *time.Time `json:"updated,omitempty"`
	Templates []int      `json:"templates"`
	Overrides []Override `json:"overrides,omitempty"`
	// PSKs are the device's pre-shared keys by attr id (hex). They are
	// shown only by internal reads and by the "update" event dojot sends.
	PSKs []Override `json:"psks,omitempty"`
}

// DeviceCreated is the payload of device.created.
type DeviceCreated struct {
	Device
	Cause string `json:"cause,omitempty"`
}

// DeviceUpdated is the payload of device.updated: the whole device after
// the change.
type DeviceUpdated struct {
	Device
	Cause string `json:"cause,omitempty"`
}

// DeviceDeleted is the payload of device.deleted. Rendered is the device as
// GET /device/:id showed it just before, which dojot's "remove" event
// carries.
type DeviceDeleted struct {
	ID       string          `json:"id"`
	Cause    string          `json:"cause,omitempty"`
	Rendered json.RawMessage `json:"rendered,omitempty"`
}

// DeviceActuated is the payload of device.actuated (dojot's "configure"):
// Attrs is the JSON object the client sent, key order and numbers kept;
// Timestamp is epoch milliseconds. FlowDepth, on an actuation a flow made,
// is how many flow outputs led to it (0 for a user's): the configure event
// starts flows in turn, and the engine stops at its depth limit a flow
// that actuates the device whose configure events start it.
type DeviceActuated struct {
	ID        string          `json:"id"`
	Attrs     json.RawMessage `json:"attrs"`
	Timestamp int64           `json:"timestamp"`
	FlowDepth int             `json:"flow_depth,omitempty"`
}

// DeviceCredentialsSet is the payload of device.credentials_set: the
// bcrypt hash of the device's new basic-auth password (the password itself
// is never stored), replacing any earlier one. When it was set is the
// event's time.
type DeviceCredentialsSet struct {
	ID   string `json:"id"`
	Hash string `json:"hash"`
}

// BasicCredentials is what POST /basic-auth/v1/devices/:id/basic-credentials
// answers: the username is "<tenant>@<device id>", the password is shown
// this once.
type BasicCredentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Static attributes by which an IoT agent finds the device a message is
// from (dojot's agents map them from the device's templates and
// overrides; several devices, of any tenants, may share a value).
const (
	AttrDevEUI         = "dev_eui"                 // LoRaWAN: the device's EUI
	AttrSigfoxDevice   = "device"                  // Sigfox: the device's Sigfox id
	AttrAMQPRoutingKey = "device_amqp_routing_key" // RabbitMQ: the routing key of its messages
)

// NormalEUI is a LoRaWAN EUI as agents compare it: lower case, without
// the separators people write between its bytes ("70-B3-D5-7E", "70:b3",
// "70 B3"), so that a dev_eui typed in any of these forms matches the EUI a
// network server sends. Anything else is kept as it is (dojot compared
// exactly; its own docs show a 15-digit EUI).
func NormalEUI(eui string) string {
	eui = strings.TrimSpace(eui)
	clean := true
	for i := 0; i < len(eui); i++ {
		if c := eui[i]; c == '-' || c == ':' || c == ' ' || (c >= 'A' && c <= 'Z') {
			clean = false
			break
		}
	}
	if clean {
		return eui
	}
	b := make([]byte, 0, len(eui))
	for i := 0; i < len(eui); i++ {
		switch c := eui[i]; {
		case c == '-' || c == ':' || c == ' ':
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// DeviceKey names a device of a tenant.
type DeviceKey struct {
	Tenant string `json:"tenant"`
	ID     string `json:"id"`
}

// DeviceRef is a created device in POST /device's short answer.
type DeviceRef struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// PSK is one key made by POST /device/gen_psk/:id.
type PSK struct {
	Attribute string `json:"attribute"`
	PSK       string `json:"psk"`
}

// DeviceQuery is GET /device's (and GET /device/template/:tid's) query.
type DeviceQuery struct {
	Page
	Attr        []AttrFilter
	AttrType    []string
	Label       string // substring
	Template    int    // 0: any
	SortByLabel bool
	IDsOnly     bool
}
