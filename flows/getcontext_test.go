package flows

import (
	"context"
	"testing"
)

func TestGetContext(t *testing.T) {
	rec := NewRecorder()
	rec.Context.Set(ContextKey{Tenant: "admin", Name: "limits"}, []byte(`{"max":40}`))
	rec.Context.Set(ContextKey{Tenant: "admin", FlowID: "f1", Name: "limits"}, []byte(`{"max":30}`))
	rec.Context.Set(ContextKey{Tenant: "other", Name: "limits"}, []byte(`{"max":99}`))
	cases := map[string]nodeCase{
		"tenant":        {`{"contextLayer":"tenant","contextName":"limits","contextNameType":"str","contextContent":"ctx"}`, `{}`, []string{`{"ctx":{"max":40}}`}, ""},
		"default layer": {`{"contextName":"limits","contextContent":"ctx.a"}`, `{}`, []string{`{"ctx":{"a":{"max":40}}}`}, ""},
		"flow":          {`{"contextLayer":"flow","contextName":"limits","contextContent":"ctx"}`, `{}`, []string{`{"ctx":{"max":30}}`}, ""},
		"msg name": {`{"contextName":"payload.which","contextNameType":"msg","contextContent":"ctx"}`, `{"payload":{"which":"limits"}}`,
			[]string{`{"ctx":{"max":40},"payload":{"which":"limits"}}`}, ""},
		"empty is {}": {`{"contextName":"nothing","contextContent":"ctx"}`, `{}`, []string{`{"ctx":{}}`}, ""},

		"other tenant's not read": {`{"contextName":"limits","contextContent":"ctx"}`, `{}`, []string{`{"ctx":{"max":40}}`}, ""},
		"content under string":    {`{"contextName":"limits","contextContent":"payload.x"}`, `{"payload":"s"}`, nil, "Cannot create property 'x' on string 's'"},
		"msg name empty":          {`{"contextName":"n","contextNameType":"msg","contextContent":"ctx"}`, `{"n":""}`, nil, "context name at n is not a string"},
		"bad name type":           {`{"contextName":"x","contextNameType":"flow","contextContent":"c"}`, `{}`, nil, `contextNameType "flow"`},
		"msg name missing":        {`{"contextName":"payload.which","contextNameType":"msg","contextContent":"ctx"}`, `{}`, nil, "Unknown property payload.which requested"},
		"msg name number":         {`{"contextName":"n","contextNameType":"msg","contextContent":"ctx"}`, `{"n":1}`, nil, "context name at n is not a string"},
		"no name":                 {`{"contextContent":"ctx"}`, `{}`, nil, "missing contextName"},
		"no content":              {`{"contextName":"x"}`, `{}`, nil, "missing contextContent"},
		"bad layer":               {`{"contextLayer":"global","contextName":"x","contextContent":"c"}`, `{}`, nil, `contextLayer "global"`},
	}
	runCases(t, "get context", cases, rec)
}

func TestGetContextNoStore(t *testing.T) {
	n, _ := buildNode(t, "get context", `{"contextName":"x","contextContent":"c"}`)
	c := testCall(NewRecorder(), "n1", "get context")
	c.Effects = &Effects{}
	if _, err := n.Process(context.Background(), c, Msg{}); err == nil || err.Error() != "flows: no context store configured" {
		t.Errorf("err = %v", err)
	}
}
