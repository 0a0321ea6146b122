// Command mongotest serves the MongoDB wire protocol for the project's tests.
// It embeds FerretDB v1 (SQLite or PostgreSQL storage) because no MongoDB
// server is packaged for our machines. It lives in a Go module of its own so
// that the product's go.mod does not carry FerretDB's dependencies; tests
// reach it through the main module's internal/mongotest package, which
// builds and starts this program.
//
// Once listening it prints exactly one line, MONGODB_URI=<uri>, on stdout.
// It logs to stderr at warn level. It stops on SIGINT or SIGTERM and, unless
// -watch-stdin=false, when its standard input reaches end of file: a parent
// keeps a pipe to it, so a test process that dies takes the server with it.
//
//	go run . -listen 127.0.0.1:27017 -dir /tmp/mongo -watch-stdin=false
//
// FerretDB checks correctness only: its speed says nothing about MongoDB's.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mongotest:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mongotest", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "TCP address to listen on (port 0: any free port)")
	dir := fs.String("dir", "", "SQLite data directory (default: a temporary one, removed at exit)")
	handler := fs.String("handler", "sqlite", "storage: sqlite or postgresql")
	pgURL := fs.String("postgresql-url", "", "PostgreSQL URL for -handler postgresql, e.g. postgres://127.0.0.1:5432/ferretdb")
	watchStdin := fs.Bool("watch-stdin", true, "exit when standard input is closed")
	var level slog.Level = slog.LevelWarn
	fs.TextVar(&level, "log-level", level, "debug, info, warn or error (only debug dumps the replies to failed commands)")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}

	var h slog.Handler = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	if level > slog.LevelDebug {
		h = quiet{h}
	}
	log := slog.New(h)
	slog.SetDefault(log) // for any FerretDB code that logs without the Config's logger

	cfg := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *listen},
		Logger:   log,
		Handler:  *handler,
	}
	switch *handler {
	case "sqlite":
		if *dir == "" {
			tmp, err := os.MkdirTemp("", "mongotest-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			*dir = tmp
		} else if err := os.MkdirAll(*dir, 0o755); err != nil {
			return err
		}
		cfg.SQLiteURL = "file:" + *dir + "/"
	case "postgresql":
		if *pgURL == "" {
			return errors.New("-handler postgresql needs -postgresql-url")
		}
		cfg.PostgreSQLURL = *pgURL
	default:
		return fmt.Errorf("-handler %q: want sqlite or postgresql", *handler)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *watchStdin {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin) // returns at EOF: the parent is gone
			stop()
		}()
	}

	f, err := ferretdb.New(cfg) // listens before it returns
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	fmt.Printf("MONGODB_URI=%s\n", f.MongoDBURI())
	return <-done
}

// quiet drops what FerretDB logs about errors its client is told of anyway,
// which tests cause on purpose: the two warn records for every failed
// command ("Response header: …", "Response message: …" with a dump of the
// reply), and with PostgreSQL the error record of the query behind every
// duplicate key. Errors that close the connection are still logged.
type quiet struct{ slog.Handler }

func (h quiet) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelError && (strings.HasPrefix(r.Message, "Response header:") || strings.HasPrefix(r.Message, "Response message:")) {
		return nil
	}
	if r.Message == "Query" {
		dup := false
		r.Attrs(func(a slog.Attr) bool {
			dup = a.Key == "err" && strings.Contains(a.Value.String(), "(SQLSTATE 23505)") // unique_violation
			return !dup
		})
		if dup {
			return nil
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h quiet) WithAttrs(as []slog.Attr) slog.Handler { return quiet{h.Handler.WithAttrs(as)} }
func (h quiet) WithGroup(name string) slog.Handler    { return quiet{h.Handler.WithGroup(name)} }
