package flows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dojot-es/dojot"
)

// casRetries bounds the compare-and-set loop of one context update; each
// retry means another run changed the context in between.
const casRetries = 16

// readContext is a context's object ({} when it does not exist yet).
func readContext(ctx context.Context, c *Call, key ContextKey) (map[string]any, uint64, error) {
	if c.Effects.Context == nil {
		return nil, 0, errNoEffect("context store")
	}
	raw, rev, err := c.Effects.Context.Get(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("read context %s: %w", key, err)
	}
	obj := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			obj = map[string]any{} // not an object: start over, as dojot's {} default
		}
	}
	return obj, rev, nil
}

// updateContext applies fn to the context and stores the result with
// compare-and-set, reading again when another run got there first: the
// KV replacement for dojot's write lock. fn must be repeatable.
func updateContext(ctx context.Context, c *Call, key ContextKey, fn func(map[string]any) error) (map[string]any, error) {
	for range casRetries {
		obj, rev, err := readContext(ctx, c, key)
		if err != nil {
			return nil, err
		}
		if err := fn(obj); err != nil {
			return nil, err
		}
		raw, err := json.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("encode context %s: %w", key, err)
		}
		err = c.Effects.Context.CompareAndSet(ctx, key, raw, rev)
		if err == nil {
			return obj, nil
		}
		if !errors.Is(err, dojot.ErrConflict) {
			return nil, fmt.Errorf("save context %s: %w", key, err)
		}
	}
	return nil, fmt.Errorf("save context %s: still changing after %d attempts: %w", key, casRetries, dojot.ErrConflict)
}

// nodeContextKey is a node-instance context (cumulative sum, merge data).
func (c *Call) nodeContextKey(name string) ContextKey {
	return ContextKey{Tenant: c.Tenant, FlowID: c.FlowID, NodeType: c.NodeType, NodeID: c.NodeID, Name: name}
}
