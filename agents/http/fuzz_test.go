package http_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	agenthttp "github.com/dojot-es/dojot/agents/http"
)

var fuzzPaths = []string{"/http-agent/v1/incoming-messages", "/http-agent/v1/incoming-messages/create-many", "/iotagent/readings"}

// FuzzAgent: any body on the agent's three routes, from an authenticated
// device. Nothing is a 5xx (the store works); a refusal stores nothing; an
// acceptance stores one reading per message, of the device, whose attrs
// are a JSON object (a single message's: its data as sent).
func FuzzAgent(f *testing.F) {
	f.Add(uint8(0), []byte(`{"ts":"2018-06-05T19:15:37.452Z","data":{"temperature":21.5}}`))
	f.Add(uint8(1), []byte(`[{"ts":1528226137000,"data":{"n":1}},{"ts":"2018-06-05T19:15:38Z","data":{"n":2}}]`))
	f.Add(uint8(2), []byte(`{"tenant":"admin","deviceId":"abc123","readings":[{"timestamp":"2018-06-05T19:15:37.452Z","t":1},{"h":[1,2]}]}`))
	f.Add(uint8(0), []byte(`{"ts":-1,"data":{}}`))
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		s := &stored{}
		a, err := agenthttp.New(agenthttp.Options{Store: s, Devices: devices{"admin/abc123": true},
			Credentials: passwords{"admin/abc123": "pw"}, MaxBody: 4096,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		path := fuzzPaths[int(op)%len(fuzzPaths)]
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", basic("admin@abc123", "pw"))
		w := httptest.NewRecorder()
		a.ServeHTTP(w, req)
		got := s.readings()
		if w.Code >= 500 || w.Body.Len() > 0 && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("POST %s %q = %d %q", path, body, w.Code, w.Body)
		}
		if w.Code/100 != 2 {
			if len(got) > 0 {
				t.Fatalf("POST %s %q = %d, yet stored %q", path, body, w.Code, got)
			}
			return
		}
		var in struct {
			Data     json.RawMessage
			Readings []json.RawMessage
		}
		var batch []json.RawMessage
		switch path {
		case fuzzPaths[0]:
			_ = json.Unmarshal(body, &in)
			batch = []json.RawMessage{in.Data}
		case fuzzPaths[1]:
			_ = json.Unmarshal(body, &batch)
		default:
			_ = json.Unmarshal(body, &in)
			batch = in.Readings
		}
		if len(got) != len(batch) {
			t.Fatalf("POST %s %q stored %d readings: %q", path, body, len(got), got)
		}
		for _, rd := range got {
			var r struct {
				Metadata struct {
					DeviceID, Tenant string
					Timestamp        *int64
				}
				Attrs json.RawMessage
			}
			var attrs map[string]json.RawMessage
			if json.Unmarshal([]byte(rd), &r) != nil || r.Metadata.DeviceID != "abc123" || r.Metadata.Tenant != "admin" ||
				r.Metadata.Timestamp == nil || json.Unmarshal(r.Attrs, &attrs) != nil || attrs == nil {
				t.Fatalf("POST %s %q stored %q", path, body, rd)
			}
			if path == fuzzPaths[0] && !bytes.Equal(r.Attrs, in.Data) {
				t.Fatalf("POST %s %q stored attrs %s", path, body, r.Attrs)
			}
		}
	})
}
