package flows

import "testing"

func TestChange(t *testing.T) {
	set := func(r string) string { return `{"rules":[` + r + `]}` }
	cases := map[string]nodeCase{
		// FLOWS.md 7.1
		"set str": {set(`{"t":"set","p":"saida.letreiro","pt":"msg","to":"LOTADO","tot":"str"}`), `{"payload":{"passageiros":42}}`,
			[]string{`{"payload":{"passageiros":42},"saida":{"letreiro":"LOTADO"}}`}, ""},
		"set num":         {set(`{"t":"set","p":"a","to":"12.5","tot":"num"}`), `{}`, []string{`{"a":12.5}`}, ""},
		"set num NaN":     {set(`{"t":"set","p":"a","to":"x","tot":"num"}`), `{}`, []string{`{"a":null}`}, ""}, // NaN prints as JSON null
		"set bool true":   {set(`{"t":"set","p":"a","to":"TRUE","tot":"bool"}`), `{}`, []string{`{"a":true}`}, ""},
		"set bool 1":      {set(`{"t":"set","p":"a","to":"1","tot":"boolean"}`), `{}`, []string{`{"a":true}`}, ""},
		"set bool other":  {set(`{"t":"set","p":"a","to":"yes","tot":"bool"}`), `{}`, []string{`{"a":false}`}, ""},
		"set msg":         {set(`{"t":"set","p":"b","to":"payload.x","tot":"msg"}`), `{"payload":{"x":[1]}}`, []string{`{"b":[1],"payload":{"x":[1]}}`}, ""},
		"set msg. prefix": {set(`{"t":"set","p":"b","to":"msg.payload.x"}`), `{"payload":{"x":2}}`, []string{`{"b":2,"payload":{"x":2}}`}, ""},
		"set no tot":      {set(`{"t":"set","p":"b","to":"v"}`), `{}`, []string{`{"b":"v"}`}, ""},
		"rules in order": {set(`{"t":"set","p":"a","to":"1","tot":"num"},{"t":"set","p":"b","to":"a","tot":"msg"}`), `{}`,
			[]string{`{"a":1,"b":1}`}, ""},
		"change string": {set(`{"t":"change","p":"payload","from":"a.b","to":"X","tot":"str"}`), `{"payload":"a.b a.b acb"}`,
			[]string{`{"payload":"X X acb"}`}, ""},
		"change regex": {set(`{"t":"change","p":"payload","from":"(\\d+)","fromt":"re","to":"<$1>","tot":"str"}`), `{"payload":"t 35 h 7"}`,
			[]string{`{"payload":"t <35> h <7>"}`}, ""},
		"change number":  {set(`{"t":"change","p":"payload","from":"5","fromt":"num","to":"6","tot":"num"}`), `{"payload":5}`, []string{`{"payload":6}`}, ""},
		"change missing": {set(`{"t":"change","p":"nope","from":"a","to":"b"}`), `{"payload":1}`, []string{`{"payload":1}`}, ""},
		"delete":         {set(`{"t":"delete","p":"payload.a"}`), `{"payload":{"a":1,"b":2}}`, []string{`{"payload":{"b":2}}`}, ""},
		"delete missing": {set(`{"t":"delete","p":"x.y"}`), `{"payload":1}`, []string{`{"payload":1}`}, ""},
		"move":           {set(`{"t":"move","p":"payload.a","to":"out.a","tot":"msg"}`), `{"payload":{"a":1}}`, []string{`{"out":{"a":1},"payload":{}}`}, ""},

		"set msg missing": {set(`{"t":"set","p":"b","to":"payload.nope","tot":"msg"}`), `{"payload":{}}`, nil, "Unknown property payload.nope requested"},
		"set under string": {set(`{"t":"set","p":"payload.x","to":"1"}`), `{"payload":"text"}`, nil,
			"Cannot create property 'x' on string 'text'"},
		"invalid tot":  {set(`{"t":"set","p":"a","to":"{}","tot":"jsonata"}`), `{}`, nil, "Invalid value type: jsonata"},
		"invalid tot2": {set(`{"t":"set","p":"a","to":"x","tot":"flow"}`), `{}`, nil, "Invalid value type: flow"},
		"no p":         {set(`{"t":"set","to":"x"}`), `{}`, nil, "rules[0]: missing p"},
		"unknown rule": {set(`{"t":"swap","p":"a"}`), `{}`, nil, `unknown rule type "swap"`},
		"bad from re":  {set(`{"t":"change","p":"a","from":"(","fromt":"re","to":"x"}`), `{}`, nil, "bad regex"},
		"no rules":     {`{}`, `{}`, nil, "missing rules"},
	}
	runCases(t, "change", cases, nil)
}
