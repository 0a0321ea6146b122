package mongotest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

const (
	// EnvURL names a running server to use instead of starting one.
	EnvURL = "DOJOT_TEST_MONGO_URL"

	toolDir      = "tools/mongotest"
	buildTimeout = 5 * time.Minute // a cold build downloads and compiles FerretDB
	startTimeout = 60 * time.Second
)

var (
	startOnce sync.Once
	sharedURI string
	startErr  error

	// stdin is the write end of the server's standard input. It is never
	// closed: the server exits when this process does. Keeping it in a
	// package variable also keeps the garbage collector from closing it.
	stdin io.WriteCloser
)

// URL returns the URI of a MongoDB server shared by the tests of this
// process: DOJOT_TEST_MONGO_URL if set, else a FerretDB started from
// tools/mongotest. It skips the test when no server can be had, or fails it
// under CI=true.
func URL(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	ci := os.Getenv("CI") == "true"
	startOnce.Do(func() { sharedURI, startErr = start(testing.Short() && !ci) })
	if startErr != nil {
		if ci {
			tb.Fatalf("mongotest: %v", startErr)
		}
		tb.Skipf("mongotest: %v (or set %s to a running server)", startErr, EnvURL)
	}
	return sharedURI
}

// Database returns the shared server's URI and the name of a database
// nobody else uses, which is dropped when the test ends.
func Database(tb testing.TB) (uri, dbName string) {
	tb.Helper()
	uri = URL(tb)
	dbName = databaseName(tb.Name())
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		client, err := mongo.Connect(options.Client().ApplyURI(uri))
		if err != nil {
			tb.Errorf("mongotest: drop %s: %v", dbName, err)
			return
		}
		defer client.Disconnect(ctx)
		if err := client.Database(dbName).Drop(ctx); err != nil {
			tb.Errorf("mongotest: drop %s: %v", dbName, err)
		}
	})
	return uri, dbName
}

// databaseName makes a database name from a test name: "t_", the test name
// in lower case with every other character than [a-z0-9] as "_", then "_"
// and a random suffix; 48 characters at most, so that a view can still
// add its generation suffix (<db>_g<N>) within the 63 FerretDB allows.
func databaseName(test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	const maxLen, fixed = 48, len("t_") + len("_") + 8
	name := b.String()
	if len(name) > maxLen-fixed {
		name = name[:maxLen-fixed]
	}
	return "t_" + name + "_" + hex.EncodeToString(suffix)
}

// start builds tools/mongotest unless a build of its current source is
// cached, runs it, and reads the URI it prints. With short set, it does not
// build.
func start(short bool) (string, error) {
	bin, err := binary(short)
	if err != nil {
		return "", err
	}
	cmd := exec.Command(bin)
	log := &serverLog{}
	cmd.Stderr = log
	in, err := cmd.StdinPipe()
	if err != nil {
		return "", err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	stdin = in
	found := make(chan string, 1)
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "MONGODB_URI="); ok {
				found <- u
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait() // only once stdout is read to the end, as StdoutPipe requires
		close(exited)
	}()
	select {
	case u := <-found:
		log.started()
		return u, nil
	case <-exited:
		return "", fmt.Errorf("%s exited before listening: %s", bin, log.head())
	case <-time.After(startTimeout):
		_ = cmd.Process.Kill()
		<-exited
		return "", fmt.Errorf("%s printed no MONGODB_URI in %v: %s", bin, startTimeout, log.head())
	}
}

// serverLog takes the server's stderr: it keeps the first 64 KiB until the
// server is listening, for the error if it never does, and then passes
// what it logs (warnings and errors) on to this process's stderr.
type serverLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	forward bool
}

func (l *serverLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.forward:
		_, _ = fmt.Fprintf(os.Stderr, "mongotest server: %s", p) // slog writes one record per call
	case l.buf.Len() < 64<<10:
		l.buf.Write(p)
	}
	return len(p), nil
}

func (l *serverLog) started() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forward = true
	if l.buf.Len() > 0 {
		_, _ = fmt.Fprintf(os.Stderr, "mongotest server: %s", l.buf.Bytes())
	}
}

func (l *serverLog) head() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(bytes.TrimSpace(l.buf.Bytes()))
}

// binary returns the path of a build of tools/mongotest's current source in
// the user's cache directory, building it if it is not there yet.
func binary(short bool) (string, error) {
	src, err := findTool()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	files, err := filepath.Glob(filepath.Join(src, "*.go"))
	if err != nil {
		return "", err
	}
	for _, f := range append(files, filepath.Join(src, "go.mod"), filepath.Join(src, "go.sum")) {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(b))
		h.Write(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "dojot-mongotest", hex.EncodeToString(h.Sum(nil))[:16])
	bin := filepath.Join(dir, "mongotest")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if short {
		return "", errors.New("slow: tools/mongotest is not built yet (-short)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// Test binaries of several packages may get here at once: one builds,
	// the others wait for it and then find the binary.
	unlock, err := lock(filepath.Join(dir, "lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	tmp := bin + ".tmp"
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-buildvcs=false", "-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOWORK=off") // its own module, even under a go.work
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", src, err, out)
	}
	return bin, os.Rename(tmp, bin)
}

// findTool walks up from the working directory, which is the package
// directory under go test, to the directory that holds tools/mongotest.
func findTool() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		src := filepath.Join(dir, filepath.FromSlash(toolDir))
		if _, err := os.Stat(filepath.Join(src, "go.mod")); err == nil {
			return src, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no %s above the working directory", toolDir)
		}
		dir = parent
	}
}
