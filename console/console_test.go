package console

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func serve(t *testing.T, h http.Handler, path string, header ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func newConsole(t *testing.T) *Handler {
	t.Helper()
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestServe(t *testing.T) {
	h := newConsole(t)
	res := serve(t, h, "/", "Accept-Encoding", "gzip, deflate")
	if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %v", res.StatusCode, res.Header)
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(zr)
	if !bytes.Contains(page, []byte(`src="ui/js/app.js"`)) {
		t.Fatalf("index.html: %s", page)
	}
	if res.Header.Get("Content-Security-Policy") == "" {
		t.Error("no Content-Security-Policy on the page")
	}
	etag := res.Header.Get("ETag")
	if res := serve(t, h, "/", "If-None-Match", `W/"x", `+etag); res.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation with the ETag = %d, want 304", res.StatusCode)
	}
	res = serve(t, h, "/ui/js/app.js", "Accept-Encoding", "gzip;q=0")
	if b, _ := io.ReadAll(res.Body); res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "" || !bytes.Contains(b, []byte("import")) {
		t.Errorf("GET /ui/js/app.js without gzip = %d %v", res.StatusCode, res.Header)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
		t.Errorf("app.js Content-Type %q: browsers refuse modules of another type", ct)
	}
	for _, p := range []string{"/ui/index.html", "/ui/nothing.js", "/ui/../console.go", "/index.html", "/ui/"} {
		if res := serve(t, h, p); res.StatusCode != 404 || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s = %d %s, want the gateway's 404", p, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
}

// TestBudget: everything the console can load, gzip, stays under the
// issue's 150 KB for a first load; so the first load, a part of it, does.
func TestBudget(t *testing.T) {
	h := newConsole(t)
	total := 0
	for _, a := range h.assets {
		size := len(a.body)
		if a.gz != nil {
			size = len(a.gz)
		}
		total += size
	}
	t.Logf("%d assets, %d bytes gzip in all", len(h.assets), total)
	if total > 150_000 {
		t.Errorf("the console's assets are %d bytes gzip, over the 150 KB budget", total)
	}
}
