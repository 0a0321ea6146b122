package flows

import (
	"context"
	"testing"
)

func TestCumulativeSum(t *testing.T) {
	const cfg = `{"timePeriod":"1","targetAttribute":"payload.data.attrs.v","timestamp":"payload.metadata.timestamp","output":"payload.sum"}`
	reading := func(v, ts string) string {
		return `{"payload":{"data":{"attrs":{"v":` + v + `}},"metadata":{"timestamp":` + ts + `}}}`
	}
	steps := []struct {
		name, in string
		sum      string // the output, or "" when err
		err      string
	}{
		{"first", reading("5", "0"), "5", ""},                               // dojot rejected a 0 timestamp
		{"zero value", reading("0", "1000"), "5", ""},                       // dojot rejected 0
		{"numeric string", reading(`"2.5"`, "2000"), "7.5", ""},             // dojot concatenated
		{"late inside window", reading("1", "1500"), "8.5", ""},             // dojot: "Messy time"
		{"window slides", reading("10", "61000"), "13.5", ""},               // window [1000, 61000]: drops the reading at 0
		{"later still", reading("1", "62500"), "11", ""},                    // window [2500, 62500]
		{"late outside window", reading("100", "100"), "11", ""},            // not stored, sum unchanged
		{"iso timestamp", reading("1", `"1970-01-01T00:01:03Z"`), "12", ""}, // 63000 ms
		{"not a number", reading(`"abc"`, "64000"), "", "Invalid parameters."},
		{"boolean", reading("true", "64000"), "", "Invalid parameters."},
		{"missing value", `{"payload":{"metadata":{"timestamp":1}}}`, "", "Invalid parameters."},
		{"bad timestamp", reading("1", `"yesterday"`), "", "Invalid parameters."},
	}
	rec := NewRecorder()
	n, err := buildNode(t, "cumulative sum", cfg)
	if err != nil {
		t.Fatal(err)
	}
	for k, st := range steps {
		c := testCall(rec, "cs", "cumulative sum")
		c.seq = uint64(100 + k) // each step its own input
		out, err := n.Process(context.Background(), c, msgOf(t, st.in))
		if st.err != "" {
			if err == nil || err.Error() != st.err {
				t.Errorf("%s: err = %v, want %q", st.name, err, st.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := jsString(out[0]["payload"].(map[string]any)["sum"]); got != st.sum {
			t.Errorf("%s: sum = %s, want %s", st.name, got, st.sum)
		}
	}
	// the state is dojot's shape, under the node instance's key
	raw, _, _ := rec.Context.Get(context.Background(), ContextKey{Tenant: "admin", FlowID: "f1", NodeType: "cumulative sum", NodeID: "cs", Name: "data"})
	if got, want := string(raw), `{"entries":[{"id":"104:f1:cs:0","timestamp":61000,"value":10},{"id":"105:f1:cs:0","timestamp":62500,"value":1},{"id":"107:f1:cs:0","timestamp":63000,"value":1}],"sum":12}`; got != want {
		t.Errorf("context %s\nwant    %s", got, want)
	}
	// the input of step 7 redelivered: counted once
	c := testCall(rec, "cs", "cumulative sum")
	c.seq = 107
	out, err := n.Process(context.Background(), c, msgOf(t, reading("1", `"1970-01-01T00:01:03Z"`)))
	if err != nil || jsString(out[0]["payload"].(map[string]any)["sum"]) != "12" {
		t.Errorf("retried input: %v, %v; want the sum unchanged (12)", encodeAll(out), err)
	}

	// The window is the node instance's, shared by the flow's devices
	// (dojot's): another device adds to the same sum, another node starts
	// its own.
	c = testCall(rec, "cs", "cumulative sum")
	c.seq, c.OriginatorDeviceID = 200, "dev2"
	out, err = n.Process(context.Background(), c, msgOf(t, reading("-2", "63500")))
	if err != nil || jsString(out[0]["payload"].(map[string]any)["sum"]) != "10" {
		t.Errorf("another device: %v, %v; want 10", encodeAll(out), err)
	}
	c = testCall(rec, "cs2", "cumulative sum")
	c.seq = 201
	out, err = n.Process(context.Background(), c, msgOf(t, reading("4", "63500")))
	if err != nil || jsString(out[0]["payload"].(map[string]any)["sum"]) != "4" {
		t.Errorf("another node: %v, %v; want 4", encodeAll(out), err)
	}

	bad := map[string]nodeCase{
		"period string":   {`{"timePeriod":"x","targetAttribute":"a","timestamp":"b","output":"c"}`, `{}`, nil, "timePeriod must be a number"},
		"no timestamp":    {`{"timePeriod":1,"targetAttribute":"a","output":"c"}`, `{}`, nil, "missing timestamp"},
		"no period":       {`{"targetAttribute":"a","timestamp":"b","output":"c"}`, `{}`, nil, "timePeriod must be a number of minutes > 0"},
		"negative period": {`{"timePeriod":-1,"targetAttribute":"a","timestamp":"b","output":"c"}`, `{}`, nil, "timePeriod must be"},
		"no target":       {`{"timePeriod":1,"timestamp":"b","output":"c"}`, `{}`, nil, "missing targetAttribute"},
		"no output":       {`{"timePeriod":1,"targetAttribute":"a","timestamp":"b"}`, `{}`, nil, "missing output"},
	}
	runCases(t, "cumulative sum", bad, nil)
}

// TestCumulativeSumConcurrent: runs racing on one node's context all
// count (compare-and-set retries instead of dojot's lock).
func TestCumulativeSumConcurrent(t *testing.T) {
	rec := NewRecorder()
	n, _ := buildNode(t, "cumulative sum", `{"timePeriod":1000,"targetAttribute":"v","timestamp":"ts","output":"sum"}`)
	done := make(chan error)
	for i := range 8 {
		go func() {
			c := testCall(rec, "cs", "cumulative sum")
			c.seq = uint64(i)
			_, err := n.Process(context.Background(), c, Msg{"v": 1.0, "ts": float64(1000 + i)})
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	c := testCall(rec, "cs", "cumulative sum")
	c.seq = 99
	out, _ := n.Process(context.Background(), c, Msg{"v": 0.0, "ts": 2000.0})
	if out[0]["sum"] != 8.0 {
		t.Errorf("sum = %v, want 8", out[0]["sum"])
	}
}
