package amqp

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/dojot-es/dojot"
)

// fuzzStore keeps what the agent appends.
type fuzzStore struct{ got [][]byte }

func (s *fuzzStore) AppendDataAsyncID(_, _ string, payload []byte, _ string) (func(<-chan time.Time) (uint64, error), error) {
	s.got = append(s.got, payload)
	return func(<-chan time.Time) (uint64, error) { return 1, nil }, nil
}

// fuzzDevices has two devices of one tenant on routing key "pump", and
// two of two tenants on "shared" (which the agent refuses: agents.ForTenant).
type fuzzDevices struct{}

func (fuzzDevices) DevicesByStatic(_, value string) []dojot.DeviceKey {
	switch value {
	case "pump":
		return []dojot.DeviceKey{{Tenant: "admin", ID: "a1b2c3"}, {Tenant: "admin", ID: "d4e5f6"}}
	case "shared":
		return []dojot.DeviceKey{{Tenant: "admin", ID: "a1b2c3"}, {Tenant: "acme", ID: "d4e5f6"}}
	}
	return nil
}
func (fuzzDevices) StaticValue(string, string, string) (string, bool) { return "", false }

// FuzzHandle: any message body. A JSON object becomes one reading per
// device of its routing key (when they are of one tenant), whose attrs are the body as sent and whose
// metadata name the device; anything else is refused and stores nothing.
func FuzzHandle(f *testing.F) {
	f.Add([]byte(`{"temperature":21.5,"timestamp":"2026-04-01T10:00:00Z"}`), "pump")
	f.Add([]byte(`{"timestamp":1600000000123,"a":[1,{"b":null}]}`), "pump")
	f.Add([]byte(`[1,2]`), "pump")
	f.Add([]byte(`{"a":1}`), "nobody")
	f.Add([]byte(`{"a":1}`), "shared")
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		store := &fuzzStore{}
		a, err := New(Options{URL: "amqp://127.0.0.1:5672/", Store: store, Devices: fuzzDevices{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		fl := a.handle(amqp091.Delivery{Body: body, RoutingKey: key})
		var obj map[string]json.RawMessage
		isObject := json.Unmarshal(body, &obj) == nil && obj != nil
		devices := fuzzDevices{}.DevicesByStatic("", key)
		if !isObject || len(devices) == 0 || key == "shared" || len(body) > a.opts.MaxPayload {
			if !fl.refused || len(store.got) != 0 {
				t.Fatalf("%q on %q: refused %v, stored %q", body, key, fl.refused, store.got)
			}
			return
		}
		if fl.refused || len(store.got) != len(devices) {
			t.Fatalf("%q on %q: refused %v, stored %d readings", body, key, fl.refused, len(store.got))
		}
		for i, got := range store.got {
			var r struct {
				Metadata struct{ DeviceID, Tenant string }
				Attrs    json.RawMessage
			}
			if err := json.Unmarshal(got, &r); err != nil {
				t.Fatalf("%q: reading %q: %v", body, got, err)
			}
			if r.Metadata.DeviceID != devices[i].ID || r.Metadata.Tenant != devices[i].Tenant || !bytes.Equal(r.Attrs, bytes.TrimSpace(body)) {
				t.Fatalf("%q: reading %q", body, got)
			}
		}
	})
}
