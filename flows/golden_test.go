package flows

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// goldenCase is one answer of the JavaScript dojot's flowbroker runs on,
// recorded by testdata/golden.js (see there how to regenerate it).
type goldenCase struct {
	Kind string `json:"kind"`
	// context
	Msg  Msg            `json:"msg"`
	Meta map[string]any `json:"meta"`
	// template
	Syntax   string  `json:"syntax"`
	Template string  `json:"template"`
	Out      any     `json:"out"`
	Error    *string `json:"error"`
	// switch
	Config json.RawMessage `json:"config"`
	Ports  []int           `json:"ports"`
	// geo
	Points json.RawMessage `json:"points"`
	Text   string          `json:"text"`
	Inside *bool           `json:"inside"`
	// merge
	Dst, Src map[string]any
	// number, string
	In any `json:"in"`
}

// TestGolden checks the template engines, switch, geofence, merge data's
// merge and the JavaScript value helpers against testdata/golden.json.
func TestGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	var msg Msg
	for i, c := range cases {
		switch c.Kind {
		case "context":
			msg = c.Msg
		case "template":
			config, _ := json.Marshal(map[string]any{"field": "out", "syntax": c.Syntax, "template": c.Template})
			out, err := runNode(t, "template", string(config), jsonStringify(map[string]any(msg)), NewRecorder())
			if c.Error != nil {
				if err == nil {
					t.Errorf("#%d %s %q: no error, dojot: %s", i, c.Syntax, c.Template, *c.Error)
				}
				continue
			}
			if err != nil {
				t.Errorf("#%d %s %q: %v; dojot: %q", i, c.Syntax, c.Template, err, c.Out)
				continue
			}
			if got := out[0]["out"]; got != c.Out {
				t.Errorf("#%d %s %q:\n got  %q\n want %q", i, c.Syntax, c.Template, got, c.Out)
			}
		case "switch":
			out, err := runNode(t, "switch", string(c.Config), jsonStringify(map[string]any(c.Msg)), NewRecorder())
			if err != nil {
				t.Errorf("#%d switch %s on %s: %v", i, c.Config, jsonStringify(map[string]any(c.Msg)), err)
				continue
			}
			got := make([]int, len(out))
			for k, m := range out {
				if m != nil {
					got[k] = 1
				}
			}
			if jsonStringify(toAny(got)) != jsonStringify(toAny(c.Ports)) {
				t.Errorf("#%d switch %s on %s: ports %v, dojot %v", i, c.Config, jsonStringify(map[string]any(c.Msg)), got, c.Ports)
			}
		case "geo":
			config := `{"filter":"inside","geopoint":"p","points":` + string(c.Points) + `}`
			out, err := runNode(t, "geofence", config, `{"p":`+jsonStringify(c.Text)+`}`, NewRecorder())
			switch {
			case c.Inside == nil:
				if err == nil {
					t.Errorf("#%d geo %q: no error, dojot found no position", i, c.Text)
				}
			case err != nil:
				t.Errorf("#%d geo %q: %v", i, c.Text, err)
			case (len(out) == 1) != *c.Inside:
				t.Errorf("#%d geo %q in polygon %s: inside %v, dojot %v", i, c.Text, c.Points, len(out) == 1, *c.Inside)
			}
		case "merge":
			dst := deepCopy(c.Dst).(map[string]any)
			mergeInto(dst, c.Src)
			if got, want := jsonStringify(dst), jsonStringify(c.Out); got != want {
				t.Errorf("#%d merge %s into %s: %s, lodash %s", i, jsonStringify(c.Src), jsonStringify(c.Dst), got, want)
			}
		case "number":
			if got := jsNumberString(jsNumber(c.In)); got != c.Out {
				t.Errorf("#%d Number(%q) = %s, JavaScript %s", i, c.In, got, c.Out)
			}
		case "string":
			if got := jsNumberString(c.In.(float64)); got != c.Out {
				t.Errorf("#%d String(%v) = %s, JavaScript %s", i, c.In, got, c.Out)
			}
		default:
			t.Fatalf("#%d: unknown kind %q", i, c.Kind)
		}
	}
	if !strings.Contains(string(raw), `"kind":"geo"`) {
		t.Error("golden.json has no geo cases")
	}
}

func toAny(ints []int) []any {
	out := make([]any, len(ints))
	for i, n := range ints {
		out[i] = float64(n)
	}
	return out
}
