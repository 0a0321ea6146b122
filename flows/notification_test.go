package flows

import (
	"reflect"
	"strings"
	"testing"
)

func TestNotification(t *testing.T) {
	dyn := `{"source":"notification.metadata","messageDynamic":"notification.message","msgType":"dynamic"}`
	cases := map[string]struct {
		config, in string
		want       *Notification
		err        string
	}{
		// FLOWS.md 7.2 and 5
		"dynamic": {dyn, `{"notification":{"metadata":{"priority":"low"},"message":"Temp 35 too high"}}`,
			&Notification{MsgID: "7:f1:n1:0", Timestamp: testNow.UnixMilli(), Message: "Temp 35 too high",
				MetaAttrsFilter: map[string]any{"priority": "low", "shouldPersist": true}, Subject: "user_notification"}, ""},
		"shouldPersist kept": {dyn, `{"notification":{"metadata":{"shouldPersist":false},"message":"m"}}`,
			&Notification{MsgID: "7:f1:n1:0", Timestamp: testNow.UnixMilli(), Message: "m",
				MetaAttrsFilter: map[string]any{"shouldPersist": false}, Subject: "user_notification"}, ""},
		"static no source": {`{"msgType":"static","messageStatic":"Test completed with success"}`, `{}`,
			&Notification{MsgID: "7:f1:n1:0", Timestamp: testNow.UnixMilli(), Message: "Test completed with success",
				MetaAttrsFilter: map[string]any{"shouldPersist": true}, Subject: "user_notification"}, ""},
		"meta null":          {dyn, `{"notification":{"metadata":null,"message":"m"}}`, nil, "Metadata must be defined."},
		"meta array":         {dyn, `{"notification":{"metadata":[1],"message":"m"}}`, nil, "Metadata must be an object except an array."},
		"meta string":        {dyn, `{"notification":{"metadata":"x","message":"m"}}`, nil, "Metadata must be an object except an array."},
		"message null":       {dyn, `{"notification":{"metadata":{},"message":null}}`, nil, "Message must be defined."},
		"message empty":      {dyn, `{"notification":{"metadata":{},"message":""}}`, nil, "Message must be defined."},
		"message number":     {dyn, `{"notification":{"metadata":{},"message":5}}`, nil, "Message must be a string."},
		"message object":     {dyn, `{"notification":{"metadata":{},"message":{"a":1}}}`, nil, "Message must be a string."},
		"message zero":       {dyn, `{"notification":{"metadata":{},"message":0}}`, nil, "Message must be defined."},
		"message false":      {dyn, `{"notification":{"metadata":{},"message":false}}`, nil, "Message must be defined."},
		"meta zero":          {dyn, `{"notification":{"metadata":0,"message":"m"}}`, nil, "Metadata must be defined."},
		"meta empty str":     {dyn, `{"notification":{"metadata":"","message":"m"}}`, nil, "Metadata must be defined."},
		"meta true":          {dyn, `{"notification":{"metadata":true,"message":"m"}}`, nil, "Metadata must be an object except an array."},
		"meta missing":       {dyn, `{"notification":{"message":"m"}}`, nil, "Unknown property notification.metadata requested"},
		"meta checked first": {dyn, `{"notification":{"metadata":null,"message":5}}`, nil, "Metadata must be defined."},
		"static empty":       {`{"msgType":"static","messageStatic":""}`, `{}`, nil, "messageStatic must not be empty (dojot: Message must be defined.)"},
		"missing path":       {dyn, `{"notification":{"metadata":{}}}`, nil, "Unknown property notification.message requested"},
		"no message":         {`{"msgType":"dynamic"}`, `{}`, nil, "missing messageDynamic"},
		"no static":          {`{"msgType":"static"}`, `{}`, nil, "missing messageStatic"},
		"bad msgType":        {`{"msgType":"loud","messageStatic":"x"}`, `{}`, nil, `msgType "loud"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rec := NewRecorder()
			out, err := runNode(t, "notification", tc.config, tc.in, rec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if len(rec.Recorded()) != 0 {
					t.Errorf("recorded %v on error", rec.Recorded())
				}
				return
			}
			if err != nil || out != nil {
				t.Fatalf("out %v, err %v; want nothing downstream", out, err)
			}
			got := rec.Recorded()
			want := []Effect{{Kind: "notification", Tenant: "admin", Value: *tc.want}}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("recorded %+v\nwant     %+v", got, want)
			}
		})
	}
}
