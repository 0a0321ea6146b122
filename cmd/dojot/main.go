// Command dojot runs the dojot-compatible IoT platform: `dojot serve` (the
// default) starts the gateway, the event store (embedded NATS unless
// -nats-url is given) and the views in one process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(Main(os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// Main runs a subcommand and returns the exit code.
func Main(args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	sub := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "serve", "replay", "health", "routes": // routes is hidden: for tests (routes.go)
	case "help":
		fmt.Fprintln(stdout, "Usage: dojot [serve] [flags]   (dojot serve --help lists the flags)")
		fmt.Fprintln(stdout, "       dojot replay -view memory|postgres|mongo [-from SEQ] [-fresh] [flags]   (rebuild a view from the event log)")
		fmt.Fprintln(stdout, "       dojot health [-url URL]   (exit 0 when a running instance's /readyz answers 200, else 1)")
		return 0
	default:
		fmt.Fprintf(stderr, "dojot: unknown subcommand %q (known: serve, replay, health, help)\n", sub)
		return 2
	}
	var cfg Config
	if err := cfg.parse(sub, args, lookupEnv, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "dojot: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if sub == "health" {
		if err := health(ctx, &cfg); err != nil {
			fmt.Fprintf(stderr, "dojot health: not ready: %v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, "ready")
		return 0
	}
	var err error
	switch sub {
	case "replay":
		err = replay(ctx, &cfg, newLogger(&cfg, stdout), stderr)
	case "routes":
		err = routes(ctx, &cfg, stdout)
	default:
		err = run(ctx, &cfg, newLogger(&cfg, stdout), stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "dojot: %v\n", err)
		return 1
	}
	return 0
}
