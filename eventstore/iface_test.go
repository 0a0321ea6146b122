package eventstore_test

import (
	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/projections"
)

// The Store is what commands append to and what the projection runner reads.
var (
	_ commands.Store     = (*eventstore.Store)(nil)
	_ projections.Source = (*eventstore.Store)(nil)
)
