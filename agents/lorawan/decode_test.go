package lorawan

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/dojot-es/dojot/agents/lorawan/lorawantest"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecode: each decoder on golden payloads. The DecentLab ones are the
// examples of decentlab/decentlab-decoders DL-MBX/DL-MBX.js (the
// ultrasonic distance sensor dojot's decoder was written for): version 2,
// device 0x012f, distance 1234 mm from 1 sample, battery 2993 mV.
func TestDecode(t *testing.T) {
	// dojot's own Everynet example (iotagent-lora-everynet docs/operation.rst)
	// is not DecentLab: its first byte is 0x61.
	dojotDocs, _ := base64.StdEncoding.DecodeString("YWEIChAoGB4gKC324gyrMH3354g4jAFCBggBEAIYAw==")
	for _, tc := range []struct {
		name, decoder string
		data          []byte
		want, err     string
	}{
		{"hex", "hex", []byte{0xaa, 0x01, 0xff}, `{"payload":"aa01ff"}`, ""},
		{"hex empty", "hex", nil, `{"payload":""}`, ""},
		{"decentlab distance and battery", "decentlab", mustHex(t, "02012f000304d200010bb1"), `{"battery_voltage":2.993,"distance":1234}`, ""},
		{"decentlab battery only", "decentlab", mustHex(t, "02012f00020bb1"), `{"battery_voltage":2.993}`, ""},
		{"decentlab distance only", "decentlab", mustHex(t, "02012f000104d20001"), `{"distance":1234}`, ""},
		{"decentlab unknown flags ignored", "decentlab", mustHex(t, "02012f00060bb1"), `{"battery_voltage":2.993}`, ""},
		{"decentlab other version", "decentlab", dojotDocs, "", "protocol version 97 doesn't match v2"},
		{"decentlab short header", "decentlab", mustHex(t, "02012f00"), "", "shorter than DecentLab's 5-byte header"},
		{"decentlab truncated distance", "decentlab", mustHex(t, "02012f000304d2"), "", "truncated distance"},
		{"decentlab truncated battery", "decentlab", mustHex(t, "02012f00020b"), "", "truncated battery"},
		{"decentlab no values", "decentlab", mustHex(t, "02012f0000"), "", "no distance nor battery"},
		{"json", "json", []byte(` {"led": true, "n": [1, 2]} `), `{"led":true,"n":[1,2]}`, ""},
		{"json not an object", "json", []byte(`[1]`), "", "not a JSON object"},
		{"json invalid", "json", []byte(`{"a":`), "", "not a JSON object"},
		{"unknown decoder", "cayenne", []byte{1}, "", "no such decoder (there are decentlab, hex, json)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.decoder, tc.data)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Decode = %s, %v; want error %q", got, err, tc.err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("Decode = %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}

// TestEncode: the downlink encoders.
func TestEncode(t *testing.T) {
	for _, tc := range []struct {
		encoder, attrs, want, err string
	}{
		{"", `{"led": true}`, `{"led":true}`, ""},
		{"json", `{"a":[1, 2]}`, `{"a":[1,2]}`, ""},
		{"hex", `{"payload":"01FF"}`, "\x01\xff", ""},
		{"hex", `{"payload":"0g"}`, "", "invalid byte"},
		{"hex", `{"payload":1}`, "", `needs the attr "payload"`},
		{"hex", `{"led":true}`, "", `needs the attr "payload"`},
		{"cbor", `{}`, "", "no such encoder"},
	} {
		got, err := Encode(tc.encoder, []byte(tc.attrs))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Encode(%s, %s) = %q, %v; want error %q", tc.encoder, tc.attrs, got, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("Encode(%s, %s) = %q, %v; want %q", tc.encoder, tc.attrs, got, err, tc.want)
		}
	}
}

// FuzzUplink: no message of any network server and no payload make the
// parsers or decoders panic, and whatever they accept is a JSON object.
func FuzzUplink(f *testing.F) {
	f.Add([]byte(lorawantest.ChirpStackUp), []byte{0xaa})
	f.Add([]byte(lorawantest.TTSUplink), mustHex(f, "02012f000304d200010bb1"))
	f.Add([]byte(lorawantest.EverynetUplink), mustHex(f, "02012f00020bb1"))
	f.Add([]byte(`{"deviceInfo":{"devEui":"01"},"data":"-_8"}`), []byte(`{"a":1}`))
	f.Fuzz(func(t *testing.T, msg, payload []byte) {
		for _, n := range []network{chirpStack, theThingsStack, everynet} {
			up, ok, err := n.parse(msg)
			if err == nil && ok {
				if up.eui == "" {
					t.Errorf("%s: uplink without EUI from %q", n, msg)
				}
				if len(up.object) > 0 && !isObject(up.object) {
					t.Errorf("%s: object %q", n, up.object)
				}
			}
		}
		for _, d := range Decoders {
			if out, err := Decode(d, payload); err == nil && !isObject(out) {
				t.Errorf("%s(%x) = %q: not a JSON object", d, payload, out)
			}
		}
	})
}

func isObject(b []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && m != nil
}
