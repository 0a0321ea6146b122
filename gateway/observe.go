package gateway

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"time"
)

// RequestObserver is told of every request the gateway answered, by its
// chi route pattern ("" when no route matched): the metrics' latency
// histogram (metrics.Registry).
type RequestObserver interface {
	ObserveRequest(route, method string, status int, d time.Duration)
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
