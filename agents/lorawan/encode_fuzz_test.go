package lorawan

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzEncode: an actuation's attrs. What the hex encoder sends, the hex
// decoder reads back as the payload asked for; what the json encoder sends
// is the attrs, compact, which the json decoder takes as they are when
// they are an object.
func FuzzEncode(f *testing.F) {
	f.Add([]byte(`{"payload":"01ff"}`))
	f.Add([]byte(` {"payload":"ABCD", "x" : [1, 2]} `))
	f.Add([]byte(`{"payload":"0"}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, attrs []byte) {
		if out, err := Encode("hex", attrs); err == nil {
			var m struct{ Payload string }
			_ = json.Unmarshal(attrs, &m)
			back, err := Decode("hex", out)
			var got struct{ Payload string }
			if err != nil || json.Unmarshal(back, &got) != nil || got.Payload != strings.ToLower(m.Payload) {
				t.Fatalf("Encode(hex, %q) = %x; decoded %q, %v", attrs, out, back, err)
			}
			if b, _ := hex.DecodeString(got.Payload); !bytes.Equal(b, out) {
				t.Fatalf("Encode(hex, %q) = %x", attrs, out)
			}
		}
		out, err := Encode("json", attrs)
		if err != nil {
			if json.Valid(attrs) {
				t.Fatalf("Encode(json, %q): %v", attrs, err)
			}
			return
		}
		var c bytes.Buffer
		_ = json.Compact(&c, attrs)
		if !bytes.Equal(out, c.Bytes()) {
			t.Fatalf("Encode(json, %q) = %q", attrs, out)
		}
		if back, err := Decode("json", out); err == nil && !bytes.Equal(back, out) {
			t.Fatalf("Decode(json, %q) = %q", out, back)
		}
	})
}
