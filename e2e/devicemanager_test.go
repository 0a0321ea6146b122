package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestWalkthrough is the README's curl walk-through, over HTTP.
func TestWalkthrough(t *testing.T) { dojottest.EachView(t, testWalkthrough) }

func testWalkthrough(t *testing.T, flags []string) {
	in := start(t, "", flags...)
	anon := in.Client()
	anon.Must(200, "GET", "/healthz", nil)
	if code, _ := anon.Do("GET", "/device", nil); code != 401 {
		t.Errorf("GET /device without token = %d; want 401", code)
	}
	if code, _ := anon.Do("POST", "/auth", map[string]string{"username": "admin", "passwd": "wrong"}); code != 403 {
		t.Errorf("login with a bad password = %d; want 403", code)
	}
	if code, _ := anon.Do("POST", "/auth", map[string]string{"username": "nobody", "passwd": "x"}); code != 401 {
		t.Errorf("login of an unknown user = %d; want 401", code)
	}
	c := in.Login("admin", adminPassword)
	if code, _ := c.With(c.Token+"x").Do("GET", "/device", nil); code != 401 {
		t.Errorf("GET /device with a tampered token = %d; want 401", code)
	}

	tmpl := dojottest.CreateTemplate(c, "SensorModel")
	id := dojottest.CreateDevice(c, "pump", tmpl)
	if !regexp.MustCompile(`^[0-9a-f]{5,6}$`).MatchString(id) {
		t.Errorf("device id %q; want 5-6 lowercase hex", id)
	}

	var d dojottest.Device
	mustJSON(t, c.Must(200, "GET", "/device/"+id, nil), &d)
	if d.Label != "pump" || len(d.Templates) != 1 || d.Templates[0] != tmpl || len(d.Attrs[fmt.Sprint(tmpl)]) != 3 {
		t.Errorf("GET /device/%s = %+v", id, d)
	}

	var list struct {
		Pagination struct {
			Page    int  `json:"page"`
			Total   int  `json:"total"`
			HasNext bool `json:"has_next"`
		} `json:"pagination"`
		Devices []dojottest.Device `json:"devices"`
	}
	mustJSON(t, c.Must(200, "GET", "/device", nil), &list)
	if len(list.Devices) != 1 || list.Devices[0].ID != id || list.Pagination.Page != 1 {
		t.Errorf("GET /device = %+v", list)
	}

	body := c.Must(200, "PUT", "/device/"+id+"/actuate", map[string]any{"attrs": map[string]any{"target_temperature": 23.5}})
	if !strings.Contains(string(body), `" status"`) {
		t.Errorf("actuate = %s; want dojot's {\" status\":...}", body)
	}
	body = c.Must(403, "PUT", "/device/"+id+"/actuate", map[string]any{"attrs": map[string]any{"temperature": 1}})
	if !strings.Contains(string(body), `"attrs":["temperature"]`) {
		t.Errorf("actuate a dynamic attr = %s", body)
	}

	c.Must(400, "DELETE", "/template/"+fmt.Sprint(tmpl), nil) // in use
	c.Must(200, "DELETE", "/device/"+id, nil)
	c.Must(404, "GET", "/device/"+id, nil)
	c.Must(200, "DELETE", "/template/"+fmt.Sprint(tmpl), nil)

	var topic struct{ Topic string }
	mustJSON(t, c.Must(200, "GET", "/topic/device-data", nil), &topic)
	if topic.Topic != "admin.device-data" {
		t.Errorf("GET /topic/device-data = %q", topic.Topic)
	}

	// SIGTERM: a graceful stop, exit code 0.
	in.Stop()
	if code := in.ExitCode(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d; want 0", code)
	}
}

func TestPagingAndFilters(t *testing.T) { dojottest.EachView(t, testPagingAndFilters) }

func testPagingAndFilters(t *testing.T, flags []string) {
	in := start(t, "", flags...)
	c := in.Login("admin", adminPassword)
	tmpl := dojottest.CreateTemplate(c, "T")
	body := c.Must(200, "POST", "/device?count=3", map[string]any{"label": "d", "templates": []int{tmpl}})
	var created struct {
		Devices []dojottest.Device `json:"devices"`
	}
	mustJSON(t, body, &created)
	var labels []string
	for _, d := range created.Devices {
		labels = append(labels, d.Label)
	}
	if strings.Join(labels, ",") != "d_0,d_1,d_2" {
		t.Errorf("count=3 labels = %v; want d_0,d_1,d_2", labels)
	}
	dojottest.CreateDevice(c, "other", tmpl)

	var ids []string
	mustJSON(t, c.Must(200, "GET", "/device?idsOnly=true", nil), &ids)
	if len(ids) != 4 {
		t.Errorf("idsOnly = %v; want 4 ids", ids)
	}
	var page struct {
		Pagination struct {
			HasNext  bool `json:"has_next"`
			NextPage *int `json:"next_page"`
			Total    int  `json:"total"`
		} `json:"pagination"`
		Devices []dojottest.Device `json:"devices"`
	}
	mustJSON(t, c.Must(200, "GET", "/device?page_size=1", nil), &page)
	if !page.Pagination.HasNext || page.Pagination.NextPage == nil || *page.Pagination.NextPage != 2 || len(page.Devices) != 1 {
		t.Errorf("page_size=1 = %+v", page)
	}
	mustJSON(t, c.Must(200, "GET", "/device?label=d_&sortBy=label", nil), &page)
	if len(page.Devices) != 3 || page.Devices[0].Label != "d_0" {
		t.Errorf("label=d_ = %+v", page.Devices)
	}
	mustJSON(t, c.Must(200, "GET", "/device?attr=model=m-1", nil), &page)
	if len(page.Devices) != 4 {
		t.Errorf("attr=model=m-1 = %d devices; want 4", len(page.Devices))
	}
	c.Must(400, "GET", "/device?page_size=x", nil)
	c.Must(400, "GET", "/device?page_num=abc", nil)
}

func TestBadInput(t *testing.T) { dojottest.EachView(t, testBadInput) }

func testBadInput(t *testing.T, flags []string) {
	in := start(t, "", flags...)
	c := in.Login("admin", adminPassword)
	tmpl := dojottest.CreateTemplate(c, "T")
	cases := []struct {
		method, path string
		body         any
		want         int
	}{
		{"POST", "/template", "{not json", 400},
		{"POST", "/template", map[string]any{"attrs": []any{}}, 400},                     // no label
		{"POST", "/template", map[string]any{"label": 5}, 400},                           // wrong type
		{"POST", "/device", map[string]any{"label": "x", "templates": []int{9999}}, 404}, // unknown template (dojot: 404)
		{"POST", "/device", map[string]any{"templates": []int{tmpl}}, 400},               // no label
		{"POST", "/device", map[string]any{"label": "x", "templates": "1"}, 400},
		{"POST", "/device?count=abc", map[string]any{"label": "x", "templates": []int{tmpl}}, 400},
		{"POST", "/device", map[string]any{"label": "x", "templates": []int{tmpl}, "id": "not-hex!"}, 400},
		{"GET", "/device/ffffff", nil, 404},
		{"GET", "/template/424242", nil, 404},
		{"GET", "/template/abc", nil, 404},
		{"PUT", "/device/ffffff", map[string]any{"label": "x", "templates": []int{tmpl}}, 404},
		{"DELETE", "/device/ffffff", nil, 404},
		{"POST", "/device", strings.Repeat("x", 17<<20), 413},
		{"GET", "/no/such/route", nil, 404},
	}
	for _, tc := range cases {
		code, body := c.Do(tc.method, tc.path, tc.body)
		if code != tc.want {
			t.Errorf("%s %s = %d %s; want %d", tc.method, tc.path, code, trunc(body), tc.want)
		}
		if !json.Valid(body) {
			t.Errorf("%s %s body is not JSON: %s", tc.method, tc.path, trunc(body))
		}
	}
	var ids []string
	mustJSON(t, c.Must(200, "GET", "/device?idsOnly=true", nil), &ids)
	if len(ids) != 0 {
		t.Errorf("devices stored by bad requests: %v", ids)
	}
}

// TestTenantIsolation: tenant B neither sees nor changes tenant A's data.
func TestTenantIsolation(t *testing.T) { dojottest.EachView(t, testTenantIsolation) }

func testTenantIsolation(t *testing.T, flags []string) {
	in := start(t, "", flags...)
	a := in.Login("admin", adminPassword)
	tmpl := dojottest.CreateTemplate(a, "A")
	id := dojottest.CreateDevice(a, "a-dev", tmpl)

	a.Must(200, "POST", "/auth/user", map[string]any{"username": "bob", "service": "tenantb",
		"email": "bob@example.com", "name": "Bob", "profile": "admin"})
	// dojot creates users without a password (it mails a link); the admin sets one here.
	b := dojottest.LoginNewUser(t, in, a, "bob")

	b.Must(404, "GET", "/device/"+id, nil)
	b.Must(404, "GET", fmt.Sprintf("/template/%d", tmpl), nil)
	b.Must(404, "PUT", "/device/"+id, map[string]any{"label": "stolen", "templates": []int{}})
	b.Must(404, "DELETE", "/device/"+id, nil)
	b.Must(404, "PUT", "/device/"+id+"/actuate", map[string]any{"attrs": map[string]any{"target_temperature": 1}})
	var ids []string
	mustJSON(t, b.Must(200, "GET", "/device?idsOnly=true", nil), &ids)
	if len(ids) != 0 {
		t.Errorf("tenant B sees %v", ids)
	}
	b.Must(404, "POST", "/device", map[string]any{"label": "x", "templates": []int{tmpl}}) // A's template
	var topic struct{ Topic string }
	mustJSON(t, b.Must(200, "GET", "/topic/device-data", nil), &topic)
	if topic.Topic != "tenantb.device-data" {
		t.Errorf("tenant B topic = %q", topic.Topic)
	}
	a.Must(200, "GET", "/device/"+id, nil)

	// A member of group "user" works with devices but may not manage users.
	a.Must(200, "POST", "/auth/user", map[string]any{"username": "carol", "service": "admin",
		"email": "carol@example.com", "name": "Carol", "profile": "user"})
	c := dojottest.LoginNewUser(t, in, a, "carol")
	c.Must(200, "GET", "/device/"+id, nil)
	c.Must(403, "GET", "/auth/user", nil)
	c.Must(403, "POST", "/auth/pap/group", map[string]any{"name": "g", "description": "d"})
}
