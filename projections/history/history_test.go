package history

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
)

func TestFormatTS(t *testing.T) {
	for _, c := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2018, 2, 14, 13, 43, 33, 306_000_000, time.UTC), "2018-02-14T13:43:33.306000Z"},
		{time.Date(2018, 2, 14, 13, 43, 33, 0, time.UTC), "2018-02-14T13:43:33Z"}, // Python drops a zero fraction
		{time.Date(2018, 2, 14, 10, 43, 33, 1_000, time.FixedZone("x", -3*3600)), "2018-02-14T13:43:33.000001Z"},
	} {
		if got := FormatTS(c.in); got != c.want {
			t.Errorf("FormatTS(%v) = %s; want %s", c.in, got, c.want)
		}
	}
}

// TestParseTS: dojot's persister rules for metadata.timestamp.
func TestParseTS(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want time.Time
		ok   bool
	}{
		{`1528226137452`, time.UnixMilli(1528226137452), true},
		{`1528226137`, time.Unix(1528226137, 0), true}, // up to 2^31-1: seconds
		{`2147483647`, time.Unix(2147483647, 0), true},
		{`2147483648`, time.UnixMilli(2147483648), true},
		{`1528226137.5`, time.Unix(1528226137, 500_000_000), true},
		{`"1528226137452"`, time.UnixMilli(1528226137452), true},
		{`"2018-06-05T19:15:37.452Z"`, time.UnixMilli(1528226137452), true},
		{`"2018-06-05T19:15:37.452"`, time.UnixMilli(1528226137452), true}, // no zone: UTC
		{`"2018-06-05T16:15:37.452-03:00"`, time.UnixMilli(1528226137452), true},
		{`null`, time.Time{}, false},
		{`"yesterday"`, time.Time{}, false},
		{`-5`, time.Time{}, false},
		{`true`, time.Time{}, false},
		{`{}`, time.Time{}, false},
	} {
		got, ok := parseTS(json.RawMessage(c.raw))
		if ok != c.ok || ok && !got.Equal(c.want) {
			t.Errorf("parseTS(%s) = %v, %v; want %v, %v", c.raw, got, ok, c.want, c.ok)
		}
	}
}

func TestReadingDocs(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 123_456_789, time.UTC)
	ev := dojot.Event{Type: dojot.EventReading, Tenant: "admin", AggregateID: "a1", Seq: 7, Time: at,
		Data: json.RawMessage(`{"metadata":{"deviceid":"a1","tenant":"admin","protocol":"mqtt"},"attrs":{"t":1,"s":"x","t":2}}`)}
	docs, err := ReadingDocs(ev)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(docs)
	want := `[{"attr":"t","value":2,"device_id":"a1","ts":"2026-01-01T00:00:00.123000Z","metadata":{"protocol":"mqtt"}},` +
		`{"attr":"s","value":"x","device_id":"a1","ts":"2026-01-01T00:00:00.123000Z","metadata":{"protocol":"mqtt"}}]`
	if string(b) != want {
		t.Errorf("ReadingDocs =\n%s\nwant\n%s", b, want)
	}
	if docs[0].Ref != 7 {
		t.Errorf("Ref = %d; want 7", docs[0].Ref)
	}
	ev.AggregateID = "other" // metadata names another device than the subject
	if _, err := ReadingDocs(ev); err == nil {
		t.Error("a reading of another device's subject was accepted")
	}
}

var readingSeeds = []string{
	`{"metadata":{"deviceid":"a1","tenant":"admin","timestamp":1528226137452},"attrs":{"temperature":23.5,"n":7}}`,
	`{"metadata":{"deviceid":"a1","tenant":"admin","timestamp":1528226137},"attrs":{"t":1,"s":"x","t":2}}`,
	`{"metadata":{"deviceid":"a1","tenant":"admin","timestamp":1528226137.25},"attrs":{}}`,
	`{"metadata":{"deviceid":"a1","tenant":"admin","timestamp":"2020-01-02T03:04:05.678Z"},"attrs":{"a":[1,{"b":"}"}]}}`,
	`{"metadata":{"deviceid":"a1","tenant":"admin","timestamp":"1528226137452"},"attrs":{"a":null}}`,
	`{"metadata":{"deviceid":"a1","tenant":"admin","timestamp":null},"attrs":{"a":" "}}`,
	`{"metadata":{"deviceid":"a1","tenant":"admin","timestamp":-1},"attrs":{"a":1}}`,
	`{"metadata":{"deviceid":"a1","tenant":"admin","timestamp":1e400},"attrs":{"a":1}}`,
	`{"attrs":{"a":1},"metadata":{"timestamp":5,"deviceid":"a1"}}`,
	`{"metadata":{"deviceid":"a1","tenant":"admin","protocol":"mqtt"},"attrs":{"a":1}}`,
	`{"metadata":{"deviceid":"a2","tenant":"admin"},"attrs":{"a":1}}`,
	`{"metadata":{"deviceid":"a1"},"attrs":{"a":1},"attrs":{"b":2}}`,
	`{"metadata":{"deviceid":"a1"},"metadata":{"timestamp":9},"attrs":{"a":1}}`,
	`{"Metadata":{"deviceid":"a1"},"ATTRS":{"a":1}}`,
	`{"metadata":{"deviceid":"a1"},"attrſ":{"a":1}}`,
	`{"metadata":{"deviceid":"a\u0031"},"attrs":{"\u0061":1}}`,
	`{"metadata":{"deviceid":"a1"},"attrs":[1]}`,
	`{"metadata":null,"attrs":{"a":1}}`,
	`{"metadata":{"deviceid":"a1"}}`,
	`{"metadata":{"deviceid":"a1"},"attrs":{"a":1}} x`,
	`{"metadata":{"deviceid":"a1"},"attrs":{"a":1},"x":{"y":[]}}`,
	` { "metadata" : { "deviceid" : "a1" } , "attrs" : { "a" : 1 , "b" : "2" } } `,
	`{"metadata":{"deviceid":"a1",},"attrs":{"a":1}}`, `{"metadata":{"deviceid":"a1"},"attrs":{"a":1,},}`,
	`not json`, `[]`, `{}`, ``,
}

// TestPlainReadingDocs: the direct path gives what encoding/json gives,
// or steps aside.
func TestPlainReadingDocs(t *testing.T) {
	for _, s := range readingSeeds {
		checkPlainReadingDocs(t, []byte(s))
	}
	// What the agents write takes the direct path.
	for _, s := range readingSeeds[:7] {
		ev := dojot.Event{AggregateID: "a1", Data: []byte(s)}
		if _, ok := plainReadingDocs(ev); !ok {
			t.Errorf("%s: not on the direct path", s)
		}
	}
}

func FuzzPlainReadingDocs(f *testing.F) {
	for _, s := range readingSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkPlainReadingDocs)
}

func checkPlainReadingDocs(t *testing.T, data []byte) {
	ev := dojot.Event{Type: dojot.EventReading, Tenant: "admin", AggregateID: "a1", Seq: 9,
		Time: time.Date(2026, 1, 1, 0, 0, 0, 123_456_789, time.UTC), Data: data}
	got, ok := plainReadingDocs(ev)
	if !ok {
		return
	}
	want, err := decodeReadingDocs(ev)
	if err != nil {
		t.Fatalf("%s: direct path gave %v; encoding/json refused it: %v", data, got, err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: direct path gave %d docs; encoding/json %d", data, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Attr != w.Attr || string(g.Value) != string(w.Value) || g.DeviceID != w.DeviceID ||
			!g.TS.Equal(w.TS) || string(g.Metadata) != string(w.Metadata) || g.Ref != w.Ref {
			t.Fatalf("%s: doc %d = %+v; encoding/json gives %+v", data, i, g, w)
		}
	}
}
