package filter

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// goldenCase is one answer of dojot's own code, recorded by
// testdata/golden.js (see there how to regenerate it).
type goldenCase struct {
	Source string `json:"source"`
	Fields string `json:"fields"`
	Where  string `json:"where"`
	Value  string `json:"value"`
	Code   int    `json:"code"`
	Reason string `json:"reason"`
	Cause  string `json:"cause"` // for 4999: "operator" or "syntax"
	Out    string `json:"out"`
	Threw  bool   `json:"threw"`
}

// TestGolden checks Parse and Apply against testdata/golden.json: the
// examples of CONTRACT.md §7 and kafka-ws's README.md, the cases of its
// tests (test/integration/Conditions.test.js, WhereProcessing.test.js,
// test/unit/OperatorValidators.test.js), edge cases found reading its
// sources, and seeded random cases, all answered by dojot's code.
func TestGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		rule, err := Parse(c.Fields, c.Where)
		name := c.Source + ": fields=" + c.Fields + " where=" + c.Where + " value=" + c.Value
		if c.Code != 0 {
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("#%d %s: Parse err = %v, want code %d", i, name, err, c.Code)
				continue
			}
			wantCode, wantReason := c.Code, c.Reason
			if c.Code == 4999 { // see parseWhere: we send the intended code
				wantCode, wantReason = CodeInvalidSyntax, "invalid syntax"
				if c.Cause == "operator" {
					wantCode, wantReason = CodeInvalidOperator, e.Reason
					if !strings.HasPrefix(e.Reason, "invalid operator '") {
						t.Errorf("#%d %s: reason %q", i, name, e.Reason)
					}
				}
			}
			if e.Code != wantCode || e.Reason != wantReason {
				t.Errorf("#%d %s: Parse = %d %q, want %d %q (dojot: %d %q)", i, name, e.Code, e.Reason, wantCode, wantReason, c.Code, c.Reason)
			}
			continue
		}
		if err != nil {
			t.Errorf("#%d %s: Parse err = %v", i, name, err)
			continue
		}
		out, ok := rule.Apply([]byte(c.Value))
		if c.Fields == "" && c.Where == "" {
			if !ok || string(out) != c.Value {
				t.Errorf("#%d %s: Apply = %q, %v; want the value back", i, name, out, ok)
			}
			continue
		}
		want := c.Out
		if !ok && want != "" || ok && string(out) != want {
			t.Errorf("#%d %s:\n Apply = %q, %v\n  want %q (threw=%v)", i, name, out, ok, want, c.Threw)
		}
	}
}
