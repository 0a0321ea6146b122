package eventstore

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
)

func FuzzDecodeEvent(f *testing.F) {
	ev, _ := dojot.NewEvent("device.created", "admin", dojot.KindDevice, "a1998e", time.Now(), map[string]any{"label": "pump", "attrs": []any{1, "x,}]", nil}})
	ev.Version, ev.Actor = 3, "jörg"
	b, _ := json.Marshal(ev)
	f.Add(b)
	ev.CorrelationID = "req-42"
	b, _ = json.Marshal(ev)
	f.Add(b)
	f.Add([]byte(`{"id":"x","correlation_id":"a\"b","data":{}}`))
	f.Add([]byte(`{"id":"x","data":null}`))
	f.Add([]byte(`{"id":"x","data":"a\"}b","version":0}`))
	f.Add([]byte(` { "ID" : "x" , "data" : [1, {"a":[]}] } `))
	f.Add([]byte(`{"id":"\u00e9","time":"2026-11-24T10:11:12.5+02:00","data":{}}`))
	f.Add([]byte(`{"version":01,"data":{"a":}}`))
	f.Add([]byte(`{"id":"x"}{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast, slow dojot.Event
		var strs interner
		if !decodeFast(b, &fast, &strs) {
			return
		}
		if err := json.Unmarshal(b, &slow); err != nil {
			t.Fatalf("decodeFast(%q) accepted what json.Unmarshal rejects: %v", b, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("decodeFast(%q) = %+v, json.Unmarshal = %+v", b, fast, slow)
		}
	})
}

func TestDecodeEventFallsBack(t *testing.T) {
	for _, in := range []string{
		`{"ID":"x","data":{}}`,      // keys match case-insensitively in encoding/json
		`{"id":"\u0078","data":{}}`, // escapes
		`{"id":"x","extra":1}`,      // unknown key
		`{"id":"x","version":null}`, // null keeps the zero value
	} {
		var got, want dojot.Event
		errGot := decodeEvent([]byte(in), &got, nil)
		errWant := json.Unmarshal([]byte(in), &want)
		if (errGot == nil) != (errWant == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("decodeEvent(%s) = %+v, %v; want %+v, %v", in, got, errGot, want, errWant)
		}
	}
	var ev dojot.Event
	if err := decodeEvent([]byte(`{not json`), &ev, nil); err == nil {
		t.Error("decodeEvent(garbage) = nil error")
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	ev, _ := dojot.NewEvent("device.created", "admin", dojot.KindDevice, "a1998e", time.Now(), map[string]any{
		"label": "pump", "templates": []int{1, 2},
		"attrs": []map[string]string{{"label": "temperature", "type": "dynamic", "value_type": "float"}},
	})
	ev.Version, ev.Actor = 1, "admin"
	data, _ := json.Marshal(ev)
	b.Run("fast", func(b *testing.B) {
		var strs interner
		for b.Loop() {
			var ev dojot.Event
			if err := decodeEvent(data, &ev, &strs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var ev dojot.Event
			if err := json.Unmarshal(data, &ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func FuzzEncodeEvent(f *testing.F) {
	f.Add("aIMd01tGtL87fqiec22sl1", "device.created", "admin", "a1998e", uint64(1), int64(1764000000123456789), "admin", []byte(`{"label": "pump <1>", "attrs":[1,2]}`))
	f.Add("x", "t\"", "é", "", uint64(0), int64(0), "", []byte(nil))
	f.Add("x", "t", "a", "b", uint64(1<<63), int64(-1<<62), "<&>", []byte(`{"a":}`))
	f.Fuzz(func(t *testing.T, id, typ, tenant, aggID string, version uint64, unixNano int64, actor string, data []byte) {
		// The correlation id is the aggregate id's bytes backwards: fuzzed
		// like the other strings, empty or not, without a parameter of
		// its own (which would void the committed corpus).
		r := []byte(aggID)
		slices.Reverse(r)
		ev := dojot.Event{ID: id, Type: typ, Tenant: tenant, Kind: dojot.KindDevice, AggregateID: aggID, Version: version,
			Time: time.Unix(0, unixNano).UTC(), Actor: actor, CorrelationID: string(r), Data: data}
		got, errGot := encodeEvent(ev)
		want, errWant := json.Marshal(ev)
		if (errGot == nil) != (errWant == nil) {
			t.Fatalf("encodeEvent(%+v) error %v, json.Marshal error %v", ev, errGot, errWant)
		}
		if errGot != nil {
			return
		}
		var a, b dojot.Event
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("encodeEvent(%+v) = %s: not JSON: %v", ev, got, err)
		}
		if err := json.Unmarshal(want, &b); err != nil {
			t.Fatal(err)
		}
		// Data may differ only in json.Marshal's HTML escaping.
		var da, db any
		if (a.Data != nil) != (b.Data != nil) || json.Unmarshal(a.Data, &da) != nil || json.Unmarshal(b.Data, &db) != nil || !reflect.DeepEqual(da, db) {
			t.Fatalf("data: encodeEvent %s, json.Marshal %s", a.Data, b.Data)
		}
		a.Data, b.Data = nil, nil
		if !reflect.DeepEqual(a, b) {
			t.Errorf("encodeEvent(%+v) decodes to %+v, json.Marshal to %+v", ev, a, b)
		}
	})
}

func BenchmarkEncodeEvent(b *testing.B) {
	ev, _ := dojot.NewEvent("device.created", "admin", dojot.KindDevice, "a1998e", time.Now(), map[string]any{
		"label": "pump", "templates": []int{1, 2},
		"attrs": []map[string]string{{"label": "temperature", "type": "dynamic", "value_type": "float"}},
	})
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			if _, err := encodeEvent(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}
