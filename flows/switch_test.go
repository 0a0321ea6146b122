package flows

import "testing"

func TestSwitch(t *testing.T) {
	temp := func(v string) string { return `{"payload":{"data":{"attrs":{"temperature":` + v + `}}}}` }
	const prop = `"property":"payload.data.attrs.temperature","propertyType":"msg",`
	rule := func(r string) string { return `{` + prop + `"rules":[` + r + `],"checkall":"true"}` }
	cases := map[string]nodeCase{
		// FLOWS.md 7.2: temperature > 32
		"gt match":             {rule(`{"t":"gt","v":"32","vt":"num"}`), temp("35"), []string{temp("35")}, ""},
		"gt no match":          {rule(`{"t":"gt","v":"32","vt":"num"}`), temp("30"), []string{"null"}, ""},
		"gt numeric string":    {rule(`{"t":"gt","v":"32","vt":"num"}`), temp(`"35"`), []string{temp(`"35"`)}, ""},
		"gt missing property":  {rule(`{"t":"gt","v":"32","vt":"num"}`), `{"payload":{}}`, []string{"null"}, ""},
		"gt str vs str":        {rule(`{"t":"gt","v":"9","vt":"str"}`), temp(`"10"`), []string{"null"}, ""}, // lexical
		"lt":                   {rule(`{"t":"lt","v":"40","vt":"num"}`), temp("39"), []string{temp("39")}, ""},
		"lte equal":            {rule(`{"t":"lte","v":"40","vt":"num"}`), temp("40"), []string{temp("40")}, ""},
		"gte":                  {rule(`{"t":"gte","v":"40","vt":"num"}`), temp("39.9"), []string{"null"}, ""},
		"eq strict":            {rule(`{"t":"eq","v":"30","vt":"str"}`), temp("30"), []string{"null"}, ""},
		"eq num":               {rule(`{"t":"eq","v":"30","vt":"num"}`), temp("30"), []string{temp("30")}, ""},
		"eq no vt keeps value": {rule(`{"t":"eq","v":"30"}`), temp(`"30"`), []string{temp(`"30"`)}, ""},
		"neq":                  {rule(`{"t":"neq","v":"30","vt":"str"}`), temp("30"), []string{temp("30")}, ""},
		"btwn":                 {rule(`{"t":"btwn","v":"10","vt":"num","v2":"20","v2t":"num"}`), temp("15"), []string{temp("15")}, ""},
		"btwn out":             {rule(`{"t":"btwn","v":"10","vt":"num","v2":"20","v2t":"num"}`), temp("25"), []string{"null"}, ""},
		"cont":                 {rule(`{"t":"cont","v":"5","vt":"str"}`), temp("350"), []string{temp("350")}, ""},
		"regex":                {rule(`{"t":"regex","v":"^3\\d$","vt":"str"}`), temp("35"), []string{temp("35")}, ""},
		"regex case":           {rule(`{"t":"regex","v":"^hot$","vt":"str","case":true}`), temp(`"HOT"`), []string{temp(`"HOT"`)}, ""},
		"regex no case":        {rule(`{"t":"regex","v":"^hot$","vt":"str"}`), temp(`"HOT"`), []string{"null"}, ""},
		"true":                 {rule(`{"t":"true"}`), temp("true"), []string{temp("true")}, ""},
		"true strict":          {rule(`{"t":"true"}`), temp("1"), []string{"null"}, ""},
		"false":                {rule(`{"t":"false"}`), temp("false"), []string{temp("false")}, ""},
		"null missing":         {rule(`{"t":"null"}`), `{"payload":{}}`, []string{`{"payload":{}}`}, ""},
		"null null":            {rule(`{"t":"null"}`), temp("null"), []string{temp("null")}, ""},
		"nnull":                {rule(`{"t":"nnull"}`), temp("0"), []string{temp("0")}, ""},
		"msg operand numeric":  {rule(`{"t":"gt","v":"payload.limit","vt":"msg"}`), `{"payload":{"limit":"30","data":{"attrs":{"temperature":35}}}}`, []string{`{"payload":{"data":{"attrs":{"temperature":35}},"limit":"30"}}`}, ""},
		"msg operand missing":  {rule(`{"t":"eq","v":"payload.nope","vt":"msg"}`), temp("1"), []string{"null"}, ""},
		"propertyType num": {`{"property":"payload.data.attrs.temperature","propertyType":"num","rules":[{"t":"eq","v":"35","vt":"num"}]}`,
			temp(`"35"`), []string{temp(`"35"`)}, ""},
		// FLOWS.md 7.1: two ports
		"two ports checkall": {rule(`{"t":"gte","v":"40","vt":"num"},{"t":"lt","v":"40","vt":"num"}`), temp("42"), []string{temp("42"), "null"}, ""},
		"several ports fire": {rule(`{"t":"gt","v":"10","vt":"num"},{"t":"gt","v":"20","vt":"num"}`), temp("42"), []string{temp("42"), temp("42")}, ""},
		"checkall false stops": {`{` + prop + `"rules":[{"t":"gt","v":"10","vt":"num"},{"t":"gt","v":"20","vt":"num"}],"checkall":"false"}`,
			temp("42"), []string{temp("42")}, ""},
		"else": {rule(`{"t":"gt","v":"40","vt":"num"},{"t":"else"}`), temp("12"), []string{"null", temp("12")}, ""},
		"else after match": {rule(`{"t":"gt","v":"40","vt":"num"},{"t":"else"},{"t":"lt","v":"100","vt":"num"},{"t":"else"}`),
			temp("42"), []string{temp("42"), "null", temp("42"), "null"}, ""},
		"default property payload": {`{"rules":[{"t":"eq","v":"a","vt":"str"}]}`, `{"payload":"a"}`, []string{`{"payload":"a"}`}, ""},

		"unknown operator": {rule(`{"t":"near","v":"1"}`), temp("1"), nil, "rules[0]: unknown operator \"near\""},
		"bad regex":        {rule(`{"t":"regex","v":"(","vt":"str"}`), temp("1"), nil, "rules[0]: bad regex"},
		"jsonata":          {rule(`{"t":"eq","v":"$x","vt":"jsonata"}`), temp("1"), nil, "value type \"jsonata\" is not supported"},
		"btwn without v2":  {rule(`{"t":"btwn","v":"1","vt":"num"}`), temp("1"), nil, "btwn needs v2"},
		"rules not array":  {`{"rules":{}}`, temp("1"), nil, "rules must be an array of rules"},
		"bad propertyType": {`{"propertyType":"flow","rules":[]}`, temp("1"), nil, "propertyType \"flow\""},
		"dynamic bad regex": {rule(`{"t":"regex","v":"payload.re","vt":"msg"}`), `{"payload":{"re":"(","data":{"attrs":{"temperature":1}}}}`, nil,
			"Invalid regular expression: /(/"},
	}
	runCases(t, "switch", cases, nil)
}
