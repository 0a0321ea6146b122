package flows

import "context"

// mergeDataNode deep-merges an object of the message into the node
// instance's context and puts the merged result in the message (FLOWS.md
// 4.16; an array merges as the object of its indexes), as lodash's merge: objects recursively, arrays by index, a new
// value wins (null included). The context is shared by every device of
// the flow, as in dojot. A failed save fails the node (dojot resolved
// with a string).
type mergeDataNode struct {
	target, merged string
}

func init() { register("merge data", newMergeData) }

func (*mergeDataNode) blocking() {}

func newMergeData(s *spec) Node {
	return &mergeDataNode{target: s.required("targetData"), merged: s.required("mergedData")}
}

func (n *mergeDataNode) Process(ctx context.Context, c *Call, msg Msg) ([]Msg, error) {
	v, err := Get(msg, n.target)
	if err != nil {
		return nil, errInvalidParameters
	}
	var src map[string]any
	switch x := v.(type) {
	case map[string]any:
		src = x
	case []any:
		// dojot's check (targetData instanceof Object) lets an array
		// through, and lodash merges it as an object of its indexes.
		src = make(map[string]any, len(x))
		for i, e := range x {
			src[jsNumberString(float64(i))] = e
		}
	default:
		return nil, errInvalidParameters
	}
	obj, err := updateContext(ctx, c, c.nodeContextKey("data"), func(obj map[string]any) error {
		mergeInto(obj, src)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := Set(msg, n.merged, obj); err != nil {
		return nil, err
	}
	return []Msg{msg}, nil
}

// mergeInto is lodash's merge of src into dst.
func mergeInto(dst, src map[string]any) {
	for k, sv := range src {
		dst[k] = mergeValue(dst[k], sv)
	}
}

func mergeValue(dv, sv any) any {
	switch s := sv.(type) {
	case map[string]any:
		if arr, ok := dv.([]any); ok {
			// lodash merges an object's index keys into an array (other keys
			// would be array properties, which JSON drops).
			for k, v := range s {
				if i, ok := arrayIndex(k); ok && i < 1<<16 {
					for len(arr) <= i {
						arr = append(arr, nil)
					}
					arr[i] = mergeValue(arr[i], v)
				}
			}
			return arr
		}
		d, ok := dv.(map[string]any)
		if !ok {
			d = map[string]any{}
		}
		mergeInto(d, s)
		return d
	case []any:
		d, ok := dv.([]any)
		if !ok {
			d = nil
		}
		out := make([]any, max(len(d), len(s)))
		copy(out, d)
		for i, e := range s {
			out[i] = mergeValue(out[i], e)
		}
		return out
	}
	return sv
}
