package dojottest

import (
	"bufio"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// MosquittoSub starts mosquitto_sub with args and returns once the broker
// acknowledged its subscriptions, so that nothing published from then on
// is missed however loaded the machine is (a fixed pause before
// publishing was not always enough). It adds -d, whose debug lines say
// when the SUBACK came; wait waits for mosquitto_sub to exit and returns
// its other lines (the messages), the debug lines left out.
func MosquittoSub(t *testing.T, args ...string) (wait func() []string) {
	t.Helper()
	// stdbuf: mosquitto_sub's stdout to a pipe is block-buffered, and the
	// debug lines would come only when it exits.
	cmd := exec.Command("stdbuf", append([]string{"-oL", "mosquitto_sub"}, append(args, "-d")...)...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu         sync.Mutex
		all, lines []string
		subscribed = make(chan struct{})
		read       = make(chan struct{})
		exited     = make(chan struct{})
		err        error
	)
	go func() {
		defer close(read)
		var once sync.Once
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			l := sc.Text()
			mu.Lock()
			all = append(all, l)
			switch {
			case strings.HasPrefix(l, "Subscribed (mid"):
				once.Do(func() { close(subscribed) })
			case strings.HasPrefix(l, "Client "):
			default:
				lines = append(lines, l)
			}
			mu.Unlock()
		}
	}()
	go func() {
		err = cmd.Wait()
		pw.Close()
		close(exited)
	}()
	output := func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(all, "\n")
	}
	select {
	case <-subscribed:
	case <-exited:
		<-read
		t.Fatalf("mosquitto_sub exited before it subscribed: %v\n%s", err, output())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("mosquitto_sub not subscribed in 30 s:\n%s", output())
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return func() []string {
		t.Helper()
		<-exited
		<-read
		if err != nil {
			t.Fatalf("mosquitto_sub: %v\n%s", err, output())
		}
		mu.Lock()
		defer mu.Unlock()
		return lines
	}
}
