package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
	"github.com/dojot-es/dojot/internal/mongotest"
	"github.com/dojot-es/dojot/kafkaws/tickets/ticketstest"
	"github.com/dojot-es/dojot/projections/postgres/pgtest"
)

// pendingSettings are DOJOT_* variables docker-compose.yml already sets
// although the binary does not define them yet (it ignores unknown
// variables). Each names the issue that adds it; once the binary knows a
// setting, TestComposeFile fails until it is removed from here.
var pendingSettings = map[string]string{}

// composeFile is the resolved docker-compose.yml, as `config` prints it.
type composeFile struct {
	Services map[string]composeService `json:"services"`
}

type composeService struct {
	Image       string           `json:"image"`
	Build       any              `json:"build"`
	Command     any              `json:"command"` // a list, or one string
	Environment map[string]any   `json:"environment"`
	DependsOn   any              `json:"depends_on"` // a list of names, or name -> {condition}
	Healthcheck *json.RawMessage `json:"healthcheck"`
	Profiles    []string         `json:"profiles"`
}

// TestComposeFile ties docker-compose.yml to the binary: every DOJOT_*
// variable it gives a dojot service is a setting `dojot serve --help` lists
// (or a pending one), every dependency exists and has a healthcheck when the
// dependent waits for it, and NATS runs with JetStream.
func TestComposeFile(t *testing.T) {
	help := serveHelp(t)
	known := func(name string) bool {
		return regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `\b`).MatchString(help)
	}
	for name, issue := range pendingSettings {
		if known(name) {
			t.Errorf("%s is now a setting of the binary: remove it from pendingSettings (%s)", name, issue)
		}
	}
	checkName := func(where, name string) {
		if _, pending := pendingSettings[name]; !pending && !known(name) {
			t.Errorf("%s sets %s, which `dojot serve --help` does not list", where, name)
		}
	}

	_, natsVer := dojottest.GoModNATSServer(t)
	natsMinor := strings.Join(strings.SplitN(strings.TrimPrefix(natsVer, "v"), ".", 3)[:2], ".")
	for _, profile := range []string{"", "cluster"} {
		cf := composeConfig(t, profile)
		label := "docker-compose.yml"
		if profile != "" {
			label += " --profile " + profile
		}
		if _, ok := cf.Services["dojot"]; !ok {
			t.Fatalf("%s: no service dojot", label)
		}
		if _, ok := cf.Services["nats"]; !ok {
			t.Fatalf("%s: no service nats", label)
		}
		for name, svc := range cf.Services {
			if profile == "" && len(svc.Profiles) > 0 {
				continue // compose v2 leaves inactive profiles out; v1 prints them
			}
			if svc.Build != nil || name == "dojot" || strings.HasPrefix(name, "dojot-") {
				for env := range svc.Environment {
					if strings.HasPrefix(env, "DOJOT_") {
						checkName(label+": service "+name, env)
					}
				}
				if _, ok := svc.Environment["DOJOT_NATS_URL"]; !ok {
					t.Errorf("%s: service %s has no DOJOT_NATS_URL (it would run NATS embedded)", label, name)
				}
				// Healthy means ready: `dojot health` asks /readyz (the
				// distroless image has no curl).
				if !dojotHealth(svc.Healthcheck) {
					t.Errorf("%s: service %s's healthcheck is not /dojot health: %s", label, name, rawOrNone(svc.Healthcheck))
				}
			}
			for dep, cond := range dependsOn(t, svc.DependsOn) {
				target, ok := cf.Services[dep]
				switch {
				case !ok:
					t.Errorf("%s: service %s depends on %q, which is not a service", label, name, dep)
				case cond == "service_healthy" && target.Healthcheck == nil:
					t.Errorf("%s: service %s waits for %s to be healthy, but %s has no healthcheck", label, name, dep, dep)
				}
			}
			if strings.HasPrefix(svc.Image, "nats:") {
				// The version the tests run (TestNATSClusterNodeLoss runs
				// the cluster profile's shape on go.mod's nats-server).
				if !strings.HasPrefix(svc.Image, "nats:"+natsMinor+"-") {
					t.Errorf("%s: NATS service %s runs %s; the tests run nats-server %s", label, name, svc.Image, natsMinor)
				}
				args := command(svc.Command)
				if !slices.Contains(args, "-js") && !slices.Contains(args, "--jetstream") {
					t.Errorf("%s: NATS service %s runs without JetStream: command %q", label, name, args)
				}
			}
		}
		if profile == "cluster" {
			c, ok := cf.Services["dojot-cluster"]
			if !ok {
				t.Fatalf("%s: no service dojot-cluster", label)
			}
			url, _ := c.Environment["DOJOT_NATS_URL"].(string)
			for _, n := range []string{"nats-1", "nats-2", "nats-3"} {
				if !strings.Contains(url, "nats://"+n+":") {
					t.Errorf("%s: dojot-cluster's DOJOT_NATS_URL %q does not name %s", label, url, n)
				}
				if args := command(cf.Services[n].Command); !slices.Contains(args, "--routes") {
					t.Errorf("%s: %s has no --routes: %q", label, n, args)
				}
			}
			if r := c.Environment["DOJOT_NATS_REPLICAS"]; r != "3" && r != 3.0 {
				t.Errorf("%s: dojot-cluster's DOJOT_NATS_REPLICAS = %v, want 3", label, r)
			}
			// What TestNATSClusterNodeLoss runs with (dojottest.ClusterFlags).
			if w := c.Environment["DOJOT_WAIT_TIMEOUT"]; !slices.Contains(dojottest.ClusterFlags, "-wait-timeout="+fmt.Sprint(w)) {
				t.Errorf("%s: dojot-cluster's DOJOT_WAIT_TIMEOUT = %v; TestNATSClusterNodeLoss runs with %q", label, w, dojottest.ClusterFlags)
			}
		}
	}

	// The image's own defaults (ENV in the Dockerfile) are settings too.
	df, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\b(DOJOT_[A-Z0-9_]+)=`).FindAllStringSubmatch(string(df), -1) {
		checkName("Dockerfile", m[1])
	}
	if !regexp.MustCompile(`(?m)^HEALTHCHECK .*CMD \["/dojot", "health"\]`).Match(df) {
		t.Error(`Dockerfile: no HEALTHCHECK ... CMD ["/dojot", "health"]`)
	}
}

// dojotHealth reports whether a healthcheck runs `/dojot health`.
func dojotHealth(m *json.RawMessage) bool {
	var hc struct {
		Test []string `json:"test"`
	}
	if m == nil || json.Unmarshal(*m, &hc) != nil {
		return false
	}
	return slices.Equal(hc.Test, []string{"CMD", "/dojot", "health"})
}

func rawOrNone(m *json.RawMessage) string {
	if m == nil {
		return "none"
	}
	return string(*m)
}

// serveHelp is what `dojot serve --help` prints (on stderr, exit 0).
func serveHelp(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(dojottest.Binary(t), "serve", "--help")
	cmd.Env = []string{} // no DOJOT_* from the caller's environment
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dojot serve --help: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "DOJOT_HTTP_ADDR") {
		t.Fatalf("dojot serve --help does not list its variables:\n%s", out)
	}
	return string(out)
}

// composeConfig resolves docker-compose.yml with `docker compose config
// --format json` (Compose v2) or else `docker-compose config` (v1, Debian's
// package; it prints YAML only, which is turned into JSON by the Python that
// runs docker-compose, since PyYAML is one of its dependencies). Without
// either, the test fails under CI=true and is skipped otherwise.
func composeConfig(t *testing.T, profile string) composeFile {
	t.Helper()
	file := filepath.Join("..", "docker-compose.yml")
	var global []string
	if profile != "" {
		global = []string{"--profile", profile}
	}
	env := []string{"DOJOT_JWT_SECRET=test-secret", "DOJOT_ADMIN_PASSWORD=test-password"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COMPOSE_") && !strings.HasPrefix(kv, "DOJOT_") {
			env = append(env, kv)
		}
	}
	run := func(stdin []byte, name string, args ...string) ([]byte, error) {
		cmd := exec.Command(name, args...)
		cmd.Env = env
		cmd.Stdin = bytes.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Logf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
		}
		return out, err
	}

	var out []byte
	if exec.Command("docker", "compose", "version").Run() == nil {
		args := append(append([]string{"compose", "-f", file}, global...), "config", "--format", "json")
		b, err := run(nil, "docker", args...)
		if err != nil {
			t.Fatal("docker compose config failed")
		}
		out = b
	} else if path, err := exec.LookPath("docker-compose"); err == nil {
		args := append(append([]string{"-f", file}, global...), "config")
		y, err := run(nil, path, args...)
		if err != nil {
			t.Fatal("docker-compose config failed")
		}
		b, err := run(y, pythonOf(path), "-c",
			"import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)")
		if err != nil {
			t.Fatal("converting docker-compose config's YAML to JSON failed")
		}
		out = b
	} else if os.Getenv("CI") == "true" {
		t.Fatal("neither `docker compose` nor `docker-compose` found (CI installs the Debian package docker-compose)")
	} else {
		t.Skip("neither `docker compose` nor `docker-compose` found: apt-get install docker-compose")
	}
	var cf composeFile
	if err := json.Unmarshal(out, &cf); err != nil {
		t.Fatalf("compose config output: %v\n%s", err, trunc(out))
	}
	return cf
}

// pythonOf is the interpreter named on the #! line of the docker-compose
// script, so that its PyYAML is at hand whatever python3 is first on PATH.
func pythonOf(script string) string {
	b, err := os.ReadFile(script)
	if err == nil && bytes.HasPrefix(b, []byte("#!")) {
		line, _, _ := bytes.Cut(b[2:], []byte("\n"))
		if f := strings.Fields(string(line)); len(f) == 1 && strings.Contains(f[0], "python") {
			return f[0]
		}
	}
	return "python3"
}

// dependsOn normalizes depends_on (a list, or a map with conditions) to
// name -> condition ("" when none is given).
func dependsOn(t *testing.T, v any) map[string]string {
	t.Helper()
	deps := map[string]string{}
	switch d := v.(type) {
	case nil:
	case []any:
		for _, n := range d {
			deps[n.(string)] = ""
		}
	case map[string]any:
		for n, c := range d {
			cond, _ := c.(map[string]any)["condition"].(string)
			deps[n] = cond
		}
	default:
		t.Fatalf("depends_on of unexpected shape %T", v)
	}
	return deps
}

// command is a service's command as a list of arguments.
func command(v any) []string {
	switch c := v.(type) {
	case string:
		return strings.Fields(c)
	case []any:
		var args []string
		for _, a := range c {
			if s, ok := a.(string); ok {
				args = append(args, s)
			}
		}
		return args
	}
	return nil
}

// TestComposeSettings runs the binary with the dojot service's environment
// from docker-compose.yml, its hosts replaced by this machine's test
// servers (NATS, PostgreSQL, the Mongo-protocol server) and its secrets by
// test ones: the settings the compose file gives work as given.
func TestComposeSettings(t *testing.T) {
	natsURL := os.Getenv("DOJOT_TEST_NATS_URL")
	if natsURL == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("DOJOT_TEST_NATS_URL is not set")
		}
		t.Skip("DOJOT_TEST_NATS_URL is not set (the compose settings name an external NATS)")
	}
	uri, db := mongotest.Database(t)
	mongoURL, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	mongoURL.Path = "/" + db
	hosts := map[string]string{ // a compose URL's scheme://host:port -> ours
		"nats://nats:4222":      natsURL,
		"mongodb://mongo:27017": mongoURL.String(),
	}
	var env []string
	for name, v := range composeConfig(t, "").Services["dojot"].Environment {
		value := fmt.Sprint(v)
		switch {
		case name == "DOJOT_POSTGRES_URL":
			if !strings.Contains(value, "@postgres:5432/") {
				t.Errorf("DOJOT_POSTGRES_URL = %q: not the compose postgres service", value)
			}
			value = pgtest.URL(t)
		case name == "DOJOT_MONGO_URL":
			if !strings.HasPrefix(value, "mongodb://mongo:27017/") {
				t.Errorf("DOJOT_MONGO_URL = %q: not the compose mongo service", value)
			}
			value = hosts["mongodb://mongo:27017"]
		case name == "DOJOT_REDIS_URL":
			if !strings.HasPrefix(value, "redis://redis:6379/") {
				t.Errorf("DOJOT_REDIS_URL = %q: not the compose redis service", value)
			}
			value = ticketstest.RedisURL(t)
		case name == "DOJOT_NATS_URL":
			if value != "nats://nats:4222" {
				t.Errorf("DOJOT_NATS_URL = %q: not the compose nats service", value)
			}
			value = natsURL
		case name == "DOJOT_JWT_SECRET":
			value = "compose-test-secret"
		case name == "DOJOT_ADMIN_PASSWORD":
			value = adminPassword
		}
		env = append(env, name+"="+value)
	}
	// Not compose's: a namespace of its own on the shared test NATS.
	env = append(env, fmt.Sprintf("DOJOT_NATS_PREFIX=compose%d", time.Now().UnixNano()))
	in := dojottest.StartEnv(t, env, "")
	c := in.Login("admin", adminPassword)
	tmpl := dojottest.CreateTemplate(c, "Compose")
	id := dojottest.CreateDevice(c, "via-compose-settings", tmpl)
	c.Must(200, "GET", "/device/"+id, nil)
	if !in.Logged("projection lease taken: this instance applies events to the view") {
		t.Error("the compose settings did not run a shared (postgres) view")
	}
}
