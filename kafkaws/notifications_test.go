package kafkaws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func notification(i int, subject string) string {
	return fmt.Sprintf(`{"msgID":"m%d","timestamp":%d,"message":"Temp %d","metaAttrsFilter":{"priority":"low","level":%d,"shouldPersist":true},"subject":"%s"}`,
		i, 1700000000000+i, i, i%5, subject)
}

func (e *env) notify(tenant string, i int, subject string) uint64 {
	e.t.Helper()
	seq, err := e.store.AppendNotification(context.Background(), tenant, []byte(notification(i, subject)), fmt.Sprintf("%s-m%d", tenant, i))
	if err != nil {
		e.t.Fatal(err)
	}
	return seq
}

// liveNotes waits until the notifications hub's consumer is in place:
// warm-up notifications until one arrives.
func (e *env) liveNotes(tenant string, ws *websocket.Conn) {
	e.t.Helper()
	got := make(chan string, 1)
	go func() {
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, b, _ := ws.ReadMessage()
		got <- string(b)
	}()
	for i := 0; ; i++ {
		e.notify(tenant, 1000+i, "warmup")
		select {
		case <-got:
			return
		case <-time.After(50 * time.Millisecond):
		}
		if i > 100 {
			e.t.Fatal("no warm-up notification")
		}
	}
}

// TestNotifications: <tenant>.dojot.notifications is served from the
// NOTIFICATIONS stream with Kafka off: live, filtered, resumed with since,
// and only to its tenant.
func TestNotifications(t *testing.T) {
	e := newEnv(t, nil)
	ws := e.dial("acme", "acme.dojot.notifications", "")
	e.liveNotes("acme", ws)
	e.notify("other", 1, "user_notification") // another tenant: never seen
	e.notify("acme", 2, "user_notification")
	if got := next(t, ws); got != notification(2, "user_notification") {
		t.Errorf("frame %s; want the notification as stored", got)
	}
	// where and fields, as on any topic.
	f := e.dial("acme", "acme.dojot.notifications", "fields=message,subject&where=subject=in:^user_notification$;metaAttrsFilter.level=gte:3;")
	e.liveNotes("acme", ws)                  // the hub is in place already: ws sees it, f filters it out
	e.notify("acme", 3, "alarm")             // subject filtered out
	e.notify("acme", 5, "user_notification") // level 0: filtered out
	e.notify("acme", 4, "user_notification")
	if got := next(t, f); got != `{"message":"Temp 4","subject":"user_notification"}` {
		t.Errorf("filtered frame %s", got)
	}
	// since: from a sequence, with seq=true, then live.
	first := e.notify("acme", 10, "user_notification")
	e.notify("acme", 11, "user_notification")
	r := e.dial("acme", "acme.dojot.notifications", fmt.Sprintf("since=%d&seq=true", first))
	for i, want := range []int{10, 11} {
		var frame struct {
			Seq   uint64
			Value json.RawMessage
		}
		if err := json.Unmarshal([]byte(next(t, r)), &frame); err != nil {
			t.Fatal(err)
		}
		if frame.Seq != first+uint64(i) || string(frame.Value) != notification(want, "user_notification") {
			t.Errorf("replayed frame %d: %d %s", i, frame.Seq, frame.Value)
		}
	}
	e.notify("acme", 12, "user_notification")
	if got := next(t, r); !strings.Contains(got, `"m12"`) {
		t.Errorf("live after the replay: %s", got)
	}
	// Another tenant's topic: 4403.
	if code, _ := closed(t, e.dial("other", "acme.dojot.notifications", "")); code != 4403 {
		t.Errorf("other tenant's notifications: close %d; want 4403", code)
	}
}
