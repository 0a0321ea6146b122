package http

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// The schema errors dojot's own tests expect
// (connector/http-agent/test/integration/SchemaValidation.test.js), and
// ajv 8's for the cases those tests leave out.
func TestSchemaErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		many bool
		body string
		want string // the schemaErrors JSON; "" for none
	}{
		{"no data", false, `{}`, `[{"instancePath":"","schemaPath":"#/required","keyword":"required","params":{"missingProperty":"data"},"message":"must have required property 'data'"}]`},
		{"data not object", false, `{"data":"{}"}`, `[{"instancePath":"/data","schemaPath":"#/properties/data/type","keyword":"type","params":{"type":"object"},"message":"must be object"}]`},
		{"ts empty", false, `{"ts":"","data":{"test":"abc"}}`, `[{"instancePath":"/ts","schemaPath":"#/properties/ts/anyOf/0/format","keyword":"format","params":{"format":"date-time"},"message":"must match format \"date-time\""},` +
			`{"instancePath":"/ts","schemaPath":"#/properties/ts/anyOf/1/type","keyword":"type","params":{"type":"integer"},"message":"must be integer"},` +
			`{"instancePath":"/ts","schemaPath":"#/properties/ts/anyOf","keyword":"anyOf","params":{},"message":"must match a schema in anyOf"}]`},
		{"ts negative", false, `{"ts":-1,"data":{}}`, `[{"instancePath":"/ts","schemaPath":"#/properties/ts/anyOf/0/type","keyword":"type","params":{"type":"string"},"message":"must be string"},` +
			`{"instancePath":"/ts","schemaPath":"#/properties/ts/anyOf/1/minimum","keyword":"minimum","params":{"comparison":">=","limit":0},"message":"must be >= 0"},` +
			`{"instancePath":"/ts","schemaPath":"#/properties/ts/anyOf","keyword":"anyOf","params":{},"message":"must match a schema in anyOf"}]`},
		{"not object", false, `[1]`, `[{"instancePath":"","schemaPath":"#/type","keyword":"type","params":{"type":"object"},"message":"must be object"}]`},
		{"ok ms", false, `{"ts":1528226137452,"data":{"a":1}}`, ``},
		{"ok date-time", false, `{"ts":"2021-06-16T09:32:01.683000Z","data":{"a":1}}`, ``},
		{"ok no zone", false, `{"ts":"2021-06-16 09:32:01","data":{}}`, ``},
		{"bad day", false, `{"ts":"2021-02-29T09:32:01Z","data":{}}`, `[{"instancePath":"/ts","schemaPath":"#/properties/ts/anyOf/0/format","keyword":"format","params":{"format":"date-time"},"message":"must match format \"date-time\""},` +
			`{"instancePath":"/ts","schemaPath":"#/properties/ts/anyOf/1/type","keyword":"type","params":{"type":"integer"},"message":"must be integer"},` +
			`{"instancePath":"/ts","schemaPath":"#/properties/ts/anyOf","keyword":"anyOf","params":{},"message":"must match a schema in anyOf"}]`},

		{"batch not array", true, `{}`, `[{"instancePath":"","schemaPath":"#/type","keyword":"type","params":{"type":"array"},"message":"must be array"}]`},
		{"batch empty", true, `[]`, `[{"instancePath":"","schemaPath":"#/minItems","keyword":"minItems","params":{"limit":1},"message":"must NOT have fewer than 1 items"}]`},
		{"batch item empty", true, `[{}]`, `[{"instancePath":"/0","schemaPath":"#/items/required","keyword":"required","params":{"missingProperty":"ts"},"message":"must have required property 'ts'"},` +
			`{"instancePath":"/0","schemaPath":"#/items/required","keyword":"required","params":{"missingProperty":"data"},"message":"must have required property 'data'"}]`},
		{"batch data string", true, `[{"data":"{}"}]`, `[{"instancePath":"/0","schemaPath":"#/items/required","keyword":"required","params":{"missingProperty":"ts"},"message":"must have required property 'ts'"},` +
			`{"instancePath":"/0/data","schemaPath":"#/items/properties/data/type","keyword":"type","params":{"type":"object"},"message":"must be object"}]`},
		{"batch second without ts", true, `[{"ts":"2021-06-16T09:32:01.683000Z","data":{"test":"test"}},{"data":{"test":"test"}}]`,
			`[{"instancePath":"/1","schemaPath":"#/items/required","keyword":"required","params":{"missingProperty":"ts"},"message":"must have required property 'ts'"}]`},
		{"batch duplicates", true, `[{"ts":1,"data":{"a":1}},{"ts":2,"data":{}},{"ts":1,"data":{"a":1.0}}]`,
			`[{"instancePath":"","schemaPath":"#/uniqueItems","keyword":"uniqueItems","params":{"i":2,"j":0},"message":"must NOT have duplicate items (items ## 0 and 2 are identical)"}]`},
		{"batch 65", true, `[` + strings.TrimSuffix(strings.Repeat(`{"ts":1,"data":{}},`, 65), ",") + `]`, ``},
		{"batch ok", true, `[{"ts":1,"data":{}},{"ts":2,"data":{}}]`, ``},
	} {
		var errs []schemaError
		if tt.many {
			_, errs = checkBatch([]byte(tt.body))
		} else if jsonType([]byte(tt.body)) != "object" {
			errs = []schemaError{{"", "#/type", "type", map[string]any{"type": "object"}, "must be object"}}
		} else {
			_, errs = checkMessage([]byte(tt.body), "", "#", false)
		}
		got := ""
		if len(errs) > 0 {
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false) // as the agent writes them
			_ = enc.Encode(errs)
			got = strings.TrimSpace(b.String())
		}
		if tt.name == "batch 65" {
			if !strings.HasPrefix(got, `[{"instancePath":"","schemaPath":"#/maxItems","keyword":"maxItems","params":{"limit":64},"message":"must NOT have more than 64 items"}`) {
				t.Errorf("%s: %s", tt.name, got)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func FuzzSchema(f *testing.F) {
	f.Add([]byte(`[{"ts":"2021-06-16T09:32:01.683000Z","data":{"a":1}}]`))
	f.Add([]byte(`{"ts":1,"data":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return
		}
		msgs, errs := checkBatch(body)
		if len(errs) == 0 {
			for _, m := range msgs {
				if jsonType(m.Data) != "object" {
					t.Errorf("accepted %s with data %s", body, m.Data)
				}
			}
		}
		if jsonType(body) == "object" {
			m, errs := checkMessage(body, "", "#", false)
			if len(errs) == 0 && jsonType(m.Data) != "object" {
				t.Errorf("accepted %s", body)
			}
		}
	})
}

func BenchmarkCheckBatch(b *testing.B) {
	var items []string
	for i := range 64 {
		items = append(items, `{"ts":`+strconv.Itoa(1528226137000+i)+`,"data":{"temperature":21.5,"humidity":60}}`)
	}
	body := []byte("[" + strings.Join(items, ",") + "]")
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, errs := checkBatch(body); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}
