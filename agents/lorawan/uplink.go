package lorawan

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/dojot-es/dojot/agents"
)

// network is a network server's message format.
type network int

const (
	chirpStack network = iota
	theThingsStack
	everynet
)

func (n network) String() string {
	return [...]string{"chirpstack", "tts", "everynet"}[n]
}

// defaultDecoder decodes the payload of a device whose template names no
// decoder: dojot's Everynet agent knew only DecentLab's protocol v2; the
// others give the bytes as hex.
func (n network) defaultDecoder() string {
	if n == everynet {
		return "decentlab"
	}
	return "hex"
}

// uplink is what the agent takes of a network server's uplink.
type uplink struct {
	eui    string
	object json.RawMessage // the network server's decoded payload, a JSON object; nil when none
	data   []byte          // the FRMPayload
	ts     int64           // when the network server received it, epoch ms; 0 when unknown
}

// parse reads a message of network n; isUplink is false for other
// messages (a TTS join-accept, an Everynet downlink...), which are
// acknowledged and ignored.
func (n network) parse(body []byte) (up uplink, isUplink bool, err error) {
	switch n {
	case chirpStack:
		up, err = parseChirpStack(body)
		return up, err == nil, err
	case theThingsStack:
		return parseTTS(body)
	default:
		return parseEverynet(body)
	}
}

func badJSON(format string, args ...any) *agents.Refusal {
	return refuse(refusedBadJSON, http.StatusBadRequest, format, args...)
}

// parseChirpStack reads ChirpStack v4's "up" event in its JSON encoding
// (the Protobuf JSON mapping of integration.UplinkEvent): deviceInfo.devEui,
// base64 data, the codec's object when the device profile has one.
func parseChirpStack(body []byte) (uplink, error) {
	var m struct {
		Time       string `json:"time"`
		DeviceInfo struct {
			DevEUI string `json:"devEui"`
		} `json:"deviceInfo"`
		Data   string          `json:"data"`
		Object json.RawMessage `json:"object"`
	}
	if err := strictObject(body, &m); err != nil {
		return uplink{}, err
	}
	if m.DeviceInfo.DevEUI == "" {
		return uplink{}, badJSON(`"deviceInfo.devEui" is missing`)
	}
	return newUplink(m.DeviceInfo.DevEUI, m.Object, "object", m.Data, "data", m.Time)
}

// parseTTS reads The Things Stack v3's webhook message in its JSON format:
// an uplink message has "uplink_message" (frm_payload in base64, the
// payload formatter's decoded_payload); any other message (join-accept,
// downlink events, location...) is ignored.
func parseTTS(body []byte) (uplink, bool, error) {
	var m struct {
		EndDeviceIDs struct {
			DevEUI string `json:"dev_eui"`
		} `json:"end_device_ids"`
		ReceivedAt    string `json:"received_at"`
		UplinkMessage *struct {
			FRMPayload     string          `json:"frm_payload"`
			DecodedPayload json.RawMessage `json:"decoded_payload"`
			ReceivedAt     string          `json:"received_at"`
		} `json:"uplink_message"`
	}
	if err := strictObject(body, &m); err != nil {
		return uplink{}, false, err
	}
	um := m.UplinkMessage
	if um == nil {
		return uplink{}, false, nil
	}
	if m.EndDeviceIDs.DevEUI == "" {
		return uplink{}, false, badJSON(`"end_device_ids.dev_eui" is missing`)
	}
	at := um.ReceivedAt // the Network Server's reception
	if at == "" {
		at = m.ReceivedAt
	}
	up, err := newUplink(m.EndDeviceIDs.DevEUI, um.DecodedPayload, "uplink_message.decoded_payload", um.FRMPayload, "uplink_message.frm_payload", at)
	return up, err == nil, err
}

// parseEverynet reads an Everynet websocket message as dojot's agent did:
// only "type":"uplink", meta.device the EUI, params.payload base64,
// params.rx_time the Unix time of reception in seconds.
func parseEverynet(body []byte) (uplink, bool, error) {
	var m struct {
		Type string `json:"type"`
		Meta struct {
			Device string `json:"device"`
		} `json:"meta"`
		Params struct {
			Payload string  `json:"payload"`
			RxTime  float64 `json:"rx_time"`
		} `json:"params"`
	}
	if err := strictObject(body, &m); err != nil {
		return uplink{}, false, err
	}
	if m.Type != "uplink" {
		return uplink{}, false, nil
	}
	if m.Meta.Device == "" {
		return uplink{}, false, badJSON(`"meta.device" is missing`)
	}
	up, err := newUplink(m.Meta.Device, nil, "", m.Params.Payload, "params.payload", "")
	if err == nil && m.Params.RxTime > 0 && m.Params.RxTime < 1e11 {
		up.ts = int64(m.Params.RxTime * 1000)
	}
	return up, err == nil, err
}

// strictObject decodes one JSON object into v.
func strictObject(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return badJSON("The body must be one JSON object")
	}
	// Unmarshal checks the whole body is valid before it decodes.
	if err := json.Unmarshal(body, v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return badJSON("The body must be one JSON object: %v", err)
		}
		return badJSON("The body does not match the network server's JSON format: %v", err)
	}
	return nil
}

func newUplink(eui string, object json.RawMessage, objectField, data, dataField, at string) (uplink, error) {
	up := uplink{eui: eui}
	if o := bytes.TrimSpace(object); len(o) > 0 && !bytes.Equal(o, []byte("null")) {
		if o[0] != '{' {
			return uplink{}, badJSON("%q must be a JSON object", objectField)
		}
		if !emptyObject(o) { // a codec that returned nothing: fall back on the decoder
			var c bytes.Buffer
			if err := json.Compact(&c, o); err != nil {
				return uplink{}, badJSON("%q: %v", objectField, err)
			}
			up.object = c.Bytes()
		}
	}
	if data != "" {
		b, err := decodeBase64(data)
		if err != nil {
			return uplink{}, refuse(refusedBadBase64, http.StatusBadRequest, "%q is not base64: %v", dataField, err)
		}
		up.data = b
	}
	if at != "" {
		if t, err := time.Parse(time.RFC3339Nano, at); err == nil {
			up.ts = t.UnixMilli()
		}
	}
	return up, nil
}

func emptyObject(o []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(o, &m) == nil && len(m) == 0
}

// decodeBase64 takes standard base64, padded or not, and the URL-safe
// alphabet, as the Protobuf JSON mapping does for bytes.
func decodeBase64(s string) ([]byte, error) {
	enc := base64.StdEncoding
	for i := 0; i < len(s); i++ {
		if s[i] == '-' || s[i] == '_' {
			enc = base64.URLEncoding
			break
		}
	}
	if len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	return enc.DecodeString(s)
}
