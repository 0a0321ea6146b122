package flows

import (
	"context"
	"errors"
	"math"
	"sort"
	"time"

	"github.com/dojot-es/dojot/internal/jsnum"
)

// cumulativeSumNode sums a value over a sliding time window (FLOWS.md
// 4.15). State is the node instance's context {"sum","entries":[{timestamp,
// value}]}, shared by every device of the flow as in dojot.
//
// Fixed from dojot: a value or timestamp of 0 is accepted (dojot tested
// truthiness); numeric strings are numbers ("5" adds 5, dojot
// concatenated "05"); an ISO 8601 timestamp string is accepted too; a
// failed save fails the node (dojot resolved with a string).
//
// A retried input (same sequence) is counted once: each entry keeps the
// id of the run that added it ({"timestamp","value","id"}).
//
// Out-of-order timestamps (dojot failed them with "Messy time", #2222):
// a reading older than the newest one but still inside the window is
// inserted at its place and counted; one older than the window (newest
// minus timePeriod) is not stored and changes nothing. Either way the
// output is the sum of the window that ends at the newest timestamp seen,
// so a late reading never moves the window back.
type cumulativeSumNode struct {
	period             float64 // ms
	target, ts, output string
}

func init() { register("cumulative sum", newCumulativeSum) }

func (*cumulativeSumNode) blocking() {}

func newCumulativeSum(s *spec) Node {
	n := &cumulativeSumNode{target: s.required("targetAttribute"), ts: s.required("timestamp"), output: s.required("output")}
	minutes := s.number("timePeriod", 0)
	if !(minutes > 0) || math.IsInf(minutes, 0) {
		s.fail("timePeriod must be a number of minutes > 0")
	}
	n.period = minutes * 60000
	return n
}

var errInvalidParameters = errors.New("Invalid parameters.") //nolint:staticcheck // dojot's text

// numeric is a finite number, or a string Number() reads as one.
func numeric(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case string:
		if x == "" {
			return 0, false
		}
		f = jsnum.Number(x)
	default:
		return 0, false
	}
	return f, !math.IsNaN(f) && !math.IsInf(f, 0)
}

// timestampMillis is a timestamp in ms: a number, a numeric string, or an
// ISO 8601 string (what dojot's agents write when the device sends one).
func timestampMillis(v any) (float64, bool) {
	if f, ok := numeric(v); ok {
		return f, true
	}
	if s, ok := v.(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return float64(t.UnixMilli()), true
		}
	}
	return 0, false
}

func (n *cumulativeSumNode) Process(ctx context.Context, c *Call, msg Msg) ([]Msg, error) {
	rv, err1 := Get(msg, n.target)
	rt, err2 := Get(msg, n.ts)
	if err1 != nil || err2 != nil {
		return nil, errInvalidParameters
	}
	value, ok1 := numeric(rv)
	ts, ok2 := timestampMillis(rt)
	if !ok1 || !ok2 {
		return nil, errInvalidParameters
	}
	var sum float64
	id := c.NextID() // the same when the input is retried: counted once
	_, err := updateContext(ctx, c, c.nodeContextKey("data"), func(obj map[string]any) error {
		entries := windowEntries(obj["entries"])
		newest := ts
		if len(entries) > 0 && entries[len(entries)-1].ts > newest {
			newest = entries[len(entries)-1].ts
		}
		start := newest - n.period
		seen := false
		for _, e := range entries {
			seen = seen || e.id == id
		}
		if ts >= start && !seen {
			i := sort.Search(len(entries), func(i int) bool { return entries[i].ts > ts })
			entries = append(entries, entry{})
			copy(entries[i+1:], entries[i:])
			entries[i] = entry{ts, value, id}
		}
		first := sort.Search(len(entries), func(i int) bool { return entries[i].ts >= start })
		entries = entries[first:]
		sum = 0
		list := make([]any, len(entries))
		for i, e := range entries {
			sum += e.value // summed again each time: no drift from add/subtract
			m := map[string]any{"timestamp": e.ts, "value": e.value}
			if e.id != "" {
				m["id"] = e.id
			}
			list[i] = m
		}
		obj["sum"], obj["entries"] = sum, list
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := Set(msg, n.output, sum); err != nil {
		return nil, err
	}
	return []Msg{msg}, nil
}

type entry struct {
	ts, value float64
	id        string // the output id of the run that added it
}

// windowEntries reads the stored entries, skipping any that are not
// numeric (a context written by dojot's buggy string sums).
func windowEntries(v any) []entry {
	list, _ := v.([]any)
	out := make([]entry, 0, len(list)+1)
	for _, e := range list {
		m, _ := e.(map[string]any)
		ts, ok1 := numeric(m["timestamp"])
		val, ok2 := numeric(m["value"])
		if ok1 && ok2 {
			id, _ := m["id"].(string)
			out = append(out, entry{ts, val, id})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ts < out[j].ts })
	return out
}
