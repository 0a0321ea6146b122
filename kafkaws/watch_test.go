package kafkaws_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/kafkaws"
)

// watcher collects what a Watch delivers.
func watcher(t *testing.T, srv *kafkaws.Server, tenant string, feed kafkaws.Feed) (<-chan string, func()) {
	t.Helper()
	ch := make(chan string, 16)
	stop, err := srv.Watch(tenant, feed, func(_ uint64, data []byte) { ch <- string(data) })
	if err != nil {
		t.Fatal(err)
	}
	return ch, stop
}

func recv(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("nothing delivered in 10 s")
	}
	return ""
}

// TestWatch: a watcher (socket.io's feed) gets the tenant's readings,
// configure messages and notifications stored after Watch returned, from
// the feeds Kafka WS's sockets share, and nothing once stopped.
func TestWatch(t *testing.T) {
	e := newEnv(t, nil)
	ws := e.dial("acme", "acme.device-data", "")
	data, stopData := watcher(t, e.srv, "acme", kafkaws.FeedData)
	devices, stopDevices := watcher(t, e.srv, "acme", kafkaws.FeedDevices)
	defer stopDevices()
	notes, stopNotes := watcher(t, e.srv, "acme", kafkaws.FeedNotifications)
	defer stopNotes()

	e.append("other", "o1", reading("other", "o1", 0))
	r := reading("acme", "d1", 1)
	e.append("acme", "d1", r)
	if got := recv(t, data); got != r {
		t.Errorf("watcher got %s; want %s (nothing of another tenant)", got, r)
	}
	if got := next(t, ws); got != r {
		t.Errorf("Kafka WS socket on the same feed got %s", got)
	}
	e.event(dojot.EventDeviceActuated, "acme", dojot.KindDevice, "d1", dojot.DeviceActuated{ID: "d1", Attrs: json.RawMessage(`{"led":true}`), Timestamp: 1700000000000})
	if got := recv(t, devices); !strings.HasPrefix(got, `{"event":"configure","meta":{"service":"acme"`) {
		t.Errorf("device watcher got %s", got)
	}
	e.notify("acme", 1, "user_notification")
	if got := recv(t, notes); got != notification(1, "user_notification") {
		t.Errorf("notification watcher got %s", got)
	}

	stopData()
	e.append("acme", "d1", reading("acme", "d1", 2))
	if got := next(t, ws); !strings.Contains(got, `"n":2`) {
		t.Errorf("Kafka WS socket got %s after the watcher left", got)
	}
	select {
	case got := <-data:
		t.Errorf("stopped watcher got %s", got)
	case <-time.After(200 * time.Millisecond):
	}

	bare := newEnv(t, func(o *kafkaws.Options) { o.Notifications, o.Events = nil, nil })
	for _, f := range []kafkaws.Feed{kafkaws.FeedNotifications, kafkaws.FeedDevices} {
		if _, err := bare.srv.Watch("acme", f, func(uint64, []byte) {}); !errors.Is(err, kafkaws.ErrFeedUnserved) {
			t.Errorf("Watch(%d) without its source: %v; want ErrFeedUnserved", f, err)
		}
	}
}
