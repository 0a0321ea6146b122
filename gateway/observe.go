package gateway

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
)

// RequestObserver is told of every request the gateway answered, by its
// chi route pattern ("" when no route matched): the metrics' latency
// histogram (metrics.Registry).
type RequestObserver interface {
	ObserveRequest(route, method string, status int, d time.Duration)
}

// observe times each request for Options.Observer. A hijacked request (a
// websocket) is left out: its time is the connection's lifetime, not a
// latency.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.hijacked {
			return
		}
		if sw.code == 0 {
			sw.code = http.StatusOK // nothing written: net/http answers 200
		}
		s.opts.Observer.ObserveRequest(chi.RouteContext(r.Context()).RoutePattern(), r.Method, sw.code, time.Since(start))
	})
}

// statusWriter keeps the status code written, and passes Hijack and Flush
// through (Unwrap, for http.ResponseController).
type statusWriter struct {
	http.ResponseWriter
	code     int
	hijacked bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 { // 1xx are interim
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("gateway: the connection cannot be hijacked")
	}
	w.hijacked = true
	return h.Hijack()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
