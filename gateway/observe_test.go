package gateway

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"
)

type observed struct {
	route, method string
	status        int
}

type recordObserver struct {
	mu  sync.Mutex
	got []observed
}

func (o *recordObserver) ObserveRequest(route, method string, status int, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, observed{route, method, status})
}

// TestObserve: each request is observed once, by its chi route pattern
// (never its path, which holds ids), with the status actually written;
// a websocket (hijacked) is not.
func TestObserve(t *testing.T) {
	obs := &recordObserver{}
	agent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	ws := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack through the observer: %v", err)
			return
		}
		c.Close()
	})
	boom := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	s := New(Options{Observer: obs, DeviceRoutes: map[string]http.Handler{
		"/agent/{tenant}": agent, "/ws": ws, "/boom": boom}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, path := range []string{"/healthz", "/agent/admin", "/agent/other", "/no/such/route", "/device", "/ws", "/boom"} {
		res, err := http.Get(srv.URL + path)
		if err == nil {
			res.Body.Close()
		}
	}
	want := []observed{
		{"/healthz", "GET", 200},
		{"/agent/{tenant}", "GET", 204},
		{"/agent/{tenant}", "GET", 204},
		{"", "GET", 404},
		{"/device", "GET", 401},
		{"/boom", "GET", 500},
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if !reflect.DeepEqual(obs.got, want) {
		t.Errorf("observed %v; want %v", obs.got, want)
	}
}
