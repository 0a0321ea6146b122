package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections/dmjson"
)

var (
	at0 = time.Date(2018, 1, 25, 12, 30, 42, 164695000, time.UTC)
	at1 = time.Date(2018, 1, 25, 13, 0, 0, 0, time.UTC) // no microseconds: isoformat leaves them out
)

func sp(s string) *string { return &s }

// log builds events with consecutive sequences and per-aggregate versions.
type log struct {
	evs      []dojot.Event
	versions map[string]uint64
}

func (l *log) add(tb testing.TB, tenant, typ, kind, id string, data any) {
	tb.Helper()
	ev, err := dojot.NewEvent(typ, tenant, kind, id, at0, data)
	if err != nil {
		tb.Fatal(err)
	}
	if l.versions == nil {
		l.versions = map[string]uint64{}
	}
	l.versions[ev.Subject()]++
	ev.Version = l.versions[ev.Subject()]
	ev.Seq = uint64(len(l.evs) + 1)
	l.evs = append(l.evs, ev)
}

func (l *log) view(tb testing.TB) *View {
	tb.Helper()
	v := New()
	for _, ev := range l.evs {
		if err := v.Apply(context.Background(), ev); err != nil {
			tb.Fatal(err)
		}
	}
	return v
}

func sampleLog(tb testing.TB) *log {
	l := &log{}
	sensor := dojot.Template{ID: 1, Label: "Sensor \"é\"", Created: at0, Attrs: []dojot.Attr{
		{ID: 1, Label: "temperature", Type: "dynamic", ValueType: "float", Created: at0},
		{ID: 2, Label: "model", Type: "static", ValueType: "string", StaticValue: sp("m-1"), Created: at0,
			Metadata: []dojot.Attr{{ID: 3, Label: "unit", Type: "meta", ValueType: "string", Created: at0}}},
		{ID: 4, Label: "proto", Type: "meta", ValueType: "string", StaticValue: sp("mqtt"), Created: at0},
	}}
	l.add(tb, "t1", dojot.EventTemplateCreated, dojot.KindTemplate, "1", dojot.TemplateCreated{Template: sensor})
	geo := dojot.Template{ID: 2, Label: "Geo", Created: at0, Attrs: []dojot.Attr{{ID: 5, Label: "pos", Type: "dynamic", ValueType: "geo:point", Created: at0}}}
	l.add(tb, "t1", dojot.EventTemplateCreated, dojot.KindTemplate, "2", dojot.TemplateCreated{Template: geo})
	for i := range 30 {
		d := dojot.Device{ID: fmt.Sprintf("%05x", 0xabc00+i*7), Label: fmt.Sprintf("dev-%02d", 29-i), Created: at0, Templates: []int{2, 1}}
		if i%5 == 0 {
			d.Overrides = []dojot.Override{{AttrID: 2, StaticValue: "own"}, {AttrID: 3, StaticValue: "C"}}
		}
		l.add(tb, "t1", dojot.EventDeviceCreated, dojot.KindDevice, d.ID, dojot.DeviceCreated{Device: d})
	}
	// A template update changes how its devices render.
	sensor.Attrs[0].ValueType = "int"
	sensor.Attrs[0].Updated = &at1
	sensor.Updated = &at1
	l.add(tb, "t1", dojot.EventTemplateUpdated, dojot.KindTemplate, "1", dojot.TemplateUpdated{Template: sensor})
	l.add(tb, "t1", dojot.EventDeviceDeleted, dojot.KindDevice, "abc07", dojot.DeviceDeleted{ID: "abc07"})
	l.add(tb, "t2", dojot.EventTemplateCreated, dojot.KindTemplate, "1", dojot.TemplateCreated{Template: geo})
	return l
}

func TestDeviceRendering(t *testing.T) {
	v := sampleLog(t).view(t)
	got, ok := v.DeviceJSON("t1", "abc00")
	want := `{"attrs":{"1":[{"created":"2018-01-25T12:30:42.164695+00:00","id":1,"label":"temperature","template_id":"1","type":"dynamic","updated":"2018-01-25T13:00:00+00:00","value_type":"int"},` +
		`{"created":"2018-01-25T12:30:42.164695+00:00","id":2,"is_static_overridden":true,"label":"model","metadata":[{"created":"2018-01-25T12:30:42.164695+00:00","id":3,"is_static_overridden":true,"label":"unit","static_value":"C","type":"meta","updated":null,"value_type":"string"}],"static_value":"own","template_id":"1","type":"static","value_type":"string"},` +
		`{"created":"2018-01-25T12:30:42.164695+00:00","id":4,"is_static_overridden":false,"label":"proto","static_value":"mqtt","template_id":"1","type":"meta","value_type":"string"}],` +
		`"2":[{"created":"2018-01-25T12:30:42.164695+00:00","id":5,"label":"pos","template_id":"2","type":"dynamic","value_type":"geo:point"}]},` +
		`"created":"2018-01-25T12:30:42.164695+00:00","id":"abc00","label":"dev-29","templates":[2,1]}`
	if !ok || string(got) != want {
		t.Errorf("DeviceJSON =\n%s\nwant\n%s", got, want)
	}
	tpl, _ := v.TemplateJSON("t1", 1)
	if !bytes.Contains(tpl, []byte(`"config_attrs":[{"created":"2018-01-25T12:30:42.164695+00:00","id":4,"label":"proto"`)) ||
		!bytes.Contains(tpl, []byte(`"label":"Sensor \"\u00e9\"","updated":"2018-01-25T13:00:00+00:00"}`)) {
		t.Errorf("TemplateJSON = %s", tpl)
	}
	if _, ok := v.DeviceJSON("t1", "abc07"); ok {
		t.Error("deleted device still shown")
	}
	if _, ok := v.DeviceJSON("t2", "abc00"); ok {
		t.Error("device shown to another tenant")
	}
}

// TestReplayIsByteIdentical: the log is the truth; a fresh view fed the
// same events answers every read with the same bytes.
func TestReplayIsByteIdentical(t *testing.T) {
	l := sampleLog(t)
	a := l.view(t)
	// b is fed in batches, as the runner does during a replay.
	b := New()
	for evs := range slices.Chunk(l.evs, 7) {
		if errs := b.ApplyBatch(context.Background(), evs); errs != nil {
			t.Fatal(errs)
		}
	}
	// Applying everything again is a no-op (checkpoint).
	for _, ev := range l.evs {
		if err := b.Apply(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	queries := []dojot.DeviceQuery{
		{}, {Page: dojot.Page{Num: 2, Size: 7}}, {SortByLabel: true}, {IDsOnly: true},
		{Attr: []dojot.AttrFilter{{Label: "model", Value: "own"}}}, {Template: 2, Page: dojot.Page{Num: 1, Size: 3}},
	}
	for _, q := range queries {
		if x, y := a.ListDevices("t1", q), b.ListDevices("t1", q); !bytes.Equal(x, y) {
			t.Errorf("ListDevices(%+v) differs after replay:\n%s\n%s", q, x, y)
		}
	}
	for _, q := range []dojot.TemplateQuery{{}, {SortByLabel: true, Format: dojot.AttrFormatSplit}} {
		if x, y := a.ListTemplates("t1", q), b.ListTemplates("t1", q); !bytes.Equal(x, y) {
			t.Errorf("ListTemplates(%+v) differs after replay", q)
		}
	}
	for _, id := range a.DeviceIDs("t1") {
		x, _ := a.DeviceJSON("t1", id)
		y, _ := b.DeviceJSON("t1", id)
		if !bytes.Equal(x, y) {
			t.Errorf("device %s differs after replay", id)
		}
	}
}

func TestDeviceQueries(t *testing.T) {
	v := sampleLog(t).view(t)
	tests := []struct {
		q    dojot.DeviceQuery
		want string // start of the answer
	}{
		{dojot.DeviceQuery{IDsOnly: true, Page: dojot.Page{Num: 1, Size: 3}}, `["abc00","abc0e","abc15"]`},
		{dojot.DeviceQuery{IDsOnly: true, SortByLabel: true, Page: dojot.Page{Num: 1, Size: 2}}, `["abccb","abcc4"]`},
		{dojot.DeviceQuery{IDsOnly: true, Label: "dev-0_", Page: dojot.Page{Num: 2, Size: 4}}, `["abca8","abcaf","abcb6","abcbd"]`},
		{dojot.DeviceQuery{IDsOnly: true, Attr: []dojot.AttrFilter{{Label: "model", Value: "m-1"}}, Page: dojot.Page{Num: 1, Size: 2}}, `["abc0e","abc15"]`},
		{dojot.DeviceQuery{Page: dojot.Page{Num: 3, Size: 10}}, `{"devices":[{"attrs"`},
		{dojot.DeviceQuery{Page: dojot.Page{Num: 3, Size: 10}, IDsOnly: false, Label: "zz"}, `{"devices":[],"pagination":{"has_next":false,"next_page":null,"page":3,"total":0}}`},
		{dojot.DeviceQuery{Page: dojot.Page{Num: 1, Size: 28}, Template: 9}, `{"devices":[],"pagination":{"has_next":false,"next_page":null,"page":1,"total":0}}`},
	}
	for _, tt := range tests {
		if got := v.ListDevices("t1", tt.q); !strings.HasPrefix(string(got), tt.want) {
			t.Errorf("ListDevices(%+v) = %.300s; want %s...", tt.q, got, tt.want)
		}
	}
	got := string(v.ListDevices("t1", dojot.DeviceQuery{Page: dojot.Page{Num: 2, Size: 10}}))
	if !strings.HasSuffix(got, `"pagination":{"has_next":true,"next_page":3,"page":2,"total":3}}`) || strings.Count(got, `"templates":`) != 10 {
		t.Errorf("page 2 of 3 = ...%s", got[max(0, len(got)-100):])
	}
}

func TestTemplateQueries(t *testing.T) {
	v := sampleLog(t).view(t)
	tests := []struct {
		q    dojot.TemplateQuery
		want []string // labels in order
	}{
		{dojot.TemplateQuery{}, []string{"Sensor", "Geo"}},
		{dojot.TemplateQuery{SortByLabel: true}, []string{"Geo", "Sensor"}},
		{dojot.TemplateQuery{AttrType: []string{"geo:point"}}, []string{"Geo"}},
		{dojot.TemplateQuery{Attr: []dojot.AttrFilter{{Label: "model", Value: "m-1"}}}, []string{"Sensor"}},
		{dojot.TemplateQuery{Attr: []dojot.AttrFilter{{Label: "model", Value: "own"}}}, nil}, // overrides are the devices'
		{dojot.TemplateQuery{Label: "e", SortByLabel: true}, []string{"Sensor", "Geo"}},      // filtered: id order
		{dojot.TemplateQuery{Page: dojot.Page{Num: 2, Size: 1}}, []string{"Geo"}},
	}
	for _, tt := range tests {
		var page struct {
			Templates []struct {
				ID int `json:"id"`
			} `json:"templates"`
		}
		if err := json.Unmarshal(v.ListTemplates("t1", tt.q), &page); err != nil {
			t.Fatal(err)
		}
		var labels []string
		for _, tp := range page.Templates {
			labels = append(labels, map[int]string{1: "Sensor", 2: "Geo"}[tp.ID])
		}
		if fmt.Sprint(labels) != fmt.Sprint(tt.want) {
			t.Errorf("ListTemplates(%+v) labels = %v; want %v", tt.q, labels, tt.want)
		}
	}
}

func TestAggregatePositions(t *testing.T) {
	v := sampleLog(t).view(t)
	if seq, ver := v.Aggregate("t1", dojot.KindDevice, "abc07"); seq != 34 || ver != 2 {
		t.Errorf("deleted device at %d v%d; want 34 v2", seq, ver)
	}
	if c := v.TemplateCounters("t1"); c.LastTemplateID != 2 || c.LastAttrID != 5 || c.Seq != 33 {
		t.Errorf("counters = %+v", c)
	}
	if got := v.DevicesWithTemplate("t1", 2); len(got) != 29 {
		t.Errorf("DevicesWithTemplate = %d; want 29", len(got))
	}
}

func TestOrderedRemove(t *testing.T) {
	var sl slab
	o := newOrdered(orderByLabel, &sl)
	var ds []*device
	for i := range 3000 {
		d := &device{id: fmt.Sprintf("%06d", i), label: fmt.Sprintf("l%d", i%7)}
		sl.add(d)
		ds = append(ds, d)
		o.insert(d)
	}
	for i, d := range ds {
		if i%3 != 0 && !o.remove(d) {
			t.Fatalf("remove %s failed", d.id)
		}
	}
	var prev *device
	n := 0
	o.each(0, func(d *device) bool {
		if prev != nil && (prev.label > d.label || prev.label == d.label && prev.id >= d.id) {
			t.Fatalf("out of order: %s/%s then %s/%s", prev.label, prev.id, d.label, d.id)
		}
		prev = d
		n++
		return true
	})
	if n != 1000 || o.Len() != 1000 {
		t.Errorf("%d left (Len %d); want 1000", n, o.Len())
	}
}

// FuzzOrdered: whatever the strings (shared prefixes longer than the
// integer keys, trailing NULs, equal labels), the index keeps the order of
// a plain sort by label then id, and removes what it inserted.
func FuzzOrdered(f *testing.F) {
	f.Add([]byte("sensor-temperature-0001\x00sensor-temperature-0002\x00ab\x00ab\x00\x00\x00a"), uint8(3))
	f.Fuzz(func(t *testing.T, raw []byte, drop uint8) {
		var sl slab
		byLabel, byID := newOrdered(orderByLabel, &sl), newOrdered(orderByID, &sl)
		var ds []*device
		seen := map[string]bool{}
		for i, s := range strings.Split(string(raw), "\x00") {
			id := s + strings.Repeat("\x00", i%3) // ids unique, labels not
			if seen[id] {
				continue
			}
			seen[id] = true
			d := &device{id: id, label: s[:len(s)/2]}
			sl.add(d)
			ds = append(ds, d)
			byLabel.insert(d)
			byID.insert(d)
		}
		var kept []*device
		for i, d := range ds {
			if drop != 0 && i%int(drop) == 0 {
				if !byLabel.remove(d) || !byID.remove(d) {
					t.Fatalf("remove %q failed", d.id)
				}
				sl.drop(d)
				continue
			}
			kept = append(kept, d)
		}
		check := func(o *ordered, cmp func(a, b *device) int) {
			t.Helper()
			want := slices.SortedFunc(slices.Values(kept), cmp)
			var got []*device
			o.each(0, func(d *device) bool { got = append(got, d); return true })
			if !slices.Equal(got, want) || o.Len() != len(want) {
				t.Fatalf("index order (byLabel %v) differs from a sort", o.byLabel)
			}
		}
		check(byID, func(a, b *device) int { return strings.Compare(a.id, b.id) })
		check(byLabel, func(a, b *device) int {
			if c := strings.Compare(a.label, b.label); c != 0 {
				return c
			}
			return strings.Compare(a.id, b.id)
		})
	})
}

// BenchmarkApplyDeviceCreated measures replay of device.created events
// into the view, against the cost of just decoding their payloads with
// encoding/json, reported as x-decode (below 1 since apply decodes them
// directly: decodeDevice).
func BenchmarkApplyDeviceCreated(b *testing.B) {
	l := &log{}
	sampleTemplates(b, l)
	base := len(l.evs)
	for i := range 200_000 {
		d := dojot.Device{ID: fmt.Sprintf("%06x", (i*7919)%(1<<24)), Label: fmt.Sprintf("dev-%d", i), Created: at0, Templates: []int{1}}
		l.add(b, "t1", dojot.EventDeviceCreated, dojot.KindDevice, d.ID, dojot.DeviceCreated{Device: d})
	}
	start := time.Now()
	for _, ev := range l.evs[base:] {
		var p dojot.DeviceCreated
		_ = ev.Decode(&p)
	}
	decode := float64(time.Since(start).Nanoseconds()) / float64(len(l.evs)-base)
	b.ResetTimer()
	var v *View
	n := 0
	for b.Loop() {
		if n%len(l.evs) == 0 {
			b.StopTimer()
			v = New()
			for _, ev := range l.evs[:base] {
				_ = v.Apply(context.Background(), ev)
			}
			n = base
			b.StartTimer()
		}
		_ = v.Apply(context.Background(), l.evs[n])
		n++
	}
	per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(1e9/per, "events/s")
	b.ReportMetric(per/decode, "x-decode")
}

func sampleTemplates(tb testing.TB, l *log) {
	attrs := []dojot.Attr{}
	for i := range 6 {
		attrs = append(attrs, dojot.Attr{ID: i + 1, Label: fmt.Sprintf("a%d", i), Type: "dynamic", ValueType: "float", Created: at0})
	}
	attrs = append(attrs, dojot.Attr{ID: 7, Label: "model", Type: "static", ValueType: "string", StaticValue: sp("m-1"), Created: at0})
	l.add(tb, "t1", dojot.EventTemplateCreated, dojot.KindTemplate, "1", dojot.TemplateCreated{Template: dojot.Template{ID: 1, Label: "T", Created: at0, Attrs: attrs}})
}

// BenchmarkListDevicesPage renders GET /device pages of 20 among 100,000
// devices (default order, a page deep in the list), against rendering the
// same 20 devices one by one with DeviceJSON, reported as x-20-gets.
func BenchmarkListDevicesPage(b *testing.B) {
	l := &log{}
	sampleTemplates(b, l)
	for i := range 100_000 {
		d := dojot.Device{ID: fmt.Sprintf("%06x", (i*7919)%(1<<24)), Label: fmt.Sprintf("dev-%d", i), Created: at0, Templates: []int{1}}
		l.add(b, "t1", dojot.EventDeviceCreated, dojot.KindDevice, d.ID, dojot.DeviceCreated{Device: d})
	}
	v := l.view(b)
	q := dojot.DeviceQuery{Page: dojot.Page{Num: 2500, Size: 20}}
	ids := v.DeviceIDs("t1")[2499*20 : 2500*20]
	start := time.Now()
	for range 200 {
		for _, id := range ids {
			v.DeviceJSON("t1", id)
		}
	}
	base := float64(time.Since(start).Nanoseconds()) / 200
	for b.Loop() {
		if len(v.ListDevices("t1", q)) == 0 {
			b.Fatal("empty page")
		}
	}
	per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(1e9/per, "pages/s")
	b.ReportMetric(per/base, "x-20-gets")
}

// FuzzDecodeDevice: whenever the direct decoder accepts a payload,
// encoding/json accepts it too and gives the same device.
func FuzzDecodeDevice(f *testing.F) {
	upd := at1
	for _, d := range []dojot.DeviceUpdated{
		{Device: dojot.Device{ID: "abc00", Label: "dev-01", Created: at0, Templates: []int{2, 1}}},
		{Device: dojot.Device{ID: "abc01", Label: "ação", Created: at0, Updated: &upd, Templates: []int{}, Overrides: []dojot.Override{{AttrID: 2, StaticValue: "own"}}, PSKs: []dojot.Override{}}, Cause: dojot.CausePSK},
		{Device: dojot.Device{ID: "abc02", Label: `a "quoted" <label>`, Created: at0}},
	} {
		raw, err := json.Marshal(d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw, "abc00")
	}
	f.Add([]byte(`{"id":"x","templates":[1,-0,9223372036854775807],"psks":null,"updated":null}`), "x")
	f.Fuzz(func(t *testing.T, raw []byte, aggID string) {
		last := []int{2, 1}
		var got dojot.Device
		if !dmjson.DecodeDevice(raw, &got, aggID, &last) {
			return
		}
		var want dojot.DeviceUpdated
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("fast decode accepted %q, json.Unmarshal: %v", raw, err)
		}
		if !reflect.DeepEqual(got, want.Device) {
			t.Fatalf("decode %q:\n got %#v\nwant %#v", raw, got, want.Device)
		}
	})
}
