package mongotest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func connect(t *testing.T, uri string) *mongo.Client {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(t.Context()) })
	return client
}

func TestDatabase(t *testing.T) {
	var uri, name string
	t.Run("InsertFind", func(t *testing.T) {
		uri, name = Database(t)
		db := connect(t, uri).Database(name)
		type device struct {
			ID    string `bson:"_id"`
			Label string `bson:"label"`
		}
		want := device{ID: "a1998e", Label: "pump"}
		if _, err := db.Collection("devices").InsertOne(t.Context(), want); err != nil {
			t.Fatal(err)
		}
		var got device
		if err := db.Collection("devices").FindOne(t.Context(), bson.D{{Key: "_id", Value: "a1998e"}}).Decode(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("FindOne = %+v, want %+v", got, want)
		}
		names, err := db.Client().ListDatabaseNames(t.Context(), bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(names, name) {
			t.Fatalf("ListDatabaseNames = %v, want %s among them", names, name)
		}
	})
	if name == "" {
		return // skipped or failed before Database returned
	}
	names, err := connect(t, uri).ListDatabaseNames(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(names, name) {
		t.Errorf("ListDatabaseNames after the test = %v, still has %s", names, name)
	}
}

func TestDatabaseName(t *testing.T) {
	valid := regexp.MustCompile(`^t_[a-z0-9_]+_[0-9a-f]{8}$`)
	for _, test := range []string{
		"TestX",
		"TestViews/memory/ApplyTwiceIsOnce#01",
		"Test with spaces, Ünïcode and $.dots",
		"Test" + strings.Repeat("Long", 40),
	} {
		a, b := databaseName(test), databaseName(test)
		if !valid.MatchString(a) || len(a) > 48 {
			t.Errorf("databaseName(%q) = %q, want ^t_[a-z0-9_]+_[0-9a-f]{8}$ in 48 characters", test, a)
		}
		if a == b {
			t.Errorf("databaseName(%q) = %q twice, want a fresh name each time", test, a)
		}
	}
}

// TestServerStops checks that tools/mongotest exits cleanly, removing its
// temporary directory, on SIGTERM, on SIGINT and when its stdin closes.
func TestServerStops(t *testing.T) {
	if os.Getenv(EnvURL) != "" {
		t.Skipf("%s is set: tools/mongotest is not used", EnvURL)
	}
	bin, err := binary(testing.Short() && os.Getenv("CI") != "true")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	tests := map[string]func(cmd *exec.Cmd, stdin io.Closer) error{
		"SIGTERM":     func(cmd *exec.Cmd, _ io.Closer) error { return cmd.Process.Signal(syscall.SIGTERM) },
		"SIGINT":      func(cmd *exec.Cmd, _ io.Closer) error { return cmd.Process.Signal(syscall.SIGINT) },
		"StdinClosed": func(_ *exec.Cmd, stdin io.Closer) error { return stdin.Close() },
	}
	for name, stop := range tests {
		t.Run(name, func(t *testing.T) {
			tmp := t.TempDir()
			cmd := exec.Command(bin)
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
			cmd.Stderr = os.Stderr
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			line, _ := bufio.NewReader(out).ReadString('\n') // "" at EOF
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			if !strings.HasPrefix(line, "MONGODB_URI=mongodb://127.0.0.1:") {
				t.Fatalf("first line = %q, want MONGODB_URI=mongodb://127.0.0.1:…", line)
			}
			if entries, _ := os.ReadDir(tmp); len(entries) != 1 {
				t.Errorf("TMPDIR holds %d entries while running, want the data dir", len(entries))
			}
			if err := stop(cmd, stdin); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				exited <- err // for the cleanup
				if err != nil {
					t.Errorf("exit: %v, want status 0", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("still running 10s after being told to stop")
			}
			if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
				t.Errorf("TMPDIR after exit holds %v, want the data dir removed", entries)
			}
		})
	}
}
