package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// changeLogEntry is an entry of GET /device/:id/events and
// /template/:id/events.
type changeLogEntry struct {
	Seq           uint64                     `json:"seq"`
	Type          string                     `json:"type"`
	Time          time.Time                  `json:"time"`
	Actor         string                     `json:"actor"`
	CorrelationID string                     `json:"correlation_id"`
	Cause         string                     `json:"cause"`
	Changes       map[string]json.RawMessage `json:"changes"`
}

// readChangeLog follows a change log from its newest event to its first,
// limit at a time, and returns its entries and every page's raw body.
func readChangeLog(t *testing.T, c *client, path string, limit int) ([]changeLogEntry, string) {
	t.Helper()
	var all []changeLogEntry
	var raw strings.Builder
	q := fmt.Sprintf("?limit=%d", limit)
	for pages := 0; pages < 100; pages++ {
		body := c.Must(200, "GET", path+q, nil)
		raw.Write(body)
		var p struct {
			Events     []changeLogEntry
			Pagination struct {
				Limit      int    `json:"limit"`
				HasMore    bool   `json:"has_more"`
				NextBefore uint64 `json:"next_before"`
			}
		}
		mustJSON(t, body, &p)
		if len(p.Events) > limit || p.Pagination.Limit != limit {
			t.Fatalf("GET %s%s: %d events, pagination %+v", path, q, len(p.Events), p.Pagination)
		}
		all = append(all, p.Events...)
		if !p.Pagination.HasMore {
			return all, raw.String()
		}
		q = fmt.Sprintf("?limit=%d&before=%d", limit, p.Pagination.NextBefore)
	}
	t.Fatalf("%s: more than 100 pages", path)
	return nil, ""
}

func entryTypes(evs []changeLogEntry) string {
	var ts []string
	for _, e := range evs {
		ts = append(ts, e.Type)
	}
	return strings.Join(ts, " ")
}

// TestDeviceEvents: through the binary, a device's and a template's change
// logs, read a page at a time from the event log (NATS, PSKs sealed):
// every write in order, newest first, with its actor and what it changed;
// the device's pre-shared key nowhere in it; the logs of deleted ones
// still there. Another tenant's token gets 404, a user whose permissions
// do not read devices 403 (and reads the template's log, which it may).
func TestDeviceEvents(t *testing.T) {
	in := start(t, "")
	admin := in.Login("admin", adminPassword)

	tmpl := isoTemplate(admin, "events-tmpl")
	var attrs struct {
		Attrs []map[string]any `json:"attrs"`
	}
	mustJSON(t, admin.Must(200, "GET", fmt.Sprintf("/template/%d", tmpl), nil), &attrs)
	var kept []map[string]any // the same attrs, ids kept, but note and model
	for _, a := range attrs.Attrs {
		if a["label"] != "note" && a["label"] != "model" {
			kept = append(kept, map[string]any{"id": a["id"], "label": a["label"], "type": a["type"], "value_type": a["value_type"]})
		}
	}
	admin.Must(200, "PUT", fmt.Sprintf("/template/%d", tmpl), map[string]any{"label": "events-tmpl-2", "attrs": kept})
	dev := dojottest.CreateDevice(admin, "events-dev", tmpl)
	admin.Must(200, "PUT", "/device/"+dev, map[string]any{"label": "events-dev-2", "templates": []int{tmpl}})
	admin.Must(200, "PUT", "/device/"+dev+"/actuate", map[string]any{"attrs": map[string]any{"target_temperature": 23.5}})
	var keys []struct{ PSK string }
	mustJSON(t, admin.Must(200, "POST", "/device/gen_psk/"+dev+"?key_length=16", nil), &keys)
	if len(keys) != 1 || keys[0].PSK == "" {
		t.Fatalf("gen_psk = %+v", keys)
	}
	admin.Must(200, "POST", "/basic-auth/v1/devices/"+dev+"/basic-credentials", nil)
	admin.Must(200, "DELETE", "/device/"+dev, nil)
	other := dojottest.CreateTemplate(admin, "events-other") // in no log of the device's or tmpl's
	admin.Must(200, "DELETE", fmt.Sprintf("/template/%d", tmpl), nil)

	devLog, raw := readChangeLog(t, admin, "/device/"+dev+"/events", 2)
	if got, want := entryTypes(devLog), "device.deleted device.credentials_set device.updated device.actuated device.updated device.created"; got != want {
		t.Fatalf("device log: %s\nwant %s", got, want)
	}
	if strings.Contains(raw, keys[0].PSK) || strings.Contains(raw, "psks_sealed") {
		t.Fatalf("the device's key in its change log: %s", raw)
	}
	for i, e := range devLog {
		if e.Actor != "admin" || e.CorrelationID == "" || e.Time.IsZero() || time.Since(e.Time) > time.Hour || (i > 0 && e.Seq >= devLog[i-1].Seq) {
			t.Errorf("device log entry %d: %+v", i, e)
		}
	}
	check := func(e changeLogEntry, member, want string) {
		t.Helper()
		if got := string(e.Changes[member]); got != want {
			t.Errorf("%s (seq %d) changes[%s] = %s, want %s (changes %s)", e.Type, e.Seq, member, got, want, e.Changes)
		}
	}
	check(devLog[5], "label", `{"new":"events-dev"}`)
	check(devLog[4], "label", `{"old":"events-dev","new":"events-dev-2"}`)
	check(devLog[3], "attrs", `{"new":{"target_temperature":23.5}}`)
	if devLog[2].Cause != "psk" || len(devLog[2].Changes) != 1 || !strings.Contains(string(devLog[2].Changes["psks"]), `{"new":[{"attr_id":`) {
		t.Errorf("gen_psk entry: %+v", devLog[2])
	}
	check(devLog[0], "label", `{"old":"events-dev-2"}`)
	// Every page size reads the same log.
	if again, _ := readChangeLog(t, admin, "/device/"+dev+"/events", 100); fmt.Sprint(again) != fmt.Sprint(devLog) {
		t.Errorf("one page: %v\nwant %v", again, devLog)
	}

	tmplLog, _ := readChangeLog(t, admin, fmt.Sprintf("/template/%d/events", tmpl), 1)
	if got, want := entryTypes(tmplLog), "template.deleted template.updated template.created"; got != want {
		t.Fatalf("template log: %s, want %s", got, want)
	}
	check(tmplLog[1], "label", `{"old":"events-tmpl","new":"events-tmpl-2"}`)
	if a := string(tmplLog[1].Changes["attrs"]); !strings.Contains(a, `"label":"note"`) || !strings.Contains(a, `"label":"model"`) || strings.Contains(a, `"label":"temperature"`) {
		t.Errorf("template update's attrs change (note and model removed, temperature kept): %s", a)
	}

	// Refusals: JSON errors, as every other route's.
	for _, path := range []string{"/device/ffff99/events", "/template/999/events", "/device/" + dev + "/events?before=1&limit=1x"} {
		code, body := admin.Do("GET", path, nil)
		var e struct {
			Message string
			Status  int
		}
		if code/100 != 4 || json.Unmarshal(body, &e) != nil || e.Status != code || e.Message == "" {
			t.Errorf("GET %s = %d %s", path, code, body)
		}
	}

	// Tenant B: its tokens name nothing of tenant A's.
	admin.Must(200, "POST", "/auth/user", map[string]any{"username": "evb_admin", "service": "evb",
		"email": "evb@example.com", "name": "B", "profile": "admin"})
	b := dojottest.LoginNewUser(t, in, admin, "evb_admin")
	for _, path := range []string{"/device/" + dev + "/events", fmt.Sprintf("/template/%d/events", tmpl), fmt.Sprintf("/template/%d/events", other)} {
		if code, body := b.Do("GET", path, nil); code != 404 || strings.Contains(string(body), "events-") {
			t.Errorf("tenant B: GET %s = %d %s, want 404", path, code, body)
		}
	}

	// A user who may read templates but not devices.
	admin.Must(200, "POST", "/auth/pap/group", map[string]any{"name": "evreaders", "description": "templates only"})
	admin.Must(200, "POST", "/auth/pap/grouppermissions/evreaders/ro_template", nil)
	admin.Must(200, "POST", "/auth/user", map[string]any{"username": "evreader", "service": "admin",
		"email": "evr@example.com", "name": "R", "profile": "evreaders"})
	r := dojottest.LoginNewUser(t, in, admin, "evreader")
	if code, body := r.Do("GET", "/device/"+dev+"/events", nil); code != 403 {
		t.Errorf("without device permission: %d %s, want 403", code, body)
	}
	if code, body := r.Do("GET", fmt.Sprintf("/template/%d/events", tmpl), nil); code != 200 {
		t.Errorf("with ro_template: %d %s, want 200", code, body)
	}
}
