package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// mochiEnv, when set in the environment, makes this program (or its test
// binary) a bare mochi-mqtt server on that address instead: no hook but
// allow-all, no store; it stops when its stdin closes.
const mochiEnv = "INGEST_SERVE_MOCHI"

// allowAll lets every client connect and publish (mochi's own allow hook
// would bring its YAML ledger's dependency into go.mod).
type allowAll struct{ mochi.HookBase }

func (*allowAll) ID() string { return "allow-all" }
func (*allowAll) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}
func (*allowAll) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }
func (*allowAll) OnACLCheck(*mochi.Client, string, bool) bool              { return true }

// serveMochi is the bare mochi-mqtt baseline server.
func serveMochi(addr string) error {
	s := mochi.New(&mochi.Options{InlineClient: false, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.AddHook(new(allowAll), nil); err != nil {
		return err
	}
	l := listeners.NewTCP(listeners.Config{ID: "bare", Address: addr})
	if err := s.AddListener(l); err != nil {
		return err
	}
	if err := s.Serve(); err != nil {
		return err
	}
	fmt.Println("listening", l.Address())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return s.Close()
}

// startMochi runs serveMochi in a child process (this executable) and
// returns its address, pid and a stop function.
func startMochi(ctx context.Context) (addr string, pid int, stop func(), err error) {
	if addr, err = freeAddr(); err != nil {
		return "", 0, nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return "", 0, nil, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), mochiEnv+"="+addr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", 0, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	stop = func() { stdin.Close(); _ = cmd.Wait() }
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening") {
		stop()
		return "", 0, nil, fmt.Errorf("bare mochi-mqtt did not start: %q %v", line, err)
	}
	return addr, cmd.Process.Pid, stop, nil
}

// mosquittoPid is the pid of the machine's Mosquitto, from its pid file
// or pidof; 0 when unknown.
func mosquittoPid() int {
	for _, f := range []string{"/run/mosquitto/mosquitto.pid", "/var/run/mosquitto/mosquitto.pid"} {
		if b, err := os.ReadFile(f); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				return pid
			}
		}
	}
	if out, err := exec.Command("pidof", "mosquitto").Output(); err == nil {
		if pid, err := strconv.Atoi(strings.Fields(string(out))[0]); err == nil {
			return pid
		}
	}
	return 0
}

// mqttBase is one MQTT baseline: the same generator against another
// broker, same devices count, rate and in-flight window.
type mqttBase struct {
	name   string
	addr   string
	rate   float64 // acked msg/s over the window, 0 when not measured
	sent   int
	acked  int
	puback latencies
	cpu    time.Duration // the broker's, over the window (0: unknown)
	window time.Duration
	note   string
}

// runMQTTBase runs the generator for dur against addr (broker process
// pid, for CPU; 0: not measured).
func runMQTTBase(ctx context.Context, logw io.Writer, cfg *Config, name, addr string, pid int, dur time.Duration) mqttBase {
	b := mqttBase{name: name, addr: addr}
	devs := make([]*device, cfg.Devices)
	for i := range devs {
		id := fmt.Sprintf("base%x", i)
		devs[i] = &device{id: id, topic: cfg.Tenant + ":" + id + "/attrs"}
	}
	base := time.Now()
	bcfg := *cfg
	bcfg.Duration = dur
	err := connect(ctx, logw, &bcfg, addr, devs, base)
	defer func() {
		for _, d := range devs {
			if d.client != nil {
				d.client.Disconnect(100)
			}
		}
	}()
	if err != nil {
		b.note = err.Error()
		return b
	}
	cpu0, _ := procCPUIf(pid)
	start := time.Since(base) + 100*time.Millisecond
	var wg sync.WaitGroup
	for i, d := range devs {
		wg.Go(func() { d.publish(ctx, &bcfg, i, len(devs), base, start) })
	}
	wg.Wait()
	b.window = time.Since(base) - start
	if pid > 0 {
		cpu1, _ := procCPUIf(pid)
		b.cpu = cpu1 - cpu0
	}
	for _, d := range devs {
		b.sent += d.sent
		b.acked += d.acked
		b.puback.add(d.puback...)
	}
	b.rate = float64(b.acked) / b.window.Seconds()
	return b
}
