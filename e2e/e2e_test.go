// Package e2e tests the whole dojot binary from the outside, only over HTTP,
// as dojot clients would (see dojottest).
package e2e

import (
	"net/url"
	"testing"

	"github.com/dojot-es/dojot/e2e/dojottest"
	"github.com/dojot-es/dojot/internal/mongotest"
	"github.com/dojot-es/dojot/projections/postgres/pgtest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const adminPassword = dojottest.AdminPassword

type (
	instance = dojottest.Instance
	client   = dojottest.Client
)

func start(t testing.TB, dataDir string, extra ...string) *instance {
	t.Helper()
	return dojottest.Start(t, dataDir, extra...)
}

// views are the views every HTTP test runs against, by the flags that
// choose them: the same tests must pass whatever the gateway reads.
var views = []struct {
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

// eachView runs test once per view, as a subtest named after it.
func eachView(t *testing.T, test func(t *testing.T, flags []string)) {
	for _, v := range views {
		t.Run(v.name, func(t *testing.T) { test(t, v.flags(t)) })
	}
}

var (
	mustJSON = dojottest.MustJSON
	trunc    = dojottest.Trunc
)

// jetStream is a JetStream client of the NATS at addr (an instance's
// -nats-listen), closed when the test ends.
func jetStream(t testing.TB, addr string) jetstream.JetStream {
	t.Helper()
	return jetStreamURL(t, "nats://"+addr)
}

// jetStreamURL is a JetStream client of the NATS at url (a comma-separated
// list for a cluster), closed when the test ends.
func jetStreamURL(t testing.TB, url string, opts ...nats.Option) jetstream.JetStream {
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
