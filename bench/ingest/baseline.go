package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// baseline is raw JetStream async publish measured by the nats CLI against
// the server under test.
type baseline struct {
	rate float64 // msgs/s, 0 when not measured
	cmd  string
	note string // why not measured
}

var aggregated = regexp.MustCompile(`aggregated stats: ([0-9,]+) msgs/sec`)

// runBaseline runs `nats bench js pub async` against natsURL with messages
// of size bytes, on a stream of its own that it removes afterwards.
func runBaseline(ctx context.Context, cfg *Config, natsURL string, size int) baseline {
	if natsURL == "" {
		return baseline{note: "no NATS URL of the server (pass -target-nats)"}
	}
	cli, err := exec.LookPath(cfg.NATSCLI)
	if err != nil {
		return baseline{note: "nats CLI not found: go install github.com/nats-io/natscli/nats@latest (and put $(go env GOPATH)/bin on PATH or pass -nats-cli)"}
	}
	const stream = "ingestbaseline"
	args := []string{"-s", natsURL, "bench", "js", "pub", "async", stream, "--stream", stream,
		"--clients", strconv.Itoa(cfg.BaselineClients), "--msgs", strconv.Itoa(cfg.BaselineMsgs),
		"--size", strconv.Itoa(size) + "B", "--create", "--storage", "file", "--purge", "--no-progress"}
	b := baseline{cmd: "nats " + strings.Join(args, " ")}
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	_ = exec.Command(cli, "-s", natsURL, "stream", "rm", stream, "-f").Run()
	if err != nil {
		b.note = fmt.Sprintf("nats bench: %v: %.500s", err, out)
		return b
	}
	m := aggregated.FindSubmatch(out)
	if m == nil {
		b.note = fmt.Sprintf("nats bench: no aggregated rate in: %.500s", out)
		return b
	}
	b.rate, _ = strconv.ParseFloat(strings.ReplaceAll(string(m[1]), ",", ""), 64)
	return b
}
