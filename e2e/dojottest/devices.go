package dojottest

import (
	"encoding/json"
)

// Device is a device as GET and POST /device answer it.
type Device struct {
	ID        string                       `json:"id"`
	Label     string                       `json:"label"`
	Templates []int                        `json:"templates"`
	Attrs     map[string][]json.RawMessage `json:"attrs"`
}

// Template is a template as POST /template answers it.
type Template struct {
	ID    int    `json:"id"`
	Label string `json:"label"`
}

// CreateTemplate creates, as c, a template with a dynamic, an actuator
// and a static attribute, and returns its id.
func CreateTemplate(c *Client, label string) int {
	c.TB().Helper()
	body := c.Must(200, "POST", "/template", map[string]any{
		"label": label,
		"attrs": []map[string]any{
			{"label": "temperature", "type": "dynamic", "value_type": "float"},
			{"label": "target_temperature", "type": "actuator", "value_type": "float"},
			{"label": "model", "type": "static", "value_type": "string", "static_value": "m-1"},
		},
	})
	var r struct {
		Result   string   `json:"result"`
		Template Template `json:"template"`
	}
	MustJSON(c.TB(), body, &r)
	if r.Result != "ok" || r.Template.ID == 0 {
		c.TB().Fatalf("POST /template = %s", body)
	}
	return r.Template.ID
}

// CreateDevice creates, as c, a device of template tmpl and returns its id.
func CreateDevice(c *Client, label string, tmpl int) string {
	c.TB().Helper()
	body := c.Must(200, "POST", "/device", map[string]any{"label": label, "templates": []int{tmpl}})
	var r struct {
		Devices []Device `json:"devices"`
	}
	MustJSON(c.TB(), body, &r)
	if len(r.Devices) != 1 {
		c.TB().Fatalf("POST /device = %s", body)
	}
	return r.Devices[0].ID
}
