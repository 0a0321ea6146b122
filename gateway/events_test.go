package gateway

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

// eventsPage reads GET path (a change log) and decodes it.
func eventsPage(t *testing.T, srv *httptest.Server, path string, hdr ...string) changePage {
	t.Helper()
	code, body := dmCall(t, srv, "GET", path, "", hdr...)
	if code != 200 {
		t.Fatalf("GET %s = %d %s", path, code, body)
	}
	var p changePage
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
	return p
}

// allEvents follows a change log's pages of limit events to its start.
func allEvents(t *testing.T, srv *httptest.Server, path string, limit int) []changeEvent {
	t.Helper()
	var all []changeEvent
	before := ""
	for pages := 0; ; pages++ {
		p := eventsPage(t, srv, fmt.Sprintf("%s?limit=%d%s", path, limit, before))
		if len(p.Events) > limit || p.Pagination.Limit != limit {
			t.Fatalf("%s: page of %d events, limit %d", path, len(p.Events), p.Pagination.Limit)
		}
		all = append(all, p.Events...)
		if !p.Pagination.HasMore {
			if p.Pagination.NextBefore != 0 {
				t.Errorf("%s: last page with next_before %d", path, p.Pagination.NextBefore)
			}
			return all
		}
		if len(p.Events) != limit || p.Pagination.NextBefore != p.Events[len(p.Events)-1].Seq {
			t.Fatalf("%s: page %d: %d events, next_before %d", path, pages, len(p.Events), p.Pagination.NextBefore)
		}
		before = fmt.Sprintf("&before=%d", p.Pagination.NextBefore)
	}
}

func types(evs []changeEvent) string {
	var ts []string
	for _, e := range evs {
		ts = append(ts, e.Type)
	}
	return strings.Join(ts, " ")
}

func changeJSON(t *testing.T, e changeEvent) string {
	t.Helper()
	b, err := json.Marshal(e.Changes)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDeviceEvents: a device's change log, newest first, a page at a
// time: what each event changed, its actor and cause; the device's keys
// never in it; still there once the device is deleted.
func TestDeviceEvents(t *testing.T) {
	srv, _ := dmServer(t)
	dmMust(t, srv, 200, "POST", "/template", sensorTemplate)
	dmMust(t, srv, 200, "POST", "/template", lockTemplate)
	dmMust(t, srv, 200, "POST", "/device", `{"label":"pump","templates":[1],"id":"a1998e",
		"attrs":[{"id":3,"label":"model-id","template_id":"1","static_value":"mine"}]}`)
	dmMust(t, srv, 200, "PUT", "/device/a1998e", `{"label":"pump-2","templates":[1],
		"attrs":[{"id":3,"label":"model-id","template_id":"1","static_value":"mine"}]}`)
	dmMust(t, srv, 200, "PUT", "/device/a1998e/actuate", `{"attrs":{"target":21.5}}`)
	dmMust(t, srv, 200, "POST", "/device/a1998e/template/2", "")
	var keys []struct{ PSK string }
	if err := json.Unmarshal([]byte(dmMust(t, srv, 200, "POST", "/device/gen_psk/a1998e?key_length=16", "")), &keys); err != nil || len(keys) != 2 {
		t.Fatalf("gen_psk: %v %v", keys, err)
	}
	dmMust(t, srv, 200, "POST", "/device/gen_psk/a1998e?key_length=16&attrs=k2", "") // a key replaced
	dmMust(t, srv, 200, "DELETE", "/device/a1998e", "")

	code, whole := dmCall(t, srv, "GET", "/device/a1998e/events?limit=100", "")
	if code != 200 {
		t.Fatalf("GET events = %d %s", code, whole)
	}
	for _, k := range keys {
		if strings.Contains(whole, k.PSK) {
			t.Fatalf("a pre-shared key in the change log: %s", whole)
		}
	}
	all := allEvents(t, srv, "/device/a1998e/events", 2)
	if got, want := types(all), "device.deleted device.updated device.updated device.updated device.actuated device.updated device.created"; got != want {
		t.Fatalf("types = %s\nwant %s", got, want)
	}
	for i, e := range all {
		if e.Actor != "u" || e.Time.IsZero() || (i > 0 && e.Seq >= all[i-1].Seq) {
			t.Errorf("event %d: %+v", i, e)
		}
	}
	want := []struct{ cause, changes string }{
		// The device as it was, gone.
		{"", `{"label":{"old":"pump-2"},"overrides":{"old":[{"attr_id":3,"static_value":"mine"}]},"psks":{"old":[{"attr_id":5},{"attr_id":6}]},"templates":{"old":[1,2]}}`},
		// k2's key replaced: its attr id, never the key.
		{"psk", `{"psks":{"old":[{"attr_id":6}],"new":[{"attr_id":6}]}}`},
		{"psk", `{"psks":{"new":[{"attr_id":5},{"attr_id":6}]}}`},
		{"template_added", `{"templates":{"old":[1],"new":[1,2]}}`},
		{"", `{"attrs":{"new":{"target":21.5}}}`},
		{"", `{"label":{"old":"pump","new":"pump-2"}}`},
		{"", `{"label":{"new":"pump"},"overrides":{"new":[{"attr_id":3,"static_value":"mine"}]},"templates":{"new":[1]}}`},
	}
	for i, w := range want {
		if got := changeJSON(t, all[i]); got != w.changes || all[i].Cause != w.cause || all[i].PreviousUnknown {
			t.Errorf("%s (seq %d): cause %q changes %s\nwant cause %q changes %s", all[i].Type, all[i].Seq, all[i].Cause, got, w.cause, w.changes)
		}
	}
	// Any page size gives the same log.
	for _, limit := range []int{1, 3, 7, 100} {
		if got := allEvents(t, srv, "/device/a1998e/events", limit); fmt.Sprint(got) != fmt.Sprint(all) {
			t.Errorf("limit %d: %v\nwant %v", limit, got, all)
		}
	}
	// Past the oldest event: an empty page.
	if p := eventsPage(t, srv, fmt.Sprintf("/device/a1998e/events?before=%d", all[len(all)-1].Seq)); len(p.Events) != 0 || p.Pagination.HasMore {
		t.Errorf("before the first event: %+v", p)
	}
	// The default page.
	if p := eventsPage(t, srv, "/device/a1998e/events"); len(p.Events) != 7 || p.Pagination.Limit != 20 || p.Pagination.HasMore {
		t.Errorf("default page: %d events, %+v", len(p.Events), p.Pagination)
	}
}

// TestDeviceEventsRefused: a device that never existed (or another
// tenant's, or an id that is a subject filter) is 404; bad paging 400.
func TestDeviceEventsRefused(t *testing.T) {
	srv, _ := dmServer(t)
	dmMust(t, srv, 200, "POST", "/template", sensorTemplate)
	dmMust(t, srv, 200, "POST", "/device", `{"label":"pump","templates":[1],"id":"a1"}`)
	for _, c := range []struct {
		path   string
		tenant string
		code   int
		msg    string
	}{
		{"/device/b2/events", "t1", 404, `{"message":"No such device: b2","status":404}`},
		{"/device/a1/events", "t2", 404, `{"message":"No such device: a1","status":404}`},
		{"/device/a1/events?before=1", "t2", 404, `{"message":"No such device: a1","status":404}`},
		{"/device/*/events", "t1", 404, `{"message":"No such device: *","status":404}`},
		{"/device/%3E/events", "t1", 404, `{"message":"No such device: \u003e","status":404}`},
		{"/device/a1/events?limit=0", "t1", 400, `{"message":"limit must be an integer from 1 to 100","status":400}`},
		{"/device/a1/events?limit=101", "t1", 400, ""},
		{"/device/a1/events?limit=x", "t1", 400, ""},
		{"/device/a1/events?before=0", "t1", 400, `{"message":"before must be a positive integer: the next_before of the previous page","status":400}`},
		{"/device/a1/events?before=-3", "t1", 400, ""},
		{"/template/1/events", "t2", 404, `{"message":"No such template: 1","status":404}`},
		{"/template/9/events", "t1", 404, ""},
		{"/template/_all/events", "t1", 404, ""},
		{"/template/x/events", "t1", 404, ""},
	} {
		code, body := dmCall(t, srv, "GET", c.path, "", "tenant", c.tenant)
		if code != c.code || (c.msg != "" && body != strings.ReplaceAll(c.msg, `\u003e`, ">")) {
			t.Errorf("GET %s as %s = %d %s; want %d %s", c.path, c.tenant, code, body, c.code, c.msg)
		}
	}
}

// TestTemplateEvents: a template's own events and the tenant-wide ones
// that touch it (DELETE /template); an update lists only the attrs it
// changed.
func TestTemplateEvents(t *testing.T) {
	srv, _ := dmServer(t)
	dmMust(t, srv, 200, "POST", "/template", `{"label":"A","attrs":[{"label":"x","type":"dynamic","value_type":"float"},{"label":"y","type":"dynamic","value_type":"float"}]}`)
	dmMust(t, srv, 200, "POST", "/template", `{"label":"B","attrs":[]}`)
	dmMust(t, srv, 200, "PUT", "/template/1", `{"label":"A2","attrs":[{"id":1,"label":"x","type":"dynamic","value_type":"float"},{"label":"z","type":"dynamic","value_type":"integer"}]}`)
	dmMust(t, srv, 200, "DELETE", "/template/2", "")
	dmMust(t, srv, 200, "DELETE", "/template", "")
	all := allEvents(t, srv, "/template/1/events", 1)
	if got, want := types(all), "template.all_deleted template.updated template.created"; got != want {
		t.Fatalf("template 1: %s, want %s", got, want)
	}
	ts := `"created":"2018-01-25T12:30:42.164695Z"`
	for i, w := range []string{
		`{"attrs":{"old":[{"id":1,"label":"x","type":"dynamic","value_type":"float",` + ts + `},{"id":3,"label":"z","type":"dynamic","value_type":"integer",` + ts + `}]},"label":{"old":"A2"}}`,
		`{"attrs":{"old":[{"id":2,"label":"y","type":"dynamic","value_type":"float",` + ts + `}],"new":[{"id":3,"label":"z","type":"dynamic","value_type":"integer",` + ts + `}]},"label":{"old":"A","new":"A2"}}`,
		`{"attrs":{"new":[{"id":1,"label":"x","type":"dynamic","value_type":"float",` + ts + `},{"id":2,"label":"y","type":"dynamic","value_type":"float",` + ts + `}]},"label":{"new":"A"}}`,
	} {
		if got := changeJSON(t, all[i]); got != w {
			t.Errorf("%s: %s\nwant %s", all[i].Type, got, w)
		}
	}
	if got := types(allEvents(t, srv, "/template/2/events", 5)); got != "template.deleted template.created" {
		t.Errorf("template 2: %s", got)
	}
}

// TestChangeLogLookback: the state an update changed is looked for past
// the page, up to maxLookback events; further back, the update shows its
// new values and says the old ones are unknown.
func TestChangeLogLookback(t *testing.T) {
	srv, _ := dmServer(t)
	dmMust(t, srv, 200, "POST", "/template", sensorTemplate)
	for i, actuations := range []int{maxLookback - 1, maxLookback + 1} {
		id := fmt.Sprintf("d%d", i)
		dmMust(t, srv, 200, "POST", "/device", `{"label":"a","templates":[1],"id":"`+id+`"}`)
		for range actuations {
			dmMust(t, srv, 200, "PUT", "/device/"+id+"/actuate", `{"attrs":{"target":1}}`)
		}
		dmMust(t, srv, 200, "PUT", "/device/"+id, `{"label":"b","templates":[1]}`)
		p := eventsPage(t, srv, "/device/"+id+"/events?limit=1")
		got, e := changeJSON(t, p.Events[0]), p.Events[0]
		switch {
		case i == 0 && (got != `{"label":{"old":"a","new":"b"}}` || e.PreviousUnknown):
			t.Errorf("%d actuations between: %s, previous unknown %v", actuations, got, e.PreviousUnknown)
		case i == 1 && (got != `{"label":{"new":"b"},"templates":{"new":[1]}}` || !e.PreviousUnknown):
			t.Errorf("%d actuations between: %s, previous unknown %v", actuations, got, e.PreviousUnknown)
		}
	}
}

// TestImportEvents: POST /import in the change logs: a template it
// replaced is gone, one it brought has a log of that import alone, and a
// device it deleted or created has its own events with cause import.
func TestImportEvents(t *testing.T) {
	srv, _ := dmServer(t)
	dmMust(t, srv, 200, "POST", "/template", sensorTemplate)
	dmMust(t, srv, 200, "POST", "/device", `{"label":"old","templates":[1],"id":"0123"}`)
	dmMust(t, srv, 201, "POST", "/import", `{"templates":[{"id":7,"label":"Imported","attrs":[{"id":20,"label":"temp","type":"dynamic","value_type":"float"}]}],
		"devices":[{"id":"beef","label":"cow","templates":[7]}]}`)
	dmMust(t, srv, 200, "PUT", "/template/7", `{"label":"Imported-2","attrs":[{"id":20,"label":"temp","type":"dynamic","value_type":"float"}]}`)

	gone := allEvents(t, srv, "/template/1/events", 5)
	if got := types(gone); got != "template.imported template.created" || !strings.HasPrefix(changeJSON(t, gone[0]), `{"attrs":{"old":[`) {
		t.Errorf("template 1: %s, %s", got, changeJSON(t, gone[0]))
	}
	brought := allEvents(t, srv, "/template/7/events", 1)
	if got := types(brought); got != "template.updated template.imported" {
		t.Fatalf("template 7: %s", got)
	}
	if got := changeJSON(t, brought[0]); got != `{"label":{"old":"Imported","new":"Imported-2"}}` {
		t.Errorf("template 7's update after its import: %s", got)
	}
	if got := changeJSON(t, brought[1]); !strings.Contains(got, `"label":{"new":"Imported"}`) || !strings.Contains(got, `"id":20`) {
		t.Errorf("template 7's import: %s", got)
	}
	for id, want := range map[string]string{"0123": "device.deleted device.created", "beef": "device.created"} {
		evs := allEvents(t, srv, "/device/"+id+"/events", 5)
		if got := types(evs); got != want || (id == "beef" && evs[0].Cause != "import") || (id == "0123" && evs[0].Cause != "import") {
			t.Errorf("device %s: %s (cause %q), want %s", id, got, evs[0].Cause, want)
		}
	}
}

// TestChangesSealed: keys still sealed (this instance has not the key
// they were sealed with) show as "sealed", a change when they differ, and
// never as the sealed text.
func TestChangesSealed(t *testing.T) {
	prev := objectMembers([]byte(`{"id":"a","label":"x","psks_sealed":"v1.0a0b.AAAA"}`))
	same := objectMembers([]byte(`{"id":"a","label":"y","psks_sealed":"v1.0a0b.AAAA"}`))
	cur := objectMembers([]byte(`{"id":"a","label":"y","psks_sealed":"v1.0a0b.BBBB"}`))
	for _, c := range []struct {
		prev, cur stateMembers
		want      string
	}{
		{nil, prev, `{"label":{"new":"x"},"psks":{"new":"sealed"}}`},
		{prev, same, `{"label":{"old":"x","new":"y"}}`},
		{same, cur, `{"psks":{"old":"sealed","new":"sealed"}}`},
	} {
		if got, _ := json.Marshal(diff(c.prev, c.cur)); string(got) != c.want {
			t.Errorf("diff = %s, want %s", got, c.want)
		}
	}
}

// TestChangeLogLookbackDeleted: a deletion past the look-back shows no
// changes and says the state before it is unknown.
func TestChangeLogLookbackDeleted(t *testing.T) {
	srv, _ := dmServer(t)
	dmMust(t, srv, 200, "POST", "/template", sensorTemplate)
	dmMust(t, srv, 200, "POST", "/device", `{"label":"a","templates":[1],"id":"d1"}`)
	// The page and one more event (3), then maxLookback: the creation
	// one step too far.
	for range maxLookback + 2 {
		dmMust(t, srv, 200, "PUT", "/device/d1/actuate", `{"attrs":{"target":1}}`)
	}
	dmMust(t, srv, 200, "DELETE", "/device/d1", "")
	p := eventsPage(t, srv, "/device/d1/events?limit=2")
	if e := p.Events[0]; e.Type != "device.deleted" || len(e.Changes) != 0 || !e.PreviousUnknown {
		t.Errorf("deletion past the look-back: %+v", e)
	}
	if e := p.Events[1]; e.Type != "device.actuated" || e.PreviousUnknown || changeJSON(t, e) != `{"attrs":{"new":{"target":1}}}` {
		t.Errorf("actuation: %+v", e)
	}
}
