package chaos

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestKillRestart: every acknowledged write survives a SIGKILL and reads back
// byte-identical after the view is rebuilt from the log.
func TestKillRestart(t *testing.T) { dojottest.EachView(t, testKillRestart) }

func testKillRestart(t *testing.T, flags []string) {
	if testing.Short() {
		t.Skip("slow")
	}
	in := dojottest.Start(t, "", flags...)
	c := in.Login("admin", dojottest.AdminPassword)
	t1 := dojottest.CreateTemplate(c, "T1")
	var t2r struct{ Template dojottest.Template }
	dojottest.MustJSON(t, c.Must(200, "POST", "/template", map[string]any{"label": "T2", "attrs": []map[string]any{
		{"label": "pressure", "type": "dynamic", "value_type": "float"},
		{"label": "serial", "type": "static", "value_type": "string", "static_value": "s-9",
			"metadata": []map[string]any{{"label": "unit", "type": "meta", "value_type": "string", "static_value": "bar"}}}}}), &t2r)
	t2 := t2r.Template.ID
	c.Must(200, "POST", "/device?count=20", map[string]any{"label": "bulk", "templates": []int{t1}})
	id := dojottest.CreateDevice(c, "both", t1)
	c.Must(200, "POST", fmt.Sprintf("/device/%s/template/%d", id, t2), nil)
	c.Must(200, "PUT", fmt.Sprintf("/template/%d", t2), map[string]any{"label": "T2b", "attrs": []map[string]any{
		{"label": "humidity", "type": "dynamic", "value_type": "integer"}}})
	c.Must(200, "PUT", "/device/"+id+"/actuate", map[string]any{"attrs": map[string]any{"target_temperature": 1}})
	c.Must(200, "POST", "/device", map[string]any{"label": "given", "id": "abc123", "templates": []int{t1}})
	c.Must(200, "POST", "/auth/user", map[string]any{"username": "carol", "service": "admin",
		"email": "carol@example.com", "name": "Carol", "profile": "user"})
	before := dojottest.Snapshot(c)

	in.Kill()
	in.Restart()
	c2 := in.Login("admin", dojottest.AdminPassword)
	after := dojottest.Snapshot(c2)
	if len(after) != len(before) {
		t.Errorf("after restart %d documents; before %d", len(after), len(before))
	}
	for path, b := range before {
		if !bytes.Equal(after[path], b) {
			t.Errorf("GET %s changed across a SIGKILL restart:\nbefore %s\nafter  %s", path, dojottest.Trunc(b), dojottest.Trunc(after[path]))
		}
	}
}
