package eventstore

import (
	"context"
	"fmt"
	"strings"
)

// Pending is how many messages the durable consumers of stream whose names
// start with prefix have not had acknowledged yet: pending plus delivered
// but unacknowledged, summed over the consumers (the partitions of a Work,
// e.g. flows_data_<group>_p0..). It asks JetStream once (a consumer list
// of the stream), and is meant for metrics, not for hot paths.
func (s *Store) Pending(ctx context.Context, stream, prefix string) (uint64, error) {
	st, err := s.js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, unavailable(err))
	}
	list := st.ListConsumers(ctx)
	var n uint64
	for info := range list.Info() {
		if strings.HasPrefix(info.Name, prefix) {
			n += info.NumPending + uint64(info.NumAckPending)
		}
	}
	if err := list.Err(); err != nil {
		return 0, fmt.Errorf("consumers of %s: %w", stream, unavailable(err))
	}
	return n, nil
}
