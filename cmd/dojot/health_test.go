package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHealthExit: dojot health exits 0 on a 200 from /readyz, 1 with the
// reason on one line otherwise, 2 on a bad flag.
func TestHealthExit(t *testing.T) {
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"status":"ready"}`))
	}))
	defer ready.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"unavailable","error":"postgres: connection refused"}`))
	}))
	defer down.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	tests := map[string]struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		"ready":       {[]string{"health", "-url", ready.URL}, 0, "ready", ""},
		"unavailable": {[]string{"health", "-url", down.URL + "/"}, 1, "", "dojot health: not ready: unavailable: postgres: connection refused"},
		"nothing":     {[]string{"health", "-url", gone.URL, "-timeout", "2s"}, 1, "", "dojot health: not ready: Get"},
		"bad flag":    {[]string{"health", "-timeout", "soon"}, 2, "", "invalid value"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(tt.args, env(nil), &stdout, &stderr)
			out, errOut := strings.TrimSpace(stdout.String()), strings.TrimSpace(stderr.String())
			if code != tt.code || out != tt.stdout || !strings.HasPrefix(errOut, tt.stderr) || (code == 1 && strings.Count(errOut, "\n") != 0) {
				t.Errorf("dojot %v: exit %d, stdout %q, stderr %q; want %d, %q, %q...", tt.args, code, out, errOut, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}
