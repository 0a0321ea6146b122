package postgres_test

import (
	"context"
	"log/slog"
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
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	v, err := postgres.Open(context.Background(), postgres.Options{URL: url, Name: name, Logger: log})
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

// testWriter sends the view's log to the test's, shown when it fails (or
// with -v), and kept out of benchmark result lines.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
