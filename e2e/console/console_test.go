// Package console_test runs the web console's browser scenarios: a package
// of its own so that go test runs it beside the rest of e2e, not inside
// that package's time budget.
package console_test

import (
	"bufio"
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestConsole runs the web console's browser scenarios (e2e/console/
// scenarios/*.mjs) in headless chromium against one instance, each a
// subtest; one of them goes through a reverse proxy that mounts the
// platform under a path prefix. Screenshots go to e2e/screenshots/ and
// their names are logged; the scenarios' figures (first load, chart frame
// rate) are logged as METRIC lines for BENCHMARKS.md.
func TestConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the browser scenarios take a minute")
	}
	needConsoleBrowser(t)
	// Every scenario logs in as admin, from one address: more than the
	// login limit's 10 a minute (TestLoginRateLimit covers the limit).
	in := dojottest.Start(t, "", "-mqtt-insecure", "-http-agent", "-login-limit-user=", "-login-limit-addr=")
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	shots := filepath.Join(dir, "..", "screenshots")

	// The prefix /dojot/ as a proxy would mount it (websockets included:
	// ReverseProxy passes upgrades through).
	target, _ := url.Parse(in.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.StripPrefix("/dojot", rp))
	t.Cleanup(proxy.Close)

	scenarios, err := filepath.Glob(filepath.Join(dir, "scenarios", "*.mjs"))
	if err != nil || len(scenarios) == 0 {
		t.Fatalf("no scenarios in %s: %v", dir, err)
	}
	slices.Sort(scenarios)
	for _, sc := range scenarios {
		name := strings.TrimSuffix(filepath.Base(sc), ".mjs")
		t.Run(name, func(t *testing.T) {
			base := in.URL + "/"
			if name == "prefix" {
				base = proxy.URL + "/dojot/"
			}
			cmd := exec.Command("node", filepath.Join(dir, "run.mjs"), sc)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "DOJOT_URL="+base, "DOJOT_USER=admin", "DOJOT_PASS="+dojottest.AdminPassword,
				"DOJOT_MQTT="+in.MQTTAddr, "DOJOT_SHOTS="+shots)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				line := sc.Text()
				if strings.HasPrefix(line, "SHOT ") || strings.HasPrefix(line, "METRIC ") {
					t.Log(line)
				}
			}
			if err != nil {
				t.Fatalf("scenario %s: %v\n%s%s", name, err, out, stderr.Bytes())
			}
		})
	}
}

// needConsoleBrowser skips (fails under CI) without node, chromium and the
// scenarios' node_modules (.ci/run installs all three).
func needConsoleBrowser(t *testing.T) {
	t.Helper()
	missing := ""
	for _, tool := range []string{"node", "mosquitto_pub", "mosquitto_sub", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = tool
		}
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing = chromium
	}
	_, file, _, _ := runtime.Caller(0)
	if _, err := os.Stat(filepath.Join(filepath.Dir(file), "node_modules", "playwright-core")); err != nil {
		missing = "e2e/console/node_modules (npm ci in e2e/console)"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not installed", missing)
	}
	t.Skipf("%s not installed", missing)
}
