package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// blocking is a handler that signals entered and answers 200 once release
// is closed.
func blocking(entered chan<- struct{}, release <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.WriteHeader(http.StatusOK)
	})
}

// serve runs one request in the background; its recorder arrives on the
// channel when it is answered.
func serve(h http.Handler, method, path string) <-chan *httptest.ResponseRecorder {
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
		done <- w
	}()
	return done
}

func wantBusy(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" ||
		w.Body.String() != `{"message":"Server busy, retry later","status":503}`+"\n" {
		t.Errorf("got %d Retry-After %q %s; want 503, Retry-After 1 and dojot's error body", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
}

// TestLimitWaitsThenRefuses: one request in service; the next waits for
// its slot and is served when it frees; while one waits, one more is
// refused at once (the waiting room is as large as the pool); a wait that
// outlasts the limit's is refused.
func TestLimitWaitsThenRefuses(t *testing.T) {
	entered, release := make(chan struct{}, 4), make(chan struct{})
	l := NewLimit(1, time.Hour)
	h := l.Handler(blocking(entered, release))
	first := serve(h, "GET", "/")
	<-entered
	second := serve(h, "GET", "/")
	for l.waiting.Load() != 1 { // second is waiting for the slot
		time.Sleep(time.Millisecond)
	}
	wantBusy(t, <-serve(h, "GET", "/"))
	close(release)
	if w := <-first; w.Code != 200 {
		t.Errorf("first = %d", w.Code)
	}
	<-entered
	if w := <-second; w.Code != 200 {
		t.Errorf("second, after waiting = %d", w.Code)
	}
	if l.Refused() != 1 {
		t.Errorf("Refused() = %d; want 1", l.Refused())
	}

	entered, hold := make(chan struct{}, 1), make(chan struct{})
	defer close(hold)
	short := NewLimit(1, 10*time.Millisecond)
	h = short.Handler(blocking(entered, hold))
	serve(h, "GET", "/")
	<-entered
	wantBusy(t, <-serve(h, "GET", "/")) // waited 10 ms in vain
}

// TestLimitPools: the agents' routes and the rest of the API are served
// from separate pools, and the probes from none: a flood of readings that
// fills the agents' pool leaves the API and /healthz answering.
func TestLimitPools(t *testing.T) {
	entered, release := make(chan struct{}, 2), make(chan struct{})
	defer close(release)
	agent := blocking(entered, release)
	s := New(Options{DeviceRoutes: map[string]http.Handler{"/http-agent/v1/*": agent, "/sigfox": agent},
		AgentLimit: NewLimit(1, 0), Limit: NewLimit(1, 0)})
	serve(s, "POST", "/http-agent/v1/incoming-messages")
	<-entered
	wantBusy(t, <-serve(s, "POST", "/sigfox"))
	wantBusy(t, <-serve(s, "POST", "/http-agent/v1/incoming-messages/create-many"))
	for _, path := range []string{"/healthz", "/no-such-route", "/sigfoxy"} {
		if w := <-serve(s, "GET", path); w.Code == http.StatusServiceUnavailable {
			t.Errorf("GET %s while the agents' pool is full = %d %s", path, w.Code, w.Body)
		}
	}
	// The API's pool full too: only the probes and Kafka WS's sockets
	// are served.
	s.opts.Limit.slots <- struct{}{}
	wantBusy(t, <-serve(s, "GET", "/no-such-route"))
	for _, path := range []string{"/healthz", "/kafka-ws/v1/topics/admin.device-data"} {
		if w := <-serve(s, "GET", path); w.Code == http.StatusServiceUnavailable {
			t.Errorf("GET %s while both pools are full = %d %s", path, w.Code, w.Body)
		}
	}
}

// TestLimitZero: no limit serves every request and returns.
func TestLimitZero(t *testing.T) {
	h := NewLimit(0, time.Second).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for range 3 {
		select {
		case w := <-serve(h, "GET", "/"):
			if w.Code != http.StatusNoContent {
				t.Errorf("got %d", w.Code)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a request under no limit did not return")
		}
	}
}
