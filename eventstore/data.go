package eventstore

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dojot-es/dojot"
)

// AppendData stores one device reading (dojot's IoT-agent JSON, as is) in
// the DATA stream on DataSubject(tenant, deviceID) and returns its stream
// sequence once JetStream has stored it. A non-empty msgID is its
// Nats-Msg-Id: the same id again within the Duplicates window stores
// nothing and returns the first sequence. The tenant and device id must be
// safe subject tokens (dojot.ErrInvalid otherwise); a NATS that cannot
// answer is dojot.ErrUnavailable. Without a deadline on ctx the store's
// Timeout bounds the wait.
func (s *Store) AppendData(ctx context.Context, tenant, deviceID string, payload []byte, msgID string) (uint64, error) {
	if !dojot.ValidTenant(tenant) || !dojot.ValidToken(deviceID) {
		return 0, fmt.Errorf("append data %q/%q: not a tenant and device id: %w", tenant, deviceID, dojot.ErrInvalid)
	}
	m := &nats.Msg{Subject: s.DataSubject(tenant, deviceID), Data: payload}
	if msgID != "" {
		m.Header = nats.Header{jetstream.MsgIDHeader: []string{msgID}}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.Timeout)
		defer cancel()
	}
	ack, err := s.js.PublishMsg(ctx, m)
	if err != nil {
		return 0, fmt.Errorf("append data %s/%s: %w", tenant, deviceID, unavailable(err))
	}
	return ack.Sequence, nil
}
