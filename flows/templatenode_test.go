package flows

import (
	"strconv"
	"testing"
)

func TestTemplate(t *testing.T) {
	tpl := func(syntax, output, text string) string {
		return `{"field":"out","fieldType":"msg","syntax":"` + syntax + `","output":"` + output + `","template":` + strconv.Quote(text) + `}`
	}
	in := `{"payload":{"data":{"id":"a1b2c3","attrs":{"temperature":35,"tags":["a","b"],"obj":{"k":1},"html":"<b>&'"}}}}`
	with := func(out string) string {
		return `{"out":` + out + `,"payload":{"data":{"attrs":{"html":"<b>&'","obj":{"k":1},"tags":["a","b"],"temperature":35},"id":"a1b2c3"}}}`
	}
	cases := map[string]nodeCase{
		// FLOWS.md 7.2
		"notification json": {tpl("handlebars", "json", `{"metadata":{"priority":"low"},"message":"Temp {{payload.data.attrs.temperature}} too high"}`), in,
			[]string{with(`{"message":"Temp 35 too high","metadata":{"priority":"low"}}`)}, ""},
		"default template": {`{"field":"out"}`, `{"payload":{"a":1}}`, []string{`{"out":"This is the payload: {\"a\":1} !","payload":{"a":1}}`}, ""},
		"handlebars escape": {tpl("handlebars", "str", `{{payload.data.attrs.html}}|{{{payload.data.attrs.html}}}|{{&payload.data.attrs.html}}`), in,
			[]string{with(`"&lt;b&gt;&amp;&#x27;|<b>&'|<b>&'"`)}, ""},
		"mustache escape": {tpl("mustache", "str", `{{payload.data.attrs.html}}/`), in, []string{with(`"&lt;b&gt;&amp;&#39;/"`)}, ""},
		"objects and arrays": {tpl("handlebars", "str", `{{payload.data.attrs.obj}} {{payload.data.attrs.tags}} {{missing.x}}.`), in,
			[]string{with(`"[object Object] a,b ."`)}, ""},
		"stringify": {tpl("handlebars", "str", `{{{stringify payload.data.attrs.obj}}} {{stringify payload.data.attrs.tags}}`), in,
			[]string{with(`"{\"k\":1} [&quot;a&quot;,&quot;b&quot;]"`)}, ""},
		"parseAndSelect": {tpl("handlebars", "str", `{{{parseAndSelect payload.s "a"}}}`), `{"payload":{"s":"{\"a\":[1,2]}"}}`,
			[]string{`{"out":"[1,2]}","payload":{"s":"{\"a\":[1,2]}"}}`}, ""}, // dojot's stray brace
		"payloadMetadata": {tpl("mustache", "str", `{{payloadMetadata.flowId}} {{payloadMetadata.tenant}} {{payloadMetadata.originatorDeviceId}} {{payloadMetadata.timestamp}}`), `{}`,
			[]string{`{"out":"f1 admin dev1 1623163659936"}`}, ""},
		"each": {tpl("handlebars", "str", `{{#each payload.data.attrs.tags}}{{@index}}={{this}};{{/each}}`), in, []string{with(`"0=a;1=b;"`)}, ""},
		"if else": {tpl("handlebars", "str", `{{#if payload.data.attrs.none}}yes{{else}}no{{/if}}{{#unless payload.data.id}}x{{/unless}}`), in,
			[]string{with(`"no"`)}, ""},
		"with and parent": {tpl("handlebars", "str", `{{#with payload.data}}{{id}}:{{../payload.data.attrs.temperature}}{{/with}}`), in,
			[]string{with(`"a1b2c3:35"`)}, ""},
		"mustache sections": {tpl("mustache", "str", `{{#payload.data.attrs.tags}}[{{.}}]{{/payload.data.attrs.tags}}{{^payload.nope}}none{{/payload.nope}}{{#payload.data}}{{id}}{{/payload.data}}`), in,
			[]string{with(`"[a][b]nonea1b2c3"`)}, ""},
		"mustache stack lookup": {tpl("mustache", "str", `{{#payload.data.attrs.obj}}{{k}}{{payload.data.id}}{{/payload.data.attrs.obj}}`), in,
			[]string{with(`"1a1b2c3"`)}, ""},
		"payloadMetadata hides the message's": {tpl("handlebars", "str", `{{payloadMetadata.tenant}}{{payloadMetadata.x}}`), `{"payloadMetadata":{"x":"own"}}`,
			[]string{`{"out":"admin","payloadMetadata":{"x":"own"}}`}, ""},
		"stringify this has payloadMetadata": {tpl("handlebars", "str", `{{{stringify this}}}`), `{"a":1}`,
			[]string{`{"a":1,"out":"{\"a\":1,\"payloadMetadata\":{\"flowId\":\"f1\",\"tenant\":\"admin\",\"originatorDeviceId\":\"dev1\",\"timestamp\":1623163659936}}"}`}, ""},
		"comment":          {tpl("handlebars", "str", `a{{! hi }}b`), `{}`, []string{`{"out":"ab"}`}, ""},
		"plain":            {tpl("plain", "str", `{{payload}}`), `{"payload":1}`, []string{`{"out":"{{payload}}","payload":1}`}, ""},
		"plain json":       {tpl("plain", "json", `[1,2]`), `{}`, []string{`{"out":[1,2]}`}, ""},
		"numbers as js":    {tpl("handlebars", "str", `{{payload}}`), `{"payload":1e21}`, []string{`{"out":"1e+21","payload":1e+21}`}, ""},
		"field path":       {`{"field":"a.b","template":"x","syntax":"plain"}`, `{}`, []string{`{"a":{"b":"x"}}`}, ""},
		"json output bad":  {tpl("handlebars", "json", `{"t":{{payload}}}`), `{"payload":"x"}`, nil, "template output is not JSON"},
		"set under string": {`{"field":"payload.x","template":"x","syntax":"plain"}`, `{"payload":"s"}`, nil, "Cannot create property 'x' on string 's'"},

		"unclosed section":           {tpl("handlebars", "str", `{{#each payload}}x`), `{}`, nil, "bad handlebars template: {{#each}} is not closed"},
		"wrong close":                {tpl("mustache", "str", `{{#a}}x{{/b}}`), `{}`, nil, "bad mustache template: {{/b}} closes {{#a}}"},
		"unclosed tag":               {tpl("mustache", "str", `{{a`), `{}`, nil, "bad mustache template: unclosed tag"},
		"unknown helper":             {tpl("handlebars", "str", `{{lookup a "b"}}`), `{}`, nil, `unknown helper "lookup"`},
		"handlebars index segment":   {tpl("handlebars", "str", `{{payload.list.0}}`), `{}`, nil, "expecting 'ID', got 'NUMBER' (write payload.list.[0])"},
		"partial":                    {tpl("mustache", "str", `{{> p}}`), `{}`, nil, "partials are not supported"},
		"bad syntax":                 {`{"syntax":"jinja"}`, `{}`, nil, `configuration error: syntax "jinja" is not handlebars, mustache or plain`},
		"bad output":                 {`{"output":"xml"}`, `{}`, nil, `output "xml" is not one of`},
		"template ill-typed":         {`{"template":5}`, `{}`, nil, "template must be a string"},
		"default field payload":      {`{"template":"x","syntax":"plain"}`, `{"payload":1}`, []string{`{"payload":"x"}`}, ""},
		"mustache list index":        {tpl("mustache", "str", `{{payload.data.attrs.tags.1}}`), in, []string{with(`"b"`)}, ""},
		"handlebars segment literal": {tpl("handlebars", "str", `{{payload.data.attrs.tags.[1]}}`), in, []string{with(`"b"`)}, ""},
		"json output string":         {tpl("handlebars", "json", `"{{payload.data.id}}"`), in, []string{with(`"a1b2c3"`)}, ""},
		"mustache no helpers":        {tpl("mustache", "str", `{{{stringify payload}}}`), `{"payload":1}`, []string{`{"out":"","payload":1}`}, ""},
		"plain not json":             {tpl("plain", "json", `{x`), `{}`, nil, "template is not JSON but output is json"},
	}
	runCases(t, "template", cases, nil)
}
