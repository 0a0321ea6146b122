package lorawantest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Request is what a fake network server's API received.
type Request struct {
	Path        string // method and path: "POST /api/devices/0101010101010101/queue"
	Auth        string // the Authorization header
	ContentType string
	Body        map[string]any
}

// DownlinkAPI plays a network server's downlink API (ChirpStack's REST
// API, The Things Stack's webhook push): it keeps every request, answers
// 401 without "Authorization: Bearer <token>", else Code (200 unless set).
type DownlinkAPI struct {
	*httptest.Server
	mu   sync.Mutex
	code int
	seen chan Request
}

// NewDownlinkAPI starts one, closed when tb ends.
func NewDownlinkAPI(tb testing.TB, token string) *DownlinkAPI {
	f := &DownlinkAPI{code: http.StatusOK, seen: make(chan Request, 64)}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		req := Request{Path: r.Method + " " + r.URL.Path, Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type")}
		if err := json.Unmarshal(b, &req.Body); err != nil {
			tb.Errorf("downlink body %q: %v", b, err)
		}
		f.mu.Lock()
		code := f.code
		f.mu.Unlock()
		f.seen <- req
		if req.Auth != "Bearer "+token {
			http.Error(w, `{"code":16,"message":"unauthenticated"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `{"id":"1bbcab1d-6ec6-4136-b3f5-d63be1dc08de"}`)
	}))
	tb.Cleanup(f.Close)
	return f
}

// SetCode sets the status of the next answers.
func (f *DownlinkAPI) SetCode(code int) {
	f.mu.Lock()
	f.code = code
	f.mu.Unlock()
}

// Next is the next request, waiting up to timeout; false when none came.
func (f *DownlinkAPI) Next(timeout time.Duration) (Request, bool) {
	select {
	case r := <-f.seen:
		return r, true
	case <-time.After(timeout):
		return Request{}, false
	}
}
