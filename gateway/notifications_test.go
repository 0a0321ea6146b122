package gateway

import (
	"context"
	"errors"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections/history"
)

func TestNotificationQuery(t *testing.T) {
	day := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	str := func(f, v string) history.Match { return history.Match{Field: f, Str: v, IsStr: true} }
	for _, c := range []struct {
		query string
		want  history.NotificationQuery
		bad   string // the parameter named in the 400
	}{
		{"", history.NotificationQuery{Limit: 10}, ""},
		{"limit=0", history.NotificationQuery{Limit: 10}, ""},
		{"limit=3", history.NotificationQuery{Limit: 3}, ""},
		{"limit=-4", history.NotificationQuery{Limit: 4}, ""},
		{"limit=+1_0", history.NotificationQuery{Limit: 10}, ""},
		{"dateFrom=2026-04-01", history.NotificationQuery{From: day}, ""},
		{"dateTo=2026-04-01T00:00:00Z&limit=2", history.NotificationQuery{To: day, Limit: 2}, ""},
		{`subject="user_notification"`, history.NotificationQuery{Limit: 10, Match: []history.Match{str("subject", "user_notification")}}, ""},
		{`subject=%22user_notification%22&subject=`, history.NotificationQuery{Limit: 10, Match: []history.Match{str("subject", "user_notification")}}, ""},
		{`priority="lo"w"`, history.NotificationQuery{Limit: 10, Match: []history.Match{str("metaAttrsFilter.priority", "low")}}, ""},
		{`level=%202%20&loc.room="r1"`, history.NotificationQuery{Limit: 10, Match: []history.Match{
			{Field: "metaAttrsFilter.level", Int: 2}, str("metaAttrsFilter.loc.room", "r1")}}, ""},
		{"subject=", history.NotificationQuery{Limit: 10}, ""},
		{"subject=user_notification", history.NotificationQuery{}, "subject"},
		{"level=2.5", history.NotificationQuery{}, "level"},
		{"level=99999999999999999999", history.NotificationQuery{}, "level"},
		{`$where="x"`, history.NotificationQuery{}, "$where"},
		{`a..b=1`, history.NotificationQuery{}, "a..b"},
		{"limit=x", history.NotificationQuery{}, "limit"},
		{"limit=1&limit=2", history.NotificationQuery{}, "limit"},
		{"dateFrom=yesterday", history.NotificationQuery{}, "dateFrom"},
	} {
		q, err := notificationQuery(httptest.NewRequest("GET", "/?"+c.query, nil))
		if c.bad != "" {
			if !errors.Is(err, dojot.ErrInvalid) || !strings.Contains(err.Error(), `"`+c.bad+`"`) {
				t.Errorf("%s: err %v; want a 400 naming %q", c.query, err, c.bad)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(q, c.want) {
			t.Errorf("%s: %+v, %v; want %+v", c.query, q, err, c.want)
		}
	}
}

// fakeNotifications answers one stored notification to any query.
type fakeNotifications struct {
	got  history.NotificationQuery
	docs []history.Notification
}

func (f *fakeNotifications) FindNotifications(_ context.Context, tenant string, q history.NotificationQuery) ([]history.Notification, error) {
	f.got = q
	if tenant != "admin" {
		return nil, nil
	}
	return f.docs, nil
}

func TestNotificationHistoryAnswer(t *testing.T) {
	msg := `{"msgID":"m1","timestamp":1600000000123,"message":"Temp 35 too high","metaAttrsFilter":{"priority":"low","shouldPersist":true,"x":2.0},"subject":"user_notification"}`
	n, persist, err := history.NotificationDoc(dojot.Event{Type: dojot.EventNotification, Tenant: "admin", Data: []byte(msg), Seq: 7})
	if err != nil || !persist {
		t.Fatal(persist, err)
	}
	one := `{"msgID":"m1","message":"Temp 35 too high","metaAttrsFilter":{"priority":"low","shouldPersist":true,"x":2.0},"subject":"user_notification","ts":"2020-09-13T12:26:40.123000Z"}`
	f := &fakeNotifications{docs: []history.Notification{n, n}}
	s := &Server{opts: Options{Notifications: f}}
	for _, c := range []struct {
		tenant, accept, ctype, body string
	}{
		{"admin", "", jsonFalcon, `{"notifications":[` + one + "," + one + "]}"},
		{"other", "", jsonFalcon, `{"notifications":[]}`},
		{"admin", "text/csv", "text/csv; charset=UTF-8", `"msgID","message","metaAttrsFilter.priority","metaAttrsFilter.shouldPersist","metaAttrsFilter.x","subject","ts"` + "\n" +
			strings.Repeat(`"m1","Temp 35 too high","low",True,2.0,"user_notification","2020-09-13T12:26:40.123000Z"`+"\n", 2)},
	} {
		w := httptest.NewRecorder()
		w.Header().Set("Content-Type", jsonFalcon) // as the route's jsonType does
		r := httptest.NewRequest("GET", "/history/notifications/history?subject=%22user_notification%22", nil)
		if c.accept != "" {
			r.Header.Set("Accept", c.accept)
		}
		if err := s.notificationHistory(w, r, c.tenant); err != nil {
			t.Fatal(err)
		}
		if body := w.Body.String(); body != c.body || w.Header().Get("Content-Type") != c.ctype {
			t.Errorf("%s %s: %s %q\n%s\nwant %q\n%s", c.tenant, c.accept, w.Result().Status, w.Header().Get("Content-Type"), body, c.ctype, c.body)
		}
	}
	if len(f.got.Match) != 1 || f.got.Limit != 10 {
		t.Errorf("query %+v", f.got)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Accept", "application/xml")
	if err := s.notificationHistory(httptest.NewRecorder(), r, "admin"); !errors.Is(err, dojot.ErrNotAcceptable) {
		t.Errorf("Accept xml: %v; want 406", err)
	}
}
