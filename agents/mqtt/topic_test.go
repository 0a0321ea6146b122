package mqtt

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
)

func TestParseTopic(t *testing.T) {
	tests := map[string]*Topic{
		"admin:a1998e/attrs":   {Tenant: "admin", Device: "a1998e", Kind: KindAttrs},
		"admin:a1998e/config":  {Tenant: "admin", Device: "a1998e", Kind: KindConfig},
		"/admin/a1998e/attrs":  {Tenant: "admin", Device: "a1998e", Kind: KindAttrs, Legacy: true},
		"/admin/a1998e/config": {Tenant: "admin", Device: "a1998e", Kind: KindConfig, Legacy: true},
		"admin@a1998e/attrs":   nil,
		"admin:a1998e/attrs/x": nil,
		"admin:a1998e":         nil,
		"admin:a1.9/attrs":     nil,
		"admin:+/attrs":        nil,
		"Admin:a1/attrs":       nil,
		"/admin/a1998e/attrs/": nil,
		"admin/a1998e/attrs":   nil,
		":a1/attrs":            nil,
		"admin:/attrs":         nil,
		"":                     nil,
	}
	for s, want := range tests {
		got, err := ParseTopic(s)
		switch {
		case want == nil && err == nil:
			t.Errorf("ParseTopic(%q) = %+v; want an error", s, got)
		case want != nil && (err != nil || got != *want):
			t.Errorf("ParseTopic(%q) = %+v, %v; want %+v", s, got, err, *want)
		}
	}
}

func FuzzParseTopic(f *testing.F) {
	f.Add("admin:a1998e/attrs")
	f.Add("/admin/a1998e/config")
	f.Fuzz(func(t *testing.T, s string) {
		if tp, err := ParseTopic(s); err == nil && tp.String() != s {
			t.Errorf("ParseTopic(%q).String() = %q, want the input back", s, tp.String())
		}
	})
}

func TestTimestamp(t *testing.T) {
	now := time.UnixMilli(1700000000123)
	tests := map[string]int64{
		``:                                now.UnixMilli(),
		`1528226137452`:                   1528226137452,
		`1528226137452.9`:                 1528226137452,
		`"2018-06-05T19:15:37.452Z"`:      1528226137452,
		`"2018-06-05T16:15:37.452-03:00"`: 1528226137452,
		`"2018-06-05"`:                    now.UnixMilli(),
		`-5`:                              now.UnixMilli(),
		`true`:                            now.UnixMilli(),
		`null`:                            now.UnixMilli(),
		`{"a":1}`:                         now.UnixMilli(),
	}
	for raw, want := range tests {
		if got := timestamp(json.RawMessage(raw), now); got != want {
			t.Errorf("timestamp(%s) = %d; want %d", raw, got, want)
		}
	}
}

func FuzzReading(f *testing.F) {
	f.Add([]byte(`{"t":1,"timestamp":1528226137452}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var attrs map[string]json.RawMessage
		if json.Unmarshal(payload, &attrs) != nil || attrs == nil {
			return
		}
		var r struct {
			Metadata map[string]any             `json:"metadata"`
			Attrs    map[string]json.RawMessage `json:"attrs"`
		}
		b := dojot.Reading("admin", "a1", timestamp(attrs["timestamp"], time.Now()), payload)
		if err := json.Unmarshal(b, &r); err != nil || len(r.Attrs) != len(attrs) || r.Metadata["deviceid"] != "a1" {
			t.Errorf("Reading(%s) = %s (%v)", payload, b, err)
		}
	})
}
