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
		"change number":             {set(`{"t":"change","p":"payload","from":"5","fromt":"num","to":"6","tot":"num"}`), `{"payload":5}`, []string{`{"payload":6}`}, ""},
		"change number other value": {set(`{"t":"change","p":"payload","from":"5","fromt":"num","to":"6","tot":"num"}`), `{"payload":7}`, []string{`{"payload":7}`}, ""},
		"change number needs num":   {set(`{"t":"change","p":"payload","from":"5","fromt":"str","to":"6","tot":"num"}`), `{"payload":5}`, []string{`{"payload":5}`}, ""},
		"change whole string typed": {set(`{"t":"change","p":"payload","from":"5","fromt":"num","to":"6","tot":"num"}`), `{"payload":"5"}`, []string{`{"payload":6}`}, ""},
		"change whole string bool":  {set(`{"t":"change","p":"payload","from":"on","fromt":"str","to":"true","tot":"bool"}`), `{"payload":"on"}`, []string{`{"payload":true}`}, ""},
		"change inside string":      {set(`{"t":"change","p":"payload","from":"5","fromt":"num","to":"6","tot":"num"}`), `{"payload":"a5b5"}`, []string{`{"payload":"a6b6"}`}, ""},
		"change bool":               {set(`{"t":"change","p":"payload","from":"true","fromt":"bool","to":"off","tot":"str"}`), `{"payload":true}`, []string{`{"payload":"off"}`}, ""},
		"change from msg value":     {set(`{"t":"change","p":"payload","from":"x","to":"other","tot":"msg"}`), `{"other":"y","payload":"axa"}`, []string{`{"other":"y","payload":"aya"}`}, ""},
		"change dollar literal":     {set(`{"t":"change","p":"payload","from":"a","to":"$1","tot":"str"}`), `{"payload":"ab"}`, []string{`{"payload":"$1b"}`}, ""},
		"move to itself":            {set(`{"t":"move","p":"payload","to":"payload","tot":"msg"}`), `{"payload":1}`, []string{`{"payload":1}`}, ""},
		"move missing":              {set(`{"t":"move","p":"nope","to":"x","tot":"msg"}`), `{"payload":1}`, []string{`{"payload":1}`}, ""},
		"delete top level":          {set(`{"t":"delete","p":"payload"}`), `{"payload":1,"topic":"t"}`, []string{`{"topic":"t"}`}, ""},
		"pt ignored":                {set(`{"t":"set","p":"a","pt":"flow","to":"1","tot":"num"}`), `{}`, []string{`{"a":1}`}, ""},
		"legacy fields ignored":     {`{"rules":[{"t":"set","p":"a","to":"x","tot":"str"}],"action":"replace","property":"p","from":"","to":"","reg":false}`, `{}`, []string{`{"a":"x"}`}, ""},
		"change missing":            {set(`{"t":"change","p":"nope","from":"a","to":"b"}`), `{"payload":1}`, []string{`{"payload":1}`}, ""},
		"delete":                    {set(`{"t":"delete","p":"payload.a"}`), `{"payload":{"a":1,"b":2}}`, []string{`{"payload":{"b":2}}`}, ""},
		"delete missing":            {set(`{"t":"delete","p":"x.y"}`), `{"payload":1}`, []string{`{"payload":1}`}, ""},
		"move":                      {set(`{"t":"move","p":"payload.a","to":"out.a","tot":"msg"}`), `{"payload":{"a":1}}`, []string{`{"out":{"a":1},"payload":{}}`}, ""},

		"set msg missing": {set(`{"t":"set","p":"b","to":"payload.nope","tot":"msg"}`), `{"payload":{}}`, nil, "Unknown property payload.nope requested"},
		"set under string": {set(`{"t":"set","p":"payload.x","to":"1"}`), `{"payload":"text"}`, nil,
			"Cannot create property 'x' on string 'text'"},
		"invalid tot":     {set(`{"t":"set","p":"a","to":"{}","tot":"jsonata"}`), `{}`, nil, "Invalid value type: jsonata"},
		"invalid tot2":    {set(`{"t":"set","p":"a","to":"x","tot":"flow"}`), `{}`, nil, "Invalid value type: flow"},
		"no p":            {set(`{"t":"set","to":"x"}`), `{}`, nil, "rules[0]: missing p"},
		"unknown rule":    {set(`{"t":"swap","p":"a"}`), `{}`, nil, `unknown rule type "swap"`},
		"bad from re":     {set(`{"t":"change","p":"a","from":"(","fromt":"re","to":"x"}`), `{}`, nil, "bad regex"},
		"no rules":        {`{}`, `{}`, nil, "missing rules"},
		"tot json":        {set(`{"t":"set","p":"a","to":"{}","tot":"json"}`), `{}`, nil, "Invalid value type: json"},
		"tot date":        {set(`{"t":"set","p":"a","to":"","tot":"date"}`), `{}`, nil, "Invalid value type: date"},
		"tot env":         {set(`{"t":"set","p":"a","to":"HOME","tot":"env"}`), `{}`, nil, "Invalid value type: env"},
		"tot global":      {set(`{"t":"set","p":"a","to":"x","tot":"global"}`), `{}`, nil, "Invalid value type: global"},
		"change no from":  {set(`{"t":"change","p":"a","to":"x"}`), `{}`, nil, "rules[0]: change needs from"},
		"bad fromt":       {set(`{"t":"change","p":"a","from":"x","fromt":"jsonata","to":"y"}`), `{}`, nil, `fromt "jsonata" is not supported`},
		"move no to":      {set(`{"t":"move","p":"a"}`), `{}`, nil, "rules[0]: move needs a msg path in to"},
		"tot msg no path": {set(`{"t":"set","p":"a","to":"","tot":"msg"}`), `{}`, nil, "rules[0]: to must be a msg path"},
		"rules ill-typed": {`{"rules":"x"}`, `{}`, nil, "rules must be an array of rules"},
	}
	runCases(t, "change", cases, nil)
}
