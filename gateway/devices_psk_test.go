package gateway

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections/memory"
)

const lockTemplate = `{"label":"Lock","attrs":[
	{"label":"k","type":"static","value_type":"psk"},
	{"label":"k2","type":"static","value_type":"psk"},
	{"label":"t","type":"dynamic","value_type":"float"}]}`

// pskServer has template 1 (psk attrs k and k2, float t), template 2 (no
// psk attr), devices aa, bb and dd on template 1 and cc on template 2.
func pskServer(t *testing.T) (*httptest.Server, *memory.View) {
	t.Helper()
	srv, view := dmServer(t)
	dmMust(t, srv, 200, "POST", "/template", lockTemplate)
	dmMust(t, srv, 200, "POST", "/template", `{"label":"Plain","attrs":[{"label":"x","type":"dynamic","value_type":"string"}]}`)
	for _, d := range []string{`"aa","templates":[1]`, `"bb","templates":[1]`, `"cc","templates":[2]`, `"dd","templates":[1]`} {
		dmMust(t, srv, 200, "POST", "/device", `{"label":"lock","id":`+d+`}`)
	}
	return srv, view
}

// pskState is everything a failed call must leave as it was.
func pskState(v *memory.View) string {
	var b strings.Builder
	for _, tenant := range []string{"t1", "t2"} {
		for _, id := range []string{"aa", "bb", "cc", "dd"} {
			seq, ver := v.Aggregate(tenant, dojot.KindDevice, id)
			js, _ := v.InternalDeviceJSON(tenant, id)
			fmt.Fprintf(&b, "%s/%s seq %d v%d %s\n", tenant, id, seq, ver, js)
		}
	}
	return b.String()
}

// internalKeys reads the static values of a device's psk attributes from
// GET /internal/device/:id.
func internalKeys(t *testing.T, srv *httptest.Server, id string) map[string]string {
	t.Helper()
	var dev struct {
		Attrs map[string][]struct {
			Label       string  `json:"label"`
			ValueType   string  `json:"value_type"`
			StaticValue *string `json:"static_value"`
		} `json:"attrs"`
	}
	if err := json.Unmarshal([]byte(dmMust(t, srv, 200, "GET", "/internal/device/"+id, "")), &dev); err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, attrs := range dev.Attrs {
		for _, a := range attrs {
			if a.ValueType == "psk" && a.StaticValue != nil {
				keys[a.Label] = *a.StaticValue
			}
		}
	}
	return keys
}

func TestGenAndCopyPSK(t *testing.T) {
	srv, _ := pskServer(t)
	var keys []dojot.PSK
	if err := json.Unmarshal([]byte(dmMust(t, srv, 200, "POST", "/device/gen_psk/aa?key_length=16", "")), &keys); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Attribute != "k" || keys[1].Attribute != "k2" || keys[0].PSK == keys[1].PSK {
		t.Fatalf("gen_psk = %+v; want keys for k and k2", keys)
	}
	for _, k := range keys {
		if b, err := hex.DecodeString(k.PSK); err != nil || len(b) != 16 {
			t.Errorf("key %q is not 16 bytes of hex", k.PSK)
		}
	}
	public := dmMust(t, srv, 200, "GET", "/device/aa", "")
	list := dmMust(t, srv, 200, "GET", "/device", "")
	for _, k := range keys {
		if strings.Contains(public, k.PSK) || strings.Contains(list, k.PSK) {
			t.Errorf("public API shows key %s: %s %s", k.PSK, public, list)
		}
	}
	if !strings.Contains(public, `"updated":`+ts) {
		t.Errorf("GET /device/aa = %s; want updated set", public)
	}
	if got := internalKeys(t, srv, "aa"); got["k"] != keys[0].PSK || got["k2"] != keys[1].PSK {
		t.Errorf("internal keys = %v; want %+v", got, keys)
	}
	if got := dmMust(t, srv, 200, "GET", "/internal/device?label=lock", ""); !strings.Contains(got, keys[0].PSK) || !strings.Contains(got, `"pagination":`) {
		t.Errorf("GET /internal/device = %s", got)
	}
	if got := dmMust(t, srv, 200, "GET", "/internal/device?idsOnly=true", ""); got != `["aa","bb","cc","dd"]` {
		t.Errorf("GET /internal/device?idsOnly = %s", got)
	}

	// Only k2 is made again.
	var again []dojot.PSK
	if err := json.Unmarshal([]byte(dmMust(t, srv, 200, "POST", "/device/gen_psk/aa?key_length=4&attrs=k2", "")), &again); err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0].Attribute != "k2" || len(again[0].PSK) != 8 {
		t.Fatalf("gen_psk attrs=k2 = %+v", again)
	}
	if got := internalKeys(t, srv, "aa"); got["k"] != keys[0].PSK || got["k2"] != again[0].PSK {
		t.Errorf("internal keys = %v; want k kept, k2 %s", got, again[0].PSK)
	}

	// Copy aa's k2 to bb's k.
	code, body := dmCall(t, srv, "PUT", "/device/bb/attrs/k/psk?from_dev_id=aa&from_attr_label=k2", "")
	if code != 204 || body != "" {
		t.Errorf("copy psk = %d %q; want 204 and no body", code, body)
	}
	if got := internalKeys(t, srv, "bb"); len(got) != 1 || got["k"] != again[0].PSK {
		t.Errorf("bb's internal keys = %v; want k = %s", got, again[0].PSK)
	}

	// A device without psk attributes: 204, nothing stored.
	code, body = dmCall(t, srv, "POST", "/device/gen_psk/cc?key_length=8", "")
	if code != 204 || body != "" {
		t.Errorf("gen_psk on cc = %d %q; want 204 and no body", code, body)
	}
}

func TestPSKBadInputs(t *testing.T) {
	srv, view := pskServer(t)
	dmMust(t, srv, 200, "POST", "/device/gen_psk/aa?key_length=8", "")
	const (
		rangeMsg  = `{"message":"key_length must be greater than 0 and lesser than 1024","status":400}`
		someMsg   = `{"message":"Not found some attributes, please check them","status":400}`
		missCopy  = `{"message":"Missing mandatory parameter: from_dev_id or/and from_attr_label","status":400}`
		noDevice  = `{"message":"No such device: zz","status":404}`
		noDeviceA = `{"message":"No such device: aa","status":404}`
	)
	tests := []struct {
		name, method, path, tenant string
		code                       int
		body                       string
	}{
		{"no key_length", "POST", "/device/gen_psk/aa", "", 400, `{"message":"Missing key_length parameter","status":400}`},
		{"no key_length beats no device", "POST", "/device/gen_psk/zz?attrs=k", "", 400, `{"message":"Missing key_length parameter","status":400}`},
		{"key_length not a number", "POST", "/device/gen_psk/aa?key_length=abc", "", 400, `{"message":"key_length must be an integer","status":400}`},
		{"key_length empty", "POST", "/device/gen_psk/aa?key_length=", "", 400, `{"message":"key_length must be an integer","status":400}`},
		{"key_length 0", "POST", "/device/gen_psk/aa?key_length=0", "", 400, rangeMsg},
		{"key_length negative", "POST", "/device/gen_psk/aa?key_length=-3", "", 400, rangeMsg},
		{"key_length 1025", "POST", "/device/gen_psk/aa?key_length=1025", "", 400, rangeMsg},
		{"key_length huge", "POST", "/device/gen_psk/aa?key_length=99999999999999999999999", "", 400, rangeMsg},
		{"unknown device", "POST", "/device/gen_psk/zz?key_length=8", "", 404, noDevice},
		{"device before range", "POST", "/device/gen_psk/zz?key_length=0", "", 404, noDevice},
		{"other tenant", "POST", "/device/gen_psk/aa?key_length=8", "t2", 404, noDeviceA},
		{"attr not psk", "POST", "/device/gen_psk/aa?key_length=8&attrs=t", "", 400, someMsg},
		{"unknown attr", "POST", "/device/gen_psk/aa?key_length=8&attrs=k,nope", "", 400, someMsg},
		{"repeated attr", "POST", "/device/gen_psk/aa?key_length=8&attrs=k,k", "", 400, someMsg},
		{"empty attrs", "POST", "/device/gen_psk/aa?key_length=8&attrs=", "", 400, someMsg},
		{"attrs on no psk device", "POST", "/device/gen_psk/cc?key_length=8&attrs=x", "", 400, someMsg},

		{"copy without from_dev_id", "PUT", "/device/bb/attrs/k/psk?from_attr_label=k", "", 400, missCopy},
		{"copy without from_attr_label", "PUT", "/device/bb/attrs/k/psk?from_dev_id=aa", "", 400, missCopy},
		{"copy from unknown device", "PUT", "/device/bb/attrs/k/psk?from_dev_id=zz&from_attr_label=k", "", 404, noDevice},
		{"copy from unknown attr", "PUT", "/device/bb/attrs/k/psk?from_dev_id=aa&from_attr_label=nope", "", 404, `{"message":"Not found attributes nope","status":404}`},
		{"copy from non-psk attr", "PUT", "/device/bb/attrs/k/psk?from_dev_id=aa&from_attr_label=t", "", 400, `{"message":"Attribute t is not a 'psk' type_value","status":400}`},
		{"copy to unknown device", "PUT", "/device/zz/attrs/k/psk?from_dev_id=aa&from_attr_label=k", "", 404, noDevice},
		{"copy to unknown attr", "PUT", "/device/bb/attrs/nope/psk?from_dev_id=aa&from_attr_label=k", "", 404, `{"message":"Not found attributes nope","status":404}`},
		{"copy to non-psk attr", "PUT", "/device/bb/attrs/t/psk?from_dev_id=aa&from_attr_label=k", "", 400, `{"message":"Attribute t is not a 'psk' type_value","status":400}`},
		{"copy without a key", "PUT", "/device/bb/attrs/k/psk?from_dev_id=dd&from_attr_label=k", "", 400, `{"message":"There is not a psk generated to k","status":400}`},
		{"copy in other tenant", "PUT", "/device/bb/attrs/k/psk?from_dev_id=aa&from_attr_label=k", "t2", 404, noDeviceA},

		{"internal unknown device", "GET", "/internal/device/zz", "", 404, noDevice},
		{"internal other tenant", "GET", "/internal/device/aa", "t2", 404, noDeviceA},
		{"internal bad page", "GET", "/internal/device?page_size=x", "", 400, `{"message":"page_size and page_num must be integers","status":400}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := pskState(view)
			var hdr []string
			if tt.tenant != "" {
				hdr = []string{"tenant", tt.tenant}
			}
			code, body := dmCall(t, srv, tt.method, tt.path, "", hdr...)
			if code != tt.code || body != tt.body {
				t.Errorf("%s %s = %d %s; want %d %s", tt.method, tt.path, code, body, tt.code, tt.body)
			}
			if after := pskState(view); after != before {
				t.Errorf("%s %s changed the state:\n%s\nwas\n%s", tt.method, tt.path, after, before)
			}
		})
	}
	if got := dmMust(t, srv, 200, "GET", "/internal/device", ""); !strings.Contains(got, `"devices":[`) {
		t.Errorf("GET /internal/device = %s", got)
	}
}

func TestPyInt(t *testing.T) {
	tests := map[string]struct {
		n  int
		ok bool
	}{
		"16": {16, true}, " 16\n": {16, true}, "+8": {8, true}, "-3": {-3, true}, "1_024": {1024, true}, "007": {7, true},
		"99999999999999999999": {math.MaxInt, true}, "-99999999999999999999": {-math.MaxInt, true},
		"": {0, false}, "abc": {0, false}, "1.0": {0, false}, "_1": {0, false}, "1_": {0, false}, "1__0": {0, false},
		"+": {0, false}, "0x10": {0, false}, "1 0": {0, false},
	}
	for in, tt := range tests {
		if n, ok := pyInt(in); n != tt.n || ok != tt.ok {
			t.Errorf("pyInt(%q) = %d, %v; want %d, %v", in, n, ok, tt.n, tt.ok)
		}
	}
}
