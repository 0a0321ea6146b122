package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/projections/memory"
)

var _ DeviceState = (*memory.View)(nil)

var (
	t0   = time.Date(2018, 1, 25, 12, 30, 42, 164695000, time.UTC)
	t1   = t0.Add(time.Hour)
	wild = dojot.Subject("t1", dojot.KindTemplate, "*")
)

// replay applies events, numbered from seq 1, to a fresh view: the state
// a command decides against.
func replay(t *testing.T, evs []dojot.Event) *memory.View {
	t.Helper()
	v := memory.New()
	for i, ev := range evs {
		ev.Seq = uint64(i + 1)
		if err := v.Apply(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// ev builds an expected event; only what a decision sets is compared.
func ev(typ, kind, id string, version, expect uint64, data any) dojot.Event {
	e, err := dojot.NewEvent(typ, "t1", kind, id, t1, data)
	if err != nil {
		panic(err)
	}
	e.Version, e.Expect = version, expect
	if kind == dojot.KindTemplate {
		e.ExpectSubject = wild
	}
	return e
}

// same compares events without their random ids.
func same(got, want []dojot.Event) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		g.ID, w.ID = "", ""
		gd, wd := g.Data, w.Data
		g.Data, w.Data = nil, nil
		if fmt.Sprint(g) != fmt.Sprint(w) || !bytes.Equal(gd, wd) {
			return false
		}
	}
	return true
}

func show(evs []dojot.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\n  %s %s v%d expect %d on %q: %s", e.Type, e.AggregateID, e.Version, e.Expect, e.ExpectSubject, e.Data)
	}
	return b.String()
}

func str(s string) *string { return &s }

var (
	tplSensor = dojot.Template{ID: 1, Label: "Sensor", Created: t0, Attrs: []dojot.Attr{
		{ID: 1, Label: "temperature", Type: "dynamic", ValueType: "float", Created: t0},
		{ID: 2, Label: "target", Type: "actuator", ValueType: "float", Created: t0},
		{ID: 3, Label: "model", Type: "static", ValueType: "string", StaticValue: str("m-1"), Created: t0,
			Metadata: []dojot.Attr{{ID: 4, Label: "unit", Type: "meta", ValueType: "string", Created: t0}}},
	}}
	sensorCreated = ev(dojot.EventTemplateCreated, dojot.KindTemplate, "1", 1, 0, dojot.TemplateCreated{Template: tplSensor})
	tplClash      = dojot.Template{ID: 2, Label: "Clash", Created: t0, Attrs: []dojot.Attr{{ID: 5, Label: "temperature", Type: "dynamic", ValueType: "int", Created: t0}}}
	clashCreated  = ev(dojot.EventTemplateCreated, dojot.KindTemplate, "2", 1, 1, dojot.TemplateCreated{Template: tplClash})
	pump          = dojot.Device{ID: "a1998e", Label: "pump", Created: t0, Templates: []int{1}}
	pumpCreated   = ev(dojot.EventDeviceCreated, dojot.KindDevice, "a1998e", 1, 0, dojot.DeviceCreated{Device: pump})
	pumpDeleted   = ev(dojot.EventDeviceDeleted, dojot.KindDevice, "a1998e", 2, 2, dojot.DeviceDeleted{ID: "a1998e"})
)

func env() decideEnv { return decideEnv{now: t1, rand: rand.NewChaCha8([32]byte{})} }

func TestDecideCreateTemplate(t *testing.T) {
	body := `{"label":"New","attrs":[{"label":"a","type":"dynamic","value_type":"float"},
		{"label":"b","type":"static","value_type":"string","static_value":12.50,"metadata":[{"label":"m","type":"meta","value_type":"x","static_value":true}]}]}`
	attrs := func(first int) []dojot.Attr {
		return []dojot.Attr{
			{ID: first, Label: "a", Type: "dynamic", ValueType: "float", Created: t1},
			{ID: first + 1, Label: "b", Type: "static", ValueType: "string", StaticValue: str("12.5"), Created: t1,
				Metadata: []dojot.Attr{{ID: first + 2, Label: "m", Type: "meta", ValueType: "x", StaticValue: str("true"), Created: t1}}},
		}
	}
	imported := ev(dojot.EventTemplatesImported, dojot.KindTemplate, dojot.TemplatesImport, 1, 0, dojot.TemplatesImported{
		Templates: []dojot.Template{{ID: 7, Label: "I", Created: t0, Attrs: []dojot.Attr{{ID: 21, Label: "x", Type: "dynamic", ValueType: "f", Created: t0}}}},
	})
	tests := map[string]struct {
		given []dojot.Event
		body  string
		then  []dojot.Event
		err   error
	}{
		"first": {nil, body, []dojot.Event{ev(dojot.EventTemplateCreated, dojot.KindTemplate, "1", 1, 0,
			dojot.TemplateCreated{Template: dojot.Template{ID: 1, Label: "New", Created: t1, Attrs: attrs(1)}})}, nil},
		"after one": {[]dojot.Event{sensorCreated}, body, []dojot.Event{ev(dojot.EventTemplateCreated, dojot.KindTemplate, "2", 1, 1,
			dojot.TemplateCreated{Template: dojot.Template{ID: 2, Label: "New", Created: t1, Attrs: attrs(5)}})}, nil},
		"after import": {[]dojot.Event{sensorCreated, imported}, body, []dojot.Event{ev(dojot.EventTemplateCreated, dojot.KindTemplate, "8", 1, 2,
			dojot.TemplateCreated{Template: dojot.Template{ID: 8, Label: "New", Created: t1, Attrs: attrs(22)}})}, nil},
		"repeated attr": {nil, `{"label":"x","attrs":[{"label":"a","type":"t","value_type":"v"},{"label":"a","type":"t","value_type":"w"}]}`, nil, dojot.ErrInvalid},
		"same label, other type": {nil, `{"label":"x","attrs":[{"label":"a","type":"t","value_type":"v"},{"label":"a","type":"u","value_type":"w"}]}`,
			[]dojot.Event{ev(dojot.EventTemplateCreated, dojot.KindTemplate, "1", 1, 0, dojot.TemplateCreated{Template: dojot.Template{ID: 1, Label: "x", Created: t1, Attrs: []dojot.Attr{
				{ID: 1, Label: "a", Type: "t", ValueType: "v", Created: t1}, {ID: 2, Label: "a", Type: "u", ValueType: "w", Created: t1}}}})}, nil},
		"bad label": {nil, `{"label":"x","attrs":[{"label":"a.b","type":"t","value_type":"v"}]}`, nil, dojot.ErrInvalid},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var got []dojot.Event
			in, err := parseTemplate([]byte(tt.body))
			if err == nil {
				var e dojot.Event
				e, _, err = decideCreateTemplate(replay(t, tt.given), env(), "t1", in)
				if err == nil {
					got = []dojot.Event{e}
				}
			}
			if !errors.Is(err, tt.err) || !same(got, tt.then) {
				t.Errorf("CreateTemplate(%s) = %s, %v; want %s, %v", tt.body, show(got), err, show(tt.then), tt.err)
			}
		})
	}
}

func TestDecideUpdateTemplate(t *testing.T) {
	// model keeps its id and gets a new value; temperature and target go;
	// humidity is new (id after the last one allocated, 5 by Clash).
	body := `{"label":"Sensor","attrs":[{"label":"model","type":"static","value_type":"string","static_value":"m-2"},
		{"label":"humidity","type":"dynamic","value_type":"float"}]}`
	updated := dojot.Template{ID: 1, Label: "Sensor", Created: t0, Updated: &t1, Attrs: []dojot.Attr{
		{ID: 3, Label: "model", Type: "static", ValueType: "string", StaticValue: str("m-2"), Created: t0, Updated: &t1,
			Metadata: tplSensor.Attrs[2].Metadata},
		{ID: 6, Label: "humidity", Type: "dynamic", ValueType: "float", Created: t1},
	}}
	onDevice := ev(dojot.EventDeviceCreated, dojot.KindDevice, "b", 1, 0, dojot.DeviceCreated{Device: dojot.Device{ID: "b", Label: "b", Created: t0, Templates: []int{1, 2}}})
	clashFree := dojot.Template{ID: 2, Label: "Clash", Created: t0, Attrs: []dojot.Attr{{ID: 5, Label: "other", Type: "dynamic", ValueType: "int", Created: t0}}}
	tests := map[string]struct {
		given []dojot.Event
		id    string
		body  string
		then  []dojot.Event
		err   error
	}{
		"match, drop, add": {[]dojot.Event{sensorCreated, clashCreated}, "1", body,
			[]dojot.Event{ev(dojot.EventTemplateUpdated, dojot.KindTemplate, "1", 2, 2, dojot.TemplateUpdated{Template: updated})}, nil},
		"unknown":      {nil, "1", body, nil, dojot.ErrNotFound},
		"not a number": {[]dojot.Event{sensorCreated}, "x", body, nil, dojot.ErrNotFound},
		"new attr clashes on a shared device": {[]dojot.Event{sensorCreated,
			ev(dojot.EventTemplateCreated, dojot.KindTemplate, "2", 1, 1, dojot.TemplateCreated{Template: clashFree}), onDevice},
			"2", `{"label":"Clash","attrs":[{"label":"temperature","type":"dynamic","value_type":"int"}]}`, nil, dojot.ErrInvalid},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var got []dojot.Event
			in, err := parseTemplate([]byte(tt.body))
			if err == nil {
				var e dojot.Event
				if e, err = decideUpdateTemplate(replay(t, tt.given), env(), "t1", tt.id, in); err == nil {
					got = []dojot.Event{e}
				}
			}
			if !errors.Is(err, tt.err) || !same(got, tt.then) {
				t.Errorf("UpdateTemplate(%s) = %s, %v; want %s, %v", tt.id, show(got), err, show(tt.then), tt.err)
			}
		})
	}
}

func TestDecideDeleteTemplate(t *testing.T) {
	tests := map[string]struct {
		given []dojot.Event
		then  []dojot.Event
		err   error
	}{
		"unused":  {[]dojot.Event{sensorCreated}, []dojot.Event{ev(dojot.EventTemplateDeleted, dojot.KindTemplate, "1", 2, 1, dojot.TemplateDeleted{ID: 1})}, nil},
		"in use":  {[]dojot.Event{sensorCreated, pumpCreated}, nil, dojot.ErrInvalid},
		"unknown": {nil, nil, dojot.ErrNotFound},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var got []dojot.Event
			e, _, err := decideDeleteTemplate(replay(t, tt.given), env(), "t1", "1")
			if err == nil {
				got = []dojot.Event{e}
			}
			if !errors.Is(err, tt.err) || !same(got, tt.then) {
				t.Errorf("DeleteTemplate(1) = %s, %v; want %s, %v", show(got), err, show(tt.then), tt.err)
			}
		})
	}
}

func TestDecideCreateDevice(t *testing.T) {
	created := func(version, expect uint64, d dojot.Device) []dojot.Event {
		d.Created = t1
		return []dojot.Event{ev(dojot.EventDeviceCreated, dojot.KindDevice, d.ID, version, expect, dojot.DeviceCreated{Device: d})}
	}
	tests := map[string]struct {
		given []dojot.Event
		body  string
		then  []dojot.Event
		err   error
	}{
		"new":   {[]dojot.Event{sensorCreated}, `{"label":"pump","templates":[1],"id":"a1998e"}`, created(1, 0, pump), nil},
		"twice": {[]dojot.Event{sensorCreated, pumpCreated}, `{"label":"pump","templates":[1],"id":"a1998e"}`, nil, dojot.ErrInvalid},
		// A deleted id can be taken again; its subject's history goes on.
		"after delete": {[]dojot.Event{sensorCreated, pumpCreated, pumpDeleted}, `{"label":"pump","templates":[1],"id":"a1998e"}`, created(3, 3, pump), nil},
		"override": {[]dojot.Event{sensorCreated}, `{"label":"pump","templates":["1"],"id":"a1998e",
			"attrs":[{"label":"model","id":3,"template_id":1,"static_value":7,"metadata":[{"id":4,"static_value":"C"}]}]}`,
			created(1, 0, dojot.Device{ID: "a1998e", Label: "pump", Templates: []int{1}, Overrides: []dojot.Override{{AttrID: 3, StaticValue: "7"}, {AttrID: 4, StaticValue: "C"}}}), nil},
		"unknown template":    {[]dojot.Event{sensorCreated}, `{"label":"pump","templates":[2]}`, nil, dojot.ErrNotFound},
		"conflicting":         {[]dojot.Event{sensorCreated, clashCreated}, `{"label":"pump","templates":[1,2]}`, nil, dojot.ErrInvalid},
		"bad id":              {[]dojot.Event{sensorCreated}, `{"label":"pump","templates":[1],"id":"a1998e0"}`, nil, dojot.ErrInvalid},
		"unknown attr":        {[]dojot.Event{sensorCreated}, `{"label":"pump","templates":[1],"attrs":[{"label":"x","id":9,"template_id":1}]}`, nil, dojot.ErrInvalid},
		"generated":           {[]dojot.Event{sensorCreated}, `{"label":"pump","templates":[1]}`, nil, nil},
		"another tenant's'":   {[]dojot.Event{func() dojot.Event { e := sensorCreated; e.Tenant = "t2"; return e }()}, `{"label":"pump","templates":[1]}`, nil, dojot.ErrNotFound},
		"no templates at all": {nil, `{"label":"pump","templates":[],"id":"00"}`, created(1, 0, dojot.Device{ID: "00", Label: "pump", Templates: []int{}}), nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			in, err := parseDevice([]byte(tt.body))
			var got []dojot.Event
			if err == nil {
				got, _, err = decideCreateDevices(replay(t, tt.given), env(), "t1", in, 1, nil)
			}
			if name == "generated" {
				if err != nil || len(got) != 1 || len(got[0].AggregateID) < 5 || got[0].Expect != 0 {
					t.Errorf("generated id: %s, %v", show(got), err)
				}
				return
			}
			if !errors.Is(err, tt.err) || !same(got, tt.then) {
				t.Errorf("CreateDevices(%s) = %s, %v; want %s, %v", tt.body, show(got), err, show(tt.then), tt.err)
			}
		})
	}
}

func TestDecideActuate(t *testing.T) {
	given := []dojot.Event{sensorCreated, pumpCreated}
	tests := map[string]struct {
		body  string
		depth int
		then  []dojot.Event
		err   error
	}{
		"actuator": {`{"attrs":{"target":23.50}}`, 0, []dojot.Event{ev(dojot.EventDeviceActuated, dojot.KindDevice, "a1998e", 2, 2,
			dojot.DeviceActuated{ID: "a1998e", Attrs: json.RawMessage(`{"target":23.50}`), Timestamp: t1.UnixMilli()})}, nil},
		// a flow's actuation keeps its depth, for the engine's loop cut
		"by a flow": {`{"attrs":{"target":1}}`, 3, []dojot.Event{ev(dojot.EventDeviceActuated, dojot.KindDevice, "a1998e", 2, 2,
			dojot.DeviceActuated{ID: "a1998e", Attrs: json.RawMessage(`{"target":1}`), Timestamp: t1.UnixMilli(), FlowDepth: 3})}, nil},
		"dynamic":  {`{"attrs":{"temperature":1}}`, 0, nil, dojot.ErrForbidden},
		"not json": {`{"attrs":`, 0, nil, dojot.ErrInvalid},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var got []dojot.Event
			e, err := decideActuate(replay(t, given), env(), "t1", "a1998e", []byte(tt.body), tt.depth)
			if err == nil {
				got = []dojot.Event{e}
			}
			if !errors.Is(err, tt.err) || !same(got, tt.then) {
				t.Errorf("Actuate(%s) = %s, %v; want %s, %v", tt.body, show(got), err, show(tt.then), tt.err)
			}
		})
	}
}

func TestDecideDeviceTemplates(t *testing.T) {
	overridden := pump
	overridden.Overrides = []dojot.Override{{AttrID: 3, StaticValue: "x"}}
	given := []dojot.Event{sensorCreated, ev(dojot.EventTemplateCreated, dojot.KindTemplate, "2", 1, 1, dojot.TemplateCreated{Template: dojot.Template{ID: 2, Label: "Empty", Created: t0, Attrs: []dojot.Attr{}}}),
		ev(dojot.EventDeviceCreated, dojot.KindDevice, "a1998e", 1, 0, dojot.DeviceCreated{Device: overridden})}
	added := overridden
	added.Templates = []int{1, 2}
	removed := pump
	removed.Templates = []int{}
	removed.Overrides = []dojot.Override{}
	got, err := decideAddTemplate(replay(t, given), env(), "t1", "a1998e", "2")
	want := ev(dojot.EventDeviceUpdated, dojot.KindDevice, "a1998e", 2, 3, dojot.DeviceUpdated{Device: added, Cause: dojot.CauseTemplateAdded})
	if err != nil || !same([]dojot.Event{got}, []dojot.Event{want}) {
		t.Errorf("AddTemplate = %s, %v; want %s", show([]dojot.Event{got}), err, show([]dojot.Event{want}))
	}
	got, err = decideRemoveTemplate(replay(t, given), env(), "t1", "a1998e", "1")
	want = ev(dojot.EventDeviceUpdated, dojot.KindDevice, "a1998e", 2, 3, dojot.DeviceUpdated{Device: removed, Cause: dojot.CauseTemplateRemoved})
	if err != nil || !same([]dojot.Event{got}, []dojot.Event{want}) {
		t.Errorf("RemoveTemplate = %s, %v; want %s", show([]dojot.Event{got}), err, show([]dojot.Event{want}))
	}
	if _, err := decideRemoveTemplate(replay(t, given), env(), "t1", "a1998e", "2"); !errors.Is(err, dojot.ErrNotFound) {
		t.Errorf("RemoveTemplate of an unrelated template = %v; want not found", err)
	}
}

// storeWith is a store whose view holds given, appended through it.
func storeWith(t *testing.T, given ...dojot.Event) (*commandstest.Store, *memory.View) {
	t.Helper()
	view := memory.New()
	store := &commandstest.Store{View: view}
	for _, ev := range given {
		if _, err := store.Append(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	return store, view
}

func TestCreateManyRetriesTakenIDs(t *testing.T) {
	store, view := storeWith(t, sensorCreated)
	// The same seed draws the same ids: the store claims the first three,
	// failing the first append of each as if another instance had.
	draw := rand.NewChaCha8([32]byte{9})
	taken := map[string]bool{}
	for range 3 {
		id, _ := newDeviceID(view, draw, "t1", nil)
		taken[id] = true
	}
	store.AppendFn = func(ev dojot.Event) error {
		if taken[ev.AggregateID] {
			delete(taken, ev.AggregateID)
			return fmt.Errorf("taken: %w", dojot.ErrConflict)
		}
		return nil
	}
	d := NewDevices(Options{Store: store, Sync: commandstest.Syncer{}, Now: func() time.Time { return t1 }, Rand: rand.NewChaCha8([32]byte{9})}, view)
	refs, err := d.CreateDevices(t.Context(), "t1", []byte(`{"label":"d","templates":[1]}`), 100)
	if err != nil {
		t.Fatal(err)
	}
	ids := view.DeviceIDs("t1")
	if len(refs) != 100 || len(ids) != 100 || refs[0].Label != "d_000" || refs[99].Label != "d_099" {
		t.Fatalf("created %d (%d in view), labels %s..%s", len(refs), len(ids), refs[0].Label, refs[len(refs)-1].Label)
	}
	for _, r := range refs {
		if dv, ok := view.Device("t1", r.ID); !ok || dv.Label != r.Label {
			t.Errorf("device %s = %+v, %v; want label %s", r.ID, dv, ok, r.Label)
		}
	}
}

func TestImportReplacesTenant(t *testing.T) {
	store, view := storeWith(t, sensorCreated, pumpCreated)
	d := NewDevices(Options{Store: store, Sync: commandstest.Syncer{}, Now: func() time.Time { return t1 }}, view)
	body := `{"templates":[{"id":3,"label":"I","attrs":[{"id":9,"label":"a","type":"static","value_type":"s","static_value":"v"}]}],
		"devices":[{"id":"cafe","label":"c","templates":[3],"attrs":[{"id":9,"label":"a","template_id":"3","static_value":"w"}]}]}`
	if err := d.Import(t.Context(), "t1", []byte(body)); err != nil {
		t.Fatal(err)
	}
	if ids := view.DeviceIDs("t1"); len(ids) != 1 || ids[0] != "cafe" {
		t.Errorf("devices after import = %v", ids)
	}
	if ids := view.TemplateIDs("t1"); len(ids) != 1 || ids[0] != 3 {
		t.Errorf("templates after import = %v", ids)
	}
	if c := view.TemplateCounters("t1"); c.LastTemplateID != 3 || c.LastAttrID != 9 {
		t.Errorf("counters after import = %+v", c)
	}
	for _, bad := range []string{`{"templates":[]}`, `{"templates":[{"label":"x","attrs":[]}],"devices":[]}`, `[]`,
		`{"templates":[],"devices":[{"id":"d","label":"x","attrs":[{"label":"a","id":1,"template_id":"1"}]}]}`} {
		if err := d.Import(t.Context(), "t1", []byte(bad)); !errors.Is(err, dojot.ErrInvalid) {
			t.Errorf("Import(%s) = %v; want invalid", bad, err)
		}
	}
	if ids := view.DeviceIDs("t1"); len(ids) != 1 {
		t.Errorf("a bad import changed the tenant: %v", ids)
	}
}
