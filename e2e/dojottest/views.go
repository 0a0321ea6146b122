package dojottest

import (
	"net/url"
	"testing"
	"time"

	"github.com/dojot-es/dojot/internal/mongotest"
	"github.com/dojot-es/dojot/projections/postgres/pgtest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Views are the views every HTTP test runs against, by the flags that
// choose them: the same tests must pass whatever the gateway reads.
var Views = []struct {
	name  string
	flags func(t testing.TB) []string
}{
	{"memory", func(testing.TB) []string { return nil }},
	{"postgres", func(t testing.TB) []string {
		return []string{"-view=postgres", "-postgres-url=" + pgtest.URL(t)}
	}},
	{"mongo", func(t testing.TB) []string {
		uri, db := mongotest.Database(t)
		u, err := url.Parse(uri)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + db
		return []string{"-view=mongo", "-mongo-url=" + u.String()}
	}},
}

// EachView runs test once per view, as a subtest named after it.
func EachView(t *testing.T, test func(t *testing.T, flags []string)) {
	for _, v := range Views {
		t.Run(v.name, func(t *testing.T) { test(t, v.flags(t)) })
	}
}

// JetStreamURL is a JetStream client of the NATS at url (a comma-separated
// list for a cluster), closed when the test ends.
func JetStreamURL(t testing.TB, url string, opts ...nats.Option) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// Histories are the history views every history test runs against.
var Histories = []struct {
	name  string
	flags func(t testing.TB) []string
}{
	{"memory", func(testing.TB) []string { return nil }},
	{"mongo", func(t testing.TB) []string {
		uri, db := mongotest.Database(t)
		return []string{"-history=mongo", "-mongo-url=" + uri, "-history-db=" + db}
	}},
}

// EachHistory runs test once per history view, as a subtest named after it.
func EachHistory(t *testing.T, test func(t *testing.T, flags []string)) {
	for _, h := range Histories {
		t.Run(h.name, func(t *testing.T) { test(t, h.flags(t)) })
	}
}

// HistoryDoc is one entry of GET /history/device/:id/history.
type HistoryDoc struct {
	Attr     string         `json:"attr"`
	Value    any            `json:"value"`
	DeviceID string         `json:"device_id"`
	TS       string         `json:"ts"`
	Metadata map[string]any `json:"metadata"`
}

// WaitHistory polls the device's history of attr until it holds n docs.
func WaitHistory(t *testing.T, c *Client, id, attr string, n int) []HistoryDoc {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := c.Do("GET", "/history/device/"+id+"/history?attr="+attr, nil)
		var docs []HistoryDoc
		if code == 200 {
			MustJSON(t, body, &docs)
			if len(docs) >= n {
				return docs
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("history of %s/%s: %d %s; want %d docs", id, attr, code, Trunc(body), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
