package kafkaws

import (
	"errors"
	"strconv"
	"sync/atomic"

	"github.com/dojot-es/dojot/projections/kafkamsg"
)

// Feed names one of the tenant's topics a watcher may follow.
type Feed int

// The feeds Watch serves: <tenant>.device-data, <tenant>.dojot.notifications
// and <tenant>.dojot.device-manager.device.
const (
	FeedData Feed = iota
	FeedNotifications
	FeedDevices
)

// ErrFeedUnserved is Watch's answer for a feed this server was built
// without (Options.Notifications or Options.Events nil).
var ErrFeedUnserved = errors.New("kafkaws: feed not served")

var watchIDs atomic.Uint64

// Watch calls fn with each message of tenant's feed stored from now on,
// as dojot's message (the value Kafka WS sends unfiltered), until stop is
// called. It shares the feeds Kafka WS's connections use (one consumer per
// tenant and stream, from the event store, Kafka or not), so another
// real-time service (socket.io) needs no consumer of its own. fn runs on
// the feed's goroutine, in order: it must not block, or every connection
// of the tenant waits.
func (s *Server) Watch(tenant string, feed Feed, fn func(seq uint64, data []byte)) (stop func(), err error) {
	sub := &subscriber{fn: fn, key: "\x01watch" + strconv.FormatUint(watchIDs.Add(1), 10)}
	switch feed {
	case FeedData:
		s.hub.join(tenant, sub)
		return func() { s.hub.leave(tenant, sub) }, nil
	case FeedNotifications:
		if s.notes == nil {
			return nil, ErrFeedUnserved
		}
		s.notes.join(tenant, sub)
		return func() { s.notes.leave(tenant, sub) }, nil
	case FeedDevices:
		if s.events == nil {
			return nil, ErrFeedUnserved
		}
		topic := kafkamsg.DeviceTopic(tenant)
		if err := s.events.join(topic, sub); err != nil {
			return nil, err
		}
		return func() { s.events.leave(topic, sub) }, nil
	}
	return nil, ErrFeedUnserved
}
