package flows

import "testing"

func TestMergeData(t *testing.T) {
	rec := NewRecorder() // one context across the rows, in order
	cfg := `{"targetData":"payload.data.attrs","mergedData":"merged"}`
	in := func(attrs string) string { return `{"payload":{"data":{"attrs":` + attrs + `}}}` }
	steps := []struct {
		in, merged, err string
	}{
		{in(`{"a":1,"list":[1,2,3],"o":{"x":1}}`), `{"a":1,"list":[1,2,3],"o":{"x":1}}`, ""},
		{in(`{"b":2,"list":[9],"o":{"y":2}}`), `{"a":1,"b":2,"list":[9,2,3],"o":{"x":1,"y":2}}`, ""},
		{in(`{"a":null,"o":5}`), `{"a":null,"b":2,"list":[9,2,3],"o":5}`, ""},
		{in(`{"o":{"z":[{"k":1}]}}`), `{"a":null,"b":2,"list":[9,2,3],"o":{"z":[{"k":1}]}}`, ""},
		{in(`["x"]`), `{"0":"x","a":null,"b":2,"list":[9,2,3],"o":{"z":[{"k":1}]}}`, ""},
		{in(`5`), "", "Invalid parameters."},
		{in(`"s"`), "", "Invalid parameters."},
		{in(`null`), "", "Invalid parameters."},
		{`{}`, "", "Invalid parameters."},
	}
	n, err := buildNode(t, "merge data", cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range steps {
		out, err := n.Process(t.Context(), testCall(rec, "md", "merge data"), msgOf(t, st.in))
		if st.err != "" {
			if err == nil || err.Error() != st.err {
				t.Errorf("#%d: err = %v, want %q", i, err, st.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("#%d: %v", i, err)
		}
		if got := jsonStringify(out[0]["merged"]); got != st.merged {
			t.Errorf("#%d: merged %s\nwant %s", i, got, st.merged)
		}
	}
	// The context is the node instance's, shared by every device of the
	// flow (dojot's); another node of the flow has its own.
	c := testCall(rec, "md", "merge data")
	c.OriginatorDeviceID = "dev2"
	out, err := n.Process(t.Context(), c, msgOf(t, in(`{"c":3}`)))
	if err != nil || jsonStringify(out[0]["merged"]) != `{"0":"x","a":null,"b":2,"c":3,"list":[9,2,3],"o":{"z":[{"k":1}]}}` {
		t.Errorf("another device: %v, %v", encodeAll(out), err)
	}
	out, err = n.Process(t.Context(), testCall(rec, "md2", "merge data"), msgOf(t, in(`{"c":3}`)))
	if err != nil || jsonStringify(out[0]["merged"]) != `{"c":3}` {
		t.Errorf("another node: %v, %v", encodeAll(out), err)
	}
	runCases(t, "merge data", map[string]nodeCase{
		"no target": {`{"mergedData":"m"}`, `{}`, nil, "missing targetData"},
		"no merged": {`{"targetData":"t"}`, `{}`, nil, "missing mergedData"},
	}, nil)
}
