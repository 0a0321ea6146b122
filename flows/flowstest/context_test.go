package flowstest_test

import (
	"testing"

	"github.com/dojot-es/dojot/flows"
	"github.com/dojot-es/dojot/flows/flowstest"
)

func TestMemoryContext(t *testing.T) {
	flowstest.RunContextStore(t, func(*testing.T) flows.ContextStore { return flows.NewMemoryContext() })
}
