// Package eventstoretest gives tests a NATS server and an isolated Store:
// the server named by DOJOT_TEST_NATS_URL when set (streams and subjects
// under a fresh prefix, deleted afterwards), otherwise one started in this
// process on a temporary directory.
package eventstoretest

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/dojot-es/dojot/eventstore"
)

// URL is the NATS to test against: DOJOT_TEST_NATS_URL, or a JetStream
// server started in process on a free port for this test only.
func URL(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv("DOJOT_TEST_NATS_URL"); u != "" {
		return u
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: tb.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		tb.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(5 * time.Second) {
		tb.Fatal("eventstoretest: nats not ready")
	}
	tb.Cleanup(s.Shutdown)
	return s.ClientURL()
}

// RangeIdle is the test stores' Options.RangeIdle: a range read that
// waits for a message on an idle stream (a bug: a correct read knows from
// the server when it is done) hangs for an hour instead of ending 5 s late
// with the right answer, so a test bounding the read by ReadBound fails
// on it, while no load on the machine makes a correct read that slow.
const RangeIdle = time.Hour

// ReadBound bounds a range read in tests: far longer than any correct
// read takes on a loaded machine, far shorter than RangeIdle.
const ReadBound = time.Minute

// Options are the options of a fresh store: on DOJOT_TEST_NATS_URL when set
// (see Isolated), else an embedded server on a temporary DataDir.
func Options(tb testing.TB) eventstore.Options {
	tb.Helper()
	if u := os.Getenv("DOJOT_TEST_NATS_URL"); u != "" {
		return Isolated(tb, u)
	}
	return eventstore.Options{DataDir: tb.TempDir(), Logger: Logger(tb), RangeIdle: RangeIdle}
}

// Isolated are options for a store on the shared NATS at url whose streams
// and subjects carry a prefix no other test uses; the streams are deleted
// when the test ends (after the stores, which close first).
func Isolated(tb testing.TB, url string) eventstore.Options {
	tb.Helper()
	id := strings.ToLower(nuid.Next())
	opts := eventstore.Options{
		URL:           url,
		StreamPrefix:  "T" + id + "_",
		SubjectPrefix: "t" + id + ".",
		Logger:        Logger(tb),
		RangeIdle:     RangeIdle,
	}
	tb.Cleanup(func() {
		nc, err := nats.Connect(url)
		if err != nil {
			tb.Errorf("eventstoretest: delete streams: %v", err)
			return
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			tb.Errorf("eventstoretest: delete streams: %v", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		names := []string{opts.StreamPrefix + "EVENTS", opts.StreamPrefix + "DATA", opts.StreamPrefix + "NOTIFICATIONS", opts.StreamPrefix + "FTP"}
		// and the key-value buckets the store made (KV_<bucket>)
		for n := range js.StreamNames(ctx, jetstream.WithStreamListSubject("$KV.>")).Name() {
			if strings.HasPrefix(n, "KV_"+opts.StreamPrefix) {
				names = append(names, n)
			}
		}
		for _, name := range names {
			if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				tb.Errorf("eventstoretest: delete stream %s: %v", name, err)
			}
		}
	})
	return opts
}

// Open opens a fresh store (see Options) and closes it when the test ends.
func Open(tb testing.TB) *eventstore.Store {
	tb.Helper()
	return OpenWith(tb, Options(tb))
}

// OpenWith opens a store with opts and closes it when the test ends.
func OpenWith(tb testing.TB, opts eventstore.Options) *eventstore.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := eventstore.Open(ctx, opts)
	if err != nil {
		tb.Fatalf("eventstoretest: open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("eventstoretest: close: %v", err)
		}
	})
	return s
}

// Logger writes text records at warning level and above into the test's
// output, so a failing test shows what the store complained about.
func Logger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}
