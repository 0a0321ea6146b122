package lorawan

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Decoders are the names a device's lora_decoder may give.
var Decoders = []string{"decentlab", "hex", "json"}

// Decode turns a device's raw payload into the JSON object of its attrs
// with the decoder of that name:
//
//   - "hex": {"payload":"<the bytes in lower-case hex>"};
//   - "decentlab": DecentLab's protocol v2 as dojot's Everynet agent reads
//     it (u8 version 2, u16 device id, u16 flags; flag bit 0: u16 distance
//     in mm and u16 sample count; bit 1: u16 battery in mV), giving
//     {"battery_voltage":<V>,"distance":<mm>}, the values the flags carry;
//   - "json": the bytes are a JSON object, taken as it is.
func Decode(name string, data []byte) ([]byte, error) {
	switch name {
	case "hex":
		b := make([]byte, 0, 2*len(data)+14)
		b = append(b, `{"payload":"`...)
		b = hex.AppendEncode(b, data)
		return append(b, `"}`...), nil
	case "decentlab":
		return decodeDecentLab(data)
	case "json":
		d := bytes.TrimSpace(data)
		var c bytes.Buffer
		if len(d) == 0 || d[0] != '{' || json.Compact(&c, d) != nil {
			return nil, errors.New("the payload is not a JSON object")
		}
		return c.Bytes(), nil
	}
	return nil, fmt.Errorf("no such decoder (there are %s)", strings.Join(Decoders, ", "))
}

// DecentLab's sensor flags, in the order their values follow the header.
const (
	decentLabDistance = 1 << 0 // distance (mm), number of valid samples
	decentLabBattery  = 1 << 1 // battery voltage (mV)
)

func decodeDecentLab(b []byte) ([]byte, error) {
	if len(b) < 5 {
		return nil, fmt.Errorf("%d bytes: shorter than DecentLab's 5-byte header", len(b))
	}
	if b[0] != 2 {
		return nil, fmt.Errorf("protocol version %d doesn't match v2", b[0])
	}
	flags := uint16(b[3])<<8 | uint16(b[4])
	rest := b[5:]
	u16 := func() (uint16, bool) {
		if len(rest) < 2 {
			return 0, false
		}
		v := uint16(rest[0])<<8 | uint16(rest[1])
		rest = rest[2:]
		return v, true
	}
	var distance, battery uint16
	if flags&decentLabDistance != 0 {
		d, ok1 := u16()
		_, ok2 := u16() // number of valid samples: dojot does not publish it
		if !ok1 || !ok2 {
			return nil, errors.New("truncated distance values")
		}
		distance = d
	}
	if flags&decentLabBattery != 0 {
		v, ok := u16()
		if !ok {
			return nil, errors.New("truncated battery voltage")
		}
		battery = v
	}
	if flags&(decentLabDistance|decentLabBattery) == 0 {
		return nil, fmt.Errorf("flags %#04x: no distance nor battery voltage", flags)
	}
	out := make([]byte, 0, 48)
	out = append(out, '{')
	if flags&decentLabBattery != 0 {
		out = append(out, `"battery_voltage":`...)
		out = strconv.AppendFloat(out, float64(battery)/1000, 'f', -1, 64)
	}
	if flags&decentLabDistance != 0 {
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, `"distance":`...)
		out = strconv.AppendUint(out, uint64(distance), 10)
	}
	return append(out, '}'), nil
}

// Encode turns an actuation's attrs (a JSON object) into a downlink's
// bytes with the encoder of that name: "json", the attrs as compact JSON;
// "hex", the bytes the attr "payload" gives in hex (the hex decoder's
// inverse: {"payload":"01ff"} sends 0x01 0xff).
func Encode(name string, attrs []byte) ([]byte, error) {
	switch name {
	case "", "json":
		var c bytes.Buffer
		if err := json.Compact(&c, attrs); err != nil {
			return nil, fmt.Errorf("attrs: %w", err)
		}
		return c.Bytes(), nil
	case "hex":
		var m struct {
			Payload *string `json:"payload"`
		}
		if err := json.Unmarshal(attrs, &m); err != nil || m.Payload == nil {
			return nil, errors.New(`the hex encoder needs the attr "payload", a string of hex digits`)
		}
		b, err := hex.DecodeString(*m.Payload)
		if err != nil {
			return nil, fmt.Errorf(`attr "payload": %w`, err)
		}
		return b, nil
	}
	return nil, errors.New("no such encoder (there are hex, json)")
}
