package broker_test

import (
	"context"
	"testing"

	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/flows"
	"github.com/dojot-es/dojot/flows/broker"
	"github.com/dojot-es/dojot/flows/flowstest"
)

// TestKVContexts runs the ContextStore suite against the contexts in a
// JetStream key-value bucket, as the binary keeps them.
func TestKVContexts(t *testing.T) {
	store := eventstoretest.Open(t)
	flowstest.RunContextStore(t, func(t *testing.T) flows.ContextStore {
		name := "TEST_FLOW_CONTEXT_" + t.Name()[len("TestKVContexts/"):]
		kv, err := store.KV(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.JetStream().DeleteKeyValue(context.Background(), store.KVBucket(name)) })
		return broker.KVContexts{KV: kv}
	})
}
