package postgres_test

import (
	"context"
	"testing"

	"github.com/dojot-es/dojot/projections/postgres"
	"github.com/dojot-es/dojot/projections/postgres/pgtest"
	"github.com/dojot-es/dojot/projections/viewtest"
)

// open returns a view on a fresh database, closed when the test ends.
func open(t testing.TB) *postgres.View {
	t.Helper()
	return openURL(t, pgtest.URL(t), "")
}

func openURL(t testing.TB, url, name string) *postgres.View {
	t.Helper()
	v, err := postgres.Open(context.Background(), postgres.Options{URL: url, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

func TestConformance(t *testing.T) {
	viewtest.Run(t, func(t *testing.T) viewtest.Subject {
		v := open(t)
		return viewtest.Subject{View: v, Reads: v}
	})
}
