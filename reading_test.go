package dojot

import (
	"encoding/json"
	"testing"
	"time"
)

func TestReadingTime(t *testing.T) {
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
		if got := ReadingTime(json.RawMessage(raw), now); got != want {
			t.Errorf("ReadingTime(%s) = %d; want %d", raw, got, want)
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
		b := Reading("admin", "a1", ReadingTime(attrs["timestamp"], time.Now()), payload)
		if err := json.Unmarshal(b, &r); err != nil || len(r.Attrs) != len(attrs) || r.Metadata["deviceid"] != "a1" {
			t.Errorf("Reading(%s) = %s (%v)", payload, b, err)
		}
	})
}
