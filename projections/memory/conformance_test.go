package memory_test

import (
	"testing"

	"github.com/dojot-es/dojot/projections/memory"
	"github.com/dojot-es/dojot/projections/viewtest"
)

func TestConformance(t *testing.T) {
	viewtest.Run(t, func(t *testing.T) viewtest.Subject {
		v := memory.New()
		return viewtest.Subject{View: v, Reads: v.Reads()}
	})
}
