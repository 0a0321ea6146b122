package flows

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// nodeCase is one row of a node's table test: the node's JSON config
// (without id, type and wires), the message in, and either the messages
// out per port (JSON, "null" for a stopped port; nil slice for none) or
// the error text.
type nodeCase struct {
	config string
	in     string
	out    []string
	err    string
}

var testNow = time.UnixMilli(1700000000000)

// testCall is a Call as the engine makes it for the flow "f1" of tenant
// "admin" started by device "dev1".
func testCall(rec *Recorder, nodeID, typ string) *Call {
	eff := rec.AsEffects()
	var n uint32
	return &Call{
		Meta:     Meta{FlowID: "f1", Tenant: "admin", OriginatorDeviceID: "dev1", Timestamp: 1623163659936.0},
		NodeID:   nodeID,
		NodeType: typ,
		Effects:  &eff,
		Now:      testNow,
		seq:      7,
		count:    &n,
	}
}

// buildNode parses one node of type typ from a config object.
func buildNode(t testing.TB, typ, config string) (Node, error) {
	t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(config), &obj); err != nil {
		t.Fatalf("config %s: %v", config, err)
	}
	s := &spec{ID: "n1", Type: typ, raw: obj}
	n := builders[typ](s)
	if len(s.problems) > 0 {
		return nil, &InvalidError{Problems: s.problems}
	}
	return n, nil
}

// runCases runs a node table; rec may be nil for a fresh Recorder per case.
func runCases(t *testing.T, typ string, cases map[string]nodeCase, rec *Recorder) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := rec
			if r == nil {
				r = NewRecorder()
			}
			got, err := runNode(t, typ, tc.config, tc.in, r)
			checkNode(t, got, err, tc)
		})
	}
}

func runNode(t testing.TB, typ, config, in string, rec *Recorder) ([]Msg, error) {
	t.Helper()
	n, err := buildNode(t, typ, config)
	if err != nil {
		return nil, err
	}
	return n.Process(context.Background(), testCall(rec, "n1", typ), msgOf(t, in))
}

func checkNode(t *testing.T, got []Msg, err error, tc nodeCase) {
	t.Helper()
	if tc.err != "" {
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Fatalf("got %v, err %v; want error %q", encodeAll(got), err, tc.err)
		}
		return
	}
	if err != nil {
		t.Fatalf("err = %v", err)
	}
	if g, w := encodeAll(got), strings.Join(tc.out, " | "); g != w {
		t.Errorf("got  %s\nwant %s", g, w)
	}
}

func encodeAll(ms []Msg) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		if m == nil {
			parts[i] = "null"
			continue
		}
		parts[i] = jsonStringify(map[string]any(m))
	}
	return strings.Join(parts, " | ")
}

func isInvalid(err error) bool {
	var ie *InvalidError
	return errors.As(err, &ie)
}

// effectCase is one row of a table for a node that acts and sends nothing
// downstream: the effects it must record, or its error (and then none).
type effectCase struct {
	config string
	in     string
	want   []Effect
	err    string
}

func runEffectCases(t *testing.T, typ string, cases map[string]effectCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rec := NewRecorder()
			out, err := runNode(t, typ, tc.config, tc.in, rec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if len(rec.Recorded()) != 0 {
					t.Errorf("recorded %+v on error", rec.Recorded())
				}
				return
			}
			if err != nil || out != nil {
				t.Fatalf("out %v, err %v; want nothing downstream", encodeAll(out), err)
			}
			if got := rec.Recorded(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("recorded %+v\nwant     %+v", got, tc.want)
			}
		})
	}
}
